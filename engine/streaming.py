"""Chunked rendering: the renderer on windows of frames, so a long segment's first audio comes
before the whole segment is rendered (onnx and numpy only; no torch).

A renderer window depends on the rest of its utterance through three things (docs/model.md):
the instance norms' statistics (per-channel mean and variance over time), the harmonic
source's phase (a running sum of F0 from the first frame) and the convolutions' reach (under 16
frames either side). Here:

- the 20 statistics of the 10 frame-rate norms and the phase come from the whole segment, exactly,
  through a prefix of the renderer graph that costs about 4% of a whole render;
- the 88 statistics of the generator's 44 norms (95% of the work) cannot be had without a whole
  render, so they come from a **calibration**: the voice's timbre at a grid row, rendered over a
  fixed multilingual text; a streamed segment renders with that grid row's timbre, so its
  statistics belong to exactly the timbre it is rendered with;
- each window gets `context_frames` of context either side, and only its middle is kept;
- windows after the first are sized from what a window render costs here, measured on the last
  ones (`RenderPace`), so that each is ready before the audio ahead of it has played.

Measured (tests/test_streaming.py, docs/model.md): windows joined this way are as close to a whole
render at the joins as anywhere else, and near the int8 graph's own noise floor.

Calibration lives here too (`CalibrationStore`, `Calibrator`), next to the renderer it serves; a
grid row's style comes from the conditioning seam (engine/conditioning.py), like every style.
This module is about 650 lines because the window renderer and its calibration share the
statistics' names and pairing; they are read together.
"""

from __future__ import annotations

import io
import logging
import math
import os
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import SAMPLE_RATE, graphs, model_store
from .adapter_graphs import add_lora_branches, targets_stamp
from .cancelling import interrupting, unless_cancelled
from .conditioning import Conditioner, Conditioning, pack_row
from .errors import ConfigError, ModelError
from .graphs import F0_STEPS_PER_FRAME, PLAN_ENERGY, PLAN_F0, PLAN_FEATURES, PLAN_PHASE_OFFSET, STOCK_PHASE
from .model_store import FRAME_SAMPLES, INPUT_STYLE, OUTPUT_AUDIO, ModelStoreConfig
from .voices import Voice

log = logging.getLogger(__name__)

FRAME_MS = 1000.0 * FRAME_SAMPLES / SAMPLE_RATE
"""Milliseconds of audio in one renderer frame (25)."""

CALIBRATION_VERSION = 1
"""Part of every calibration file's name: bump it when the calibration text or method changes."""

CALIBRATION_PHONEMES = (
    # Kokoro symbols for a few sentences in several of the locales (espeak-ng G2P, kept fixed here
    # so a calibration does not change with the espeak-ng version).
    "ðə wˈɛðəɹ tədˈA ɪz mˈOstli sˈʌni, wɪð ə lˈIt bɹˈiz fɹʌmðə wˈɛst.",
    "ˈɛɹəɹ: ðə fˈIl kʊd nˌɑt bi ˈOpənd bɪkˈʌz ɪT ɪz ɪn jˈus bI ənˈʌðəɹ pɹˈOɡɹæm.",
    "ðə kəmˈɪti wɪl mˈiːt əɡˈɛn nˈɛkst θˈɜːzdA at hˈɑːf pˈast θɹˈiː tə ɹɪvjˈuː ðə bˈʌʤɪt.",
    "bˈɪtə ʃpˈIçɜn ziː ˌiːrə ˈaɾbIt, bəfˈoːɾ ziː das dˌoːkuːmˈɛnt ʃlˈiːsən.",
    "el tɾˈen de las nwˈeβe sˈale ðel andˈen kwˈatɾo kon destˈino a maðɾˈid.",
    "la ʁeynjˈɔ̃ kɔmˈɑ̃s a dˈiz ˈœʁ dɑ̃ la ɡʁˈɑ̃d sˈal dy pʁəmjˈeʁ etˈaʒ.",
)

GRID_ROWS = (15, 19, 23, 27, 31, 39, 47, 55, 63, 79, 95, 111, 127, 159, 191, 255, 319, 383, 447, 509)
"""Voice-pack rows (style for an input of row + 1 ids) whose timbre is calibrated. Rows change
fastest at low ids (a step of 4 rows there moves the timbre as much as 32 rows near 200)."""


@dataclass(frozen=True)
class StreamingConfig:
    enabled: bool = True
    """Render long segments in windows when their voice's statistics are calibrated."""
    min_frames: int = 56
    """Segments shorter than this (1.4 s at rate 1) render whole: one call is as quick."""
    first_window_frames: int = 12
    """The first window ends at the first word boundary at or after this many frames (0.3 s), or
    when `paced`, after as many as the measured pace needs for the second window to be ready in
    time, if that is more (`Pace.first_frames`: about 18 on a 2-core CPU)."""
    max_window_frames: int = 96
    """Later windows grow up to this many frames (each costs 2 * context more)."""
    paced: bool = True
    """Size each later window from the measured cost of a window render (`RenderPace`), so that it
    is rendered before the audio ahead of it has played (`word_windows` with a `Pace`); False:
    each later window doubles in length."""
    pace_ms_per_frame: float = 8.0
    """The cost of a rendered frame assumed until three window renders were measured (7.2-9.9 ms
    on a 2-core CPU, docs/latency.md)."""
    context_frames: int = 8
    """Frames rendered either side of a window and thrown away (8 measured as good as 16)."""
    cut_pads: bool = True
    """Render a segment that renders whole without the model's pad silence: the renderer sees only
    the frames from the kept lead to `tail_frames` past the last word, with `pad_context_frames`
    of context either side, and its norms mix their own statistics with pad statistics learnt from
    the voice's earlier whole renders (engine/pad_cut.py). A voice's first segment renders whole
    and teaches them. A word's first audio 0.66-0.82x, 0.27-0.32 log-mel from its whole render
    (medians; plain cut 0.9-1.8, floor 0.2; docs/latency.md). Adapted segments render whole."""
    pad_context_frames: int = 3
    """Frames of pad rendered either side of the kept stretch and thrown away when `cut_pads`."""
    tail_frames: int = 2
    """Frames of the model's trailing pad kept after a segment's last word when `cut_pads`."""
    calibration_dir: Path | None = None
    """Where calibrations are kept; None: $ECHOIC_CALIBRATION_DIR, else "calibration" in the model cache."""
    learn: bool = True
    """Learn each voice's generator statistics from its own whole renders (`LearnedStatistics`),
    so a voice with no calibration streams its long segments after its first segment of
    `learn_min_frames` or more, instead of rendering them whole until an idle calibration."""
    learn_min_frames: int = 64
    """Segments shorter than this (1.6 s at rate 1) neither teach nor use learnt statistics: they
    render whole unless calibrated. (Until 2026-11-30 this was 160: statistics learnt without
    keeping a short render's pad apart voiced af_aoede's first word too quietly for the
    guardrails, docs/guardrails.md; each render's pad is now kept apart, `LearnedStatistics`.)"""
    learn_pooled_frames: int = 320
    """A row's learnt statistics stream a segment once the renders that taught them add up to this
    many frames (8 s); until then the row's segments render whole and teach it. A short sentence
    windowed on one other's statistics was 0.18-0.51 log-mel from its whole render, on up to six
    others' 0.16-0.44 (docs/latency.md, "Every segment streams")."""
    learn_reach: int = 1
    """A row with nothing learnt borrows the nearest learnt row of the same voice at most this
    many grid rows away (GRID_ROWS); farther, the segment renders whole and teaches its row."""
    learn_voices: int = 8
    """Voices whose learnt statistics are kept (the least recently used goes; about 180 KB a row)."""

    def __post_init__(self):
        for name in ("min_frames", "first_window_frames", "max_window_frames"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"StreamingConfig.{name} must be a positive integer, got {value!r}")
        if not isinstance(self.context_frames, int) or not 0 <= self.context_frames <= 64:
            raise ValueError(f"StreamingConfig.context_frames must be an integer in 0..64, got {self.context_frames!r}")
        for name in ("learn_min_frames", "learn_pooled_frames", "learn_voices"):
            value = getattr(self, name)
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"StreamingConfig.{name} must be a positive integer, got {value!r}")
        if not isinstance(self.learn_reach, int) or not 0 <= self.learn_reach < len(GRID_ROWS):
            raise ValueError(f"StreamingConfig.learn_reach must be an integer in 0..{len(GRID_ROWS) - 1}, "
                             f"got {self.learn_reach!r}")
        for name in ("pad_context_frames", "tail_frames"):
            value = getattr(self, name)
            if not isinstance(value, int) or not 0 <= value <= 64:
                raise ValueError(f"StreamingConfig.{name} must be an integer in 0..64, got {value!r}")
        if not (isinstance(self.pace_ms_per_frame, (int, float)) and 0 < self.pace_ms_per_frame < 1000):
            raise ValueError(f"StreamingConfig.pace_ms_per_frame must be a number of milliseconds in (0, 1000), "
                             f"got {self.pace_ms_per_frame!r}")
        if self.max_window_frames < self.first_window_frames:
            raise ValueError("StreamingConfig.max_window_frames must be at least first_window_frames")


def calibration_dir(config: StreamingConfig, model: ModelStoreConfig) -> Path:
    if config.calibration_dir is not None:
        return Path(config.calibration_dir)
    return Path(os.environ.get("ECHOIC_CALIBRATION_DIR") or Path(model.cache_dir) / "calibration")


def grid_row(n_ids: int) -> int:
    """The calibrated pack row nearest to the row a segment of n_ids phoneme ids would use."""
    row = min(max(n_ids, 1), model_store.MAX_TOKEN_IDS) - 1
    return min(GRID_ROWS, key=lambda g: (abs(g - row), g))


def _session(path: Path, threads: int, providers: list[str], spin: bool = False):
    """A session of the graph at `path`. Loaded from the path, not from its bytes: onnxruntime
    then keeps no second copy of the model (measured +205 MiB resident for the window renderer
    and frame statistics from bytes, +114 MiB from the path; docs/reliability.md)."""
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.log_severity_level = 3  # the adapted graphs' overridable initializers warn once each
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    if not spin:  # as RuntimeConfig.spin
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=providers)
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(f"cannot load a streaming graph: {exc}") from exc


STREAMING_GRAPHS = {"frame-statistics": graphs.frame_statistics_graph, "window-renderer": graphs.window_renderer,
                    "statistics-renderer": graphs.statistics_renderer,
                    "pad-renderer": graphs.pad_renderer}
"""The graphs made from the split renderer, by the name their file ends with."""


WINDOW_GRAPHS = ("frame-statistics", "window-renderer", "statistics-renderer")
"""What chunked rendering needs (the runtime's own renderer is the pad renderer, engine/runtime.py)."""


def ensure_streaming_models(config: ModelStoreConfig | None = None, names: tuple[str, ...] = WINDOW_GRAPHS,
                            targets: tuple[str, ...] = ()) -> tuple[Path, ...]:
    """Paths of the frame-statistics graph, the window renderer and the statistics renderer (the
    renderer with every norm statistic as an output; the runtime's own renderer is the pad renderer
    built on it, engine/runtime.py) in the model cache, or of those `names` (`STREAMING_GRAPHS`),
    made from the split renderer on first use (a few seconds), like the split graphs themselves.

    `targets`: adapter modules (torch paths) to give LoRA branches with their weights as graph
    inputs (`adapter_graphs.add_lora_branches`; those a graph lacks are skipped), so the same
    graphs run a locale adapter; fed no adapter they are the plain graphs' outputs exactly."""
    config = config or ModelStoreConfig()
    renderer_path = graphs.ensure_split_models(config)[1]
    stamp = model_store.expected_sha256()[:16]
    if targets:
        stamp += f"-lora{targets_stamp(targets)}"
    paths = tuple(Path(config.cache_dir) / f"{stamp}-kokoro-v1.0-int8-{name}.onnx" for name in names)
    if not all(path.exists() for path in paths):
        renderer = renderer_path.read_bytes()
        for path, name in zip(paths, names):
            if not path.exists():
                built = STREAMING_GRAPHS[name](renderer)[0]
                if targets:
                    built = add_lora_branches(built, targets)[0]
                model_store.write_atomically(path, built)
    return paths


class Statistics(dict):
    """Norm statistic name -> float32 (1, C, 1)."""


class CalibrationStore:
    """Generator statistics per grid row's conditioning, on disk next to the model.

    A file is named by the model, the calibration version, the row and the digest of that row's
    conditioning (`Conditioning.digest`: the style row, and the adapter if any), so a changed
    voice pack, accent or model never reads stale statistics."""

    def __init__(self, directory: Path):
        self.directory = Path(directory)
        self._memory: dict[str, Statistics] = {}
        self._lock = threading.Lock()
        self._model = model_store.expected_sha256()[:12]  # read once: `key` runs for every long segment

    def any(self) -> bool:
        """Whether any row of any voice is calibrated here (for this model or another)."""
        return self.directory.is_dir() and next(self.directory.glob("*.npz"), None) is not None

    def key(self, conditioning: Conditioning | np.ndarray, row: int) -> str:
        """`conditioning`: grid row `row`'s, from the conditioning seam, or a bare voice pack
        (its row as it is: no accent, no adapter)."""
        if not isinstance(conditioning, Conditioning):
            conditioning = pack_row(conditioning, row)
        return f"{self._model}-v{CALIBRATION_VERSION}-r{row}-{conditioning.digest}"

    def path(self, key: str) -> Path:
        return self.directory / f"{key}.npz"

    def get(self, conditioning: Conditioning | np.ndarray, row: int) -> Statistics | None:
        key = self.key(conditioning, row)
        with self._lock:
            if key in self._memory:
                return self._memory[key]
        path = self.path(key)
        if not path.exists():
            return None
        try:
            with np.load(path) as data:
                stats = Statistics({name.replace("|", "/"): data[name] for name in data.files})
        except Exception as exc:  # a truncated or foreign file: np.load and zipfile raise many kinds
            log.warning("calibration file %s is unreadable (%s): removed, the row will be calibrated again", path, exc)
            path.unlink(missing_ok=True)
            return None
        with self._lock:
            self._memory[key] = stats
        return stats

    def put(self, conditioning: Conditioning | np.ndarray, row: int, stats: Statistics) -> None:
        key = self.key(conditioning, row)
        buffer = io.BytesIO()
        np.savez(buffer, **{name.replace("/", "|"): value for name, value in stats.items()})
        model_store.write_atomically(self.path(key), buffer.getvalue())
        with self._lock:
            self._memory[key] = stats


class LearnedStatistics:
    """Generator statistics learnt from each voice's own whole renders, per grid row, in memory.

    A calibration renders fixed sentences for a voice's grid row; but every whole render computes
    the same statistics over its own text (the runtime's renderer outputs them,
    `KokoroRuntime.render_with_statistics`), so they are pooled here, frame-weighted as a
    calibration pools its sentences, under the voice's key (voice, locale and accent, as the
    conditioning seam names it) and the segment's grid row. Statistics belong to a voice (the mean
    of other voices' is 0.74-1.74 log-mel from the whole render), so nothing is shared between voices.

    A render's frames are its speech and the model's pad silence either side, and a short segment
    is up to a sixth pad where a long one is a thirtieth. So each render's pad frames (a `share` of
    its frames, with their moments, from the same call) are kept apart from its speech, and a
    segment gets the mix of the two at its own pad share (`get`): statistics learnt from a
    sentence of one length fit a sentence of another (docs/latency.md, "Every segment streams")."""

    def __init__(self, reach: int = 1, voices: int = 8):
        self.reach = reach
        self.voices = voices
        self._rows: dict[str, dict[int, _Learnt]] = {}
        """voice key -> grid row -> what its renders taught; in least-recently-used order."""
        self._lock = threading.Lock()

    def add(self, voice: str, row: int, frames: int, stats: Statistics, pad: Statistics | None = None,
            share: float = 0.0) -> None:
        """Pool one whole render's statistics (over `frames` frames) into the voice's row. `pad`:
        the moments of its pad frames (`KokoroRuntime.render_with_statistics`), which are a `share`
        of its frames; without them the render counts as all speech."""
        if not pad or not 0.0 < share < 1.0:
            pad, share = None, 0.0
        moments = _moments(stats)
        speech = {n: (moments[n] - share * pad[n]) / (1.0 - share) for n in moments} if pad else moments
        with self._lock:
            rows = self._rows.pop(voice, {})
            self._rows[voice] = rows
            rows[row] = rows.get(row, _Learnt()).pooled(frames * (1.0 - share), speech, frames * share, pad)
            while len(self._rows) > self.voices:
                del self._rows[next(iter(self._rows))]

    def get(self, voice: str, row: int, share: float | None = None, frames: float = 0) -> Statistics | None:
        """The row's statistics, else those of the nearest learnt row within `reach` grid rows
        (the higher on a tie: rows change slowest upwards), else None: the pad's moments and the
        speech's mixed at the pad share `share` of the segment to render (None: the share of the
        renders learnt, which gives the statistics of all their frames together, exactly). Rows
        learnt from fewer than `frames` frames count as not learnt."""
        with self._lock:
            rows = {r: learnt for r, learnt in self._rows.get(voice, {}).items() if learnt.frames() >= frames}
            if not rows:
                return None
            self._rows[voice] = self._rows.pop(voice)
            if row not in rows:
                at = GRID_ROWS.index(row)
                distance, negative = min((abs(GRID_ROWS.index(r) - at), -r) for r in rows)
                if distance > self.reach:
                    return None
                row = -negative
            return rows[row].statistics(share)

    def nbytes(self) -> int:
        """Bytes of statistics held (for `status`: at most `voices` x 20 grid rows x about 180 KB)."""
        with self._lock:
            return sum(learnt.nbytes() for rows in self._rows.values() for learnt in rows.values())

    def rows(self, voice: str) -> dict[int, int]:
        """Grid row -> frames learnt, for `status` and tests."""
        with self._lock:
            return {row: round(learnt.frames()) for row, learnt in sorted(self._rows.get(voice, {}).items())}


def _moments(stats: Statistics) -> dict[str, np.ndarray]:
    """(mean, variance) per norm -> (mean, mean of squares), float64: moments pool and mix linearly."""
    out = {}
    for mean, var in graphs.norm_pairs(list(stats)):
        mu = np.asarray(stats[mean], dtype=np.float64)
        out[mean], out[var] = mu, np.asarray(stats[var], dtype=np.float64) + mu**2
    return out


@dataclass(frozen=True)
class _Learnt:
    """One voice row's pooled renders: the moments of their speech frames and of their pad frames
    (mean name -> mean, variance name -> mean of squares), and how many frames of each."""

    speech_frames: float = 0.0
    speech: dict | None = None
    pad_frames: float = 0.0
    pad: dict | None = None

    def pooled(self, speech_frames: float, speech: dict, pad_frames: float, pad: dict | None) -> _Learnt:
        def mix(n0, m0, n1, m1):  # kept as float32 (about 180 KB a row), computed in float64
            if m1 is None or n1 <= 0:
                return n0, m0
            if m0 is None or n0 <= 0:
                return n1, {k: np.asarray(v, dtype=np.float32) for k, v in m1.items()}
            return n0 + n1, {k: ((n0 * m0[k].astype(np.float64) + n1 * m1[k]) / (n0 + n1)).astype(np.float32) for k in m0}

        return _Learnt(*mix(self.speech_frames, self.speech, speech_frames, speech),
                       *mix(self.pad_frames, self.pad, pad_frames, pad))

    def frames(self) -> float:
        return self.speech_frames + self.pad_frames

    def statistics(self, share: float | None) -> Statistics:
        total = self.frames()
        if self.pad is None:
            share = 0.0
        elif share is None:
            share = self.pad_frames / total
        stats = Statistics()
        for mean, var in graphs.norm_pairs(list(self.speech)):
            mu, second = self.speech[mean].astype(np.float64), self.speech[var].astype(np.float64)
            if share:
                mu = share * self.pad[mean] + (1 - share) * mu
                second = share * self.pad[var] + (1 - share) * second
            stats[mean] = mu.astype(np.float32)
            stats[var] = np.maximum(second - mu**2, 0.0).astype(np.float32)
        return stats

    def nbytes(self) -> int:
        return sum(v.nbytes for part in (self.speech, self.pad) if part for v in part.values())


@dataclass
class Prepared:
    """One segment ready to be rendered window by window."""

    features: np.ndarray
    f0: np.ndarray
    energy: np.ndarray
    style: np.ndarray
    statistics: Statistics
    phase: np.ndarray
    """(1, 2F, 9): the harmonic source's integrated phase at each F0 step."""
    adapter: dict[str, np.ndarray] = field(default_factory=dict)
    """The window renderer's feeds that select the segment's locale adapter ({}: the base model)."""

    @property
    def frames(self) -> int:
        return int(self.features.shape[-1])


class WindowRenderer:
    """The frame-statistics and window-renderer sessions, and calibration.

    Calls are serialised by the runtime's lock (`lock`), as the runtime's own calls are."""

    def __init__(self, model_config: ModelStoreConfig, threads: int, providers: list[str], lock: threading.Lock,
                 spin: bool = False, statistics_session=None, targets: tuple[str, ...] = (),
                 adapter=lambda adapter: {}):
        """`statistics_session`: the runtime's renderer when it already is the statistics renderer
        (then calibration loads no session of its own: 72 MiB less while it runs). `targets`: the
        loaded adapters' modules (the graphs get their LoRA branches); `adapter(tag)`: the
        renderer's feeds that select an adapter (`KokoroRuntime.renderer_adapter`), of which each
        graph takes those it has."""
        frame_path, window_path = ensure_streaming_models(model_config, ("frame-statistics", "window-renderer"), targets)
        self._statistics_path = None if statistics_session else ensure_streaming_models(model_config, ("statistics-renderer",))[0]
        self._statistics_session = statistics_session
        self.frame_statistics = _session(frame_path, threads, providers, spin)
        self.window = _session(window_path, threads, providers, spin)
        self.frame_names = [o.name for o in self.frame_statistics.get_outputs() if o.name != STOCK_PHASE]
        self.window_names = [i.name for i in self.window.get_inputs()
                             if i.name not in (PLAN_FEATURES, PLAN_F0, PLAN_ENERGY, INPUT_STYLE, PLAN_PHASE_OFFSET)]
        self.generator_names = [n for n in self.window_names if graphs.is_generator_statistic(n)]
        if sorted(self.frame_names) != sorted(n for n in self.window_names if not graphs.is_generator_statistic(n)):
            raise ModelError("the frame-statistics graph and the window renderer disagree on the norm statistics")
        self._pairs = graphs.norm_pairs(self.generator_names)
        self._threads, self._providers, self._spin = threads, providers, spin
        self._lock = lock
        self._adapter = adapter
        self._lora = tuple({i.name for i in session.get_overridable_initializers() if i.name.startswith("lora_")}
                           for session in (self.frame_statistics, self.window))
        """The LoRA weight inputs of the frame-statistics graph and of the window renderer."""

    def _adapter_feeds(self, adapter: str | None, stage: int) -> dict[str, np.ndarray]:
        """The feeds that select `adapter` in the frame-statistics graph (0) or the window renderer (1)."""
        return {name: value for name, value in self._adapter(adapter).items() if name in self._lora[stage]}

    @staticmethod
    def _feeds(features, f0, energy, style) -> dict[str, np.ndarray]:
        return {PLAN_FEATURES: features, PLAN_F0: f0, PLAN_ENERGY: energy,
                INPUT_STYLE: np.asarray(style, dtype=np.float32).reshape(1, -1)}

    def prepare(self, plan, style: np.ndarray, generator: Statistics, run_options=None,
                adapter: str | None = None) -> Prepared:
        """Run the cheap whole-segment pass: the frame-rate statistics and the source phase
        (with a loaded locale adapter or none: the windows then render with the same)."""
        missing = [n for n in self.generator_names if n not in generator]
        if missing:
            raise ModelError(f"calibration lacks {len(missing)} generator statistics (e.g. {missing[0]})")
        feeds = self._feeds(plan.features, plan.f0, plan.energy, style)
        feeds.update(self._adapter_feeds(adapter, 0))
        with self._lock:
            outs = self.frame_statistics.run(None, feeds, run_options)
        named = dict(zip([o.name for o in self.frame_statistics.get_outputs()], outs))
        stats = Statistics({n: named[n] for n in self.frame_names})
        stats.update({n: generator[n] for n in self.generator_names})
        return Prepared(plan.features, plan.f0, plan.energy, feeds[INPUT_STYLE], stats, named[STOCK_PHASE],
                        self._adapter_feeds(adapter, 1))

    def render(self, prepared: Prepared, start: int, stop: int, context: int, run_options=None) -> np.ndarray:
        """Audio of frames [start, stop), float32 (600 (stop - start),), rendered with `context`
        frames either side and the whole segment's statistics and phase."""
        if not 0 <= start < stop <= prepared.frames:
            raise ValueError(f"window [{start}, {stop}) is outside a plan of {prepared.frames} frames")
        lo, hi = graphs.context_span(prepared.frames, start, stop, context)
        k = F0_STEPS_PER_FRAME
        feeds = self._feeds(prepared.features[..., lo:hi], prepared.f0[..., k * lo:k * hi],
                            prepared.energy[..., k * lo:k * hi], prepared.style)
        phase = prepared.phase
        feeds[PLAN_PHASE_OFFSET] = phase[:, k * lo - 1:k * lo] if lo else np.zeros_like(phase[:, :1])
        feeds.update({n: prepared.statistics[n] for n in self.window_names})
        feeds.update(prepared.adapter)
        with self._lock:
            (audio,) = self.window.run([OUTPUT_AUDIO], feeds, run_options)
        audio = np.asarray(audio, dtype=np.float32).reshape(-1)
        return audio[(start - lo) * FRAME_SAMPLES:(stop - lo) * FRAME_SAMPLES]

    def statistics_session(self):
        """A session of the statistics renderer (every norm statistic as an output), for
        `calibrate`: the runtime's own renderer when it is one, else loaded on demand (about
        0.8 s, 63 MB) and let go by the caller after."""
        if self._statistics_session is not None:
            return self._statistics_session
        return _session(self._statistics_path, self._threads, self._providers, self._spin)

    def sentence_statistics(self, runtime, session, style: np.ndarray, index: int, vocab: dict[str, int],
                            run_options=None) -> tuple[int, Statistics]:
        """Calibration sentence `index` through `session` (a `statistics_session()`) with a grid
        row's style (its `Conditioning.style`, timbre and prosody): (its frames, its generator
        statistics). About 1.8 s on two CPU cores; `Calibrator` keeps finished sentences when a
        cancel cuts a row short."""
        ids = [vocab[c] for c in CALIBRATION_PHONEMES[index] if c in vocab]
        plan = runtime.plan(ids, style, 1.0, run_options)
        with self._lock:
            outs = session.run(None, self._feeds(plan.features, plan.f0, plan.energy, style), run_options)
        named = dict(zip([o.name for o in session.get_outputs()], outs))
        return plan.frames, Statistics({name: named[name] for pair in self._pairs for name in pair})

    def pool(self, parts: list[tuple[int, Statistics]]) -> Statistics:
        return pool(parts, self._pairs)


def pool(parts: list[tuple[int, Statistics]], pairs: list[tuple[str, str]] | None = None) -> Statistics:
    """Mean and variance over all the parts' frames together, exactly, from each part's own
    (frames, statistics); `pairs`: the (mean, variance) names (default: every pair in the parts)."""
    pairs = pairs if pairs is not None else graphs.norm_pairs(list(parts[0][1]))
    frames = sum(n for n, _ in parts)
    stats = Statistics()
    for mean, var in pairs:
        mu = sum(n * s[mean].astype(np.float64) for n, s in parts) / frames
        second = sum(n * (s[var].astype(np.float64) + s[mean].astype(np.float64) ** 2) for n, s in parts) / frames
        stats[mean] = mu.astype(np.float32)
        stats[var] = np.maximum(second - mu**2, 0.0).astype(np.float32)
    return stats


@dataclass(frozen=True)
class Pace:
    """What a window costs to render here and now, for sizing windows so that each is ready before
    the audio ahead of it has played (`word_windows`)."""

    ms_per_frame: float
    """Render time per rendered frame, context included (`RenderPace.ms_per_frame`)."""
    context: int
    """Context frames rendered either side of a window (`StreamingConfig.context_frames`)."""
    safety: float = 1.3
    """The cost is taken this many times over (a machine's render times vary from call to call)."""
    margin_ms: float = 60.0
    """And each window is due this much before the audio ahead of it ends (checking the window
    before it and handing its audio on take time too; 30 left chunks 30-54 ms late in 3 of 39
    short sentences, docs/latency.md)."""

    def cost_ms(self, frames: int) -> float:
        return self.safety * self.ms_per_frame * (frames + 2 * self.context)

    def growing_frames(self) -> float | None:
        """Twice the window length whose audio lasts as long as it takes to render (context
        included): windows this long build up audio ahead. None when no window length does (a
        machine slower than the audio, or nearly): then pacing cannot help."""
        per_frame = self.safety * self.ms_per_frame
        if per_frame >= 0.8 * FRAME_MS:
            return None
        return 2.0 * 2 * self.context * per_frame / (FRAME_MS - per_frame)

    def first_frames(self) -> float:
        """The shortest first window whose audio lasts until a `growing_frames` window after it
        is ready."""
        return (self.cost_ms(math.ceil(self.growing_frames())) + self.margin_ms) / FRAME_MS


class RenderPace:
    """Window render times as measured on this machine: the median cost per rendered frame of the
    last `keep` window renders; `initial` until `least` have been measured. Thread-safe."""

    def __init__(self, initial: float, keep: int = 16, least: int = 3):
        self.initial, self.least = float(initial), least
        self._seen: list[float] = []
        self._keep = keep
        self._lock = threading.Lock()

    def observe(self, frames: int, seconds: float) -> None:
        """One window render of `frames` frames (context included) that took `seconds`."""
        if frames > 0 and seconds >= 0:
            with self._lock:
                self._seen = (self._seen + [1000.0 * seconds / frames])[-self._keep:]

    def ms_per_frame(self) -> float:
        with self._lock:
            seen = list(self._seen)
        return float(np.median(seen)) if len(seen) >= self.least else self.initial


def word_windows(bounds: list[int], voiced: list[bool], first: int, largest: int,
                 pace: Pace | None = None) -> list[tuple[int, int]]:
    """Cut a segment's words into windows: (first word, end word) pairs.

    `bounds[i]` is the frame word i starts at (`bounds[-1]` the segment's end). A window ends
    before a voiced word, at the first boundary at least its target frames on. Without `pace`,
    the first target is `first` and each later one doubles up to `largest`; when what would be
    left after a window is shorter than its target, the window takes it too (so a last window can
    reach almost twice `largest`).

    With `pace` (a machine that renders faster than the audio plays), the first target is at
    least `Pace.first_frames` (the first window must last until the second is ready), and each
    later window is the longest, up to `largest` frames, that is rendered at the pace's cost
    before the audio of the windows before it has played out from the first window's arrival on,
    but at least `Pace.growing_frames` (shorter windows cost more time than they bring audio):
    small while little audio is ahead, growing as it builds up. The rest of the segment joins a
    window when that is ready in time too."""
    grow = pace.growing_frames() if pace is not None else None
    if grow is None:
        pace = None  # too slow to pace: the doubling schedule
    else:
        first = max(first, math.ceil(pace.first_frames()))
    n = len(bounds) - 1
    windows, start, target = [], 0, first
    ready = ahead = 0.0  # ms from the first window's arrival: later windows rendered by then; audio ahead
    while start < n:
        cuts = [j for j in range(start + 1, n) if voiced[j]] + [n]  # where a window may end
        if pace is None or not windows:
            end = next(j for j in cuts if j == n or bounds[j] - bounds[start] >= target)
            if end < n and bounds[n] - bounds[end] < target:
                end = n  # the rest is short: render it with this window
        else:
            due = ahead - pace.margin_ms
            long_enough = next(j for j in cuts if j == n or bounds[j] - bounds[start] >= grow)
            fits = [j for j in cuts if j >= long_enough and bounds[j] - bounds[start] <= largest
                    and ready + pace.cost_ms(bounds[j] - bounds[start]) <= due]
            end = fits[-1] if fits else long_enough
            if end < n and ready + pace.cost_ms(bounds[n] - bounds[start]) <= due and bounds[n] - bounds[start] <= 2 * largest:
                end = n
        if pace is not None:
            if windows:
                ready += pace.cost_ms(bounds[end] - bounds[start])
            ahead += (bounds[end] - bounds[start]) * FRAME_MS
        windows.append((start, end))
        start, target = end, min(2 * target, largest)
    return windows


class Calibrator:
    """Calibrates a voice's grid rows into a `CalibrationStore`, one sentence at a time.

    A grid row's style comes from the conditioning seam (`Conditioner.condition` for row + 1 ids,
    the voice on its own), exactly as the window renderer asks for it."""

    def __init__(self, store: CalibrationStore, runtime, vocab: dict[str, int], conditioner: Conditioner,
                 max_tokens: int):
        self.store = store
        self.runtime = runtime
        self.vocab = vocab
        self.conditioner = conditioner
        self.max_tokens = max_tokens
        """The longest segment (in phoneme ids) the engine renders: which rows it can use."""
        self._parts: dict[str, list] = {}
        """Calibration sentences done for rows a cancel cut short, by calibration key."""

    def grid(self, voice: Voice, row: int) -> Conditioning:
        return self.conditioner.condition(voice, None, row + 1)

    def rows(self, voice: Voice) -> tuple[int, ...]:
        """The grid rows a segment can use with this voice that are not calibrated yet."""
        usable = sorted({grid_row(n) for n in range(1, self.max_tokens + 1)})
        return tuple(row for row in usable if row < len(voice.pack) and self.store.get(self.grid(voice, row), row) is None)

    def calibrate(self, voice: Voice, rows: tuple[int, ...] | None = None, cancel: threading.Event | None = None) -> int:
        """Calibrate grid rows (about 11 s a row on two CPU cores), skipping rows done before and
        rows past the end of a short user voice pack; returns how many were calibrated now.
        `rows=None`: every grid row a segment can use.

        A cancel stops it at once, raising nothing: a render in flight is terminated and the
        sessions it loads are waited for on another thread, so real speech never waits on them.
        Rows finished before the cancel are kept, and so are the finished sentences of a row cut
        short (six to a row, about 1.8 s each), so idle gaps shorter than a row still add up."""
        if rows is None:
            rows = self.rows(voice)
        off_grid = [row for row in rows if row not in GRID_ROWS]
        if off_grid:
            raise ConfigError(f"rows {off_grid} are not calibration grid rows {GRID_ROWS}")
        cancel = cancel or threading.Event()
        todo = [(row, self.grid(voice, row)) for row in rows if row < len(voice.pack)]
        todo = [(row, grid) for row, grid in todo if self.store.get(grid, row) is None]
        if not todo:
            return 0
        renderer = unless_cancelled(self.runtime.window_renderer, cancel)
        session = renderer and unless_cancelled(renderer.statistics_session, cancel)
        done = 0
        for row, grid in todo:
            parts = self._parts.setdefault(self.store.key(grid, row), [])
            while session is not None and not cancel.is_set() and len(parts) < len(CALIBRATION_PHONEMES):
                options = self.runtime.run_options()
                try:
                    with interrupting(cancel, options):
                        parts.append(renderer.sentence_statistics(self.runtime, session, grid.style, len(parts),
                                                                  self.vocab, options))
                except Exception as exc:  # onnxruntime's errors are untyped
                    if cancel.is_set():
                        break
                    raise ModelError(f"calibrating row {row} of voice {voice.info.id} failed: "
                                     f"{type(exc).__name__}: {exc}") from exc
            if len(parts) < len(CALIBRATION_PHONEMES):
                break  # cancelled: the sentences done so far wait for the next call
            self.store.put(grid, row, renderer.pool(parts))
            del self._parts[self.store.key(grid, row)]
            done += 1
        return done
