"""Make the speech recordings the accuracy test and benchmarks/speech_accuracy.py measure (run once; committed).

    python tests/data/speech/make_recordings.py         # needs espeak-ng (apt-get install espeak-ng) and av
    python tests/data/speech/make_recordings.py --talk  # tests/data/transcribe-talk.json (runs the speech engine)

The tests never run this and nothing is tuned to these recordings: several voices, speeds and languages, written
as Ogg Opus (16 kHz mono, 12 kbit/s) so each stays under about 75 KB. It writes, next to itself, each recording
and `recordings.json`: per file, the voice, the speed, the language code Amazon Transcribe would report for it
(null when Transcribe's batch API does not support the language) and the reference text.
"""
from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent

RECORDINGS = [
    # (file, espeak-ng voice, words per minute, Transcribe language code or None, text)
    ("en-us-slow.ogg", "en-us+f3", 135, "en-US",
     "The harbour opens at six in the morning. Fishing boats leave before sunrise and return with the tide. "
     "Visitors can buy fresh fish at the market until noon."),
    ("en-gb-fast.ogg", "en-gb-x-rp+m3", 200, "en-US",
     "Please remember to back up your files every week. A copy kept on another machine will save you hours "
     "of work when a disk fails."),
    ("en-long-reading.ogg", "en-us+m1", 145, "en-US",
     "Every spring the valley fills with travellers who come to see the almond trees in flower. "
     "The road from the coast climbs slowly through olive groves, past small farms and a ruined castle. "
     "In the village square, an old clock tower still rings every hour, although nobody remembers who winds it. "
     "Most visitors stay for a single afternoon, walking between the orchards and resting in the shade. "
     "Those who stay longer discover the caves above the river, where shepherds once kept their flocks in winter. "
     "In the evening the cafes fill with families, and children play football until it is dark. "
     "By the end of April the blossoms have fallen and the valley is quiet again. "
     "The last bus back to the coast leaves at half past seven in the evening."),
    ("de-reading.ogg", "de", 150, "de-DE",
     "Der Zug nach Hamburg fährt heute zwanzig Minuten später ab. Bitte achten Sie auf die Ansagen am Bahnsteig. "
     "Wir danken für Ihr Verständnis."),
    ("fr-reading.ogg", "fr", 150, "fr-FR",
     "La bibliothèque municipale sera fermée lundi prochain. Les livres empruntés peuvent être rendus à la "
     "mairie pendant les heures d'ouverture."),
    ("es-reading.ogg", "es", 160, "es-ES",
     "El museo abre sus puertas a las diez de la mañana. La entrada es gratuita para los estudiantes y los "
     "mayores de sesenta y cinco años."),
    ("it-reading.ogg", "it", 150, "it-IT",
     "Il treno per Roma partirà con venti minuti di ritardo. Ci scusiamo per il disagio e vi ringraziamo per la "
     "pazienza."),
    ("la-reading.ogg", "la", 140, None,
     "Gallia est omnis divisa in partes tres, quarum unam incolunt Belgae, aliam Aquitani, tertiam qui ipsorum "
     "lingua Celtae, nostra Galli appellantur."),
]
# A talk of about three minutes: only its transcript (the engine's Transcribe JSON) is kept, for the caption tests.
TALK = (
    "Good morning everyone, and thank you for coming to this session about event driven media processing. "
    "Over the next few minutes I want to show you how a single upload, whether it is a podcast episode, a scanned "
    "contract or a long recording of a meeting, becomes a transcript, a set of captions and a short summary, "
    "without anybody pressing a button. "
    "The idea is simple. A file lands in a bucket, the bucket sends an event, and a queue holds that event until a "
    "small function is ready to read it. That function looks at the first few bytes of the file, decides what it is, "
    "and starts one workflow for the item. "
    "Why a queue, you might ask, when the bucket could call the function directly? Because queues remember. If the "
    "function fails, or if a thousand files arrive in the same minute, nothing is lost, and every item is processed "
    "once. "
    "The workflow itself is a state machine. Each state does one thing: it probes the media, it extracts the audio, "
    "it starts a transcription job, it waits for that job without polling, and finally it writes a manifest that "
    "says exactly what happened. "
    "Waiting is the interesting part. A transcription can take minutes, and paying a function to sit and check every "
    "few seconds is wasteful. Instead, the workflow hands out a token, goes to sleep, and wakes up when the service "
    "announces that the job has finished. "
    "Now, what about failures? Every state has a retry policy for throttling and transient errors, with backoff and "
    "jitter, and every state has a catch that records the item as failed, with a reason a machine can read. "
    "Nothing ends silently. "
    "Finally, the captions. Nobody wants to read a line of eighty characters at the bottom of a video, so the "
    "pipeline keeps every line under forty two characters, never shows more than two lines at once, and keeps each "
    "caption on screen long enough to read. "
    "That is the whole pipeline. In the workshop you will run it on your own laptop, with no account at all, and "
    "then deploy the same code to the cloud. Thank you, and let us get started."
)


def speak(voice: str, speed: int, text: str, wav: Path) -> None:
    subprocess.run(["espeak-ng", "-v", voice, "-s", str(speed), "-w", str(wav), text], check=True)


def to_opus(wav: Path, ogg: Path) -> None:
    import av

    with av.open(str(wav)) as source, av.open(str(ogg), "w", format="ogg") as out:
        stream = out.add_stream("libopus", rate=16000, layout="mono")
        stream.bit_rate = 12000
        resampler = av.AudioResampler(format="s16", layout="mono", rate=16000)
        for frame in source.decode(audio=0):
            for converted in resampler.resample(frame):
                for packet in stream.encode(converted):
                    out.mux(packet)
        for converted in resampler.resample(None):
            for packet in stream.encode(converted):
                out.mux(packet)
        for packet in stream.encode(None):
            out.mux(packet)


def make_talk_transcript() -> None:
    """tests/data/transcribe-talk.json: what the offline engine (Transcribe's JSON) heard in the talk."""
    import sys

    sys.path.insert(0, str(HERE.parents[2]))
    from media_pipeline.local.engines import speech

    with tempfile.TemporaryDirectory() as scratch:
        wav = Path(scratch) / "talk.wav"
        speak("en-us+m3", 165, TALK, wav)
        output = speech.transcribe(wav.read_bytes(), None)
    (HERE.parent / "transcribe-talk.json").write_text(json.dumps(output, ensure_ascii=False) + "\n")


def main() -> None:
    if "--talk" in __import__("sys").argv:
        make_talk_transcript()
        return
    listing = []
    with tempfile.TemporaryDirectory() as scratch:
        for name, voice, speed, language, text in RECORDINGS:
            wav = Path(scratch) / "speech.wav"
            speak(voice, speed, text, wav)
            to_opus(wav, HERE / name)
            listing.append({"file": name, "voice": voice, "words_per_minute": speed, "language_code": language,
                            "text": text})
            print(f"{name}: {(HERE / name).stat().st_size} bytes")
    (HERE / "recordings.json").write_text(json.dumps(listing, indent=1, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    main()
