"""The SSML subset screen readers send -> Runs of Words, Marks and Breaks.

Read: `speak`, `mark name=`, `break time= strength=`, `prosody rate= pitch= volume=` (nested
prosody multiplies), `lang xml:lang=` and `xml:lang` on `speak`/`s`/`p`/`voice`, `say-as
interpret-as="characters"|"spell-out"|"digits"`, `s` and `p` (they end sentences), `sub alias=`;
any other element is read for its text. Word offsets point into the SSML source.

Anything that is not well-formed SSML (unclosed tags, undefined entities, plain text, a root
that is not `speak`) is read as plain text with the tags blanked out, and a note says so. No
exception escapes `read_ssml`.
"""

from __future__ import annotations

import bisect
import html
import re
from dataclasses import dataclass, replace
from xml.parsers import expat

from ..locales import get_locale
from .items import Break, FrontEndReport, Item, Mark, Run, Word
from .lang import get_language
from .segment import end_sentence, normalize_punct, split_words
from .spell import spell_words

_BREAK_STRENGTH_MS = {"none": 0, "x-weak": 100, "weak": 200, "medium": 400, "strong": 700, "x-strong": 1200}
_MAX_BREAK_MS = 10_000
_NAMED = {
    "rate": {"x-slow": 0.5, "slow": 0.75, "medium": 1.0, "fast": 1.5, "x-fast": 2.0, "default": 1.0},
    "pitch": {"x-low": 0.7, "low": 0.85, "medium": 1.0, "high": 1.15, "x-high": 1.3, "default": 1.0},
    "volume": {"silent": 0.0, "x-soft": 0.25, "soft": 0.5, "medium": 1.0, "loud": 1.5, "x-loud": 2.0,
               "default": 1.0},
}
_LIMITS = {"rate": (0.1, 10.0), "pitch": (0.1, 10.0), "volume": (0.0, 10.0)}
_SPELLING = frozenset({"characters", "spell-out", "digits", "letters"})
_LANG_ELEMENTS = frozenset({"speak", "lang", "s", "p", "voice", "paragraph", "sentence"})
_SENTENCE_ELEMENTS = frozenset({"s", "p", "sentence", "paragraph"})


class _Malformed(Exception):
    """The input is not SSML that this reader accepts; the message says why."""


@dataclass(frozen=True)
class _Style:
    locale: str
    rate: float = 1.0
    pitch: float = 1.0
    volume: float = 1.0


def _local(name: str) -> str:
    return name.rpartition(":")[2].lower()


def prosody_multiplier(attr: str, value: str) -> float | None:
    """An SSML prosody value as a multiplier of the current one, or None if it is not understood.

    Percentages ("150%" absolute, "+20%"/"-10%" relative), named values ("x-slow", "loud"),
    semitones for pitch ("+2st"), decibels for volume ("+6dB"), and plain numbers (a multiplier;
    for volume, SSML's 0-100 scale)."""
    v = value.strip().lower()
    if v in _NAMED[attr]:
        return _NAMED[attr][v]
    m = re.fullmatch(r"([+-]?)(\d+(?:\.\d+)?|\.\d+)(%|st|db|)", v)
    if not m:
        return None
    sign, number, unit = m[1], float(m[2]), m[3]
    signed = -number if sign == "-" else number
    if unit == "%":
        return 1 + signed / 100 if sign else number / 100
    if unit == "st" and attr == "pitch":
        return 2 ** (signed / 12)
    if unit == "db" and attr == "volume":
        return 10 ** (signed / 20)
    if unit:
        return None
    if attr == "volume":
        return 1 + signed / 100 if sign else number / 100
    return 1 + signed if sign else number


def break_ms(attrs: dict[str, str]) -> int | None:
    """A break's length in ms from `time` ("500ms", "1s", "1.5s") or `strength`; None if unreadable."""
    if "time" in attrs:
        m = re.fullmatch(r"\s*(\d+(?:\.\d+)?|\.\d+)\s*(ms|s)\s*", attrs["time"].lower())
        if not m:
            return None
        return min(_MAX_BREAK_MS, round(float(m[1]) * (1000 if m[2] == "s" else 1)))
    return _BREAK_STRENGTH_MS.get(attrs.get("strength", "medium").strip().lower())


class _Builder:
    """Collects items into runs, one per change of style."""

    def __init__(self, request_locale: str):
        self.request_locale = request_locale
        self.runs: list[tuple[_Style, list[Item]]] = []

    def add(self, item: Item, style: _Style) -> None:
        if not self.runs or self.runs[-1][0] != style:
            self.runs.append((style, []))
        self.runs[-1][1].append(item)

    def _last_word(self) -> tuple[list[Item], int] | None:
        for _, items in reversed(self.runs):
            for i in range(len(items) - 1, -1, -1):
                if isinstance(items[i], Word):
                    return items, i
        return None

    def attach_punct(self, punct: str) -> None:
        found = self._last_word()
        if punct and found:
            items, i = found
            items[i] = replace(items[i], punct=normalize_punct(items[i].punct + punct))

    def end_sentence(self) -> None:
        found = self._last_word()
        if found:
            items, i = found
            items[i] = end_sentence(items[i])

    def finish(self) -> list[Run]:
        return [
            Run(tuple(items), None if style.locale == self.request_locale else style.locale,
                style.rate, style.pitch, style.volume)
            for style, items in self.runs if items
        ]


class _Reader:
    """Expat handlers: walks the document once, keeping a stack of styles and pending text."""

    def __init__(self, source: str, locale: str, report: FrontEndReport):
        self.report = report
        self.builder = _Builder(locale)
        self.styles = [_Style(locale)]
        self.elements: list[str] = []
        self.pending: list[tuple[int, str]] = []  # (source offset, text) not yet made into words
        # An open say-as or sub: (its depth, "spell" or "sub", attributes, text pieces).
        self.special: list[tuple[int, str, dict[str, str], list[tuple[int, str]]]] = []
        encoded_lengths = [len(c.encode("utf-8")) for c in source]
        self.byte_to_char = [i for i, n in enumerate(encoded_lengths) for _ in range(n)] + [len(source)]
        self.parser = expat.ParserCreate()
        self.parser.StartElementHandler = self.start
        self.parser.EndElementHandler = self.end
        self.parser.CharacterDataHandler = self.text
        self.parser.EntityDeclHandler = self.entity_declared

    def parse(self, data: bytes) -> list[Run]:
        self.parser.Parse(data, True)
        self.flush()
        return self.builder.finish()

    def offset(self) -> int:
        index = self.parser.CurrentByteIndex
        return self.byte_to_char[min(max(index, 0), len(self.byte_to_char) - 1)]

    def entity_declared(self, *args) -> None:
        raise _Malformed("entity declarations are not read")

    # --- text -----------------------------------------------------------------------------------

    def text(self, data: str) -> None:
        target = self.special[-1][3] if self.special else self.pending
        target.append((self.offset(), data))

    def _words(self, pieces: list[tuple[int, str]], style: _Style) -> tuple[str, list[Word]]:
        text = "".join(t for _, t in pieces)
        starts = [0]
        for _, t in pieces[:-1]:
            starts.append(starts[-1] + len(t))
        lang = get_language(get_locale(style.locale).language)
        leading, words = split_words(text, lang, style.locale, self.report, line_breaks_end_sentences=False)
        return leading, [replace(w, source_start=self._source(pieces, starts, w.source_start)) for w in words]

    @staticmethod
    def _source(pieces: list[tuple[int, str]], starts: list[int], position: int) -> int:
        k = bisect.bisect_right(starts, position) - 1
        return pieces[k][0] + (position - starts[k])

    def flush(self) -> None:
        if not self.pending:
            return
        pieces, self.pending = self.pending, []
        leading, words = self._words(pieces, self.styles[-1])
        self.builder.attach_punct(leading)
        for word in words:
            self.builder.add(word, self.styles[-1])

    # --- elements -------------------------------------------------------------------------------

    def _styled(self, name: str, attrs: dict[str, str]) -> _Style:
        style = self.styles[-1]
        tag = attrs.get("xml:lang")
        if tag is not None and name in _LANG_ELEMENTS:
            try:
                style = replace(style, locale=get_locale(tag).tag)
            except ValueError:
                self.report.notes.append(f"unknown language {tag!r} in SSML: read as {style.locale}")
        if name == "prosody":
            for attr in ("rate", "pitch", "volume"):
                if attr in attrs:
                    factor = prosody_multiplier(attr, attrs[attr])
                    if factor is None:
                        self.report.notes.append(f"SSML prosody {attr}={attrs[attr]!r} not understood: ignored")
                        continue
                    low, high = _LIMITS[attr]
                    style = replace(style, **{attr: min(high, max(low, getattr(style, attr) * factor))})
        return style

    def start(self, raw_name: str, attrs: dict[str, str]) -> None:
        name = _local(raw_name)
        if not self.elements and name != "speak":
            raise _Malformed(f"the root element is <{raw_name}>, not <speak>")
        self.elements.append(name)
        if self.special:
            self.styles.append(self.styles[-1])
            return
        style = self._styled(name, attrs)
        if style != self.styles[-1] or name in _SENTENCE_ELEMENTS or name in ("mark", "break", "say-as", "sub"):
            self.flush()
        self.styles.append(style)
        if name == "mark":
            self.builder.add(Mark(attrs.get("name", "")), style)
        elif name == "break":
            ms = break_ms(attrs)
            if ms is None:
                self.report.notes.append(f"SSML break {attrs!r} not understood: a medium break instead")
                ms = _BREAK_STRENGTH_MS["medium"]
            if ms > 0:
                self.builder.add(Break(ms), style)
        elif name == "say-as" and attrs.get("interpret-as", "").strip().lower() in _SPELLING:
            self.special.append((len(self.elements), "spell", attrs, []))
        elif name == "sub" and "alias" in attrs:
            self.special.append((len(self.elements), "sub", attrs, []))

    def end(self, raw_name: str) -> None:
        style = self.styles[-1]
        if self.special and self.special[-1][0] == len(self.elements):
            self._end_special(style)
        elif not self.special:
            name = self.elements[-1]
            if style != self.styles[-2] or name in _SENTENCE_ELEMENTS:
                self.flush()
            if name in _SENTENCE_ELEMENTS:
                self.builder.end_sentence()
        self.elements.pop()
        self.styles.pop()

    def _end_special(self, style: _Style) -> None:
        _, kind, attrs, pieces = self.special.pop()
        lang = get_language(get_locale(style.locale).language)
        text = "".join(t for _, t in pieces)
        if not text.strip():
            return
        if kind == "spell":
            for offset, piece in pieces:
                for word in spell_words(piece, offset, lang, self.report, style.locale, skip_spaces=True):
                    self.builder.add(word, style)
            return
        _, alias_words = split_words(attrs["alias"], lang, style.locale, self.report)
        first = len(text) - len(text.lstrip())
        word = Word(text.strip(), " ".join(w.spoken for w in alias_words if w.spoken),
                    alias_words[-1].punct if alias_words else "", pieces[0][0] + first)
        self.builder.add(word, style)


def _as_text(ssml: str, locale: str, report: FrontEndReport, why: str) -> list[Run]:
    """Malformed SSML: tags blanked out (offsets kept), entities decoded, read as plain text."""
    report.notes.append(f"malformed SSML ({why}): read as text")
    blank = lambda m: " " * len(m.group())  # noqa: E731
    # A DOCTYPE's internal subset holds tags of its own: blanked whole, or "[" and "]>" are read aloud (#15).
    blanked = re.sub(r"<!DOCTYPE[^\[>]*(\[.*?\])?\s*>", blank, ssml, flags=re.S | re.I)
    blanked = re.sub(r"<[^<>]*>", blank, blanked)

    def decode(m: re.Match) -> str:
        decoded = html.unescape(m.group())
        return decoded + " " * (len(m.group()) - len(decoded)) if len(decoded) <= len(m.group()) else m.group()

    text = re.sub(r"&(?:#\d{1,7}|#x[0-9a-fA-F]{1,6}|\w{1,20});", decode, blanked)
    lang = get_language(get_locale(locale).language)
    _, words = split_words(text, lang, locale, report)
    return [Run(tuple(words))] if words else []


_ROOT_OPEN = "<speak>"


def _has_root(ssml: str) -> bool:
    """Whether the document's first element is <speak> (after an XML declaration or comments)."""
    body = re.sub(r"^\s*(<\?xml[^>]*\?>\s*)?(<!--.*?-->\s*)*", "", ssml, flags=re.S)
    return body.startswith("<speak")


def _shift(run: Run, delta: int) -> Run:
    items = tuple(replace(i, source_start=max(0, i.source_start + delta)) if isinstance(i, Word) else i
                  for i in run.items)
    return replace(run, items=items)


def read_ssml(ssml: str, locale: str, report: FrontEndReport) -> list[Run]:
    """SSML -> Runs (Run.locale None means the request's locale)."""
    locale = get_locale(locale).tag
    try:
        data = ssml.encode("utf-8")
    except UnicodeEncodeError:
        return _as_text(ssml, locale, report, "text is not valid Unicode")
    if not _has_root(ssml):
        # A fragment ("Hello <mark name='a'/> world"), as some clients send: read it inside
        # <speak>, so its marks count, with offsets still pointing into the caller's string.
        runs = read_ssml(f"{_ROOT_OPEN}{ssml}</speak>", locale, report)
        return [_shift(run, -len(_ROOT_OPEN)) for run in runs]
    reader = _Reader(ssml, locale, report)
    try:
        return reader.parse(data)
    except expat.ExpatError as exc:
        return _as_text(ssml, locale, report, f"at line {exc.lineno}, col {exc.offset}: {expat.ErrorString(exc.code)}")
    except _Malformed as exc:
        return _as_text(ssml, locale, report, str(exc))
