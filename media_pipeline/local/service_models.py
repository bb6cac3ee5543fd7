"""The JSON data files of botocore and moto (service models, endpoints, rule sets, EC2's catalogues) parsed once.

Every botocore session has its own loader, and moto makes many: each backend it creates asks a fresh session for
the service's regions (which reads `endpoints.json` and the service's whole model: EC2's takes 100 ms to unzip and
parse), importing its EC2 module reads EC2's model three times and its instance-type catalogues, its request
parsers load the models again, and so do the clients of the emulator and of each function sandbox. In the local
mode they all read the same files of the installed packages. So the parsed content of each file is kept:

- across runs and within one, in a cache folder (`MEDIA_PIPELINE_CACHE`, else `$XDG_CACHE_HOME/media-pipeline`, else
  `~/.cache/media-pipeline`), one file per data file, named by a hash of the data file's path, size and
  modification time and of the Python version (marshal's format is Python's): an upgraded or edited package file
  gets a new entry, never a stale one. Entries are written whole (a temporary file renamed into place), read only
  from a folder owned by the user and not writable by others, and an unreadable entry is parsed again. Each
  caller gets its own copy (callers merge extras into what they get), ten times cheaper than unzipping and parsing
  the JSON again;
- in this process, as `marshal` bytes keyed by the file's path, only when no cache folder is usable (they add up
  to over 100 MB resident).

Sessions' `get_available_regions` (moto's EC2 module calls it three times on import, each from a new session, and
each call parses the service's whole model for its endpoint prefix) keeps that prefix per service and data path.

`install()` stays for the life of the process (the files are package data: they do not change while it runs).
"""
from __future__ import annotations

import gzip
import hashlib
import json
import marshal
import os
import stat
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any, Callable

_parsed: dict[str, bytes] = {}
_prefixes: dict[tuple[Any, ...], str] = {}  # (data path, service) -> the service's endpoint prefix
_lock = threading.Lock()
_originals: dict[str, Callable[..., Any]] = {}
_PYTHON = f"{sys.implementation.cache_tag}:{marshal.version}"


def cache_folder() -> Path:
    configured = os.environ.get("MEDIA_PIPELINE_CACHE")
    if configured:
        return Path(configured) / "parsed-json"
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "media-pipeline" / "parsed-json"


def _usable_folder(folder: Path) -> bool:
    """The folder exists (made private if new), belongs to this user and nobody else can write to it."""
    try:
        folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        info = folder.stat()
    except OSError:
        return False
    owned = not hasattr(os, "getuid") or info.st_uid == os.getuid()
    return owned and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH)


def _entry(source: Path) -> Path | None:
    try:
        info = source.stat()
    except OSError:
        return None
    key = f"{source.resolve()}\0{info.st_size}\0{info.st_mtime_ns}\0{_PYTHON}"
    return cache_folder() / (hashlib.sha256(key.encode()).hexdigest() + ".marshal")


def _read_entry(entry: Path) -> bytes | None:
    if not _usable_folder(entry.parent):
        return None
    try:
        packed = entry.read_bytes()
        marshal.loads(packed)  # a truncated or foreign entry raises here, and is parsed again
        return packed
    except (OSError, ValueError, EOFError, TypeError):
        return None


def _write_entry(entry: Path, packed: bytes) -> bool:
    """Write the entry whole; False when it could not be written."""
    if not _usable_folder(entry.parent):
        return False
    try:
        handle, temporary = tempfile.mkstemp(dir=entry.parent, prefix=".writing-")
        with os.fdopen(handle, "wb") as out:
            out.write(packed)
        os.replace(temporary, entry)  # whole or not at all, whatever runs at the same time
        return True
    except OSError:
        try:
            os.unlink(temporary)
        except (OSError, UnboundLocalError):
            pass
        return False


def load(source: Path, parse: Callable[[], Any]) -> Any:
    """The JSON content of `source`: from the cache folder, this process's cache (only when there is no usable
    cache folder: the packed files add up to over 100 MB, which the folder's entries, read again from the page
    cache in a millisecond or two, need not hold resident), or parse() (then kept)."""
    key = str(source)
    packed = _parsed.get(key)
    if packed is None:
        entry = _entry(source)
        packed = _read_entry(entry) if entry is not None else None
        if packed is None:
            data = parse()
            try:
                packed = marshal.dumps(data)
            except ValueError:  # not plain JSON data: leave it uncached
                return data
            if entry is not None and _write_entry(entry, packed):
                return data
            _parsed[key] = packed
            return data
    return marshal.loads(packed)


def _botocore_file(file_path: str) -> Path | None:
    """The file botocore's JSONFileLoader reads for `file_path` (it tries .json, then .json.gz)."""
    for suffix in (".json", ".json.gz"):
        candidate = Path(file_path + suffix)
        if candidate.is_file():
            return candidate
    return None


def install() -> None:
    """Route botocore's and moto's JSON data loading through the caches (idempotent; stays for the process).
    Before moto's EC2 module is imported, so that its import-time catalogues come from the cache too."""
    from botocore.exceptions import UnknownServiceError
    from botocore.loaders import JSONFileLoader
    from botocore.session import Session
    from moto.utilities import utils as moto_utils

    with _lock:
        if _originals:
            return
        load_file, load_resource = JSONFileLoader.load_file, moto_utils.load_resource
        if getattr(load_file, "_media_pipeline_cache", False):
            return

        def cached_load_file(self: Any, file_path: str) -> Any:
            source = _botocore_file(file_path)
            if source is None:
                return load_file(self, file_path)
            return load(source, lambda: parse_json_file(source))

        def cached_load_resource(resource: str) -> Any:
            return load(_moto_resource(resource), lambda: load_resource(resource))

        available_regions = Session.get_available_regions

        def cached_available_regions(self: Any, service_name: str, partition_name: str = "aws",
                                     allow_non_regional: bool = False) -> list[str]:
            """botocore's answer, with the service's endpoint prefix (all it reads of the model) kept."""
            key = (tuple(self.get_component("data_loader").search_paths), service_name)
            with _lock:
                prefix = _prefixes.get(key)
            if prefix is None:
                try:
                    prefix = self.get_service_data(service_name)["metadata"].get("endpointPrefix", service_name)
                except UnknownServiceError:
                    return []
                with _lock:
                    _prefixes[key] = prefix
            return self._get_internal_component("endpoint_resolver").get_available_endpoints(
                prefix, partition_name, allow_non_regional)

        cached_load_file._media_pipeline_cache = True  # type: ignore[attr-defined]
        JSONFileLoader.load_file = cached_load_file  # type: ignore[method-assign]
        moto_utils.load_resource = cached_load_resource
        Session.get_available_regions = cached_available_regions  # type: ignore[method-assign]
        _originals.update(load_file=load_file, load_resource=load_resource, available_regions=available_regions)


def _moto_resource(resource: str) -> Path:
    """moto's load_resource('ec2/resources/x.json') reads the .gz beside it when there is one."""
    import moto

    base = Path(moto.__file__).parent / resource
    compressed = base if resource.endswith(".gz") else base.with_name(base.name + ".gz")
    return compressed if compressed.is_file() else base


def uninstall() -> None:
    """botocore's and moto's own loading again, and this process's cache emptied (tests of the cache)."""
    from botocore.loaders import JSONFileLoader
    from botocore.session import Session
    from moto.utilities import utils as moto_utils

    with _lock:
        if _originals:
            JSONFileLoader.load_file = _originals["load_file"]  # type: ignore[method-assign]
            moto_utils.load_resource = _originals["load_resource"]
            Session.get_available_regions = _originals["available_regions"]  # type: ignore[method-assign]
            _originals.clear()
        _parsed.clear()
        _prefixes.clear()


def parse_json_file(path: Path) -> Any:
    """What botocore and moto do with one of their files, in plain dicts (botocore asks for OrderedDicts; a dict
    keeps the same order, and marshal, unlike pickle, cannot run code from a file it reads)."""
    data = path.read_bytes()
    return json.loads(gzip.decompress(data) if path.suffix == ".gz" else data)
