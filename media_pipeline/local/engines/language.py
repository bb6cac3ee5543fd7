"""Language identification behind the emulated Comprehend DetectDominantLanguage: py3langid (langid.py's model,
97 languages, shipped inside the wheel; nothing is downloaded), answering in Comprehend's response shape.

Codes are reported as Comprehend reports them (RFC 5646): ISO 639-1 where there is one (`en`, `de`), `no` for
Norwegian (langid's `nb`/`nn`), and `zh-TW` for Chinese written in traditional characters (langid says `zh` for
both scripts; the script is told from characters that differ between the two).
"""
from __future__ import annotations

import threading
from typing import Any

from media_pipeline.local.engines import timed

MIN_SCORE = 0.01  # Comprehend lists the languages it found with their scores; tiny ones are left out
MAX_LANGUAGES = 5
_CODES = {"nb": "no", "nn": "no"}
# Common characters written differently in the two scripts (traditional, simplified).
_TRADITIONAL = set("這個們來時會國為後對學經發與關開現長見過還進問書體氣裡說話讀寫買賣車門東電馬鳥魚風飛邊區")
_SIMPLIFIED = set("这个们来时会国为后对学经发与关开现长见过还进问书体气里说话读写买卖车门东电马鸟鱼风飞边区")

_lock = threading.Lock()
_identifier: Any = None


def identifier() -> Any:
    """py3langid's identifier with probabilities normalised to 0..1, loaded once per process."""
    global _identifier
    with _lock:
        if _identifier is None:
            from py3langid.langid import MODEL_FILE, LanguageIdentifier

            _identifier = LanguageIdentifier.from_pickled_model(MODEL_FILE, norm_probs=True)
        return _identifier


def _chinese_code(text: str) -> str:
    traditional = sum(1 for ch in text if ch in _TRADITIONAL)
    simplified = sum(1 for ch in text if ch in _SIMPLIFIED)
    return "zh-TW" if traditional > simplified else "zh"


def comprehend_code(langid_code: str, text: str) -> str:
    if langid_code == "zh":
        return _chinese_code(text)
    return _CODES.get(langid_code, langid_code)


def detect_dominant_language(text: str) -> dict[str, Any]:
    """Comprehend's DetectDominantLanguage response for `text`: {"Languages": [{"LanguageCode", "Score"}]},
    best first."""
    with timed("language"):
        ranked = identifier().rank(text)
    languages: dict[str, float] = {}
    for code, score in ranked[:MAX_LANGUAGES]:
        if float(score) < MIN_SCORE and languages:
            break
        name = comprehend_code(code, text)
        languages[name] = max(languages.get(name, 0.0), round(float(score), 4))
    return {"Languages": [{"LanguageCode": code, "Score": score} for code, score in languages.items()]}
