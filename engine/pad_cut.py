"""Rendering a segment without the model's pad silence, on pad statistics learnt from the voice.

A word's whole render is more than half pad: 15-20 frames of silence either side that the engine
then trims. Rendered without them the word costs about a third less, but every one of the
renderer's 54 instance norms normalises over the frames it sees, so the word alone sounds
different (2.1-2.6 log-mel from its whole render; the int8 floor is about 0.2). The frames left
out are silence, and only their share of each norm's statistics is missing: the cut renderer
(`graphs.pad_mixing_renderer`) mixes each norm's own statistics with pad statistics given as
inputs, and those come from the voice's own earlier whole renders, which the pad-statistics
renderer (`graphs.pad_statistics_renderer`: the plain renderer's audio plus, per norm, the mean
and mean of squares over the pad frames) yields at no extra render. Measured on six words of
af_heart (docs/latency.md, "The pad's statistics"): 0.20-0.25 log-mel with the statistics of the
other five words, 0.16-0.21 with the word's own. Statistics belong to a voice (another voice's do
worse), so they are kept per voice key, here, in memory.

onnx and numpy only (no torch). The engine uses it where `StreamingConfig.cut_pads` is on.
"""

from __future__ import annotations

import threading

import numpy as np

from .graphs import F0_STEPS_PER_FRAME, PAD_MASK, PAD_SHARE, PLAN_ENERGY, PLAN_F0, PLAN_FEATURES
from .model_store import FRAME_SAMPLES, INPUT_STYLE, OUTPUT_AUDIO, ModelStoreConfig
from .streaming import _session, ensure_streaming_models


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
    """The pad-statistics and pad-mixing renderers' sessions; calls hold the runtime's lock."""

    NAMES = ("pad-statistics-renderer", "pad-mixing-renderer")

    def __init__(self, model_config: ModelStoreConfig, threads: int, providers: list[str], lock: threading.Lock,
                 spin: bool = False):
        learning_path, mixing_path = ensure_streaming_models(model_config, self.NAMES)
        self.learning = _session(learning_path, threads, providers, spin)
        self.mixing = _session(mixing_path, threads, providers, spin)
        self._outputs = [o.name for o in self.learning.get_outputs()]
        self._lock = lock

    @staticmethod
    def _feeds(plan, style: np.ndarray, lo: int, hi: int) -> dict[str, np.ndarray]:
        k = F0_STEPS_PER_FRAME
        return {PLAN_FEATURES: plan.features[..., lo:hi], PLAN_F0: plan.f0[..., k * lo:k * hi],
                PLAN_ENERGY: plan.energy[..., k * lo:k * hi], INPUT_STYLE: np.asarray(style, dtype=np.float32)}

    def render_learning(self, plan, style: np.ndarray, lo: int, hi: int, run_options=None) -> tuple[np.ndarray, PadStatistics]:
        """The whole plan rendered (float32 (600 F,), the plain renderer's audio exactly) and the
        pad statistics of the frames outside [lo, hi)."""
        mask = np.ones((1, 1, plan.frames), dtype=np.float32)
        mask[..., lo:hi] = 0.0
        feeds = {**self._feeds(plan, style, 0, plan.frames), PAD_MASK: mask}
        with self._lock:
            outputs = self.learning.run(None, feeds, run_options)
        named = dict(zip(self._outputs, outputs))
        stats = PadStatistics({name: value for name, value in named.items() if name.startswith("pad_")})
        return np.asarray(named[OUTPUT_AUDIO], dtype=np.float32).reshape(-1), stats

    def render_cut(self, plan, style: np.ndarray, lo: int, hi: int, stats: PadStatistics,
                   run_options=None) -> np.ndarray:
        """Frames [lo, hi) of the plan rendered alone, each norm mixing its own statistics with
        `stats` for the frames left out: float32 (600 (hi - lo),)."""
        share = np.array([1.0 - (hi - lo) / plan.frames], dtype=np.float32)
        feeds = {**self._feeds(plan, style, lo, hi), **stats, PAD_SHARE: share}
        with self._lock:
            (audio,) = self.mixing.run([OUTPUT_AUDIO], feeds, run_options)
        return np.asarray(audio, dtype=np.float32).reshape(-1)[: (hi - lo) * FRAME_SAMPLES]
