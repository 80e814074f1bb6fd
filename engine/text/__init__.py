"""The text front end: plain text, SSML or characters -> Runs of Words, Marks and Breaks.

    read_text(text, locale, report)   plain text, normalised per language, split into sentences
    read_text_lazily(...)             the same, a block of lines at a time (Engine.stream: the
                                      first sentence is spoken before a long text is read)
    read_ssml(ssml, locale, report)   the SSML subset screen readers send; malformed SSML is read
                                      as text with a note
    spell(text, locale, report)       character mode: one Word per character, named

`locale` is a canonical tag ("en-US"). None of these raise on odd input: what could not be read
is said as well as possible and noted in the report.
"""

from __future__ import annotations

from collections.abc import Iterator

from ..locales import get_locale
from .items import Break, FrontEndReport, Item, Mark, Run, Word
from .lang import Language, get_language
from .segment import split_words, text_blocks
from .spell import spell_words  # loaded here, before `def spell` below: a submodule loaded later
                                # would replace this package's `spell` function with the module

FIRST_BLOCK_CHARS = 1000
"""read_text_lazily reads this much (to the next line break or sentence end) before the first
Run; about 1 ms of front end, where 190 KB read whole took about 0.9 s (docs/latency.md)."""
BLOCK_CHARS = 16000


def language_for(locale: str) -> Language:
    """The language data of a canonical locale tag."""
    return get_language(get_locale(locale).language)


def read_text(text: str, locale: str, report: FrontEndReport) -> list[Run]:
    """Plain text -> one Run of Words (empty list when nothing is in it)."""
    _, words = split_words(text, language_for(locale), locale, report)
    return [Run(tuple(words))] if words else []


def read_text_lazily(text: str, locale: str, report: FrontEndReport, first: int = FIRST_BLOCK_CHARS,
                     size: int = BLOCK_CHARS) -> Iterator[Run]:
    """read_text a block at a time (`text_blocks`): one Run per block with words, offsets in
    `text`; the report's notes arrive as the blocks are read."""
    lang = language_for(locale)
    for start, end in text_blocks(text, first, size):
        _, words = split_words(text[start:end], lang, locale, report, start)
        if words:
            yield Run(tuple(words))


def read_ssml(ssml: str, locale: str, report: FrontEndReport) -> list[Run]:
    """SSML -> Runs; see `engine.text.ssml`."""
    from .ssml import read_ssml as _read_ssml

    return _read_ssml(ssml, locale, report)


def spell(text: str, locale: str, report: FrontEndReport) -> list[Run]:
    """Character mode -> one Run with one Word per character; see `engine.text.spell`."""
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
    "read_text", "read_text_lazily", "spell",
]
