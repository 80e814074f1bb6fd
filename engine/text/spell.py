"""Spelling (character mode): each character becomes one Word whose `spoken` is its name.

Letters get their names in the language (capitals get no extra words: the engine raises the
pitch), digits their number word, space and punctuation their names, accented letters a name
built from the base letter and the accent ("e accent aigu"), and anything else its Unicode name.
Combining marks and emoji joiners stay with the character before them.
"""

from __future__ import annotations

import unicodedata

from .items import FrontEndReport, Word
from .lang import Language
from .normalize import Context, read_char

_JOINING = frozenset("\u200d\ufe0e\ufe0f\u20e3")


def _clusters(text: str) -> list[tuple[int, str]]:
    """(offset, characters) with combining marks and emoji joiners kept on their base."""
    out: list[tuple[int, str]] = []
    for i, char in enumerate(text):
        joins = char in _JOINING or unicodedata.category(char).startswith("M")
        if out and (joins or out[-1][1][-1] == "\u200d"):
            out[-1] = (out[-1][0], out[-1][1] + char)
        else:
            out.append((i, char))
    return out


def _accented(cluster: str, lang: Language) -> str | None:
    base, *marks = unicodedata.normalize("NFD", cluster.lower())
    if base not in lang.letters or not marks or any(m not in lang.marks for m in marks):
        return None
    return lang.accented_letter.format(letter=lang.letters[base], mark=" ".join(lang.marks[m] for m in marks))


def character_name(cluster: str, lang: Language, locale: str, report: FrontEndReport) -> str:
    """The name of one character (with its combining marks) in the language."""
    composed = unicodedata.normalize("NFC", cluster)
    lower = composed.lower()
    if lower in lang.letters:
        return lang.letters[lower]
    if composed in lang.symbols:
        return lang.symbols[composed]
    if len(composed) == 1 and composed.isdecimal():
        return lang.cardinal(unicodedata.decimal(composed))
    if composed.isspace():
        return lang.words["space"]
    accented = _accented(composed, lang)
    if accented:
        return accented
    ctx = Context(lang, locale, report)
    return " ".join(n for n in (read_char(c, ctx) for c in composed) if n)


def spell_words(text: str, offset: int, lang: Language, report: FrontEndReport, locale: str = "",
                skip_spaces: bool = False) -> list[Word]:
    """One Word per character of `text` (offsets are `offset` + position in `text`)."""
    words = []
    for i, cluster in _clusters(text):
        if skip_spaces and cluster.isspace():
            continue
        spoken = character_name(cluster, lang, locale, report)
        if not spoken:
            report.notes.append(f"character U+{ord(cluster[0]):04X} at offset {offset + i} has no name: not spoken")
        words.append(Word(cluster, spoken, "", offset + i))
    return words
