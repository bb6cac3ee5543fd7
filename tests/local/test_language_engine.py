"""The offline language engine behind the emulated Comprehend DetectDominantLanguage: py3langid on real sentences,
answering with Comprehend's codes and response shape, without the network."""
from __future__ import annotations

import socket

import pytest

from media_pipeline.local.engines import language

SENTENCES = {
    "en": "The quarterly report shows that sales grew in every region, and the team expects the trend to continue.",
    "de": "Der Quartalsbericht zeigt, dass der Umsatz in allen Regionen gestiegen ist, und das Team erwartet mehr.",
    "fr": "Le rapport trimestriel montre que les ventes ont augmenté dans toutes les régions cette année.",
    "es": "El informe trimestral muestra que las ventas crecieron en todas las regiones durante este año.",
    "it": "Il rapporto trimestrale mostra che le vendite sono cresciute in tutte le regioni quest'anno.",
    "pt": "O relatório trimestral mostra que as vendas cresceram em todas as regiões durante este ano.",
    "nl": "Het kwartaalverslag laat zien dat de verkoop in alle regio's is gegroeid en het team verwacht meer.",
    "ja": "四半期報告書によると、すべての地域で売上が伸びており、チームはこの傾向が続くと考えています。",
    "zh": "季度报告显示，所有地区的销售额都在增长，团队预计这一趋势将会继续。",
    "zh-TW": "季度報告顯示，所有地區的銷售額都在增長，團隊預計這個趨勢將會繼續。",
}


@pytest.mark.slow
@pytest.mark.parametrize("code", sorted(SENTENCES))
def test_real_sentences_get_comprehends_code(code):
    response = language.detect_dominant_language(SENTENCES[code])
    best = response["Languages"][0]
    assert best["LanguageCode"] == code, response
    assert 0.5 < best["Score"] <= 1.0


@pytest.mark.slow
def test_the_response_has_comprehends_shape_best_first():
    response = language.detect_dominant_language("Guten Morgen. Good morning. Bonjour à tous.")
    assert set(response) == {"Languages"} and 1 <= len(response["Languages"]) <= language.MAX_LANGUAGES
    for item in response["Languages"]:
        assert set(item) == {"LanguageCode", "Score"} and isinstance(item["Score"], float)
    scores = [item["Score"] for item in response["Languages"]]
    assert scores == sorted(scores, reverse=True)
    assert len({item["LanguageCode"] for item in response["Languages"]}) == len(scores)


@pytest.mark.slow
def test_the_model_ships_in_the_wheel(monkeypatch):
    """Loading and identifying opens no connection: the model is a file inside py3langid."""
    def no_network(*args, **kwargs):
        raise AssertionError("the language engine tried to reach the network")

    monkeypatch.setattr(socket.socket, "connect", no_network)
    monkeypatch.setattr(language, "_identifier", None)
    assert language.detect_dominant_language(SENTENCES["de"])["Languages"][0]["LanguageCode"] == "de"


def test_codes_are_comprehends():
    assert language.comprehend_code("nb", "") == "no" and language.comprehend_code("de", "") == "de"
    assert language.comprehend_code("zh", "这是一个句子") == "zh"
    assert language.comprehend_code("zh", "這是一個句子") == "zh-TW"
