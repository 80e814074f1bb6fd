"""Rendering a segment without the model's pad silence, on pad statistics learnt from the voice.

A word's whole render is more than half pad: 15-20 frames of silence either side that the engine
then trims. Rendered without them the word costs about a third less, but every one of the
renderer's 54 instance norms normalises over the frames it sees, so the word alone sounds
different (0.9-1.8 log-mel from its whole render, medians; the int8 floor is about 0.2). The frames left
out are silence, and only their share of each norm's statistics is missing. The runtime's
renderer (`graphs.pad_renderer`) therefore takes pad statistics and their share as inputs and
mixes them into each norm's own, and also outputs, on a whole render, the pad statistics of the
frames a cut would leave out: the voice's own earlier whole renders teach them at no extra
render. Measured on eight words of each of four voices (docs/latency.md, "The pad's
statistics"): 0.27-0.32 log-mel (medians) with the statistics of the voice's other words, and a
word's first audio 0.66-0.82x. Statistics belong to a voice (another voice's do worse), so they
are kept per voice key, here, in memory.

onnx and numpy only (no torch). The engine uses it where `StreamingConfig.cut_pads` is on.
"""

from __future__ import annotations

import threading

import numpy as np

from .graphs import (F0_STEPS_PER_FRAME, PAD_LEAD, PAD_SHARE, PAD_TRAIL, PLAN_ENERGY, PLAN_F0, PLAN_FEATURES,
                     context_span, pad_input)
from .errors import ModelError
from .model_store import FRAME_SAMPLES, INPUT_STYLE, OUTPUT_AUDIO


class PadStatistics(dict):
    """Graph input name (`pad_mean_<i>`, `pad_m2_<i>`) -> float32 (1, C, 1)."""


class PadStore:
    """Each voice's pad statistics, the mean over its last `renders` whole renders; the `voices`
    most recently used voices are kept (about 110 KB each)."""

    def __init__(self, voices: int = 8, renders: int = 8):
        self.voices, self.renders = voices, renders
        self._pooled: dict[str, tuple[int, PadStatistics]] = {}
        """voice key -> (renders pooled, their mean); in least-recently-used order."""
        self._lock = threading.Lock()

    def add(self, voice: str, stats: PadStatistics) -> None:
        with self._lock:
            count, mean = self._pooled.pop(voice, (0, None))
            if mean is None:
                mean = PadStatistics({name: np.array(value, dtype=np.float32) for name, value in stats.items()})
            else:  # a running mean that weighs the last `renders` about equally
                weight = 1.0 / min(count + 1, self.renders)
                mean = PadStatistics({name: (1 - weight) * mean[name] + weight * stats[name] for name in mean})
            self._pooled[voice] = (count + 1, mean)
            while len(self._pooled) > self.voices:
                del self._pooled[next(iter(self._pooled))]

    def get(self, voice: str) -> PadStatistics | None:
        with self._lock:
            if voice not in self._pooled:
                return None
            self._pooled[voice] = self._pooled.pop(voice)
            return self._pooled[voice][1]

    def nbytes(self) -> int:
        with self._lock:
            return sum(v.nbytes for _, stats in self._pooled.values() for v in stats.values())


class PadRenderer:
    """A whole render that teaches pad statistics, and a cut render, through the runtime's renderer
    session (`graphs.pad_renderer`); calls hold the runtime's lock. `adapter_feeds(tag)`: the
    session's feeds that select a locale adapter (`KokoroRuntime.renderer_adapter`; {} for None)."""

    def __init__(self, session, lock: threading.Lock, adapter_feeds=lambda adapter: {}):
        self.session = session
        self._adapter_feeds = adapter_feeds
        self._outputs = [o.name for o in session.get_outputs()]
        self._pad_outputs = [name for name in self._outputs if name.startswith("pad_")]
        if not self._pad_outputs:
            raise ModelError("the renderer has no pad statistics outputs (graphs.pad_renderer)")
        self._lock = lock

    @staticmethod
    def _feeds(plan, style: np.ndarray, lo: int, hi: int) -> dict[str, np.ndarray]:
        k = F0_STEPS_PER_FRAME
        return {PLAN_FEATURES: plan.features[..., lo:hi], PLAN_F0: plan.f0[..., k * lo:k * hi],
                PLAN_ENERGY: plan.energy[..., k * lo:k * hi], INPUT_STYLE: np.asarray(style, dtype=np.float32)}

    def render_learning(self, plan, style: np.ndarray, start: int, stop: int, context: int,
                        run_options=None, adapter: str | None = None) -> tuple[np.ndarray, PadStatistics]:
        """The whole plan rendered (float32 (600 F,), the plain renderer's audio exactly) and the
        pad statistics of the frames a cut of [start, stop) with `context` would leave out."""
        lo, hi = context_span(plan.frames, start, stop, context)
        feeds = {**self._feeds(plan, style, 0, plan.frames), PAD_LEAD: np.array([lo], dtype=np.int64),
                 PAD_TRAIL: np.array([plan.frames - hi], dtype=np.int64), **self._adapter_feeds(adapter)}
        names = [OUTPUT_AUDIO, *self._pad_outputs]
        with self._lock:
            outputs = self.session.run(names, feeds, run_options)
        stats = PadStatistics(zip(self._pad_outputs, outputs[1:]))
        return np.asarray(outputs[0], dtype=np.float32).reshape(-1), stats

    def render_cut(self, plan, style: np.ndarray, start: int, stop: int, context: int, stats: PadStatistics,
                   run_options=None, adapter: str | None = None) -> np.ndarray:
        """Frames [start, stop) of the plan, float32 (600 (stop - start),): rendered with `context`
        frames either side (thrown away) and nothing else, each norm mixing its own statistics with
        `stats` for the frames left out."""
        lo, hi = context_span(plan.frames, start, stop, context)
        share = np.array([pad_share(plan.frames, lo, hi)], dtype=np.float32)
        feeds = {**self._feeds(plan, style, lo, hi), **{pad_input(n): v for n, v in stats.items()}, PAD_SHARE: share,
                 **self._adapter_feeds(adapter)}
        with self._lock:
            (audio,) = self.session.run([OUTPUT_AUDIO], feeds, run_options)
        return np.asarray(audio, dtype=np.float32).reshape(-1)[(start - lo) * FRAME_SAMPLES:(stop - lo) * FRAME_SAMPLES]


def pad_share(frames: int, lo: int, hi: int) -> float:
    """The share of a plan's `frames` outside [lo, hi) (a `graphs.context_span`): the pad's share of its statistics."""
    return 1.0 - (hi - lo) / frames
