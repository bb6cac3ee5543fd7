"""An extractive stand-in for the language model behind the emulated Bedrock Converse API.

It is not a language model and does not pretend to be one: the summary is the text's own most central sentences
(TextRank: sentences ranked by PageRank over their word-overlap graph), the title is the most central sentence
(or its first clause, or the top key phrases when that is too long), and the keywords are YAKE key phrases.
Nothing is invented, and the model id it is run under, MODEL_ID, says what it is; that id is what the
pipeline records in the manifest's enrichment.model. It answers with the JSON the enrichment prompt asks for.
"""
from __future__ import annotations

import functools
import json
import math
import re
from typing import Any

from media_pipeline.local.engines import timed

MODEL_ID = "local.extractive-textrank-yake"
MAX_TITLE_WORDS = 12
_TEXT = re.compile(r"<text>\s*(.*?)\s*</text>", re.S)
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Z0-9])|\n{2,}")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)?", re.U)
_STOPWORDS = frozenset("""
a about above after again against all also am an and any are as at be because been before being below between both
but by can could did do does doing down during each few for from further had has have having he her here hers him
his how i if in into is it its itself just me more most my no nor not now of off on once only or other our ours out
over own same she should so some such than that the their theirs them then there these they this those through to
too under until up very was we were what when where which while who whom why will with would you your yours
""".split())


def text_from_prompt(messages: list[dict[str, Any]]) -> str:
    """The text between <text> and </text> in the last user message (the whole message if there are no tags)."""
    prompt = ""
    for message in messages:
        if message.get("role", "user") == "user":
            prompt = "".join(block.get("text", "") for block in message.get("content", []))
    found = _TEXT.search(prompt)
    return (found.group(1) if found else prompt).strip()


def _is_heading(line: str, following: str) -> bool:
    """A short line without closing punctuation, followed by a capitalised line or nothing: a heading."""
    line = line.strip()
    return (0 < len(line.split()) <= MAX_TITLE_WORDS and line[-1] not in ".!?,;:-"
            and (not following.strip() or following.strip()[0].isupper()))


def sentences_of(text: str) -> list[str]:
    """Sentences, with headings (short unpunctuated lines) kept apart from the sentence that follows them."""
    lines = re.sub(r"[ \t]+", " ", text.replace("\r", "")).split("\n")
    blocks, current = [], []
    for index, line in enumerate(lines):
        following = lines[index + 1] if index + 1 < len(lines) else ""
        if _is_heading(line, following):
            blocks.extend([" ".join(current), line])
            current = []
        elif not line.strip():
            blocks.append(" ".join(current))
            current = []
        else:
            current.append(line.strip())
    blocks.append(" ".join(current))
    parts = [re.sub(r"\s+", " ", part).strip() for block in blocks for part in _SENTENCE_END.split(block)]
    return [part for part in parts if part and _WORD.search(part)]


def heading_of(text: str) -> str | None:
    """The text's first line when it is a heading."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    if len(lines) >= 2 and _is_heading(lines[0], lines[1]):
        return lines[0].strip()
    return None


def _content_words(sentence: str) -> list[str]:
    return [w for w in (m.group(0).lower() for m in _WORD.finditer(sentence)) if w not in _STOPWORDS and len(w) > 1]


def textrank(sentences: list[str], damping: float = 0.85, iterations: int = 100) -> list[float]:
    """Centrality of each sentence: PageRank over similarity = shared words / (log|a| + log|b|)."""
    import numpy as np

    n = len(sentences)
    if n <= 1:
        return [1.0] * n
    words = [set(_content_words(s)) for s in sentences]
    weights = np.zeros((n, n))
    for i in range(n):
        for j in range(i + 1, n):
            shared = len(words[i] & words[j])
            if shared:
                norm = math.log(len(words[i]) + 1) + math.log(len(words[j]) + 1)
                weights[i, j] = weights[j, i] = shared / norm
    totals = weights.sum(axis=1)
    transition = np.divide(weights, totals[:, None], out=np.full((n, n), 1.0 / n), where=totals[:, None] > 0)
    scores = np.full(n, 1.0 / n)
    for _ in range(iterations):
        updated = (1 - damping) / n + damping * transition.T @ scores
        if np.abs(updated - scores).sum() < 1e-9:
            scores = updated
            break
        scores = updated
    return scores.tolist()


@functools.lru_cache(maxsize=4)
def _keyword_extractor(language: str, top: int) -> Any:
    import yake

    return yake.KeywordExtractor(lan=language, n=2, dedupLim=0.7, top=top)


def keywords_of(text: str, top: int = 8) -> list[str]:
    """YAKE key phrases (of one or two words) that share no word with a better one, so each adds a topic."""
    text = " ".join(s if s[-1] in ".!?" else s + "." for s in sentences_of(text))  # headings end at their end
    found = [phrase for phrase, _ in _keyword_extractor("en", top * 4).extract_keywords(text)] if text.strip() else []
    seen: set[str] = set()
    keywords: list[str] = []
    chosen: list[set[str]] = []
    for phrase in found:
        words = set(phrase.lower().split())
        if any(words & other for other in chosen):
            continue
        chosen.append(words)
        seen.update(words)
        keywords.append(phrase)
    if len(keywords) < 3:  # very short texts: add their most frequent content words
        counts: dict[str, int] = {}
        for word in _content_words(text):
            counts[word] = counts.get(word, 0) + 1
        for word in sorted(counts, key=lambda w: (-counts[w], w)):
            if len(keywords) >= 3:
                break
            if word not in seen:
                seen.add(word)
                keywords.append(word)
    return keywords[:top]


def _title(best: str, keywords: list[str]) -> str:
    sentence = best.strip().rstrip(".!?;:")
    if 0 < len(sentence.split()) <= MAX_TITLE_WORDS:
        return sentence
    clause = re.split(r"[,;:]\s+", sentence)[0]
    if 3 <= len(clause.split()) <= MAX_TITLE_WORDS:
        return clause
    if keywords:
        phrases = keywords[:3]
        title = ", ".join(phrases[:-1]) + (" and " if len(phrases) > 1 else "") + phrases[-1]
        return title[:1].upper() + title[1:]
    return " ".join(sentence.split()[:MAX_TITLE_WORDS])


def summarise(text: str) -> dict[str, Any]:
    """{"title", "summary", "keywords"} taken from the text itself."""
    sentences = sentences_of(text)
    if not sentences:
        return {"title": "No text", "summary": "The item holds no text to summarise.", "keywords": []}
    scores = textrank(sentences)
    ranked = sorted(range(len(sentences)), key=lambda i: (-scores[i], i))
    ranked = [i for i in ranked if len(sentences[i].split()) > 3 or len(sentences) == 1] or ranked  # not headings
    count = 2 if len(sentences) <= 6 else 3 if len(sentences) <= 30 else 4
    chosen = sorted(ranked[:count])
    summary = " ".join(sentences[i] for i in chosen)
    if len(summary) > 3000:
        summary = summary[:2997].rsplit(" ", 1)[0] + "…"
    keywords = keywords_of(text)
    # The whole text's heading is the best title there is; otherwise the most central sentence gives it.
    title = heading_of(text) or _title(sentences[ranked[0]], keywords)
    return {"title": title, "summary": summary, "keywords": keywords}


def converse(messages: list[dict[str, Any]], system: list[dict[str, Any]], inference_config: dict[str, Any]) -> str:
    """The Converse engine: the JSON answer the enrichment prompt asks for."""
    with timed("summary"):
        return json.dumps(summarise(text_from_prompt(messages)), ensure_ascii=False)
