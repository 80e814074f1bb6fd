"""What the text front end hands to the planner: runs of words, marks and breaks.

The front end (normalisation, SSML, segmentation, spelling) turns a request's text into a list of
`Run`s. Each run has one locale and one prosody; its items are `Word`, `Mark` and `Break` in
reading order. Nothing here knows about phonemes or audio.
"""

from __future__ import annotations

from dataclasses import dataclass, field

# Punctuation the model hears (it is in Kokoro's vocabulary) and that ends clauses or sentences.
SENTENCE_END = frozenset(".!?…")
CLAUSE_END = frozenset(",;:—")


@dataclass(frozen=True)
class Word:
    text: str
    """The word as written in the input (what word timings and the plan show)."""
    spoken: str
    """What is read aloud, normalised for the locale ("$5" -> "five dollars", "Dr." -> "Doctor").
    May hold several words; empty means the input had nothing speakable (the plan reports it)."""
    punct: str = ""
    """Trailing punctuation the model should hear: "", or characters from SENTENCE_END | CLAUSE_END."""
    source_start: int = 0
    """Offset of `text` in the original input string (SSML: in the SSML source)."""

    @property
    def ends_sentence(self) -> bool:
        return any(c in SENTENCE_END for c in self.punct)

    @property
    def ends_clause(self) -> bool:
        return bool(self.punct)


@dataclass(frozen=True)
class Mark:
    name: str
    """An index mark (SSML `<mark name=...>`): reported when the audio before it has played."""


@dataclass(frozen=True)
class Break:
    ms: int
    """A pause of this many milliseconds (SSML `<break>`), at the current rate's scale of 1."""


Item = Word | Mark | Break


@dataclass(frozen=True)
class Run:
    """Consecutive items with one locale and one prosody."""

    items: tuple[Item, ...]
    locale: str | None = None
    """Canonical locale tag, or None for the request's locale."""
    rate: float = 1.0
    """Multiplier on the request's rate (SSML prosody rate)."""
    pitch: float = 1.0
    """Multiplier on the request's pitch (SSML prosody pitch)."""
    volume: float = 1.0
    """Multiplier on the request's volume (SSML prosody volume)."""


@dataclass
class FrontEndReport:
    """What the front end had to do on the way: notes for the plan's report (never silent)."""

    notes: list[str] = field(default_factory=list)
    """One line per noteworthy event, e.g. "malformed SSML at line 1, col 9: read as text"."""
