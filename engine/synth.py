"""The engine: a speech request in, events out. `Engine` composes the pipeline's stages:

    request -> text front end (engine/text: runs of words, marks, breaks)
            -> segmenting      (engine/segmenting.py: pieces, G2P, model-sized segments)
            -> conditioning    (engine/conditioning.py: voice x locale x accent -> style, adapter)
            -> rendering       (engine/rendering.py: planner, plan checks, renderer or windows,
                                render cache, audio checks against the plan)
            -> guardrail ladder (engine/ladder.py: split, slower, system voice)
            -> events out      (engine/events.py: audio chunks, marks at exact samples, Finished)

Calibration of voices for chunked rendering lives next to the window renderer
(engine/streaming.py). docs/architecture.md has the glossary and the whole picture.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import numpy as np

from . import SAMPLE_RATE
from .api import AudioChunk, Event, Finished, SpeechRequest
from .cancelling import unless_cancelled
from .adapters import AdapterSet, load_adapters
from .conditioning import Conditioner, native_prosody
from .config import EngineConfig
from .errors import TextError
from .events import stream_events
from .fallback import SystemVoice
from .g2p import G2P
from .guardrails import GuardrailCounters
from .ladder import Ladder
from .locales import LOCALES, Locale, get_locale
from .model_store import ensure_model, load_vocab
from .plan import Plan
from .render_store import RenderStore, render_store_dir, render_store_model_id
from .rendering import RenderCache, SegmentRenderer
from .runtime import KokoroRuntime
from .segmenting import Segmenter, pieces_of
from .streaming import CalibrationStore, Calibrator, calibration_dir
from .text import read_ssml, read_text_lazily, spell
from .text.items import FrontEndReport
from .voices import VoiceInfo, VoiceLibrary

__all__ = ["Engine", "EngineConfig", "RenderCache"]


class _Shared:
    """An engine attribute that is a part several stages hold: reading it reads the first stage's,
    setting it sets it in every one ("stage.attribute" paths)."""

    def __init__(self, *paths: str):
        self.paths = [tuple(path.split(".")) for path in paths]

    def __get__(self, engine, owner=None):
        if engine is None:
            return self
        stage, name = self.paths[0]
        return getattr(getattr(engine, stage), name)

    def __set__(self, engine, value) -> None:
        for stage, name in self.paths:
            setattr(getattr(engine, stage), name, value)


class Engine:
    """Holds the model, the voices and G2P for every locale; speaks `SpeechRequest`s."""

    sample_rate = SAMPLE_RATE

    def __init__(self, config: EngineConfig | None = None, runtime: KokoroRuntime | None = None,
                 conditioner: Conditioner | None = None, adapters: AdapterSet | None = None):
        self.config = config = config or EngineConfig()
        self.vocab = load_vocab()
        self.voice_library = VoiceLibrary()
        # Every locale adapter loads once, here (engine/adapters/*.npz: every locale but de-DE ships one).
        if adapters is None:
            adapters = load_adapters() if runtime is None else getattr(runtime, "adapters", None) or AdapterSet()
        runtime = runtime or KokoroRuntime(ensure_model(config.model), config.runtime, adapters)
        self.conditioner = conditioner or Conditioner(accent=self.voice_library.accented, adapters=adapters,
                                                      native_prosody=native_prosody(self.voice_library))
        """The conditioning seam: give it an accent function or adapters here (docs/architecture.md)."""
        self.segmenter = Segmenter(self.vocab, {loc.tag: G2P(loc, self.vocab) for loc in LOCALES},
                                   config.max_segment_tokens, config.first_segment_words)
        store = CalibrationStore(calibration_dir(config.streaming, config.model))
        disk = (RenderStore(render_store_dir(config.disk_cache_dir, config.model), config.disk_cache_megabytes * 2**20,
                            render_store_model_id(adapters))
                if config.disk_cache_megabytes else None)
        self.renderer = SegmentRenderer(config, runtime, self.vocab, self.conditioner,
                                        RenderCache(config.cache_megabytes * 2**20, disk), store)
        self.ladder = Ladder(config, self.renderer, SystemVoice())
        self.calibrator = Calibrator(store, runtime, self.vocab, self.conditioner, config.max_segment_tokens)

    # The stages' shared parts, as attributes of the engine (benchmarks and tests swap them).
    runtime = _Shared("renderer.runtime", "calibrator.runtime")
    cache = _Shared("renderer.cache")
    calibration = _Shared("calibrator.store", "renderer.calibration")

    @property
    def counters(self) -> GuardrailCounters:
        return self.ladder.counters

    # --- what the engine offers -------------------------------------------------------------
    def locales(self) -> list[Locale]:
        return list(LOCALES)

    def voices(self, locale: str | None = None) -> list[VoiceInfo]:
        """The voices now: user voices created or removed since the engine started included."""
        self.voice_library.refresh()
        return self.voice_library.list(get_locale(locale).tag if locale else None)

    def statistics(self) -> dict:
        """Guardrail counters and render-cache use since start, for `status` and logs."""
        with self.renderer.lock:
            streaming = {"windows": self.renderer.windows, "learned_segments": self.renderer.learned_segments,
                         "pad_cuts": self.renderer.pad_cuts,
                         "window_ms_per_frame": round(self.renderer.pace.ms_per_frame(), 2),
                         "learned_bytes": self.renderer.learned.nbytes(),
                         "uncalibrated": {f"{v}@{r}": n for (v, r), n in self.renderer.uncalibrated.items()}}
        with self.ladder.lock:
            guardrails = self.counters.snapshot()
        return {"guardrails": guardrails,
                "cache": {"hits": self.cache.hits, "misses": self.cache.misses,
                          "disk": ({"hits": self.cache.store.hits, "misses": self.cache.store.misses,
                                    "bytes": self.cache.store.bytes} if self.cache.store else None)},
                "streaming": streaming,
                "adapters": sorted(self.conditioner.adapters),
                "providers": list(self.runtime.providers)}

    def wanted_calibrations(self) -> list[tuple[str, int]]:
        """(voice, grid row) pairs that long segments lacked since the last call (then forgotten):
        what an idle moment should calibrate first."""
        return self.renderer.take_wanted()

    def preload_streaming(self, cancel: threading.Event) -> bool:
        """Load the chunked-rendering sessions (0.3 s once their graphs are cut) when they will be
        used, streaming on and a calibration on disk or statistics to learn from speech, so the
        first long segment does not pay for them; waits only until `cancel` (the load then
        finishes on its own thread). Returns whether they are loaded."""
        streaming = self.config.streaming
        learns = streaming.learn and bool(getattr(self.runtime, "statistics_names", ()))
        if not streaming.enabled or not (learns or self.calibration.any()):
            return False
        return unless_cancelled(self.runtime.window_renderer, cancel) is not None

    def calibration_rows(self, voice: str) -> tuple[int, ...]:
        """The grid rows a segment of this engine can use with this voice that are not calibrated yet."""
        return self.calibrator.rows(self.voice_library.get(voice))

    def calibrate(self, voice: str, rows: tuple[int, ...] | None = None, cancel: threading.Event | None = None) -> int:
        """Calibrate a voice's grid rows for chunked rendering; returns how many were calibrated
        now (`Calibrator.calibrate`, engine/streaming.py: rows=None is every usable row; a cancel
        stops it at once and keeps what is done)."""
        return self.calibrator.calibrate(self.voice_library.get(voice), rows, cancel)

    # --- speaking ---------------------------------------------------------------------------
    def synthesize(self, request: SpeechRequest) -> tuple[np.ndarray, Plan]:
        """The whole utterance at once: (int16 samples, plan)."""
        parts, plan = [], None
        for event in self.stream(request):
            if isinstance(event, AudioChunk):
                parts.append(np.frombuffer(event.pcm, dtype="<i2"))
            elif isinstance(event, Finished):
                plan = event.plan
        audio = np.concatenate(parts) if parts else np.zeros(0, dtype=np.int16)
        return audio, plan

    def plan(self, request: SpeechRequest) -> Plan:
        """The plan the audio of an utterance followed (the guardrails may have split segments
        or handed one to the system voice, so it is taken from a render); the audio is discarded."""
        return self.synthesize(request)[1]

    def stream(self, request: SpeechRequest, cancel: threading.Event | None = None) -> Iterator[Event]:
        """Validate the request (raising before anything is yielded), then yield events lazily."""
        if len(request.text) > self.config.max_text_chars:
            raise TextError(f"text is {len(request.text)} characters; the limit is {self.config.max_text_chars}")
        locale = get_locale(request.locale)
        self.voice_library.refresh()  # a voice created a moment ago speaks; a removed one is unknown
        voice = self.voice_library.get(request.voice or locale.default_voice)
        plan = Plan(locale=locale.tag, voice=voice.info.id, rate=request.rate or 1.0, sample_rate=self.sample_rate)
        report = FrontEndReport(notes=plan.report.notes)  # the front end's notes go to the plan's report
        if request.spell:
            runs = spell(request.text, locale.tag, report)
        elif request.ssml:
            runs = read_ssml(request.text, locale.tag, report)
        else:  # a long text is read as it is spoken: its first sentence does not wait for the rest
            runs = read_text_lazily(request.text, locale.tag, report)
        pieces = pieces_of(runs, locale, voice, request, self.config.max_piece_words)
        return stream_events(pieces, plan, cancel or threading.Event(), self.segmenter, self.ladder,
                             self.config.chunk_seconds, self.sample_rate)
