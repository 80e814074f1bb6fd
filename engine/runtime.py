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

Locale adapters (docs/adapters.md): given a non-empty `AdapterSet`, the runtime loads the split
graphs with LoRA branches whose weights are graph inputs (`engine/adapter_graphs.py`); every
adapter's feeds are built once here, and a call names its adapter (`adapter=`, from
`Conditioning.adapter`) or none (the zero defaults: the base model, bit for bit). `plan(...,
guidance=)` runs the planner a second time on the unconditional prosody and mixes the two
(`engine/guidance.py`).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .adapters import AdapterError, AdapterSet
from .errors import ModelError
from .graphs import (PAD_LEAD, PAD_TRAIL, PLAN_RAW_DURATIONS, F0_STEPS_PER_FRAME, PLAN_DURATIONS, PLAN_ENERGY, PLAN_F0,
                     PLAN_FEATURES, PLANNER_OUTPUTS, STOCK_PHASE, context_span, ensure_split_models,
                     is_generator_statistic, pad_moment_names)
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
    profile_prefix: str | None = None
    """Benchmarks only: onnxruntime's per-node profiling of every session, into JSON files whose
    paths start with this (`KokoroRuntime.end_profiling` closes them; `bench_latency.profile_renderer_ops`)."""

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
    raw_durations: np.ndarray | None = None
    """float32 (T,): the durations before the graph's rounding (the adapted planner gives them;
    guidance mixes them)."""

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
    options.log_severity_level = 3  # the adapted graphs' overridable initializers warn once each
    options.intra_op_num_threads = config.threads
    options.inter_op_num_threads = 1
    if not config.spin:
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
    if config.profile_prefix is not None:
        options.enable_profiling = True
        options.profile_file_prefix = f"{config.profile_prefix}-{path.stem}"
    try:
        return ort.InferenceSession(str(path), options, providers=pick_providers(config.use_gpu))
    except Exception as exc:  # onnxruntime raises its own untyped errors
        raise ModelError(f"cannot load model {path}: {exc}") from exc


def _style(style: np.ndarray) -> np.ndarray:
    return np.asarray(style, dtype=np.float32).reshape(1, -1)  # (1, 256)


def _renderer_feeds(plan: PlannerOutput, style: np.ndarray) -> dict[str, np.ndarray]:
    """The renderer's inputs for a plan, its curves checked against its frames."""
    frames = plan.frames
    if plan.f0.shape[-1] != F0_STEPS_PER_FRAME * frames or plan.energy.shape[-1] != F0_STEPS_PER_FRAME * frames:
        raise ValueError(f"plan of {frames} frames has f0 {plan.f0.shape} and energy {plan.energy.shape}, "
                         f"expected (1, {F0_STEPS_PER_FRAME * frames})")
    return {PLAN_FEATURES: plan.features, PLAN_F0: plan.f0, PLAN_ENERGY: plan.energy, INPUT_STYLE: _style(style)}


class KokoroRuntime:
    """The model's sessions; every call is safe from several threads (calls are serialised).

    `model_path` is the runtime model from `model_store.ensure_model`; with `graphs="split"` the
    planner and renderer graphs are cut into the same cache directory on first use.
    """

    frame_samples = FRAME_SAMPLES

    def __init__(self, model_path: Path, config: RuntimeConfig | None = None, adapters: AdapterSet | None = None):
        self.config = config or RuntimeConfig()
        self.adapters = adapters if adapters is not None else AdapterSet()
        """The locale adapters loaded (all at start); none is active until a call names it."""
        self.session = self.planner = self.renderer = None
        self.statistics_names: tuple[str, ...] = ()
        """The generator's norm statistics the renderer also outputs (`render_with_statistics`);
        empty with the single graph."""
        self._pad_moments: dict[str, str] = {}
        """The renderer's pad-moment outputs of the generator's norms -> their statistic's name."""
        self._adapter_feeds: dict[str, tuple[dict, dict]] = {}
        if len(self.adapters) and self.config.graphs == "single":
            raise ModelError("locale adapters need the split graphs (RuntimeConfig(graphs='split'))")
        if self.config.graphs == "single":
            self.session = _session(model_path, self.config)
            outputs = {o.name for o in self.session.get_outputs()}
            if OUTPUT_DURATIONS not in outputs:
                raise ModelError(f"model {model_path} has no {OUTPUT_DURATIONS!r} output (outputs: {sorted(outputs)})")
            self.providers = self.session.get_providers()
        else:
            store = ModelStoreConfig(cache_dir=Path(model_path).parent)
            # The renderer is the pad renderer (graphs.pad_renderer): its norm statistics and pad
            # statistics as extra outputs and the pad mixing as defaulted inputs; fed the plain
            # inputs, the same audio bit for bit. A whole render also yields its voice's
            # statistics, and a segment can render without its pad (engine/pad_cut.py). With
            # adapters loaded both graphs also have LoRA branches (engine/adapter_graphs.py).
            if len(self.adapters):
                from .adapter_graphs import ensure_adapted_models

                planner_path, renderer_path = ensure_adapted_models(self.adapters.targets(), store)
            else:
                from .streaming import ensure_streaming_models

                planner_path = ensure_split_models(store)[0]
                (renderer_path,) = ensure_streaming_models(store, ("pad-renderer",))
            self.planner = _session(planner_path, self.config)
            self.renderer = _session(renderer_path, self.config)
            self.statistics_names = tuple(o.name for o in self.renderer.get_outputs()
                                          if is_generator_statistic(o.name) and o.name != STOCK_PHASE)
            self._pad_moments = pad_moment_names([o.name for o in self.renderer.get_outputs()])
            outputs = tuple(o.name for o in self.planner.get_outputs() if o.name != PLAN_RAW_DURATIONS)
            if sorted(outputs) != sorted(PLANNER_OUTPUTS):
                raise ModelError(f"planner {planner_path} has outputs {outputs}, expected {PLANNER_OUTPUTS}")
            self.providers = self.renderer.get_providers()
            for tag in self.adapters:
                adapter = self.adapters.get(tag)
                self._adapter_feeds[tag] = (adapter_feeds(adapter, self.planner, self.renderer))
        self._lock = threading.Lock()
        self._model_path = Path(model_path)
        self._windows = None
        self._windows_lock = threading.Lock()
        self._pads = None
        if self.renderer is not None:
            from .pad_cut import PadRenderer

            self._pads = PadRenderer(self.renderer, self._lock, self.renderer_adapter)

    def end_profiling(self) -> dict[str, Path]:
        """With `RuntimeConfig.profile_prefix`: stop profiling the planner and renderer sessions
        (the whole-render graphs, which also render a word without its pad) and return their
        profiles' paths by role."""
        if self.config.profile_prefix is None:
            raise ModelError("end_profiling() needs RuntimeConfig(profile_prefix=...)")
        sessions = {"planner": self.planner, "renderer": self.renderer, "model": self.session}
        with self._lock:
            return {role: Path(s.end_profiling()) for role, s in sessions.items() if s is not None}

    def window_renderer(self):
        """The chunked-rendering sessions (`engine/streaming.py`), loaded on first use; they share
        this runtime's lock, so window calls and whole calls never run at once."""
        if self.renderer is None:
            raise ModelError("chunked rendering needs the split graphs (RuntimeConfig(graphs='split'))")
        from .streaming import WindowRenderer

        with self._windows_lock:
            if self._windows is None:
                self._windows = WindowRenderer(ModelStoreConfig(cache_dir=self._model_path.parent), self.config.threads,
                                               pick_providers(self.config.use_gpu), self._lock, spin=self.config.spin,
                                               statistics_session=self.renderer if self.statistics_names else None,
                                               targets=self.adapters.targets() if len(self.adapters) else (),
                                               adapter=self.renderer_adapter)
            return self._windows

    def pad_renderer(self):
        """Renders a segment without its pad, or whole while teaching pad statistics
        (`engine/pad_cut.py`), through this runtime's own renderer session; None with the single
        graph."""
        return self._pads

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

    def _adapter(self, adapter: str | None, stage: int) -> dict[str, np.ndarray]:
        """The feeds that select `adapter` in the planner (stage 0) or the renderer (1); {} = base."""
        if adapter is None:
            return {}
        feeds = self._adapter_feeds.get(adapter)
        if feeds is None:
            raise AdapterError(f"no adapter loaded for locale {adapter!r} "
                               f"(loaded: {', '.join(self.adapters.locales) or 'none'})")
        return feeds[stage]

    def renderer_adapter(self, adapter: str | None) -> dict[str, np.ndarray]:
        """The renderer feeds that select a loaded adapter ({} = the base model): the window
        and pad renderers take theirs from these (AdapterError for an adapter not loaded)."""
        return self._adapter(adapter, 1)

    def plan(self, ids: list[int], style: np.ndarray, speed: float, run_options=None, adapter: str | None = None,
             guidance=None) -> PlannerOutput:
        """Run the planner alone: durations and the renderer's inputs, before any audio exists.

        `adapter`: a loaded locale adapter's tag (None: the base model). `guidance`
        (`engine.guidance.Guidance`): also run the unconditional branch and mix (strength 1: the
        conditional plan alone, one planner run; strength 0: the unconditional one alone)."""
        if self.planner is None:
            raise ModelError("plan() needs the split graphs (RuntimeConfig(graphs='split'))")
        extra = self._adapter(adapter, 0)
        if guidance is None or guidance.strength == 1.0:
            return self._plan(ids, style, speed, run_options, extra)
        from .guidance import guide

        if guidance.strength == 0.0:
            return self._plan(ids, guidance.style(style), speed, run_options, extra)
        if PLAN_RAW_DURATIONS not in self._planner_outputs():
            raise ModelError("guidance needs the adapted planner (load at least one locale adapter)")
        conditional = self._plan(ids, style, speed, run_options, extra)
        unconditional = self._plan(ids, guidance.style(style), speed, run_options, extra)
        return guide(conditional, unconditional, guidance.strength)

    def _planner_outputs(self) -> tuple[str, ...]:
        return tuple(o.name for o in self.planner.get_outputs())

    def _plan(self, ids, style, speed, run_options, extra: dict) -> PlannerOutput:
        feeds = self._feeds(ids, style, speed)
        feeds.update(extra)
        names = list(PLANNER_OUTPUTS)
        if PLAN_RAW_DURATIONS in self._planner_outputs():
            names.append(PLAN_RAW_DURATIONS)
        with self._lock:
            out = dict(zip(names, self.planner.run(names, feeds, run_options or self.run_options())))
        raw = out.get(PLAN_RAW_DURATIONS)
        return PlannerOutput(
            durations=np.asarray(out[PLAN_DURATIONS]).reshape(-1).astype(np.int64),
            features=np.asarray(out[PLAN_FEATURES], dtype=np.float32),
            f0=np.asarray(out[PLAN_F0], dtype=np.float32),
            energy=np.asarray(out[PLAN_ENERGY], dtype=np.float32),
            raw_durations=None if raw is None else np.asarray(raw, dtype=np.float32).reshape(-1),
        )

    def render_planned(self, plan: PlannerOutput, style: np.ndarray, run_options=None,
                       adapter: str | None = None) -> np.ndarray:
        """Audio, float32 (600 F,), for a planner output and a style (the renderer uses its timbre
        half), with a loaded locale adapter or none (the base model)."""
        if self.renderer is None:
            raise ModelError("render_planned() needs the split graphs (RuntimeConfig(graphs='split'))")
        feeds = _renderer_feeds(plan, style)
        feeds.update(self._adapter(adapter, 1))
        with self._lock:
            (audio,) = self.renderer.run([OUTPUT_AUDIO], feeds, run_options or self.run_options())
        return np.asarray(audio, dtype=np.float32).reshape(-1)

    def render_with_statistics(self, plan: PlannerOutput, style: np.ndarray, run_options=None,
                               pad: tuple[int, int] = (0, 0), adapter: str | None = None,
                               ) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, np.ndarray]]:
        """`render_planned` (with `adapter` or the base model), the generator's norm statistics of that render
        (name -> float32 (1, C, 1)): what chunked rendering needs to render this voice in windows
        (`engine/streaming.py`, `LearnedStatistics`), and the moments of the same norms over the
        plan's first `pad[0]` and last `pad[1]` frames (the mean under the mean's name, the mean
        of squares under the variance's; empty without pad frames). Same audio, same cost."""
        if not self.statistics_names:
            raise ModelError("this renderer has no statistics outputs (the single graph)")
        feeds = _renderer_feeds(plan, style)
        feeds.update(self._adapter(adapter, 1))
        pad_names = []
        if sum(pad) and self._pad_moments:
            feeds.update({PAD_LEAD: np.array([pad[0]], dtype=np.int64), PAD_TRAIL: np.array([pad[1]], dtype=np.int64)})
            pad_names = list(self._pad_moments)
        names = [OUTPUT_AUDIO, *self.statistics_names, *pad_names]
        with self._lock:
            audio, *outputs = self.renderer.run(names, feeds, run_options or self.run_options())
        named = {name: np.asarray(value, dtype=np.float32) for name, value in zip(names[1:], outputs)}
        return (np.asarray(audio, dtype=np.float32).reshape(-1), {name: named[name] for name in self.statistics_names},
                {self._pad_moments[name]: named[name] for name in pad_names})

    def render_frames(self, plan: PlannerOutput, style: np.ndarray, start: int, stop: int, context: int,
                      run_options=None, adapter: str | None = None) -> np.ndarray:
        """Audio of frames [start, stop) of a plan, float32 (600 (stop - start),), rendered with at
        most `context` frames of the plan either side and those thrown away: the renderer sees only
        frames [start - context, stop + context), so frames outside cost nothing (the model's pad
        silence, `engine/rendering.py`). The renderer's norms then see only that stretch, so the
        audio is not the whole render's (distances in docs/latency.md)."""
        frames = plan.frames
        if not 0 <= start < stop <= frames or context < 0:
            raise ValueError(f"frames [{start}, {stop}) with context {context} do not fit a plan of {frames} frames")
        lo, hi = context_span(frames, start, stop, context)
        k = F0_STEPS_PER_FRAME
        sub = PlannerOutput(plan.durations, plan.features[..., lo:hi], plan.f0[..., k * lo:k * hi],
                            plan.energy[..., k * lo:k * hi])
        audio = self.render_planned(sub, style, run_options, adapter)
        return audio[(start - lo) * FRAME_SAMPLES:(stop - lo) * FRAME_SAMPLES]

    def render(self, ids: list[int], style: np.ndarray, speed: float, adapter: str | None = None,
               guidance=None) -> Render:
        """Audio and the durations it followed: planner then renderer (or the single graph)."""
        if self.session is None:
            plan = self.plan(ids, style, speed, adapter=adapter, guidance=guidance)
            return Render(self.render_planned(plan, style, adapter=adapter), plan.durations)
        feeds = self._feeds(ids, style, speed)
        with self._lock:
            audio, durations = self.session.run([OUTPUT_AUDIO, OUTPUT_DURATIONS], feeds, self.run_options())
        return Render(np.asarray(audio, dtype=np.float32).reshape(-1), np.asarray(durations).reshape(-1).astype(np.int64))


def adapter_feeds(adapter, planner, renderer) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(planner feeds, renderer feeds) that select `adapter` in the adapted graphs' sessions,
    built once (contiguous float32, matrices transposed to the graphs' (in, r) / (r, out)).
    Checks every array's shape against the graph's weight (AdapterError naming file and key)."""
    from .adapter_graphs import input_names

    declared = [{i.name: i.shape for i in s.get_overridable_initializers()} for s in (planner, renderer)]
    feeds: tuple[dict, dict] = ({}, {})
    for path, (a, b) in adapter.weights.items():
        conv = a.ndim == 3
        a_name, b_name = input_names(path, conv)
        stage = next((k for k in (0, 1) if a_name in declared[k]), None)
        if stage is None:
            raise AdapterError(f"adapter {adapter.path}: {path}.lora_A: no such {'convolution' if conv else 'matrix'} "
                               "in the adapted graphs")
        fa, fb = (a, b) if conv else (a.T, b.T)
        for key, value, shape in ((f"{path}.lora_A", fa, declared[stage][a_name]),
                                  (f"{path}.lora_B", fb, declared[stage][b_name])):
            want = tuple(d if isinstance(d, int) else value.shape[i] for i, d in enumerate(shape))
            if value.shape != want:
                got = value.shape if conv else value.T.shape
                need = want if conv else want[::-1]
                raise AdapterError(f"adapter {adapter.path}: {key}: shape {got}, the model's weight needs {need}")
        fa, fb = np.ascontiguousarray(fa, dtype=np.float32), np.ascontiguousarray(fb, dtype=np.float32)
        feeds[stage][a_name], feeds[stage][b_name] = fa, fb
        # Keep one copy: the adapter's torch-layout arrays become views of the feeds.
        adapter.weights[path] = (fa, fb) if conv else (fa.T, fb.T)
    return feeds
