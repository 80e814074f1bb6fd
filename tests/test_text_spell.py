"""Character mode: every character is one Word named in the request's language."""

import pytest
from hypothesis import given, settings, strategies as st

from engine.text import FrontEndReport, Word, read_text, spell


def names(text, locale):
    return [w.spoken for run in spell(text, locale, FrontEndReport()) for w in run.items]


@pytest.mark.parametrize(("locale", "text", "expected"), [
    ("en-US", "aB 7.", ["eh", "bee", "space", "seven", "dot"]),
    ("en-US", "é", ["ee acute"]),
    ("en-US", "@#?", ["at", "number", "question mark"]),
    ("de-DE", "vß ü", ["fau", "eszett", "Leerzeichen", "ü"]),
    ("de-DE", "é!", ["e mit Akut", "Ausrufezeichen"]),
    ("es-ES", "ñyÁ", ["eñe", "ye", "a con tilde"]),
    ("es-ES", "ü,", ["u con diéresis", "coma"]),
    ("fr-FR", "éçy", ["e accent aigu", "cé cédille", "i grec"]),
    ("fr-FR", "è ", ["e accent grave", "espace"]),
    ("it-IT", "jwè", ["i lunga", "doppia vu", "e grave"]),
    ("it-IT", "h3", ["acca", "tre"]),
])
def test_character_names(locale, text, expected):
    assert names(text, locale) == expected


def test_capitals_have_no_extra_words():
    assert names("A", "en-US") == names("a", "en-US") == ["eh"]


def test_decomposed_accent_is_one_character():
    words = spell("e\u0301x", "fr-FR", FrontEndReport())[0].items
    assert [(w.text, w.spoken, w.source_start) for w in words] == [
        ("e\u0301", "e accent aigu", 0), ("x", "ixe", 2)]


def test_emoji_and_other_scripts_get_unicode_names_or_a_generic_word():
    assert names("😀ж", "en-US") == ["grinning face", "cyrillic small letter zhe"]
    # Emoji have their CLDR names in every language (issue #14; the `emoji` package), not "emoji".
    assert names("😀", "it-IT") == ["faccina con un gran sorriso"]


def test_a_lone_letter_is_a_word_in_read_text_but_a_name_in_spell():
    assert [w.spoken for w in read_text("y", "es-ES", FrontEndReport())[0].items] == ["y"]
    assert names("y", "es-ES") == ["ye"]


def test_unnamed_characters_are_noted_not_raised():
    report = FrontEndReport()
    words = spell("\x01", "en-US", report)[0].items
    assert words[0].spoken == "" and report.notes


@settings(max_examples=300, deadline=None)
@given(st.text(), st.sampled_from(["en-US", "de-DE", "es-ES", "fr-FR", "it-IT"]))
def test_spell_never_raises_and_gives_one_word_per_character(text, locale):
    runs = spell(text, locale, FrontEndReport())
    words = [i for run in runs for i in run.items]
    assert all(isinstance(w, Word) and w.punct == "" for w in words)
    assert "".join(w.text for w in words) == text
