"""The guardrail ladder: what happens to a segment whose plan or audio fails a check.

    rendered (engine/rendering.py)   fails -> split at the clause end nearest the middle, and
    each half rendered again         fails -> rendered slower (SLOWER x the speed), halved again
                                              down to single words
    a single word that still fails   -> rendered between its neighbours, only its own frames
                                        checked and kept
                                     fails -> spoken by the system voice (engine/fallback.py),
                                              or, with fallback off, RenderError

A one-word segment skips the split; `GuardrailConfig.retries` caps the rungs. When a segment
streamed in windows fails part way, the ladder takes only the words not yet spoken. Every step is
recorded in the plan's guardrail report and counted; nothing is dropped silently.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING

import numpy as np

from . import SAMPLE_RATE
from .errors import RenderError
from .fallback import SystemVoice
from .guardrails import Failure, GuardrailCounters
from .plan import GuardrailEvent, Plan, PlannedWord, Segment
from .rendering import SegmentAudio, SegmentRenderer, Timing
from .segmenting import Piece, best_split

if TYPE_CHECKING:
    from .config import EngineConfig

SLOWER = 0.8
"""Speed factor of the second regeneration."""


class Ladder:
    """Speaks segments through the renderer, climbing the ladder on failures; keeps the counters."""

    def __init__(self, config: EngineConfig, renderer: SegmentRenderer, system_voice: SystemVoice):
        self.config = config
        self.renderer = renderer
        self.system_voice = system_voice
        self.counters = GuardrailCounters()
        self.lock = threading.Lock()
        """Guards `counters` (streams run side by side)."""

    def speak(self, piece: Piece, plan: Plan, timing: Timing, cancel: threading.Event,
              stage: int = 0, before: Piece | None = None, after: Piece | None = None) -> Iterator[SegmentAudio]:
        """Render a segment; on failure split it (stage 1), then slow it (stage 2), then halve it
        again and again at stage 2; a single word that still fails is rendered between its
        neighbours, and falls back only if it fails there too. When a streamed segment fails
        part way, the ladder takes the words not yet spoken.

        `before` and `after`: the words of the segment this piece was split from that lie
        before and after it (its neighbours for the last rung)."""
        if piece.fallback_only:
            yield self._fallback_or_fail(piece, plan, [], timing)
            return
        spoken = 0
        for result in self.renderer.render(piece, SLOWER if stage == 2 else 1.0, timing, cancel):
            if isinstance(result, list):
                failures = result
                break
            spoken += len(result.segment.words)
            yield result
        else:
            return
        if spoken:
            done, piece = piece.split(spoken)
            before = done
        retries = self.config.guardrails.retries
        if stage == 0 and retries >= 1 and len(piece.words) >= 2:
            self.record(plan, failures, "split")
            left, right = piece.split(best_split(piece))
            yield from self.speak(left, plan, timing, cancel, 1, before, right)
            yield from self.speak(right, plan, timing, cancel, 1, left, after)
        elif stage < 2 and retries >= 2:
            self.record(plan, failures, "regenerated_slower")
            yield from self.speak(piece, plan, timing, cancel, 2, before, after)
        elif stage == 2 and len(piece.words) >= 2:
            # Before the system voice speaks, narrow the failure down: halves that render well
            # keep the chosen voice, and only words that fail on their own are handed over.
            self.record(plan, failures, "split")
            left, right = piece.split(best_split(piece))
            yield from self.speak(left, plan, timing, cancel, 2, before, right)
            yield from self.speak(right, plan, timing, cancel, 2, left, after)
        elif stage == 2 and retries >= 3 and self._has_neighbour(before, after):
            # A word can fail alone and render well inside a phrase (a clitic at a call's end):
            # its neighbours give it the context, and only its own frames are kept.
            self.record(plan, failures, "regenerated_with_neighbours")
            result = self.renderer.render_with_neighbours(piece, before, after, timing, cancel)
            if isinstance(result, list):
                yield self._fallback_or_fail(piece, plan, result, timing)
            else:
                yield result
        else:
            yield self._fallback_or_fail(piece, plan, failures, timing)

    @staticmethod
    def _has_neighbour(before: Piece | None, after: Piece | None) -> bool:
        return bool(before and before.phonemes and before.phonemes[-1]) or bool(after and after.phonemes and after.phonemes[0])

    def record(self, plan: Plan, failures: list[Failure], action: str) -> None:
        """One report event per failed check; the action is counted once per decision."""
        for failure in failures:
            plan.report.events.append(GuardrailEvent(len(plan.segments), failure.check, failure.detail, action))
        with self.lock:
            self.counters.failures.update(f.check for f in failures)
            self.counters.actions[action] += 1

    def count_segment(self) -> None:
        with self.lock:
            self.counters.segments += 1

    def _fallback_or_fail(self, piece: Piece, plan: Plan, failures: list[Failure], timing: Timing) -> SegmentAudio:
        if not self.config.fallback:
            raise RenderError(f"segment {' '.join(w.text for w in piece.words)[:60]!r} failed: "
                              + "; ".join(f.check for f in failures))
        self.record(plan, failures, "fallback")
        return self._fallback(piece, timing)

    def _fallback(self, piece: Piece, timing: Timing) -> SegmentAudio:
        """The system voice speaks the segment; word times are spread by letters, as it gives none."""
        text = " ".join(f"{w.spoken}{w.punct}" for w in piece.words if w.spoken.strip())
        started = time.perf_counter()
        audio = self.system_voice.speak_to_array(text, piece.locale, piece.rate, SAMPLE_RATE)
        timing.synth_seconds += time.perf_counter() - started
        audio = audio * np.float32(piece.volume)
        weights = np.array([len(w.spoken.strip()) + 1 if w.spoken.strip() else 0 for w in piece.words], dtype=float)
        edges = np.round(np.concatenate(([0], np.cumsum(weights))) / max(weights.sum(), 1) * len(audio)).astype(int)
        words = [PlannedWord(w.text, w.spoken, "", 0, 0, int(edges[i]), int(edges[i + 1])) for i, w in enumerate(piece.words)]
        segment = Segment(piece.locale.tag, piece.voice.info.id, piece.rate, piece.pitch, piece.volume, "", [], [], 0.0,
                          0, len(audio), words, renderer="fallback")
        marks = [(name, words[i].start if i < len(words) else len(audio)) for i, name in piece.marks]
        return SegmentAudio(segment, audio, marks)
