"""The text front end: plain text, SSML or characters -> Runs of Words, Marks and Breaks.

    read_text(text, locale, report)   plain text, normalised per language, split into sentences
    read_ssml(ssml, locale, report)   the SSML subset screen readers send; malformed SSML is read
                                      as text with a note
    spell(text, locale, report)       character mode: one Word per character, named

`locale` is a canonical tag ("en-US"). None of these raise on odd input: what could not be read
is said as well as possible and noted in the report.
"""

from __future__ import annotations

from ..locales import get_locale
from .items import Break, FrontEndReport, Item, Mark, Run, Word
from .lang import Language, get_language
from .segment import split_words


def language_for(locale: str) -> Language:
    """The language data of a canonical locale tag."""
    return get_language(get_locale(locale).language)


def read_text(text: str, locale: str, report: FrontEndReport) -> list[Run]:
    """Plain text -> one Run of Words (empty list when nothing is in it)."""
    _, words = split_words(text, language_for(locale), locale, report)
    return [Run(tuple(words))] if words else []


def read_ssml(ssml: str, locale: str, report: FrontEndReport) -> list[Run]:
    """SSML -> Runs; see `engine.text.ssml`."""
    from .ssml import read_ssml as _read_ssml

    return _read_ssml(ssml, locale, report)


def spell(text: str, locale: str, report: FrontEndReport) -> list[Run]:
    """Character mode -> one Run with one Word per character; see `engine.text.spell`."""
    from .spell import spell_words

    words = spell_words(text, 0, language_for(locale), report)
    return [Run(tuple(words))] if words else []


def prepare(locale: str) -> None:
    """Load now what reading `locale` would otherwise load on first need: the CLDR emoji names
    (about 20 ms of CPU once per process). For a daemon's idle moment, so that a first segment with
    an emoji does not pay it."""
    from .normalize import _emoji_name, _emoji_spans

    _emoji_name("\U0001F600", language_for(locale))
    _emoji_spans("\U0001F600")  # the emoji package builds its search tree on first use


__all__ = [
    "Break", "FrontEndReport", "Item", "Mark", "Run", "Word", "language_for", "prepare", "read_ssml",
    "read_text", "spell",
]
