"""Dialect G2P for en-AU and en-US-south (engine/dialects.py) on known words, through the real
espeak-ng front end (engine/g2p.py), so the rules are checked on what the runtime really reads."""

from __future__ import annotations

import pytest

from engine import dialects
from engine.g2p import G2P, to_kokoro
from engine.locales import LOCALES, get_locale
from engine.model_store import load_vocab

VOCAB = load_vocab()


def words(locale: str, text: str) -> dict[str, str]:
    ws = text.split()
    return dict(zip(ws, G2P(get_locale(locale), VOCAB).words(ws)))


def test_australian_known_words():
    au = words("en-AU", "price time pen face car water here goat mouth fleece nurse strut lot attack")
    assert au["price"] == "pɹˈɑɪs"      # PRICE /ɑe/: retracted nucleus
    assert au["time"] == "tˈɑɪm"
    assert au["pen"] == "pˈen"          # DRESS raised /e/
    assert au["face"] == "fˈæɪs"        # FACE /æɪ/
    assert au["car"] == "kˈɐː"          # START /ɐː/, non-rhotic
    assert au["water"] == "wˈoːTə"      # THOUGHT /oː/, flapped /t/, non-rhotic
    assert au["here"] == "hˈɪː"         # NEAR monophthong
    assert au["goat"] == "ɡˈʌʊt"
    assert au["mouth"] == "mˈæʊθ"
    assert au["fleece"] == "flˈɪis"
    assert au["nurse"] == "nˈøːs"
    assert au["strut"] == "stɹˈɐt"
    assert au["lot"] == "lˈɔt"
    assert au["attack"] == "ətˈæk"      # /t/ before a stressed vowel is not flapped


def test_southern_known_words():
    south = words("en-US-south", "price time ride my pen ten pin face car bad thought mouth goat")
    assert south["price"] == "pɹˈIs"     # PRICE keeps its glide before a voiceless consonant
    assert south["time"] == "tˈaːm"      # ... and loses it before voiced ones and finally
    assert south["ride"] == "ɹˈaːd"
    assert south["my"] == "maː"
    assert south["pen"] == south["pin"] == "pˈɪn"   # the pin-pen merger
    assert south["ten"] == "tˈɪn"
    assert south["face"] == "fˈɛɪs"      # Southern Shift: FACE lowered
    assert south["car"] == "kˈɑɹ"        # rhotic
    assert south["bad"] == "bˈæjəd"      # drawl: TRAP broken before a final voiced consonant
    assert south["thought"] == "θˈɔʊt"   # upgliding THOUGHT
    assert south["mouth"] == "mˈæʊθ"
    assert south["goat"] == "ɡˈɜʊt"


def test_other_locales_untouched():
    """The rules change only their own locales: en-GB and en-US come out as espeak-ng says."""
    gb = words("en-GB", "price time pen face car water")
    us = words("en-US", "price time pen face car water")
    assert gb == {"price": "pɹˈIs", "time": "tˈIm", "pen": "pˈɛn", "face": "fˈAs", "car": "kˈɑː", "water": "wˈɔːtə"}
    assert us["time"] == "tˈIm" and us["pen"] == "pˈɛn" and us["face"] == "fˈAs"
    for loc in LOCALES:
        if loc.tag not in dialects.DIALECTS:
            assert dialects.apply(loc.tag, "pˈɛn tˈIm fˈAs") == "pˈɛn tˈIm fˈAs"


@pytest.mark.parametrize("tag", sorted(dialects.DIALECTS))
def test_rules_only_output_kokoro_symbols(tag):
    """Every replacement is made of symbols in Kokoro's vocabulary (to_kokoro would drop others silently)."""
    rules = dialects._AU_VOWELS if tag == "en-AU" else dialects._SOUTH_VOWELS
    for _, replacement in rules:
        assert all(c in VOCAB for c in replacement), (tag, replacement)
    text = ("The quick brown fox jumps over the lazy dog, then goes home at night to find "
            "the car parked by the water, near the ten red pens and the bad man's hair.")
    loc = get_locale(tag)
    ps = " ".join(G2P(loc, VOCAB).words(text.split()))
    assert ps and all(c in VOCAB for c in ps)
    base = get_locale("en-GB" if tag == "en-AU" else "en-US")
    assert ps != " ".join(G2P(base, VOCAB).words(text.split()))


def test_rules_apply_in_one_pass():
    """A rule never rewrites another's output: FACE's [æɪ] is not re-read as TRAP, PRICE's [aː]
    is not read as START."""
    assert dialects.australian("fˈAs") == "fˈæɪs"
    assert dialects.australian("tɹˈap") == "tɹˈæp"
    assert dialects.southern_us("tˈIm") == "tˈaːm"
    assert to_kokoro("tˈa^ɪm", get_locale("en-US-south"), VOCAB) == "tˈaːm"
