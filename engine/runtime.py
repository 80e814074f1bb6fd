"""The model runtime: onnxruntime sessions over the int8 Kokoro graphs (no torch here).

By default the runtime runs the two graphs cut out of the stock int8 graph (`engine/graphs.py`):
the planner (tokens, prosody style, speed -> durations, aligned features, F0, energy) and the
renderer (those plus the timbre style -> audio). `plan` returns the planner's output as a value,
so the plan the engine checks is literally what the renderer then reads; `render_planned` turns it
into audio; `render(ids, style, speed)` does both and returns the audio and the per-token durations
the model followed, so the plan and the audio can never disagree about where each word is.

Planner then renderer reproduces the single graph bit for bit (tests/test_runtime_split.py), and
costs the same per call (numbers in docs/model.md). `RuntimeConfig(graphs="single")` keeps the one
stock graph (no `plan`), for comparison and as a fallback.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .errors import ModelError
from .graphs import (F0_STEPS_PER_FRAME, PLAN_DURATIONS, PLAN_ENERGY, PLAN_F0, PLAN_FEATURES, PLANNER_OUTPUTS,
                     ensure_split_models)
from .model_store import (
    FRAME_SAMPLES, INPUT_SPEED, INPUT_STYLE, INPUT_TOKENS, MAX_TOKEN_IDS, OUTPUT_AUDIO, OUTPUT_DURATIONS,
    ModelStoreConfig,
)

GRAPH_LAYOUTS = ("split", "single")


@dataclass(frozen=True)
class RuntimeConfig:
    threads: int = 2
    """onnxruntime intra-op threads (the daemon's whole budget on a 2-core machine)."""
    use_gpu: bool = True
    """Use the CUDA provider when onnxruntime-gpu is installed and a GPU is present."""
    spin: bool = False
    """Let onnxruntime's worker threads spin (busy-wait) between parallel sections. Off: measured
    0.73-0.77x the renderer's time with it on, on a loaded 2-core machine (three runs), where spinning threads
    take the cores from the ones with work (docs/latency.md); a daemon that spins also burns CPU
    after every call."""
    graphs: str = "split"
    """"split": planner and renderer graphs (cut on first use next to the runtime model, about 6 s,
    then cached); "single": the one stock graph, which has no separate `plan` step."""
    shrink_arena: bool = True
    """Give onnxruntime's CPU memory arena back after every call (run option
    `memory.enable_memory_arena_shrinkage`): the arena keeps its speed within a call, but a long
    segment's tensors (hundreds of MiB) no longer stay resident for the life of the process.
    Measured as fast as keeping it (docs/reliability.md, `echoic bench memory`)."""

    def __post_init__(self):
        if not isinstance(self.threads, int) or not 1 <= self.threads <= 256:
            raise ValueError(f"threads must be an integer in 1..256, got {self.threads!r}")
        if self.graphs not in GRAPH_LAYOUTS:
            raise ValueError(f"graphs must be one of {GRAPH_LAYOUTS}, got {self.graphs!r}")


@dataclass(frozen=True)
class Render:
    audio: np.ndarray
    """float32 (N,) at 24 kHz."""
    durations: np.ndarray
    """int64 (T,): frames of FRAME_SAMPLES per token, pads included."""


@dataclass(frozen=True)
class PlannerOutput:
    """What the planner decided for one utterance: everything the renderer reads except the timbre."""

    durations: np.ndarray
    """int64 (T,): frames of FRAME_SAMPLES per token, pads included; F = durations.sum()."""
    features: np.ndarray
    """float32 (1, 512, F): text-encoder features repeated along the durations."""
    f0: np.ndarray
    """float32 (1, 2F): pitch in Hz at twice the frame rate (below 10 Hz is unvoiced)."""
    energy: np.ndarray
    """float32 (1, 2F): energy curve at twice the frame rate."""

    @property
    def frames(self) -> int:
        return int(self.features.shape[-1])


def pick_providers(use_gpu: bool) -> list[str]:
    import onnxruntime as ort

    available = ort.get_available_providers()
    if use_gpu and "CUDAExecutionProvider" in available:
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    return ["CPUExecutionProvider"]


def _session(path: Path, config: RuntimeConfig):
    import onnxruntime as ort

    options = ort.SessionOptions()
    options.intra_op_num_threads = config.threads
    options.inter_op_num_threads = 1
    if not config.spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    try:
        return ort.InferenceSession(str(path), options, providers=pick_providers(config.use_gpu))
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(f"cannot load model {path}: {exc}") from exc


def _style(style: np.ndarray) -> np.ndarray:
    return np.asarray(style, dtype=np.float32).reshape(1, -1)  # (1, 256)


class KokoroRuntime:
    """The model's sessions; every call is safe from several threads (calls are serialised).

    `model_path` is the runtime model from `model_store.ensure_model`; with `graphs="split"` the
    planner and renderer graphs are cut into the same cache directory on first use.
    """

    frame_samples = FRAME_SAMPLES

    def __init__(self, model_path: Path, config: RuntimeConfig | None = None):
        self.config = config or RuntimeConfig()
        self.session = self.planner = self.renderer = None
        if self.config.graphs == "single":
            self.session = _session(model_path, self.config)
            outputs = {o.name for o in self.session.get_outputs()}
            if OUTPUT_DURATIONS not in outputs:
                raise ModelError(f"model {model_path} has no {OUTPUT_DURATIONS!r} output (outputs: {sorted(outputs)})")
            self.providers = self.session.get_providers()
        else:
            planner_path, renderer_path = ensure_split_models(ModelStoreConfig(cache_dir=Path(model_path).parent))
            self.planner = _session(planner_path, self.config)
            self.renderer = _session(renderer_path, self.config)
            outputs = tuple(o.name for o in self.planner.get_outputs())
            if sorted(outputs) != sorted(PLANNER_OUTPUTS):
                raise ModelError(f"planner {planner_path} has outputs {outputs}, expected {PLANNER_OUTPUTS}")
            self.providers = self.renderer.get_providers()
        self._lock = threading.Lock()
        self._model_path = Path(model_path)
        self._windows = None
        self._windows_lock = threading.Lock()

    def window_renderer(self):
        """The chunked-rendering sessions (`engine/streaming.py`), loaded on first use; they share
        this runtime's lock, so window calls and whole calls never run at once."""
        if self.renderer is None:
            raise ModelError("chunked rendering needs the split graphs (RuntimeConfig(graphs='split'))")
        from .streaming import WindowRenderer

        with self._windows_lock:
            if self._windows is None:
                self._windows = WindowRenderer(ModelStoreConfig(cache_dir=self._model_path.parent), self.config.threads,
                                               pick_providers(self.config.use_gpu), self._lock, spin=self.config.spin)
            return self._windows

    @staticmethod
    def _feeds(ids: list[int], style: np.ndarray, speed: float) -> dict[str, np.ndarray]:
        if not 1 <= len(ids) <= MAX_TOKEN_IDS:
            raise ValueError(f"a render takes 1..{MAX_TOKEN_IDS} phoneme ids, got {len(ids)}")
        return {
            INPUT_TOKENS: np.array([[0, *ids, 0]], dtype=np.int64),  # (1, T)
            INPUT_STYLE: _style(style),
            INPUT_SPEED: np.array([speed], dtype=np.float32),  # (1,)
        }

    def run_options(self):
        """Options for one call; setting `.terminate = True` from another thread stops that call
        (it then raises). The engine sets it when an utterance is cancelled mid-render."""
        import onnxruntime as ort

        options = ort.RunOptions()
        if self.config.shrink_arena:
            options.add_run_config_entry("memory.enable_memory_arena_shrinkage", "cpu:0")
        return options

    def plan(self, ids: list[int], style: np.ndarray, speed: float, run_options=None) -> PlannerOutput:
        """Run the planner alone: durations and the renderer's inputs, before any audio exists."""
        if self.planner is None:
            raise ModelError("plan() needs the split graphs (RuntimeConfig(graphs='split'))")
        feeds = self._feeds(ids, style, speed)
        with self._lock:
            out = dict(zip(PLANNER_OUTPUTS, self.planner.run(list(PLANNER_OUTPUTS), feeds,
                                                             run_options or self.run_options())))
        return PlannerOutput(
            durations=np.asarray(out[PLAN_DURATIONS]).reshape(-1).astype(np.int64),
            features=np.asarray(out[PLAN_FEATURES], dtype=np.float32),
            f0=np.asarray(out[PLAN_F0], dtype=np.float32),
            energy=np.asarray(out[PLAN_ENERGY], dtype=np.float32),
        )

    def render_planned(self, plan: PlannerOutput, style: np.ndarray, run_options=None) -> np.ndarray:
        """Audio, float32 (600 F,), for a planner output and a style (the renderer uses its timbre half)."""
        if self.renderer is None:
            raise ModelError("render_planned() needs the split graphs (RuntimeConfig(graphs='split'))")
        frames = plan.frames
        if plan.f0.shape[-1] != F0_STEPS_PER_FRAME * frames or plan.energy.shape[-1] != F0_STEPS_PER_FRAME * frames:
            raise ValueError(f"plan of {frames} frames has f0 {plan.f0.shape} and energy {plan.energy.shape}, "
                             f"expected (1, {F0_STEPS_PER_FRAME * frames})")
        feeds = {PLAN_FEATURES: plan.features, PLAN_F0: plan.f0, PLAN_ENERGY: plan.energy, INPUT_STYLE: _style(style)}
        with self._lock:
            (audio,) = self.renderer.run([OUTPUT_AUDIO], feeds, run_options or self.run_options())
        return np.asarray(audio, dtype=np.float32).reshape(-1)

    def render_frames(self, plan: PlannerOutput, style: np.ndarray, start: int, stop: int, context: int,
                      run_options=None) -> np.ndarray:
        """Audio of frames [start, stop) of a plan, float32 (600 (stop - start),), rendered with at
        most `context` frames of the plan either side and those thrown away: the renderer sees only
        frames [start - context, stop + context), so frames outside cost nothing (the model's pad
        silence, `engine/rendering.py`). The renderer's norms then see only that stretch, so the
        audio is not the whole render's (distances in docs/latency.md)."""
        frames = plan.frames
        if not 0 <= start < stop <= frames or context < 0:
            raise ValueError(f"frames [{start}, {stop}) with context {context} do not fit a plan of {frames} frames")
        lo, hi = max(0, start - context), min(frames, stop + context)
        k = F0_STEPS_PER_FRAME
        sub = PlannerOutput(plan.durations, plan.features[..., lo:hi], plan.f0[..., k * lo:k * hi],
                            plan.energy[..., k * lo:k * hi])
        audio = self.render_planned(sub, style, run_options)
        return audio[(start - lo) * FRAME_SAMPLES:(stop - lo) * FRAME_SAMPLES]

    def render(self, ids: list[int], style: np.ndarray, speed: float) -> Render:
        """Audio and the durations it followed: planner then renderer (or the single graph)."""
        if self.session is None:
            plan = self.plan(ids, style, speed)
            return Render(self.render_planned(plan, style), plan.durations)
        feeds = self._feeds(ids, style, speed)
        with self._lock:
            audio, durations = self.session.run([OUTPUT_AUDIO, OUTPUT_DURATIONS], feeds, self.run_options())
        return Render(np.asarray(audio, dtype=np.float32).reshape(-1), np.asarray(durations).reshape(-1).astype(np.int64))
