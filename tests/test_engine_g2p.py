"""G2P per locale on known inputs, in Kokoro's symbols."""

import pytest

from engine.g2p import G2P, to_kokoro
from engine.locales import LOCALES, get_locale
from engine.model_store import load_vocab

VOCAB = load_vocab()


def words(tag, text):
    return G2P(get_locale(tag), VOCAB).words(text.split())


@pytest.mark.parametrize("tag, text, expected", [
    ("en-US", "Hello world", ["həlˈO", "wˈɜɹld"]),
    ("en-GB", "tomato", ["təmˈɑːtQ"]),
    ("en-US", "tomato", ["təmˈATO"]),
    ("de-DE", "Guten Tag", ["ɡˈuːtən", "tˈɑːk"]),
    # German's rounded ʏ: no Kokoro symbol, so it was dropped ("Brücke" said "brkə")
    ("de-DE", "Brücke Glück", ["bɾˈykə", "ɡlˈyk"]),
    # German's ɔʏ ("eu", "äu"): the model's own diphthong Y (English "boy"), not two vowels ɔø
    ("de-DE", "heute neun läuft", ["hˈYtə", "nˈYn", "lˈYft"]),
    ("es-ES", "cielo", ["θjˈelo"]),
    ("es-US", "cielo", ["sjˈelo"]),
    ("fr-FR", "bonjour", ["bɔ̃ʒˈuʁ"]),
    ("it-IT", "ciao grazie", ["ʧˈao", "ɡrˈaʦje"]),
])
def test_known_words(tag, text, expected):
    assert words(tag, text) == expected


def test_function_words_keep_their_reduced_form_in_context():
    # Alone, espeak-ng reads "a" as the letter name; in its clause it is the article.
    assert words("en-US", "this is a test")[2] == "ə"
    assert words("es-ES", "pan y vino")[1] == "i"


def test_a_number_is_one_input_word_with_several_spoken_words():
    phonemes = words("en-US", "of 123")
    assert len(phonemes) == 2 and phonemes[1].count(" ") >= 2


@pytest.mark.parametrize("locale", LOCALES, ids=lambda loc: loc.tag)
def test_every_locale_yields_only_model_symbols(locale):
    for p in G2P(locale, VOCAB).words(["Screen", "readers", "2026", "élève", "niño", "Straße"]):
        assert p and all(c in VOCAB for c in p)


def test_unknown_symbols_are_dropped_not_passed_to_the_model():
    assert to_kokoro("h^ɛ˞lo", get_locale("de-DE"), VOCAB) == "hɛlo"


def test_language_switch_flags_never_reach_the_model():
    # espeak-ng reads foreign script with another voice and marks it "(ko)...(en-us)".
    for p in words("en-US", "한 hello Ελλάδα"):
        assert "(" not in p and ")" not in p and "ko" not in p


@pytest.mark.parametrize("tag, text, clitic", [
    ("fr-FR", "Ma sœur apprend à jouer du piano et elle s'entraîne", ["à", "et", "du"]),
    ("it-IT", "guardiamo il telegiornale e poi andiamo a letto", ["il", "e", "a"]),
    ("es-ES", "Ella y yo vamos a la playa y a la montaña", ["y", "a", "la"]),
    ("en-US", "I went to the store and bought a loaf", ["to", "the", "and", "a"]),
])
def test_a_segment_may_end_after_a_stressed_word_never_on_a_clitic(tag, text, clitic):
    from engine.g2p import may_end_segment

    spoken = text.split()
    ends = dict(zip(spoken, (may_end_segment(p) for p in words(tag, text))))
    assert not any(ends[w] for w in clitic)
    assert sum(ends.values()) >= 2  # the content words are places to cut
