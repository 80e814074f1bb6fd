"""Segmentation: plain text -> Words with trailing punctuation, in sentences and clauses.

Text is split into lines (a line break ends a sentence), lines into whitespace-separated chunks
(an em dash, an ellipsis or "--" also ends a chunk), and each chunk into opening quotes and
brackets (dropped), the token itself, and trailing punctuation (kept on the Word as `punct`,
quotes and brackets dropped). Dots that belong to the token (abbreviations, initials, German
ordinals) are taken off the punctuation first, so "Dr." never ends a sentence. A number and the
unit, currency or "pm" written after it become one Word ("5 €", "2:30 pm").
"""

from __future__ import annotations

from collections.abc import Iterator

import re
import unicodedata
from dataclasses import dataclass, replace

from .items import CLAUSE_END, SENTENCE_END, FrontEndReport, Word
from .lang import Language
from .normalize import ROMAN_NUMERAL, Context, say_phone, speak

_OPENERS = frozenset("\"'([{«‹“‘„‚¿¡")
_CLOSERS = frozenset("\"')]}»›”’")
_PUNCT = SENTENCE_END | CLAUSE_END
_DASHES = frozenset("-–‐")
# "--" breaks a chunk ("wait--what", "a -- b") except where it starts an option ("--amend").
_BREAKS = r"—|…|\.{3,}|(?<=\S)-{2,}|-{2,}(?![^\W_])"
_GROUP_SPACE = "\u00a0\u202f\u2009"
# A space that separates chunks; a no-break or thin space inside "10 000" does not.
_SPACE = rf"(?:[^\S{_GROUP_SPACE}]|(?<!\d)[{_GROUP_SPACE}]|[{_GROUP_SPACE}](?!\d{{3}}(?!\d)))"
_CHUNK = re.compile(rf"(?:(?!{_SPACE}|{_BREAKS}).)+(?:{_BREAKS})*|(?:{_BREAKS})+", re.S)
_LINE_BREAK = re.compile(r"\r\n|[\n\r\u2028\u2029\x0b\x0c\x1c-\x1e\x85]")
_NUMERIC = re.compile(r"[-−+]?[$€£¥]?\d[\d.,:\u00a0\u202f\u2009]*")
_INITIALS = re.compile(r"(?:[^\W\d_]\.){2,}")
_INITIAL = re.compile(r"[^\W\d_]\.")
_ORDINAL_DOT = re.compile(r"\d{1,15}\.")
_DAY_MONTH_DOT = re.compile(r"\d{1,2}\.\d{1,2}\.")


@dataclass(frozen=True)
class Token:
    text: str
    """The token as written, without surrounding quotes, brackets and trailing punctuation."""
    start: int
    tail: str
    """What followed the token in its chunk: punctuation, quotes, brackets."""
    phone: bool = False
    """Whether the token is a phone number (its groups may be separated by spaces)."""


def _clean(text: str) -> str:
    """Control characters, lone surrogates and zero-width spaces become spaces (offsets kept)."""
    def keep(c: str) -> str:
        if c in "\n\r\t" or _LINE_BREAK.fullmatch(c):
            return c
        if c in "\u200b\ufeff" or unicodedata.category(c) in ("Cc", "Cs"):
            return " "
        return c
    return "".join(keep(c) for c in text)


def normalize_punct(tail: str) -> str:
    """Trailing characters -> the punctuation the model hears: "..." -> "…", "!!!" -> "!"."""
    kept = re.sub(r"\.{2,}", "…", "".join(c for c in tail if c in _PUNCT))
    return re.sub(r"(.)\1+", r"\1", kept)[:3]


def _split_chunk(chunk: str, start: int) -> Token:
    i, j = 0, len(chunk)
    while i < j and chunk[i] in _OPENERS:
        i += 1
    while j > i and (chunk[j - 1] in _CLOSERS or chunk[j - 1] in _PUNCT or chunk[j - 1] in _DASHES):
        j -= 1
    return Token(chunk[i:j], start + i, chunk[j:])


def _merge_spaced_abbreviations(chunks: list[tuple[str, int]], line: str, lang: Language) -> list[tuple[str, int]]:
    """"z. B." is written as two chunks; make it one so the abbreviation table can match it."""
    spaced = sorted({k.count(" ") + 1 for k in lang.abbreviations if " " in k}, reverse=True)
    out, i = [], 0
    while i < len(chunks):
        for n in spaced:
            group = chunks[i : i + n]
            if len(group) == n:
                joined = line[group[0][1] : group[-1][1] + len(group[-1][0])]
                if re.sub(r"\s+", " ", joined).rstrip(",;:!?)»”\"'") in lang.abbreviations:
                    out.append((joined, group[0][1]))
                    i += n
                    break
        else:
            out.append(chunks[i])
            i += 1
    return out


def _owns_dot(candidate: str, prev: str, following: str, lang: Language) -> bool:
    """Whether a token's dot is part of it (abbreviation, initials, ordinal), not a full stop."""
    if candidate in lang.abbreviations or candidate in lang.day_periods or _INITIALS.fullmatch(candidate):
        return True
    if any(candidate.endswith(e) and candidate[: -len(e)].isalpha() for e in lang.abbreviation_endings):
        return True  # "Goethestr."
    if lang.ordinal_dot and ROMAN_NUMERAL.fullmatch(candidate[:-1]) and prev[:1].isupper():
        return True  # "Friedrich II.": German writes the regnal numeral with a dot
    if _INITIAL.fullmatch(candidate):
        # "J. K. Rowling", "John F. Kennedy" but not "I got an A. Then ..."
        return candidate[0].isupper() and following[:1].isupper() and (not prev or prev[:1].isupper())
    if not (lang.ordinal_dot and following):
        return False
    # A German number with a dot is an ordinal before a month ("3. Mai"), before a lower-case word
    # ("der 3. große"), or after an article or preposition ("am 3.", "die 20. Ausgabe"); otherwise
    # the dot ends the sentence ("Es waren 25. Danach ...", "Tel. +49 30 1234567.").
    months = {m.lower() for m in lang.months}
    chooses = prev.lower() in lang.ordinal_form_after
    if _ORDINAL_DOT.fullmatch(candidate):
        return following.lower().rstrip(".,") in months or following[:1].islower() or chooses
    return bool(_DAY_MONTH_DOT.fullmatch(candidate)) and chooses  # "am 3.10."


def _take_dots(tokens: list[Token], lang: Language) -> list[Token]:
    out = []
    for k, tok in enumerate(tokens):
        if tok.text and not tok.phone and tok.tail.startswith(".") and not tok.tail.startswith("..."):
            # After a clause or sentence end, an initial starts afresh: "troops; J. K. Rowling".
            prev = tokens[k - 1].text if k and not normalize_punct(tokens[k - 1].tail) else ""
            following = tokens[k + 1].text if k + 1 < len(tokens) else ""
            if _owns_dot(tok.text + ".", prev, following, lang):
                tok = Token(tok.text + ".", tok.start, tok.tail[1:])
        out.append(tok)
    return out


def _is_suffix(text: str, lang: Language) -> bool:
    return text == "%" or text in lang.units or text in lang.currencies or text in lang.day_periods


def _merge_number_suffixes(tokens: list[Token], line: str, offset: int, lang: Language) -> list[Token]:
    out: list[Token] = []
    for tok in tokens:
        last = out[-1] if out else None
        if (last and _NUMERIC.fullmatch(last.text) and not last.tail.strip() and tok.text
                and _is_suffix(tok.text, lang)):
            text = line[last.start - offset : tok.start - offset + len(tok.text)]
            out[-1] = Token(text, last.start, tok.tail)
        else:
            out.append(tok)
    return out


# Phone numbers: international ("+49 30 1234567", "+1 (555) 010-9999"), North American
# ("(555) 010-9999", "555-010-9999", "555-0199"), and national with a leading zero ("030 1234567",
# "01 23 45 67 89"). Groups are separated by one space, hyphen, dot or slash.
_PHONE_PATTERNS = (
    r"\+\d{1,3}(?:[ ./-]?(?:\(\d{1,4}\)|\d{1,8}))+",
    r"\(\d{3}\) ?\d{3}-\d{4}",
    r"\d{3}-\d{3}-\d{4}",
    r"\d{3}-\d{4}",
    r"0\d{1,4}(?:[ /-]\d{2,8}){1,5}",
)
_PHONE = re.compile(r"(?<![\w.,+-])(?:" + "|".join(_PHONE_PATTERNS) + r")(?![\w,-]|\.\d)")
_PHONE_RUN = r"\+?\(?\d[\d ()./-]*\d"


def _phone_spans(line: str, lang: Language) -> list[tuple[int, int]]:
    """Where the phone numbers are in a line: by their shape, or any digit run after a phone word
    ("Tel.", "teléfono")."""
    spans = []
    for m in _PHONE.finditer(line):
        digits = sum(c.isdigit() for c in m.group())
        low, _, high = m.group().partition("-")
        if re.fullmatch(r"\d{3}-\d{4}", m.group()) and not high.startswith("0") and int(low) < int(high):
            continue  # "500-1000" is a range; "555-0199" a local number
        if re.fullmatch(r"\d{1,2}([/.-])\d{1,2}\1\d{2,4}", m.group()):
            continue  # "03/04/2026" is a date
        if 7 <= digits <= 15 or (m.group().startswith("+") and digits >= 6):
            spans.append(m.span())
    if lang.phone_words:
        words = "|".join(re.escape(w) for w in sorted(lang.phone_words, key=len, reverse=True))
        cue = re.compile(rf"(?i)(?<!\w)(?:{words})\.?\s*:?\s+({_PHONE_RUN})(?![\w,]|\.\d)")
        for m in cue.finditer(line):
            if sum(c.isdigit() for c in m[1]) >= 6:
                spans.append(m.span(1))
    spans.sort()
    merged: list[tuple[int, int]] = []
    for start, end in spans:
        if merged and start < merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _phone_tokens(chunks: list[tuple[str, int]], spans: list[tuple[int, int]], line: str,
                  offset: int) -> list[Token | tuple[str, int]]:
    """Chunks, with those a phone number covers replaced by one phone Token."""
    out: list[Token | tuple[str, int]] = []
    i = 0
    while i < len(chunks):
        chunk, start = chunks[i]
        span = next((s for s in spans if start <= s[0] < start + len(chunk)), None)
        if span is None:
            out.append(chunks[i])
            i += 1
            continue
        prefix = chunk[: span[0] - start]
        if not set(prefix) <= _OPENERS:
            out.append((prefix, start))  # "Tel:+49 30 1234567": "Tel:" is a chunk of its own
        j = i
        while j + 1 < len(chunks) and chunks[j + 1][1] < span[1]:
            j += 1
        last, last_start = chunks[j]
        out.append(Token(line[span[0] : span[1]], offset + span[0], line[span[1] : last_start + len(last)], True))
        i = j + 1
    return out


def line_tokens(line: str, offset: int, lang: Language) -> list[Token]:
    """The tokens of one line; `offset` is the line's position in the whole input."""
    chunks = [(m.group(), m.start()) for m in _CHUNK.finditer(line)]
    chunks = _merge_spaced_abbreviations(chunks, line, lang)
    spans = _phone_spans(line, lang) if any(c.isdigit() for c in line) else []
    tokens = [c if isinstance(c, Token) else _split_chunk(c[0], offset + c[1])
              for c in _phone_tokens(chunks, spans, line, offset)]
    return _merge_number_suffixes(_take_dots(tokens, lang), line, offset, lang)


def _with_punct(word: Word, punct: str) -> Word:
    return replace(word, punct=normalize_punct(word.punct + punct)) if punct else word


def end_sentence(word: Word) -> Word:
    """The word with a sentence end: clause punctuation is replaced by a full stop."""
    if word.ends_sentence:
        return word
    return replace(word, punct=word.punct.rstrip("".join(CLAUSE_END)) + ".")


def _lines(text: str) -> list[tuple[int, str, bool]]:
    """(start, line, ended by a line break) for each line."""
    out, start = [], 0
    for m in _LINE_BREAK.finditer(text):
        out.append((start, text[start : m.start()], True))
        start = m.end()
    out.append((start, text[start:], False))
    return out


_SENTENCE_CUT = re.compile(r"(?<!\w)([^\W\d_]{4,})[.!?][ \t]+(?=[^\W\d_])")
"""A sentence end where a long text may be cut without changing a word: a lower-case word of four
or more letters (not an abbreviation like "Dr.", "Prof." or "No."), its full stop, space, then a
letter (`_sentence_cut`)."""


def _sentence_cut(text: str, start: int) -> int | None:
    for m in _SENTENCE_CUT.finditer(text, start):
        if m.group(1).islower():
            return m.end()
    return None


def text_blocks(text: str, first: int, size: int) -> Iterator[tuple[int, int]]:
    """(start, end) of the blocks a long plain text is read in, each found when it is wanted: the
    first about `first` characters, the others about `size`, each cut at the first line break at
    or after that length (lines are read independently, so the words are the same as read whole)
    or, in a line longer than that, at the first `_SENTENCE_CUT` (a new line's first word is read
    without the previous sentence's last word as context). A text with neither is one block."""
    start, length = 0, first
    while len(text) - start > length:
        near = start + length
        line = _LINE_BREAK.search(text, near)
        cuts = [cut for cut in (line and line.end(), _sentence_cut(text, near)) if cut is not None]
        if not cuts or min(cuts) >= len(text):
            break
        yield start, min(cuts)
        start, length = min(cuts), size
    yield start, len(text)


def split_words(text: str, lang: Language, locale: str, report: FrontEndReport, offset: int = 0,
                line_breaks_end_sentences: bool = True) -> tuple[str, list[Word]]:
    """Words of `text` (offsets are `offset` + position in `text`).

    Returns the punctuation found before the first word (it belongs to a word before this text,
    when the text is one piece of an SSML document) and the words."""
    leading, words = "", []
    for start, line, broken in _lines(_clean(text)):
        prev = prev2 = ""
        tokens = line_tokens(line, start, lang)
        for k, tok in enumerate(tokens):
            punct = "—" if not tok.text and tok.tail and set(tok.tail) <= _DASHES else tok.tail
            if not tok.text:
                if words:
                    words[-1] = _with_punct(words[-1], normalize_punct(punct))
                else:
                    leading += normalize_punct(punct)
                continue
            following = next((t.text for t in tokens[k + 1 :] if t.text), "")
            if tok.phone:
                spoken = say_phone(tok.text, lang)
            else:
                spoken = speak(tok.text, Context(lang, locale, report, prev, following, prev2))
            if not spoken.strip():
                report.notes.append(f"nothing speakable in {tok.text!r} at offset {offset + tok.start}")
            words.append(Word(tok.text, spoken, normalize_punct(tok.tail), offset + tok.start))
            prev, prev2 = tok.text, prev
        if broken and line_breaks_end_sentences and words:
            words[-1] = end_sentence(words[-1])
    return normalize_punct(leading), words
