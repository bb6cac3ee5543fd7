"""The state an execution carries, typed: the one place its shape is written down.

`ingest` starts each execution with `{"media": MediaItem, "steps": {}}`; each step's result is stored under
`$.steps.<name>` (the ASL's `ResultPath`), and a `Catch` puts `{"Error", "Cause"}` at `$.error`. Each JSON object of
the state is a dataclass here, with `from_state(dict)` and `to_state()` that round-trip the JSON exactly:

- a field without a default is a key every producer writes: missing, `from_state` raises `StateContractError`
  naming the step and the key (its value may still be null where the type says `| None`);
- a field with a default is a key that may be absent: `to_state` leaves it out while it is None;
- keys this code does not know are kept in `extra` and written back, as the state machine passes them through.

Pure: no AWS libraries, no I/O. Values are kept as they came (no coercion), so `to_state()` gives back the JSON
the state carried.
"""
from __future__ import annotations

from dataclasses import MISSING, Field, dataclass, field, fields
from typing import Any, Callable, ClassVar, TypedDict, TypeVar, Union

from media_pipeline.errors import PipelineError

T = TypeVar("T")
O = TypeVar("O", bound="StateObject")
Parse = Callable[[Any, str], Any]


class StateContractError(PipelineError):
    """A step got a state that does not match this contract: a bug, or executions started by another version."""

    code = "INVALID_STATE"

    def __init__(self, where: str, key: str | None, problem: str = "is missing"):
        self.where, self.key = where, key
        subject = f"{where or 'the state'}: key '{key}'" if key else (where or "the state")
        super().__init__(f"{subject} {problem}", code=self.code)

    @property
    def step(self) -> str | None:
        """The step whose result is wrong (`steps.<step>...`), if it is one."""
        parts = self.where.replace("[", ".").split(".")
        return parts[1] if parts[0] == "steps" and len(parts) > 1 else (self.key if self.where == "steps" else None)


class StepWarning(TypedDict):
    """`warnings[]` of a step result and of the manifest: a reason code (docs/reason-codes.md) and a message."""

    code: str
    message: str


def require(value: T | None, where: str, key: str) -> T:
    """`value`, or the contract's error naming where the missing key should have been."""
    if value is None:
        raise StateContractError(where, key)
    return value


def _child(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def _object(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise StateContractError(where, None, f"is {type(value).__name__}, not a JSON object")
    return value


def _list(value: Any, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise StateContractError(where, None, f"is {type(value).__name__}, not a list")
    return value


def _key(f: Field[Any]) -> str:
    return f.metadata.get("key", f.name)


def _optional(f: Field[Any]) -> bool:
    return f.default is not MISSING or f.default_factory is not MISSING


def _dump(value: Any) -> Any:
    if isinstance(value, StateObject):
        return value.to_state()
    if isinstance(value, list):
        return [_dump(item) for item in value]
    return value


@dataclass(frozen=True, kw_only=True)
class StateObject:
    """One JSON object of the state. Subclasses declare their keys as fields (see the module's docstring)."""

    WHERE: ClassVar[str] = ""  # where the object sits in the state, for error messages
    extra: dict[str, Any] = field(default_factory=dict, repr=False)  # keys this code does not know, passed through

    @classmethod
    def from_state(cls: type[O], value: Any, where: str | None = None) -> O:
        where = cls.WHERE if where is None else where
        state = _object(value, where)
        values: dict[str, Any] = {}
        known = set()
        for f in fields(cls):
            if f.name == "extra":
                continue
            key = _key(f)
            known.add(key)
            if key not in state:
                if not _optional(f):
                    raise StateContractError(where, key)
                continue
            parse: Parse | None = f.metadata.get("parse")
            values[f.name] = parse(state[key], _child(where, key)) if parse else state[key]
        return cls(**values, extra={k: v for k, v in state.items() if k not in known})

    def to_state(self) -> dict[str, Any]:
        state: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "extra" or (value is None and _optional(f)):
                continue
            state[_key(f)] = _dump(value)
        return {**state, **self.extra}


def one(cls: type[O], *, nullable: bool = False) -> Parse:
    """Parser for a nested object (`nullable`: JSON null is allowed and stays None)."""
    return lambda value, where: None if nullable and value is None else cls.from_state(value, where)


def many(cls: type[O]) -> Parse:
    """Parser for a list of nested objects."""
    return lambda value, where: [cls.from_state(item, f"{where}[{i}]") for i, item in enumerate(_list(value, where))]


def nested(parse: Parse, **kwargs: Any) -> Any:
    return field(metadata={"parse": parse}, **kwargs)


# ---- the item -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class MediaItem(StateObject):
    """`$.media`: the upload, as ingest read it. Passed unchanged to every step."""

    WHERE: ClassVar[str] = "media"
    media_id: str
    bucket: str
    key: str
    version_id: str | None  # None in an unversioned bucket
    etag: str | None
    size: int
    media_type: str  # audio | video | document | image | unknown
    detected_format: str | None = None  # what the content is (wav, pdf, ...); absent for an object ingest could not read
    source: str  # s3://bucket/key
    workflow: str | None = None  # "express": ingest started the Express workflow (media_pipeline/workflows.py)


# ---- audio and transcription --------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class AudioPart(StateObject):
    """One piece of audio for one Transcribe job: the upload itself, or a part the video worker extracted."""

    bucket: str
    key: str
    offset_seconds: float  # where the part starts in the media
    duration_seconds: float | None = None  # parts extracted from a video have it


@dataclass(frozen=True, kw_only=True)
class AudioParts(StateObject):
    """`$.steps.audio` (the PrepareAudio and PrepareVideoAudio Pass states) and the video result's `audio`."""

    WHERE: ClassVar[str] = "steps.audio"
    parts: list[AudioPart] = nested(many(AudioPart))


@dataclass(frozen=True, kw_only=True)
class TranscriptionJob(StateObject):
    """One item of `$.steps.transcription` (the Transcribe Map): what transcribe_callback sent for one part."""

    WHERE: ClassVar[str] = "steps.transcription"
    job_name: str
    transcript_key: str | None  # None when Transcribe found no speech (then a NO_SPEECH_DETECTED warning)
    language: str | None
    language_score: float | None = None  # Transcribe's IdentifiedLanguageScore, when it identified the language
    warnings: list[StepWarning] | None = None


@dataclass(frozen=True, kw_only=True)
class TranscriptResult(StateObject):
    """`$.steps.transcript` (process_transcript)."""

    WHERE: ClassVar[str] = "steps.transcript"
    text_key: str
    segments_key: str
    vtt_key: str
    srt_key: str
    transcribe_keys: list[str]  # Transcribe's own JSON, one per part
    language: str | None
    words: int
    duration_seconds: float | None
    warnings: list[StepWarning] | None = None


# ---- documents and images -----------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class DocumentTextRead(StateObject):
    """`$.steps.document` when analyze_document already has the text: mode "text_layer" or "sync"."""

    WHERE: ClassVar[str] = "steps.document"
    mode: str
    format: str
    page_count: int
    ocr_pages: list[int]
    text_key: str
    pages_key: str
    blocks_key: str | None  # None when Textract was not called
    warnings: list[StepWarning] | None = None


@dataclass(frozen=True, kw_only=True)
class DocumentNeedsOcr(StateObject):
    """`$.steps.document` in mode "async": the pages in `ocr_input_key` go to an asynchronous Textract job."""

    WHERE: ClassVar[str] = "steps.document"
    ASYNC: ClassVar[str] = "async"  # the value the ASL's DocumentNeedsOcr choice compares `mode` with
    mode: str
    format: str
    page_count: int
    ocr_pages: list[int]
    ocr_input_key: str
    text_layer_pages_key: str | None  # None when no page has a text layer
    warnings: list[StepWarning] | None = None


DocumentAnalysis = Union[DocumentTextRead, DocumentNeedsOcr]


def document_analysis(value: Any, where: str = DocumentTextRead.WHERE) -> DocumentAnalysis:
    """`$.steps.document`, typed by its mode."""
    if "mode" not in _object(value, where):
        raise StateContractError(where, "mode")
    kind = DocumentNeedsOcr if value["mode"] == DocumentNeedsOcr.ASYNC else DocumentTextRead
    return kind.from_state(value, where)


@dataclass(frozen=True, kw_only=True)
class OcrResult(StateObject):
    """`$.steps.ocr`: what textract_callback (or a retried start step) sent when the Textract job finished."""

    WHERE: ClassVar[str] = "steps.ocr"
    job_id: str
    status: str  # SUCCEEDED | PARTIAL_SUCCESS


@dataclass(frozen=True, kw_only=True)
class PageSources(StateObject):
    """Which pages' text came from the PDF's text layer and which from Textract."""

    text_layer: list[int]
    textract: list[int]


@dataclass(frozen=True, kw_only=True)
class DocumentText(StateObject):
    """`$.steps.document_text` (collect_document_text)."""

    WHERE: ClassVar[str] = "steps.document_text"
    text_key: str
    pages_key: str
    blocks_key: str | None
    page_count: int
    page_sources: PageSources = nested(one(PageSources))
    warnings: list[StepWarning] | None = None


# ---- video --------------------------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class ProbeResult(StateObject):
    """`$.steps.probe` (probe_media)."""

    WHERE: ClassVar[str] = "steps.probe"
    duration_seconds: float
    has_audio: bool
    has_video: bool
    size: int
    format: str
    bit_rate: int | None
    streams: list[dict[str, Any]]  # facts per stream, passed through as probed
    route: str  # lambda | fargate: the ASL's RouteVideo choice
    warnings: list[StepWarning] | None = None


@dataclass(frozen=True, kw_only=True)
class VideoResult(StateObject):
    """`$.steps.video`: extract_media's result, and what the Fargate worker sends with SendTaskSuccess."""

    WHERE: ClassVar[str] = "steps.video"
    audio: AudioParts | None = nested(one(AudioParts, nullable=True))  # null: no audio to transcribe
    thumbnail_keys: list[str]
    poster_key: str | None
    duration_seconds: float
    warnings: list[StepWarning] | None = None

    @property
    def audio_parts(self) -> list[AudioPart]:
        return self.audio.parts if self.audio else []


# ---- enrichment and caught errors ---------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class CaughtError(StateObject):
    """What a `Catch` stores: at `$.error`, or at `$.steps.enrichment` when the optional enrichment failed."""

    WHERE: ClassVar[str] = "error"
    error: str = field(metadata={"key": "Error"})
    cause: str | None = field(default=None, metadata={"key": "Cause"})


@dataclass(frozen=True, kw_only=True)
class EnrichmentResult(StateObject):
    """`$.steps.enrichment` (enrich): the title, summary and keywords are in `enrichment_key`."""

    WHERE: ClassVar[str] = "steps.enrichment"
    enrichment_key: str
    model: str
    model_calls: int
    input_tokens: int
    output_tokens: int
    warnings: list[StepWarning] | None = None


@dataclass(frozen=True, kw_only=True)
class EnrichmentSkipped(StateObject):
    """`$.steps.enrichment` when there was no text to summarise (no model call)."""

    WHERE: ClassVar[str] = "steps.enrichment"
    skipped: bool
    model_calls: int
    warnings: list[StepWarning] | None = None


Enrichment = Union[EnrichmentResult, EnrichmentSkipped, CaughtError]


def enrichment(value: Any, where: str = EnrichmentResult.WHERE) -> Enrichment:
    """`$.steps.enrichment`, typed by what it holds: a result, a skip, or the error its Catch kept."""
    state = _object(value, where)
    kind = CaughtError if "Error" in state else EnrichmentSkipped if state.get("skipped") else EnrichmentResult
    return kind.from_state(state, where)


# ---- language -----------------------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class LanguageResult(StateObject):
    """`$.steps.language` (identify_language): the item's language as the service that found it reports it."""

    WHERE: ClassVar[str] = "steps.language"
    code: str | None  # Comprehend's (`de`, `zh-TW`) or Transcribe's (`en-US`); None when no text to tell
    score: float | None
    source: str | None  # comprehend | transcribe
    disabled: bool | None = None
    warnings: list[StepWarning] | None = None


Language = Union[LanguageResult, CaughtError]


def language(value: Any, where: str = LanguageResult.WHERE) -> Language:
    """`$.steps.language`: a result, or the error its Catch kept (the item goes on without a language)."""
    state = _object(value, where)
    return (CaughtError if "Error" in state else LanguageResult).from_state(state, where)


# ---- PII ----------------------------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class PiiResult(StateObject):
    """`$.steps.pii` (redact_pii): where the redacted text is and how many entities of each type; never the
    entities or the text themselves."""

    WHERE: ClassVar[str] = "steps.pii"
    redacted: bool  # False only when the deployment turned the step off
    source: str | None  # comprehend (documents, images) | transcribe (audio, video) | None (no text)
    entity_counts: dict[str, int]  # Comprehend's entity type (EMAIL, PHONE, ...; PII from Transcribe) -> count
    redacted_text_key: str | None  # text.redacted.txt, or the (already redacted) transcript text
    entities_key: str | None  # pii-entities.json (documents and images)
    unredacted_kept: bool  # keep_unredacted: False when the unredacted text was overwritten (or never written)
    disabled: bool | None = None
    warnings: list[StepWarning] | None = None


# ---- the whole state ----------------------------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class Steps(StateObject):
    """`$.steps`: each step's result under its name, None until the step has run.

    Fields are in the order the steps run on every path (video, then its audio; documents), so anything gathered
    over the steps (warnings) comes out in execution order.
    """

    WHERE: ClassVar[str] = "steps"
    probe: ProbeResult | None = nested(one(ProbeResult), default=None)
    video: VideoResult | None = nested(one(VideoResult), default=None)
    audio: AudioParts | None = nested(one(AudioParts), default=None)
    transcription: list[TranscriptionJob] | None = nested(many(TranscriptionJob), default=None)
    transcript: TranscriptResult | None = nested(one(TranscriptResult), default=None)
    document: DocumentAnalysis | None = nested(document_analysis, default=None)
    ocr: OcrResult | None = nested(one(OcrResult), default=None)
    document_text: DocumentText | None = nested(one(DocumentText), default=None)
    language: Language | None = nested(language, default=None)
    pii: PiiResult | None = nested(one(PiiResult), default=None)
    enrichment: Enrichment | None = nested(enrichment, default=None)

    def results(self) -> list[tuple[str, Any]]:
        """(step name, result) of the steps that ran, in execution order; a Map step gives one per item."""
        found: list[tuple[str, Any]] = []
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name != "extra" and value is not None:
                found += [(f.name, item) for item in (value if isinstance(value, list) else [value])]
        for name, value in self.extra.items():  # steps this code does not know yet
            found += [(name, item) for item in (value if isinstance(value, list) else [value])]
        return found


@dataclass(frozen=True, kw_only=True)
class PipelineState(StateObject):
    """The execution's state: what a Task whose function gets the whole state receives.

    RecordFailure builds the same shape with `"failed": true` and the caught `error`.
    """

    media: MediaItem = nested(one(MediaItem))
    steps: Steps = nested(one(Steps))
    error: CaughtError | None = nested(one(CaughtError), default=None)
    failed: bool | None = None


# ---- payloads of the task-token states ----------------------------------------------------------------------------

@dataclass(frozen=True, kw_only=True)
class TranscriptionTask(StateObject):
    """StartTranscription's payload (the Transcribe Map's ItemSelector plus the task token): one part to start."""

    task_token: str
    part: AudioPart = nested(one(AudioPart))
    index: int
    media: MediaItem = nested(one(MediaItem))


@dataclass(frozen=True, kw_only=True)
class DocumentAnalysisTask(StateObject):
    """StartDocumentAnalysis's payload: the task token and the whole state."""

    task_token: str
    state: PipelineState = nested(lambda value, where: PipelineState.from_state(value, ""))
