"""Segmenting: the text front end's runs become pieces, and pieces become model-sized segments.

    runs (engine/text)  -> pieces_of    -> Piece, Mark, Break   (a piece: up to a sentence)
    Piece               -> Segmenter.segments -> Piece, ...     (G2P; each fits one model call)

A `Piece` is words that share one locale, voice, prosody and accent strength, with the marks
between them. After `Segmenter.segments` each piece holds its phonemes and fits one model call:
it is rendered as one plan `Segment` (or as several windows of words, each its own `Segment`,
engine/rendering.py). Cutting never drops a word or a mark; a word the model cannot voice becomes
a piece of its own for the system voice, and the guardrail report says so.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field, replace

from .api import PITCH_RANGE, RATE_RANGE, SpeechRequest
from .g2p import G2P, may_end_segment
from .guardrails import Failure
from .locales import Locale, get_locale
from .plan import Plan
from .text.items import Break, Mark, Run, Word
from .voices import Voice


@dataclass
class Piece:
    """Words with one locale, voice and prosody; marks placed before word indexes."""

    locale: Locale
    voice: Voice
    rate: float
    pitch: float
    volume: float
    words: list[Word] = field(default_factory=list)
    marks: list[tuple[int, str]] = field(default_factory=list)
    """(i, name): the mark is reached just before words[i] (i == len(words): after the last word)."""
    phonemes: list[str] = field(default_factory=list)
    """The model's phoneme symbols per word, once G2P ran ("" for a word with none)."""
    fallback_only: bool = False
    """A word the model cannot voice: the system voice speaks it."""
    accent_strength: float | None = None
    """The request's accent strength, for the conditioning seam (engine/conditioning.py)."""

    def split(self, at: int) -> tuple["Piece", "Piece"]:
        """Words [:at] and [at:]; a mark after the last word stays with the left part."""
        left = replace(self, words=self.words[:at], phonemes=self.phonemes[:at],
                       marks=[(i, n) for i, n in self.marks if i < at or (i == at and at == len(self.words))])
        right = replace(self, words=self.words[at:], phonemes=self.phonemes[at:],
                        marks=[(i - at, n) for i, n in self.marks if i >= at and not (i == at and at == len(self.words))])
        return left, right


def clamp(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


def token_ids(piece: Piece, vocab: dict[str, int]) -> tuple[list[int], list[tuple[int, int]], str]:
    """Token ids (pads excluded), each word's phoneme-token span (pad-inclusive indexes) and the
    phoneme string the model reads."""
    chars: list[str] = []
    spans = []
    spoken = [i for i, p in enumerate(piece.phonemes) if p]
    for i, (word, phonemes) in enumerate(zip(piece.words, piece.phonemes)):
        start = len(chars) + 1
        chars.extend(phonemes)
        spans.append((start, len(chars) + 1))
        if phonemes:
            chars.extend(c for c in word.punct if c in vocab)
            if i != spoken[-1]:
                chars.append(" ")
    return [vocab[c] for c in chars], spans, "".join(chars)


def ends_well(piece: Piece, i: int) -> bool:
    """Whether a segment may end after words[i]: at a clause end or after a stressed word, never
    on a clitic, which the model would leave unvoiced (g2p.may_end_segment, docs/guardrails.md)."""
    return piece.words[i].ends_clause or may_end_segment(piece.phonemes[i])


def best_split(piece: Piece) -> int:
    """Where to cut a piece in two: the clause end nearest the middle, else the stressed word
    nearest the middle, else the middle word."""
    n = len(piece.words)
    clause_ends = [i + 1 for i, w in enumerate(piece.words[:-1]) if w.ends_clause]
    if clause_ends:
        return min(clause_ends, key=lambda i: abs(i - n / 2))
    stressed = [i + 1 for i in range(n - 1) if ends_well(piece, i)]
    if stressed:
        return min(stressed, key=lambda i: abs(i - n / 2))
    return max(1, n // 2)


def pieces_of(runs: Iterable[Run], locale: Locale, voice: Voice, request: SpeechRequest,
              max_words: int) -> Iterator[Piece | Mark | Break]:
    """Runs to pieces, marks outside words and breaks, in order, lazily (the runs may still be
    being read). A piece ends at a sentence end, a break or a run's end, and a long one (over
    `max_words`, or half of it at a clause end) earlier, so G2P never holds the synthesis thread
    for one huge sentence."""
    current: Piece | None = None

    def close() -> list:
        nonlocal current
        done, current = current, None
        if done is None:
            return []
        return [done] if done.words else [Mark(name) for _, name in done.marks]

    for run in runs:
        yield from close()
        run_locale = get_locale(run.locale) if run.locale else locale
        rate = clamp((request.rate or 1.0) * run.rate, RATE_RANGE)
        pitch = clamp((request.pitch or 1.0) * run.pitch, PITCH_RANGE)
        volume = clamp((1.0 if request.volume is None else request.volume) * run.volume, (0.0, 1.0))
        for item in run.items:
            if isinstance(item, Word):
                if current is None:
                    current = Piece(run_locale, voice, rate, pitch, volume, accent_strength=request.accent_strength)
                current.words.append(item)
                n = len(current.words)
                if item.ends_sentence or n >= max_words or (item.ends_clause and n >= max_words // 2):
                    yield from close()
            elif isinstance(item, Mark):
                if current is None:
                    yield item
                else:
                    current.marks.append((len(current.words), item.name))
            elif isinstance(item, Break):
                yield from close()
                yield item
    yield from close()


Recorder = Callable[[Plan, list[Failure], str], None]
"""record(plan, failures, action): the guardrail ladder's bookkeeping (engine/ladder.py)."""


class Segmenter:
    """Phonemizes pieces and cuts them to segments: the model's window, a short first segment for
    fast first audio, and words the model cannot voice."""

    def __init__(self, vocab: dict[str, int], g2p: dict[str, G2P], max_tokens: int, first_words: int):
        self.vocab = vocab
        self.g2p = g2p
        """G2P per locale tag."""
        self.max_tokens = max_tokens
        self.first_words = first_words

    def segments(self, piece: Piece, first: bool, plan: Plan, record: Recorder) -> list[Piece]:
        """Phonemize a piece and cut it to fit. `first`: it starts the utterance, so its first
        segment ends at its first clause end or after `first_words` words. A word with no model
        phonemes goes to the system voice alone, recorded as a `no_phonemes` fallback."""
        piece.phonemes = self.g2p[piece.locale.tag].words([w.spoken for w in piece.words])
        for word, phonemes in zip(piece.words, piece.phonemes):
            if not phonemes and not word.spoken.strip():
                plan.report.notes.append(f"nothing speakable in {word.text!r}: kept in the plan with no audio")
        out: list[Piece] = []
        rest = piece
        while True:
            bad = next((i for i, (w, p) in enumerate(zip(rest.words, rest.phonemes)) if not p and w.spoken.strip()), None)
            if bad is None:
                break
            before, tail = rest.split(bad)
            alone, rest = tail.split(1)
            alone.fallback_only = True
            record(plan, [Failure("no_phonemes", f"{alone.words[0].spoken!r} yields no model phonemes")], "fallback")
            if before.words:
                out += self._fit(before, first and not out)
            out.append(alone)
        if rest.words:
            out += self._fit(rest, first and not out)
        return out

    def _fit(self, piece: Piece, first: bool) -> list[Piece]:
        if first and len(piece.words) > self.first_words:
            limit = self.first_words
            clause = next((i + 1 for i, w in enumerate(piece.words[:limit]) if w.ends_clause), None)
            if clause is None:  # the last stressed word within the limit, never a clitic
                clause = next((i + 1 for i in range(limit - 1, -1, -1) if ends_well(piece, i)), limit)
            head, tail = piece.split(clause)
            return [head] + self._fit(tail, False)
        ids, _, _ = token_ids(piece, self.vocab)
        if len(ids) <= self.max_tokens:
            return [piece]
        if len(piece.words) == 1:
            return self.split_long_word(piece)
        head, tail = piece.split(best_split(piece))
        return self._fit(head, False) + self._fit(tail, False)

    def split_long_word(self, piece: Piece) -> list[Piece]:
        """One word longer than a segment (an 80-digit number): cut its phonemes, at spaces where
        it has them, anywhere where it does not; every part keeps the word's text."""
        limit = self.max_tokens
        runs = [run[i : i + limit] for run in piece.phonemes[0].split(" ") for i in range(0, len(run), limit)]
        parts, current = [], ""
        for run in runs:
            if current and len(current) + 1 + len(run) > limit:
                parts.append(current)
                current = run
            else:
                current = f"{current} {run}" if current else run
        parts.append(current)
        word, last = piece.words[0], len(parts) - 1
        return [
            replace(piece, words=[replace(word, punct=word.punct if k == last else "")], phonemes=[phonemes],
                    marks=[(i, n) for i, n in piece.marks if (i == 0 and k == 0) or (i == 1 and k == last)])
            for k, phonemes in enumerate(parts)
        ]
