"""The plan: every phoneme and every duration, decided before any audio exists.

A plan is a plain value. The CLI prints it, tests assert on it, guardrails compare audio with it,
index marks come from it, and rate changes scale it. All offsets are in samples of the output
audio (24 kHz), counted from the start of the utterance.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field


@dataclass
class PlannedWord:
    text: str
    """As written in the input."""
    spoken: str
    """Normalised text that was read."""
    phonemes: str
    """The model's phoneme symbols for this word (empty: the word was spoken by no one; see report)."""
    token_start: int
    """Index of the word's first token in its segment's token list (pads included: token 0 is the
    leading pad, except in a window after the first of a segment rendered in windows)."""
    token_end: int
    """One past the word's last token."""
    start: int
    """First sample of the word in the utterance."""
    end: int
    """One past the last sample of the word."""


@dataclass
class PlannedMark:
    name: str
    sample: int
    """The mark is reached when audio up to this sample has played."""


@dataclass
class PlannedBreak:
    ms: int
    start: int
    end: int


@dataclass
class Segment:
    """One model call's worth of speech (a sentence or clause, at most the model's window), or one
    window of words of a long segment rendered in windows (engine/streaming.py)."""

    locale: str
    voice: str
    rate: float
    pitch: float
    volume: float
    phonemes: str
    """The segment's phoneme string, as the model read it (a window's: its words' part of it)."""
    token_ids: list[int]
    """Model token ids, pads included: [0, *ids, 0]. A window holds its words' part: the leading
    pad only in the first window, the end pad only in the last; the windows' lists joined are the
    segment's."""
    durations: list[int]
    """Frames per token (pads included), after the leading pad was trimmed; sum * frame == samples."""
    frame_samples: float
    """Output samples per duration frame: 600 / pitch (0 for the system voice, which has no frames)."""
    start: int
    """First sample of the segment in the utterance."""
    end: int
    words: list[PlannedWord] = field(default_factory=list)
    renderer: str = "kokoro"
    """Who rendered the audio: "kokoro" (one call), "kokoro-window" (one window of a segment rendered
    in windows; its token ids and durations are that window's words), or "fallback" (the system
    voice) after guardrail failures."""

    @property
    def samples(self) -> int:
        return self.end - self.start


@dataclass
class GuardrailEvent:
    segment: int
    """Index of the segment in the plan."""
    check: str
    """Which check failed, e.g. "length_mismatch", "nan", "silent_word", "clipping", "no_phonemes"."""
    detail: str
    action: str
    """What was done: "regenerated", "regenerated_slower", "split", "fallback", "reported"."""


@dataclass
class GuardrailReport:
    events: list[GuardrailEvent] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    """Front-end notes (malformed SSML read as text, symbols with no name, ...)."""
    system_voice_words: list[str] = field(default_factory=list)
    """The words the system voice spoke, in order; every other word was spoken by the plan's
    voice (each segment's `renderer` and `voice` say the same per segment)."""

    @property
    def ok(self) -> bool:
        return not self.events


@dataclass
class Plan:
    locale: str
    voice: str
    rate: float
    sample_rate: int
    segments: list[Segment] = field(default_factory=list)
    marks: list[PlannedMark] = field(default_factory=list)
    breaks: list[PlannedBreak] = field(default_factory=list)
    report: GuardrailReport = field(default_factory=GuardrailReport)
    samples: int = 0
    """Total length of the utterance in samples."""

    @property
    def words(self) -> list[PlannedWord]:
        return [w for seg in self.segments for w in seg.words]

    def to_json(self, indent: int | None = None) -> str:
        return json.dumps(asdict(self), ensure_ascii=False, indent=indent)

    @classmethod
    def from_json(cls, text: str) -> "Plan":
        raw = json.loads(text)
        segments = [
            Segment(**{**s, "words": [PlannedWord(**w) for w in s["words"]]}) for s in raw["segments"]
        ]
        report = GuardrailReport(
            events=[GuardrailEvent(**e) for e in raw["report"]["events"]], notes=list(raw["report"]["notes"]),
            system_voice_words=list(raw["report"].get("system_voice_words", [])),
        )
        return cls(
            locale=raw["locale"], voice=raw["voice"], rate=raw["rate"], sample_rate=raw["sample_rate"],
            segments=segments, marks=[PlannedMark(**m) for m in raw["marks"]],
            breaks=[PlannedBreak(**b) for b in raw["breaks"]], report=report, samples=raw["samples"],
        )
