"""Guardrails: the plan is checked before audio is trusted, and the audio is checked against the plan.

Every check is a pure function returning named failures; the engine decides what to do about them
(regenerate, split, slow down, fall back to the system voice) and records it in the plan's report.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np

from .audio import rms


@dataclass(frozen=True)
class GuardrailConfig:
    max_token_seconds: float = 1.2
    """The longest a single phoneme may last at rate 1 (scaled by 1/rate); longer is a runaway plan."""
    silence_rms: float = 0.002
    """A word whose loudest 10 ms is below this RMS is silent where speech was planned
    (the loudest window, not the mean: a final stop consonant is mostly silence)."""
    relative_silence: float = 0.015
    """... or below this fraction of the segment's median word level."""
    short_word_seconds: float = 0.1
    """A word planned this long or shorter (a one-vowel "à", "e", "y", or "it", of one to four frames) ..."""
    context_seconds: float = 0.025
    """... is judged over its span widened by this much planned context on each side: the
    planner's token boundaries are whole 25 ms frames, and the energy of a vowel that short
    sits partly in its neighbours' frames. A short word lost to silence stays silent however
    its span is widened by one frame; a word of a few frames is not a silence for being short.
    Its span also runs on to its `reach` (check_audio) where that is further: the boundary tokens
    (space, punctuation) planned between it and the next word, which are the word's own part of
    the audio when a segment is cut (engine/rendering.py `word_bounds`); Kokoro may voice a
    one-frame "I" there. It never runs into the next word's phonemes by more than the context."""
    clip_level: float = 0.999
    clip_run: int = 48
    """This many consecutive samples at or beyond clip_level is a clipping run (2 ms at 24 kHz)."""
    tail_seconds: float = 0.35
    """Audio after the last word's phonemes may ring out this long; speech beyond it is a failure."""
    tail_rms_ratio: float = 0.25
    """Beyond the tail, RMS above this fraction of the speech RMS counts as speech."""
    retries: int = 3
    """Regeneration rungs before the system voice speaks: 1 split, 2 also slower, 3 also a word
    that fails on its own rendered between its neighbours (engine/ladder.py)."""

    def __post_init__(self):
        for name in ("max_token_seconds", "silence_rms", "relative_silence", "clip_level", "tail_seconds", "tail_rms_ratio",
                     "short_word_seconds", "context_seconds"):
            value = getattr(self, name)
            if not isinstance(value, (int, float)) or value <= 0:
                raise ValueError(f"GuardrailConfig.{name} must be a positive number, got {value!r}")
        if not isinstance(self.clip_run, int) or self.clip_run < 1:
            raise ValueError(f"GuardrailConfig.clip_run must be a positive integer, got {self.clip_run!r}")
        if not isinstance(self.retries, int) or not 0 <= self.retries <= 3:
            raise ValueError(f"GuardrailConfig.retries must be 0, 1, 2 or 3, got {self.retries!r}")


@dataclass(frozen=True)
class Failure:
    check: str
    detail: str


def check_plan(
    durations: np.ndarray, word_tokens: list[tuple[int, int]], speed: float, frame_seconds: float, config: GuardrailConfig
) -> list[Failure]:
    """Durations (frames per token, pads included) against the words they must voice."""
    failures = []
    for i, (a, b) in enumerate(word_tokens):
        if b <= a:
            failures.append(Failure("word_without_tokens", f"word {i} has no phoneme tokens"))
        elif int(durations[a:b].sum()) <= 0:
            failures.append(Failure("word_without_time", f"word {i} (tokens {a}..{b}) was planned 0 frames"))
    inner = durations[1:-1]
    limit = config.max_token_seconds / max(speed, 1e-3) / frame_seconds
    if len(inner) and inner.max() > limit:
        failures.append(
            Failure("implausible_duration", f"a phoneme lasts {inner.max() * frame_seconds:.2f} s (limit {limit * frame_seconds:.2f} s)")
        )
    return failures


def peak_level(audio: np.ndarray, window: int = 240) -> float:
    """The RMS of the loudest `window`-sample stretch (10 ms at 24 kHz)."""
    if len(audio) <= window:
        return rms(audio)
    frames = audio[: len(audio) // window * window].reshape(-1, window).astype(np.float64)
    return float(np.sqrt(np.mean(frames**2, axis=1)).max())


def _longest_run(mask: np.ndarray) -> int:
    if not mask.any():
        return 0
    padded = np.concatenate(([0], mask.astype(np.int8), [0]))
    edges = np.flatnonzero(np.diff(padded))
    return int((edges[1::2] - edges[::2]).max())


def check_audio(
    audio: np.ndarray,
    expected_samples: int,
    word_spans: list[tuple[int, int]],
    sample_rate: int,
    config: GuardrailConfig,
    reaches: list[int] | None = None,
    ends_segment: bool = True,
) -> list[Failure]:
    """Audio of one segment against its plan. `word_spans`: each word's phoneme samples (start, end);
    `reaches`: where each word's planned part ends (the next word's first phoneme, or the end pad),
    used for short words only; None: a word's part ends with its phonemes. `ends_segment`: the
    audio ends where the segment does; False for a window of words followed by more words, whose
    audio ends at the next word's first phoneme: its pause before that word is between words, where
    a whole render is not checked either, and the next word's onset (a breath, a consonant voiced
    a frame early) is not speech after the end."""
    failures = []
    if len(audio) != expected_samples:
        failures.append(Failure("length_mismatch", f"{len(audio)} samples, plan says {expected_samples}"))
    finite = np.isfinite(audio)
    if not finite.all():
        failures.append(Failure("nan", f"{int((~finite).sum())} samples are NaN or inf"))
        return failures  # nothing below is meaningful on non-finite audio
    run = _longest_run(np.abs(audio) >= config.clip_level)
    if run >= config.clip_run:
        failures.append(Failure("clipping", f"{run} consecutive clipped samples"))
    short, context = int(config.short_word_seconds * sample_rate), int(config.context_seconds * sample_rate)
    reaches = reaches or [b for _, b in word_spans]
    levels = [peak_level(audio[max(a - context, 0) : max(b + context, reach)] if b - a <= short else audio[a:b])
              for (a, b), reach in zip(word_spans, reaches)]
    if levels:
        floor = max(config.silence_rms, config.relative_silence * float(np.median(levels)))
        for i, level in enumerate(levels):
            if level < floor:
                failures.append(Failure("silent_word", f"word {i} has RMS {level:.4f} (needs {floor:.4f})"))
        speech = rms(np.concatenate([audio[a:b] for a, b in word_spans]))
        tail_start = word_spans[-1][1] + int(config.tail_seconds * sample_rate)
        tail = audio[tail_start:]
        if ends_segment and len(tail) >= sample_rate // 20 and rms(tail) > config.tail_rms_ratio * speech:
            failures.append(Failure("speech_after_end", f"RMS {rms(tail):.4f} after the last word's tail"))
    return failures


class GuardrailCounters:
    """Counts of checks failed and actions taken, across the engine's lifetime."""

    def __init__(self):
        self.failures: Counter[str] = Counter()
        self.actions: Counter[str] = Counter()
        self.segments = 0

    def snapshot(self) -> dict:
        return {"segments": self.segments, "failures": dict(self.failures), "actions": dict(self.actions)}
