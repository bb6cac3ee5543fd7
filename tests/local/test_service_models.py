"""The cache of botocore's and moto's parsed data files: the same content as parsing them, a private copy per
caller, entries invalidated by any change of the file, a corrupt entry parsed again, no use of a shared folder."""
from __future__ import annotations

import os
from pathlib import Path

import botocore
import pytest
from botocore.loaders import JSONFileLoader

from media_pipeline.local import service_models

EC2_MODEL = Path(botocore.__file__).parent / "data" / "ec2" / "2016-11-15" / "service-2"


@pytest.fixture()
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("MEDIA_PIPELINE_CACHE", str(tmp_path / "cache"))
    service_models.uninstall()
    yield tmp_path / "cache" / "parsed-json"
    service_models.uninstall()
    service_models.install()  # as the local runtime leaves it for the process


def entries(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.marshal")) if folder.exists() else []


def test_botocore_files_load_as_botocore_parses_them_each_caller_its_own_copy(cache: Path) -> None:
    expected = JSONFileLoader().load_file(str(EC2_MODEL))
    service_models.install()
    first = JSONFileLoader().load_file(str(EC2_MODEL))
    assert first == expected and len(entries(cache)) == 1
    first["metadata"]["serviceId"] = "changed by a caller"  # botocore merges extras into what it loads
    second = JSONFileLoader().load_file(str(EC2_MODEL))
    assert second == expected and second is not first
    assert JSONFileLoader().load_file(str(EC2_MODEL.with_name("no-such-file"))) is None


def test_a_new_process_reads_the_folder_and_a_changed_file_gets_a_new_entry(cache: Path, tmp_path: Path) -> None:
    source = tmp_path / "data" / "model"
    source.parent.mkdir()
    source.with_suffix(".json").write_text('{"version": 1}')
    service_models.install()
    assert JSONFileLoader().load_file(str(source)) == {"version": 1}
    service_models._parsed.clear()  # as a new process: only the folder remains
    assert JSONFileLoader().load_file(str(source)) == {"version": 1}
    assert len(entries(cache)) == 1
    source.with_suffix(".json").write_text('{"version": 22}')  # another size and time: another key
    os.utime(source.with_suffix(".json"), ns=(1, 1))
    service_models._parsed.clear()
    assert JSONFileLoader().load_file(str(source)) == {"version": 22}
    assert len(entries(cache)) == 2


def test_a_corrupt_entry_is_parsed_again(cache: Path, tmp_path: Path) -> None:
    source = tmp_path / "model"
    source.with_suffix(".json").write_text('{"regions": ["us-east-1"]}')
    service_models.install()
    JSONFileLoader().load_file(str(source))
    [entry] = entries(cache)
    entry.write_bytes(b"\x00not marshal")
    service_models._parsed.clear()
    assert JSONFileLoader().load_file(str(source)) == {"regions": ["us-east-1"]}


def test_a_folder_others_can_write_to_is_not_used(cache: Path, tmp_path: Path) -> None:
    cache.mkdir(parents=True)
    cache.chmod(0o777)
    source = tmp_path / "model"
    source.with_suffix(".json").write_text('{"a": 1}')
    service_models.install()
    assert JSONFileLoader().load_file(str(source)) == {"a": 1}
    assert entries(cache) == []


def test_moto_resources_come_from_the_cache(cache: Path) -> None:
    from moto.utilities import utils

    service_models.install()
    loaded = utils.load_resource("ec2/resources/instance_types.json")
    assert "t3.micro" in loaded and len(entries(cache)) == 1
    assert utils.load_resource("ec2/resources/instance_types.json") == loaded


def test_available_regions_read_each_service_model_once_and_answer_as_botocore_does(cache: Path,
                                                                                   monkeypatch: pytest.MonkeyPatch
                                                                                   ) -> None:
    import boto3
    from botocore.session import Session

    plain = {(service, partition): boto3.session.Session().get_available_regions(service, partition)
             for service in ("ec2", "s3", "transcribe") for partition in ("aws", "aws-cn")}
    service_models.install()
    loads: list[str] = []
    get_service_data = Session.get_service_data
    monkeypatch.setattr(Session, "get_service_data",
                        lambda self, name, *args, **kwargs: loads.append(name) or get_service_data(self, name, *args,
                                                                                                    **kwargs))
    for _ in range(3):  # as moto's EC2 module asks, each time from a new session
        for (service, partition), regions in plain.items():
            answer = boto3.session.Session().get_available_regions(service, partition)
            assert answer == regions and "us-east-1" in plain[("ec2", "aws")]
            answer.append("changed by a caller")  # each caller gets its own list
    assert sorted(loads) == ["ec2", "s3", "transcribe"]  # each service's model read once, whatever the partition
