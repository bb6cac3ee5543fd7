"""The video modules on real media made with PyAV: probe, audio for Transcribe, pictures, failures, routes."""
from __future__ import annotations

import random

import av
import pytest

from media_pipeline import video, video_audio, video_pictures, video_probe
from media_pipeline.errors import MediaRejected
from tests.media_factory import make_video, make_wav


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("media") / "clip.mp4", 3)


@pytest.fixture(scope="module")
def silent_clip(tmp_path_factory):
    return make_video(tmp_path_factory.mktemp("media") / "silent.mp4", 2, with_audio=False)


def decoded_duration(path) -> float:
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        samples = sum(frame.samples for frame in container.decode(stream))
        return samples / stream.sample_rate


def test_probe_reports_streams_duration_and_format(clip):
    facts = video_probe.probe(clip)
    assert facts["duration_seconds"] == pytest.approx(3.0, abs=0.1)
    assert facts["has_audio"] and facts["has_video"]
    assert "mp4" in facts["format"] and facts["bit_rate"] > 0
    by_type = {s["type"]: s for s in facts["streams"]}
    assert by_type["video"]["codec"] == "h264"
    assert (by_type["video"]["width"], by_type["video"]["height"]) == (160, 120)
    assert by_type["audio"]["codec"] == "aac"
    assert by_type["audio"]["sample_rate"] == 16000 and by_type["audio"]["channels"] == 1
    assert facts["warnings"] == []


def test_probe_reads_a_file_object(clip):
    with open(clip, "rb") as handle:
        assert video_probe.probe(handle)["duration_seconds"] == pytest.approx(3.0, abs=0.1)


def test_audio_is_mono_16k_flac_as_long_as_the_video(clip, tmp_path):
    extraction = video_audio.extract_audio(clip, tmp_path)
    assert len(extraction.parts) == 1
    part = extraction.parts[0]
    assert part.path.name == "audio-0.flac" and part.offset_seconds == 0.0
    with av.open(str(part.path)) as container:
        stream = container.streams.audio[0]
        assert container.format.name == "flac"
        assert (stream.codec_context.name, stream.sample_rate, stream.channels) == ("flac", 16000, 1)
    assert decoded_duration(part.path) == pytest.approx(video_probe.probe(clip)["duration_seconds"], abs=1.0)


def test_audio_from_a_stereo_44k_wav_is_resampled(tmp_path):
    source = make_wav(tmp_path / "stereo.wav", 2, sample_rate=44100, channels=2)
    part = video_audio.extract_audio(source, tmp_path / "out").parts[0]
    with av.open(str(part.path)) as container:
        assert (container.streams.audio[0].sample_rate, container.streams.audio[0].channels) == (16000, 1)
    assert decoded_duration(part.path) == pytest.approx(2.0, abs=0.05)


def test_long_audio_is_split_within_the_limits_and_offsets_add_up(clip, tmp_path):
    seen = []
    extraction = video_audio.extract_audio(clip, tmp_path, max_part_seconds=1.0, on_part=seen.append)
    parts = extraction.parts
    assert len(parts) >= 3 and seen == parts
    assert all(p.duration_seconds <= 1.0 for p in parts)
    offset = 0.0
    for part in parts:
        assert part.offset_seconds == pytest.approx(offset, abs=0.002)
        assert decoded_duration(part.path) == pytest.approx(part.duration_seconds, abs=0.002)
        offset += part.duration_seconds
    assert offset == pytest.approx(extraction.duration_seconds, abs=0.01)
    assert offset == pytest.approx(3.0, abs=0.1)


def test_split_by_size_keeps_every_part_under_the_byte_limit(clip, tmp_path):
    limit = 30_000
    parts = video_audio.extract_audio(clip, tmp_path, max_part_bytes=limit).parts
    assert len(parts) >= 2
    assert all(p.path.stat().st_size <= limit for p in parts)
    assert parts[-1].offset_seconds + parts[-1].duration_seconds == pytest.approx(3.0, abs=0.1)


def test_thumbnails_and_poster_exist_and_decode(clip, tmp_path):
    pictures = video_pictures.thumbnails(clip, tmp_path / "thumbs", every_seconds=1, max_count=5)
    assert [p.path.name for p in pictures] == ["thumb-0.jpg", "thumb-1.jpg", "thumb-2.jpg"]
    assert [p.time_seconds for p in pictures] == pytest.approx([0.5, 1.5, 2.5], abs=0.11)
    for picture in pictures:
        with av.open(str(picture.path)) as image:
            frame = next(image.decode(video=0))
            assert (frame.width, frame.height) == (160, 120)
    assert len({p.path.read_bytes() for p in pictures}) == 3  # the bar moves: different pictures
    poster = video_pictures.poster_frame(clip, tmp_path / "poster.jpg")
    assert poster is not None and poster.time_seconds == pytest.approx(0.3, abs=0.11)
    with av.open(str(poster.path)) as image:
        assert next(image.decode(video=0)).width == 160


def test_thumbnails_are_capped_and_scaled(clip, tmp_path):
    pictures = video_pictures.thumbnails(clip, tmp_path, every_seconds=0.1, max_count=2, max_width=80)
    assert len(pictures) == 2
    assert all((p.width, p.height) == (80, 60) for p in pictures)


def test_thumbnail_times_spread_over_long_videos():
    assert video_pictures.thumbnail_times(7200, 60, 20) == pytest.approx([180 + 360 * i for i in range(20)])
    assert video_pictures.thumbnail_times(30, 60, 20) == [15.0]


def test_video_without_audio_gives_no_parts_and_a_warning(silent_clip, tmp_path):
    facts = video_probe.probe(silent_clip)
    assert facts["has_audio"] is False and facts["has_video"] is True
    assert [w["code"] for w in facts["warnings"]] == ["NO_AUDIO_TRACK"]
    extraction = video_audio.extract_audio(silent_clip, tmp_path)
    assert extraction.parts == [] and extraction.has_audio is False
    assert len(video_pictures.thumbnails(silent_clip, tmp_path, every_seconds=1, max_count=3)) == 2


def test_audio_only_media_has_no_pictures(tmp_path):
    source = make_wav(tmp_path / "tone.wav", 1)
    assert [w["code"] for w in video_probe.probe(source)["warnings"]] == ["NO_VIDEO_TRACK"]
    assert video_pictures.thumbnails(source, tmp_path, every_seconds=1, max_count=3) == []
    assert video_pictures.poster_frame(source, tmp_path / "poster.jpg") is None


def test_truncated_video_is_corrupt(clip, tmp_path):
    broken = tmp_path / "truncated.mp4"
    broken.write_bytes(clip.read_bytes()[: clip.stat().st_size // 3])
    for attempt in (lambda: video_probe.probe(broken), lambda: video_audio.extract_audio(broken, tmp_path)):
        with pytest.raises(MediaRejected) as caught:
            attempt()
        assert caught.value.code == "CORRUPT_MEDIA"


def test_garbled_video_is_corrupt(clip, tmp_path):
    data = bytearray(clip.read_bytes())
    rng = random.Random(7)
    for index in range(2000, len(data) - 2000, 50):
        data[index] = rng.randrange(256)
    broken = tmp_path / "garbled.mp4"
    broken.write_bytes(bytes(data))
    with pytest.raises(MediaRejected) as caught:
        video_probe.probe(broken)
        video_audio.extract_audio(broken, tmp_path)
    assert caught.value.code == "CORRUPT_MEDIA"


def test_random_bytes_are_corrupt(tmp_path):
    noise = tmp_path / "noise.mp4"
    noise.write_bytes(random.Random(3).randbytes(50_000))
    with pytest.raises(MediaRejected) as caught:
        video_probe.probe(noise)
    assert caught.value.code == "CORRUPT_MEDIA"


def test_streams_without_a_decoder_are_unsupported(silent_clip, tmp_path):
    # An unknown codec tag of the same length keeps the MP4 boxes valid; FFmpeg has no decoder for it.
    unknown = tmp_path / "unknown.mp4"
    unknown.write_bytes(silent_clip.read_bytes().replace(b"avc1", b"zzz1"))
    with pytest.raises(MediaRejected) as caught:
        video_probe.probe(unknown)
    assert caught.value.code == "UNSUPPORTED_CODEC"


def test_one_undecodable_stream_is_a_warning(clip, tmp_path):
    partly = tmp_path / "partly.mp4"
    partly.write_bytes(clip.read_bytes().replace(b"avc1", b"zzz1"))
    facts = video_probe.probe(partly)
    assert facts["has_audio"] and not facts["has_video"]
    assert {w["code"] for w in facts["warnings"]} == {"NO_VIDEO_TRACK", "UNSUPPORTED_CODEC"}


def test_a_file_with_no_media_streams_is_rejected(tmp_path):
    subtitles = tmp_path / "subs.srt"
    subtitles.write_text("1\n00:00:00,000 --> 00:00:01,000\nhello\n\n2\n00:00:01,000 --> 00:00:02,000\nworld\n")
    with pytest.raises(MediaRejected) as caught:
        video_probe.probe(subtitles)
    assert caught.value.code == "NO_MEDIA_STREAMS"


def test_route_follows_the_lambda_limit():
    options = video.VideoOptions(lambda_max_seconds=600)
    assert video.route_for(600, options) == "lambda"
    assert video.route_for(600.5, options) == "fargate"
    assert video.VideoOptions.from_env({"VIDEO_LAMBDA_MAX_SECONDS": "30"}).lambda_max_seconds == 30
