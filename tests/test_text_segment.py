"""Segmentation: sentences, clauses, quotes and brackets, offsets, and robustness."""

import random

from hypothesis import given, settings, strategies as st

from engine.text import Break, FrontEndReport, Mark, Word, read_text

LOCALES = ["en-US", "en-GB", "de-DE", "es-ES", "es-US", "fr-FR", "it-IT"]


def words(text, locale="en-US"):
    return [w for run in read_text(text, locale, FrontEndReport()) for w in run.items]


def test_sentence_and_clause_punctuation_lands_on_the_last_word():
    got = [(w.text, w.punct) for w in words('He said: "Stop!" Then (quietly) left; fine, ok… Really?! Yes — no.')]
    assert got == [
        ("He", ""), ("said", ":"), ("Stop", "!"), ("Then", ""), ("quietly", ""), ("left", ";"),
        ("fine", ","), ("ok", "…"), ("Really", "?!"), ("Yes", "—"), ("no", "."),
    ]


def test_ellipsis_dashes_and_repeated_marks():
    got = [(w.text, w.punct) for w in words("wait...what—now!!! ok??")]
    assert got == [("wait", "…"), ("what", "—"), ("now", "!"), ("ok", "?")]


def test_line_breaks_end_sentences():
    got = [(w.text, w.punct) for w in words("Title\n\nFirst line,\nsecond line")]
    assert got == [("Title", "."), ("First", ""), ("line", "."), ("second", ""), ("line", "")]


def test_spanish_inverted_marks_and_french_spaced_punctuation():
    assert [(w.text, w.punct) for w in words("¿Qué tal? ¡Bien!", "es-ES")] == [
        ("Qué", ""), ("tal", "?"), ("Bien", "!")]
    assert [(w.text, w.punct) for w in words("Bonjour ! Ça va ?", "fr-FR")] == [
        ("Bonjour", "!"), ("Ça", ""), ("va", "?")]


def test_offsets_point_at_the_written_word():
    text = '  "Hello," she said (twice).\tDr. Who?'
    for w in words(text):
        assert text[w.source_start : w.source_start + len(w.text)] == w.text


def test_control_characters_and_odd_whitespace_are_tolerated():
    got = [w.text for w in words("a\x00b\x07c\u200bd\u00a0e\ufeff\u2028f")]
    assert got == ["a", "b", "c", "d", "e", "f"]


def test_single_letters_are_words_not_letter_names():
    assert [w.spoken for w in words("a", "en-US")] == ["a"]
    assert [w.spoken for w in words("y", "es-ES")] == ["y"]


def test_long_text_keeps_every_word_in_order():
    rng = random.Random(7)
    vocab = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "theta", "kappa", "lambda"]
    pieces, expected = [], []
    while sum(len(p) + 1 for p in pieces) < 6000:
        word = rng.choice(vocab) + str(rng.randint(0, 9)) * rng.randint(0, 1)
        expected.append(word)
        pieces.append(word + rng.choice(["", "", "", ",", ".", "!", "?", ";", "\n"]))
    text = " ".join(pieces)
    got = words(text)
    assert [w.text for w in got] == expected
    assert all(text[w.source_start:].startswith(w.text) for w in got)
    assert sum(w.ends_sentence for w in got) >= text.count(".")


@settings(max_examples=300, deadline=None)
@given(st.text(), st.sampled_from(LOCALES))
def test_read_text_never_raises_and_returns_only_items(text, locale):
    runs = read_text(text, locale, FrontEndReport())
    for run in runs:
        for item in run.items:
            assert isinstance(item, (Word, Mark, Break))
            if isinstance(item, Word):
                assert set(item.punct) <= set(".!?…,;:—")
                assert 0 <= item.source_start < len(text)


@settings(max_examples=200, deadline=None)
@given(st.text(alphabet=st.sampled_from(list("0123456789.,:-/%$€£ kmhpa°C@#&😀\n")), max_size=40),
       st.sampled_from(LOCALES))
def test_number_like_text_never_raises(text, locale):
    for run in read_text(text, locale, FrontEndReport()):
        assert all(isinstance(i, Word) for i in run.items)
