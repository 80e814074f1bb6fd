"""The engine: text -> plan -> audio, segment by segment, with guardrails.

    request -> text front end (runs of words, marks, breaks)
            -> segments (sentences; clauses when long; a short first segment for fast first audio)
            -> G2P (phonemes per word)  -> model (durations + audio)  -> guardrails
            -> audio chunks and index marks at exact sample offsets, and the finished Plan

A segment that fails its checks is split, then rendered slower, then spoken by the system voice;
every step is recorded in the plan's guardrail report. Nothing is truncated or dropped silently.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, field, replace

import numpy as np

from . import SAMPLE_RATE
from .api import PITCH_RANGE, RATE_RANGE, AudioChunk, Cancellation, Event, Finished, MarkReached, SpeechRequest
from .audio import resample, to_pcm16
from .errors import ConfigError, ModelError, RenderError, TextError
from .fallback import SystemVoice
from .g2p import G2P, may_end_segment
from .guardrails import Failure, GuardrailConfig, GuardrailCounters, check_audio, check_plan
from .locales import LOCALES, Locale, get_locale
from .model_store import FRAME_SAMPLES, MAX_TOKEN_IDS, ModelStoreConfig, ensure_model, load_vocab
from .plan import GuardrailEvent, Plan, PlannedBreak, PlannedMark, PlannedWord, Segment
from .runtime import KokoroRuntime, Render, RuntimeConfig
from .streaming import CALIBRATION_PHONEMES, GRID_ROWS, CalibrationStore, StreamingConfig, calibration_dir, grid_row, word_windows
from .text import read_ssml, read_text, spell
from .text.items import Break, FrontEndReport, Mark, Run, Word
from .voices import Voice, VoiceInfo, VoiceLibrary

FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE


@dataclass(frozen=True)
class EngineConfig:
    model: ModelStoreConfig = field(default_factory=ModelStoreConfig)
    """Where the model is assembled and cached."""
    runtime: RuntimeConfig = field(default_factory=RuntimeConfig)
    """onnxruntime threads and provider choice."""
    guardrails: GuardrailConfig = field(default_factory=GuardrailConfig)
    """Thresholds of the plan and audio checks."""
    max_segment_tokens: int = 300
    """A segment (one model call) holds at most this many phoneme ids (the model's hard limit is 510)."""
    first_segment_words: int = 8
    """The first segment of an utterance is cut at its first clause end, or after this many words."""
    lead_frames: int = 1
    """Frames of the model's leading silence kept before a segment's first word (25 ms each)."""
    chunk_seconds: float = 0.25
    """Audio is handed out in chunks of at most this length; cancel is checked between chunks."""
    fallback: bool = True
    """Let the system voice speak a segment that fails every regeneration."""
    max_piece_words: int = 120
    """A sentence longer than this is cut (at a clause end when one is near) before G2P, so one
    huge sentence never holds the synthesis thread for seconds."""
    max_text_chars: int = 1_000_000
    """Longer input is refused with TextError (the daemon has its own, smaller cap)."""
    cache_max_tokens: int = 48
    """Renders of at most this many phoneme ids (characters, words, short phrases) are cached."""
    cache_megabytes: int = 64
    """Memory bound of the render cache (0 turns it off)."""
    streaming: StreamingConfig = field(default_factory=StreamingConfig)
    """Chunked rendering of long segments (window sizes; on only for calibrated voices)."""

    def __post_init__(self):
        if not isinstance(self.max_segment_tokens, int) or not 16 <= self.max_segment_tokens <= MAX_TOKEN_IDS:
            raise ValueError(f"max_segment_tokens must be an integer in 16..{MAX_TOKEN_IDS}, got {self.max_segment_tokens!r}")
        if not isinstance(self.first_segment_words, int) or self.first_segment_words < 1:
            raise ValueError(f"first_segment_words must be a positive integer, got {self.first_segment_words!r}")
        if not isinstance(self.lead_frames, int) or self.lead_frames < 0:
            raise ValueError(f"lead_frames must be a non-negative integer, got {self.lead_frames!r}")
        if not isinstance(self.cache_megabytes, int) or self.cache_megabytes < 0:
            raise ValueError(f"cache_megabytes must be a non-negative integer, got {self.cache_megabytes!r}")
        if self.runtime.graphs != "split":
            raise ValueError(f"the engine plans before it renders and needs graphs='split', got {self.runtime.graphs!r}")
        if not 0.01 <= self.chunk_seconds <= 5:
            raise ValueError(f"chunk_seconds must be in 0.01..5, got {self.chunk_seconds!r}")


@dataclass
class _Spec:
    """A segment to be: words with one locale, voice and prosody; marks placed before word indexes."""

    locale: Locale
    voice: Voice
    rate: float
    pitch: float
    volume: float
    words: list[Word] = field(default_factory=list)
    marks: list[tuple[int, str]] = field(default_factory=list)
    """(i, name): the mark is reached just before words[i] (i == len(words): after the last word)."""
    phonemes: list[str] = field(default_factory=list)
    fallback_only: bool = False

    def split(self, at: int) -> tuple["_Spec", "_Spec"]:
        left = replace(self, words=self.words[:at], phonemes=self.phonemes[:at],
                       marks=[(i, n) for i, n in self.marks if i < at or (i == at and at == len(self.words))])
        right = replace(self, words=self.words[at:], phonemes=self.phonemes[at:],
                        marks=[(i - at, n) for i, n in self.marks if i >= at and not (i == at and at == len(self.words))])
        return left, right


class _Cancelled(Exception):
    """A model call was interrupted because its utterance was cancelled."""


@contextlib.contextmanager
def _interrupting(cancel: threading.Event, options):
    """While the block runs, a Cancellation being set terminates the onnxruntime call in flight."""
    if isinstance(cancel, Cancellation):
        with cancel.hooked(lambda: setattr(options, "terminate", True)):
            yield
    else:
        yield


def _unless_cancelled(load, cancel: threading.Event):
    """load() on a thread of its own, waited for until it returns (its result) or `cancel` is set
    (None; the load finishes unobserved). Loading a session cannot be interrupted, and idle work
    must not make real speech wait for one."""
    result: list = []
    failure: list[BaseException] = []

    def run():
        try:
            result.append(load())
        except BaseException as exc:  # handed to the waiting thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="echoic-load", daemon=True)
    thread.start()
    while thread.is_alive():
        if cancel.wait(0.02):
            return None
        thread.join(0.0)
    if failure:
        raise failure[0]
    return result[0]


@dataclass
class _Timing:
    """Seconds spent synthesising, for one stream (streams may run side by side)."""

    synth_seconds: float = 0.0


@dataclass
class _Rendered:
    segment: Segment
    audio: np.ndarray
    """float32 at the output rate, volume applied."""
    marks: list[tuple[str, int]]
    """(name, sample offset within the segment)."""


def _clamp(value: float, bounds: tuple[float, float]) -> float:
    return min(max(value, bounds[0]), bounds[1])


def _tokens(spec: _Spec, vocab: dict[str, int]) -> tuple[list[int], list[tuple[int, int]], str]:
    """Token ids (pads excluded) and each word's phoneme-token span (pad-inclusive indexes)."""
    chars: list[str] = []
    spans = []
    spoken = [i for i, p in enumerate(spec.phonemes) if p]
    for i, (word, phonemes) in enumerate(zip(spec.words, spec.phonemes)):
        start = len(chars) + 1
        chars.extend(phonemes)
        spans.append((start, len(chars) + 1))
        if phonemes:
            chars.extend(c for c in word.punct if c in vocab)
            if i != spoken[-1]:
                chars.append(" ")
    return [vocab[c] for c in chars], spans, "".join(chars)


def _ends_well(spec: _Spec, i: int) -> bool:
    """Whether a segment may end after words[i]: at a clause end or after a stressed word, never
    on a clitic, which the model would leave unvoiced (g2p.may_end_segment)."""
    return spec.words[i].ends_clause or may_end_segment(spec.phonemes[i])


def _best_split(spec: _Spec) -> int:
    """Where to cut a spec in two: the clause end nearest the middle, else the stressed word
    nearest the middle, else the middle word."""
    n = len(spec.words)
    clause_ends = [i + 1 for i, w in enumerate(spec.words[:-1]) if w.ends_clause]
    if clause_ends:
        return min(clause_ends, key=lambda i: abs(i - n / 2))
    stressed = [i + 1 for i in range(n - 1) if _ends_well(spec, i)]
    if stressed:
        return min(stressed, key=lambda i: abs(i - n / 2))
    return max(1, n // 2)


class RenderCache:
    """Least-recently-used renders of short inputs, bounded in bytes: a screen reader says the
    same letters and words again and again (key echo, navigation), and the model is
    deterministic, so the second time costs a dictionary look-up instead of a model call."""

    def __init__(self, max_bytes: int):
        self.max_bytes = max_bytes
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[tuple, Render] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Render | None:
        with self._lock:
            render = self._items.get(key)
            if render is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return render

    def put(self, key: tuple, render: Render) -> None:
        size = render.audio.nbytes + render.durations.nbytes
        if size > self.max_bytes:
            return
        with self._lock:
            if key in self._items:
                return
            self._items[key] = render
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, old = self._items.popitem(last=False)
                self._bytes -= old.audio.nbytes + old.durations.nbytes


class Engine:
    """Holds the model, the voices and G2P for every locale; speaks `SpeechRequest`s."""

    sample_rate = SAMPLE_RATE

    def __init__(self, config: EngineConfig | None = None, runtime: KokoroRuntime | None = None):
        self.config = config or EngineConfig()
        self.vocab = load_vocab()
        self.voice_library = VoiceLibrary()
        self.runtime = runtime or KokoroRuntime(ensure_model(self.config.model), self.config.runtime)
        self.counters = GuardrailCounters()
        self.cache = RenderCache(self.config.cache_megabytes * 2**20)
        self.system_voice = SystemVoice()
        self._g2p = {loc.tag: G2P(loc, self.vocab) for loc in LOCALES}
        self._counter_lock = threading.Lock()
        self.calibration = CalibrationStore(calibration_dir(self.config.streaming, self.config.model))
        self.uncalibrated: Counter[tuple[str, int]] = Counter()
        """(voice, grid row) of segments that rendered whole for want of a calibration."""
        self.windows = 0
        """Windows rendered by chunked rendering since start."""
        self._wanted: dict[tuple[str, int], None] = {}
        self._calibration_parts: dict[str, list] = {}
        """Calibration sentences done for rows a cancel cut short, by calibration key."""

    # --- what the engine offers -------------------------------------------------------------
    def locales(self) -> list[Locale]:
        return list(LOCALES)

    def voices(self, locale: str | None = None) -> list[VoiceInfo]:
        return self.voice_library.list(get_locale(locale).tag if locale else None)

    def statistics(self) -> dict:
        """Guardrail counters and render-cache use since start, for `status` and logs."""
        with self._counter_lock:
            streaming = {"windows": self.windows,
                         "uncalibrated": {f"{v}@{r}": n for (v, r), n in self.uncalibrated.items()}}
        return {"guardrails": self.counters.snapshot(),
                "cache": {"hits": self.cache.hits, "misses": self.cache.misses},
                "streaming": streaming,
                "providers": list(self.runtime.providers)}

    def wanted_calibrations(self) -> list[tuple[str, int]]:
        """(voice, grid row) pairs that long segments lacked since the last call (then forgotten):
        what an idle moment should calibrate first."""
        with self._counter_lock:
            wanted, self._wanted = list(self._wanted), {}
        return wanted

    def preload_streaming(self, cancel: threading.Event) -> bool:
        """Load the chunked-rendering sessions (0.3 s once their graphs are cut) when they will be
        used, streaming on and a calibration on disk, so the first long segment does not pay for
        them; waits only until `cancel` (the load then finishes on its own thread). Returns
        whether they are loaded."""
        if not self.config.streaming.enabled or not self.calibration.any():
            return False
        return _unless_cancelled(self.runtime.window_renderer, cancel) is not None

    def calibration_rows(self, voice: str) -> tuple[int, ...]:
        """The grid rows a segment of this engine can use with this voice that are not calibrated yet."""
        pack = self.voice_library.get(voice).pack
        usable = sorted({grid_row(n) for n in range(1, self.config.max_segment_tokens + 1)})
        return tuple(row for row in usable if row < len(pack) and self.calibration.get(pack, row) is None)

    def calibrate(self, voice: str, rows: tuple[int, ...] | None = None, cancel: threading.Event | None = None) -> int:
        """Calibrate a voice's grid rows for chunked rendering (about 11 s a row on two CPU cores),
        skipping rows done before and rows past the end of a short user voice pack; returns how
        many were calibrated now. `rows=None`: every grid row a segment of this engine can use.

        A cancel stops it at once, raising nothing: a render in flight is terminated and the
        sessions it loads are waited for on another thread, so real speech never waits on them.
        Rows finished before the cancel are kept, and so are the finished sentences of a row cut
        short (six to a row, about 1.8 s each), so idle gaps shorter than a row still add up."""
        pack = self.voice_library.get(voice).pack
        if rows is None:
            rows = self.calibration_rows(voice)
        off_grid = [row for row in rows if row not in GRID_ROWS]
        if off_grid:
            raise ConfigError(f"rows {off_grid} are not calibration grid rows {GRID_ROWS}")
        cancel = cancel or threading.Event()
        todo = [row for row in rows if row < len(pack) and self.calibration.get(pack, row) is None]
        if not todo:
            return 0
        renderer = _unless_cancelled(self.runtime.window_renderer, cancel)
        session = renderer and _unless_cancelled(renderer.statistics_session, cancel)
        done = 0
        for row in todo:
            key = self.calibration.key(pack, row)
            parts = self._calibration_parts.setdefault(key, [])
            while session is not None and not cancel.is_set() and len(parts) < len(CALIBRATION_PHONEMES):
                options = self.runtime.run_options()
                try:
                    with _interrupting(cancel, options):
                        parts.append(renderer.sentence_statistics(self.runtime, session, pack, row, len(parts),
                                                                  self.vocab, options))
                except Exception as exc:  # onnxruntime's errors are untyped
                    if cancel.is_set():
                        break
                    raise ModelError(f"calibrating row {row} of voice {voice} failed: {type(exc).__name__}: {exc}") from exc
            if len(parts) < len(CALIBRATION_PHONEMES):
                break  # cancelled: the sentences done so far wait for the next call
            self.calibration.put(pack, row, renderer.pool(parts))
            del self._calibration_parts[key]
            done += 1
        return done

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
        voice = self.voice_library.get(request.voice or locale.default_voice)
        report = FrontEndReport()
        if request.spell:
            runs = spell(request.text, locale.tag, report)
        elif request.ssml:
            runs = read_ssml(request.text, locale.tag, report)
        else:
            runs = read_text(request.text, locale.tag, report)
        pieces = self._pieces(runs, locale, voice, request)
        plan = Plan(locale=locale.tag, voice=voice.info.id, rate=request.rate or 1.0, sample_rate=self.sample_rate)
        plan.report.notes.extend(report.notes)
        return self._run(pieces, plan, cancel or threading.Event())

    # --- from runs to segment specs ---------------------------------------------------------
    def _pieces(self, runs: list[Run], locale: Locale, voice: Voice, request: SpeechRequest) -> list:
        pieces: list = []
        current: _Spec | None = None

        def close():
            nonlocal current
            if current is not None:
                if current.words:
                    pieces.append(current)
                else:
                    pieces.extend(Mark(name) for _, name in current.marks)
            current = None

        for run in runs:
            close()
            run_locale = get_locale(run.locale) if run.locale else locale
            rate = _clamp((request.rate or 1.0) * run.rate, RATE_RANGE)
            pitch = _clamp((request.pitch or 1.0) * run.pitch, PITCH_RANGE)
            volume = _clamp((1.0 if request.volume is None else request.volume) * run.volume, (0.0, 1.0))
            for item in run.items:
                if isinstance(item, Word):
                    if current is None:
                        current = _Spec(run_locale, voice, rate, pitch, volume)
                    current.words.append(item)
                    n = len(current.words)
                    if item.ends_sentence or n >= self.config.max_piece_words or (
                            item.ends_clause and n >= self.config.max_piece_words // 2):
                        close()
                elif isinstance(item, Mark):
                    if current is None:
                        pieces.append(item)
                    else:
                        current.marks.append((len(current.words), item.name))
                elif isinstance(item, Break):
                    close()
                    pieces.append(item)
        close()
        return pieces

    def _prepare(self, spec: _Spec, first: bool, plan: Plan) -> list[_Spec]:
        """Phonemize a spec and cut it to fit: the model's window, a short first segment, and
        words the model cannot voice (each goes to the system voice alone)."""
        spec.phonemes = self._g2p[spec.locale.tag].words([w.spoken for w in spec.words])
        for word, phonemes in zip(spec.words, spec.phonemes):
            if not phonemes and not word.spoken.strip():
                plan.report.notes.append(f"nothing speakable in {word.text!r}: kept in the plan with no audio")
        out: list[_Spec] = []
        rest = spec
        while True:
            bad = next((i for i, (w, p) in enumerate(zip(rest.words, rest.phonemes)) if not p and w.spoken.strip()), None)
            if bad is None:
                break
            before, tail = rest.split(bad)
            alone, rest = tail.split(1)
            alone.fallback_only = True
            self._record(plan, [Failure("no_phonemes", f"{alone.words[0].spoken!r} yields no model phonemes")],
                         "fallback")
            if before.words:
                out += self._prepare_fitted(before, first and not out)
            out.append(alone)
        if rest.words:
            out += self._prepare_fitted(rest, first and not out)
        return out

    def _prepare_fitted(self, spec: _Spec, first: bool) -> list[_Spec]:
        if first and len(spec.words) > self.config.first_segment_words:
            limit = self.config.first_segment_words
            clause = next((i + 1 for i, w in enumerate(spec.words[:limit]) if w.ends_clause), None)
            if clause is None:  # the last stressed word within the limit, never a clitic
                clause = next((i + 1 for i in range(limit - 1, -1, -1) if _ends_well(spec, i)), limit)
            head, tail = spec.split(clause)
            return [head] + self._prepare_fitted(tail, False)
        ids, _, _ = _tokens(spec, self.vocab)
        if len(ids) <= self.config.max_segment_tokens:
            return [spec]
        if len(spec.words) == 1:
            return self._split_long_word(spec)
        head, tail = spec.split(_best_split(spec))
        return self._prepare_fitted(head, False) + self._prepare_fitted(tail, False)

    def _split_long_word(self, spec: _Spec) -> list[_Spec]:
        """One word longer than a segment (an 80-digit number): cut its phonemes, at spaces where
        it has them, anywhere where it does not; every piece keeps the word's text."""
        limit = self.config.max_segment_tokens
        parts = [run[i : i + limit] for run in spec.phonemes[0].split(" ") for i in range(0, len(run), limit)]
        pieces, current = [], ""
        for part in parts:
            if current and len(current) + 1 + len(part) > limit:
                pieces.append(current)
                current = part
            else:
                current = f"{current} {part}" if current else part
        pieces.append(current)
        word, last = spec.words[0], len(pieces) - 1
        return [
            replace(spec, words=[replace(word, punct=word.punct if k == last else "")], phonemes=[phonemes],
                    marks=[(i, n) for i, n in spec.marks if (i == 0 and k == 0) or (i == 1 and k == last)])
            for k, phonemes in enumerate(pieces)
        ]

    # --- rendering one spec, with guardrails ---------------------------------------------
    def _kokoro(self, spec: _Spec, slower: float, timing: _Timing,
                cancel: threading.Event) -> Iterator[_Rendered | list[Failure]]:
        """Plan, check the plan, render, check the audio against the plan.

        Yields the segment's audio as one `_Rendered`, or, for a long segment whose voice is
        calibrated, one per window of words as each is rendered (`engine/streaming.py`). A
        failed check ends the stream with the list of failures; the words before it stand."""
        ids, word_tokens, phoneme_text = _tokens(spec, self.vocab)
        speed = spec.rate / spec.pitch * slower
        style = spec.voice.style(len(ids))
        voiced = [(a, b) for a, b in word_tokens if b > a]
        key = (tuple(ids), spec.voice.info.id, round(speed, 4)) if len(ids) <= self.config.cache_max_tokens else None
        render = self.cache.get(key) if key else None
        cached = render is not None
        options = self.runtime.run_options()
        planned = None
        if not cached:
            with self._timed(timing, cancel, options) as failed:
                planned = self.runtime.plan(ids, style, speed, options)
                # The plan is checked before any audio exists: a runaway plan costs no render.
                failed.extend(check_plan(planned.durations, voiced, speed, FRAME_SECONDS, self.config.guardrails))
            if failed:
                yield failed
                return
        durations = (render or planned).durations.copy()
        cut = max(0, int(durations[0]) - self.config.lead_frames)
        durations[0] -= cut
        frames = np.concatenate(([0], np.cumsum(durations)))
        # Word boundaries tile the segment: each word runs from its first token to the next word's.
        starts = [int(frames[a]) if b > a else None for a, b in word_tokens]
        bounds, nxt = [], int(frames[-1])
        for s in reversed(starts):
            nxt = s if s is not None else nxt
            bounds.append(nxt)
        bounds = bounds[::-1]
        bounds[0] = 0
        bounds.append(int(frames[-1]))
        windows = [] if cached else self._windows_for(spec, ids, planned, bounds, [b > a for a, b in word_tokens])
        if not windows:
            if not cached:
                with self._timed(timing, cancel, options) as failed:
                    render = Render(self.runtime.render_planned(planned, style, options), planned.durations)
                if failed:
                    yield failed
                    return
            (part,) = self._checked(spec, ids, phoneme_text, durations, word_tokens, bounds,
                                    render.audio[cut * FRAME_SAMPLES:], 0, len(spec.words))
            if key and not cached and not isinstance(part, list):
                self.cache.put(key, render)  # only renders that passed every check
            yield part
            return
        renderer, generator, row = self.runtime.window_renderer(), *windows[0]
        with self._timed(timing, cancel, options) as failed:
            # The timbre is the grid row's (the statistics are that timbre's); prosody stays the segment's.
            prepared = renderer.prepare(planned, spec.voice.pack[row:row + 1], generator, options)
        if failed:
            yield failed
            return
        context = self.config.streaming.context_frames
        for first, last in windows[1:]:
            if cancel.is_set():
                raise _Cancelled  # between windows: the next one would never be heard
            with self._timed(timing, cancel, options) as failed:
                audio = renderer.render(prepared, bounds[first] + cut, bounds[last] + cut, context, options)
            if failed:
                yield failed
                return
            with self._counter_lock:
                self.windows += 1
            (part,) = self._checked(spec, ids, phoneme_text, durations, word_tokens, bounds, audio, first, last)
            yield part
            if isinstance(part, list):
                return

    def _windows_for(self, spec: _Spec, ids: list[int], planned, bounds: list[int], voiced: list[bool]) -> list:
        """[(generator statistics, grid row), *word windows] when this segment streams in windows,
        else []: streaming is on, the segment is long enough for two windows or more, and its
        voice's grid row is calibrated (an uncalibrated row is remembered for the daemon)."""
        cfg = self.config.streaming
        if not cfg.enabled or planned.frames < cfg.min_frames:
            return []
        windows = word_windows(bounds, voiced, cfg.first_window_frames, cfg.max_window_frames)
        row = grid_row(len(ids))
        if len(windows) < 2 or row >= len(spec.voice.pack):  # a short user voice pack has no such row
            return []
        generator = self.calibration.get(spec.voice.pack, row)
        if generator is None:
            with self._counter_lock:
                self.uncalibrated[(spec.voice.info.id, row)] += 1
                self._wanted[(spec.voice.info.id, row)] = None
            return []
        return [(generator, row), *windows]

    @contextlib.contextmanager
    def _timed(self, timing: _Timing, cancel: threading.Event, options):
        """Time a model call; a cancel interrupts it (raising _Cancelled), any other error of it
        becomes a render_error failure in the yielded list."""
        failures: list[Failure] = []
        started = time.perf_counter()
        try:
            with _interrupting(cancel, options):
                yield failures
        except Exception as exc:  # onnxruntime's errors are untyped; any of them is a render failure
            if cancel.is_set():
                raise _Cancelled from exc
            failures.append(Failure("render_error", f"{type(exc).__name__}: {exc}"))
        finally:
            timing.synth_seconds += time.perf_counter() - started

    def _checked(self, spec: _Spec, ids: list[int], phoneme_text: str, durations: np.ndarray,
                 word_tokens: list[tuple[int, int]], bounds: list[int], audio: np.ndarray,
                 first: int, last: int) -> tuple[_Rendered | list[Failure]]:
        """Check the audio of words [first, last) (frames bounds[first]..bounds[last] of the
        segment) against the plan: (the part as one plan segment,) or (the failures,)."""
        lo, hi = bounds[first], bounds[last]
        frames = np.concatenate(([0], np.cumsum(durations)))
        spans = [(int(frames[a] - lo) * FRAME_SAMPLES, int(frames[b] - lo) * FRAME_SAMPLES)
                 for a, b in word_tokens[first:last] if b > a]
        failures = check_audio(audio, (hi - lo) * FRAME_SAMPLES, spans, self.sample_rate, self.config.guardrails)
        if failures:
            return (failures,)
        out_len = round((hi - lo) * FRAME_SAMPLES / spec.pitch)
        audio = resample(audio, out_len) * np.float32(spec.volume)
        scale = FRAME_SAMPLES / spec.pitch
        # The part's tokens: from its first word's first token (the leading pad for the first
        # part) to the next part's first token (the end pad for the last).
        token_at = [next((a for a, b in word_tokens[i:] if b > a), len(ids) + 1) for i in range(len(word_tokens))]
        t0 = 0 if first == 0 else token_at[first]
        t1 = len(ids) + 2 if last == len(spec.words) else token_at[last]
        words = [
            PlannedWord(w.text, w.spoken, p, a - t0, b - t0, round((bounds[i] - lo) * scale), round((bounds[i + 1] - lo) * scale))
            for i, (w, p, (a, b)) in enumerate(zip(spec.words, spec.phonemes, word_tokens)) if first <= i < last
        ]
        words[-1].end = out_len
        full = [0, *ids, 0]
        segment = Segment(spec.locale.tag, spec.voice.info.id, spec.rate, spec.pitch, spec.volume,
                          phoneme_text[max(t0 - 1, 0):t1 - 1], full[t0:t1], durations[t0:t1].tolist(), scale, 0, out_len,
                          words, renderer="kokoro" if (first, last) == (0, len(spec.words)) else "kokoro-window")
        marks = [(name, words[i - first].start if i < last else out_len) for i, name in spec.marks
                 if first <= i < last or (i == last == len(spec.words))]
        return (_Rendered(segment, audio, marks),)

    def _fallback(self, spec: _Spec, timing: _Timing) -> _Rendered:
        text = " ".join(f"{w.spoken}{w.punct}" for w in spec.words if w.spoken.strip())
        started = time.perf_counter()
        audio = self.system_voice.speak_to_array(text, spec.locale, spec.rate, self.sample_rate)
        timing.synth_seconds += time.perf_counter() - started
        audio = audio * np.float32(spec.volume)
        weights = np.array([len(w.spoken.strip()) + 1 if w.spoken.strip() else 0 for w in spec.words], dtype=float)
        edges = np.round(np.concatenate(([0], np.cumsum(weights))) / max(weights.sum(), 1) * len(audio)).astype(int)
        words = [PlannedWord(w.text, w.spoken, "", 0, 0, int(edges[i]), int(edges[i + 1])) for i, w in enumerate(spec.words)]
        segment = Segment(spec.locale.tag, spec.voice.info.id, spec.rate, spec.pitch, spec.volume, "", [], [], 0.0,
                          0, len(audio), words, renderer="fallback")
        marks = [(name, words[i].start if i < len(words) else len(audio)) for i, name in spec.marks]
        return _Rendered(segment, audio, marks)

    def _speak(self, spec: _Spec, plan: Plan, timing: _Timing, cancel: threading.Event, stage: int = 0) -> Iterator[_Rendered]:
        """Render a spec; on failure split it (stage 1), then slow it (stage 2), then halve it
        again and again at stage 2, and fall back only for a single word that still fails.
        When a streamed segment fails part way, the ladder takes the words not yet spoken."""
        if spec.fallback_only:
            yield self._fallback_or_fail(spec, plan, [], timing)
            return
        spoken = 0
        for part in self._kokoro(spec, 0.8 if stage == 2 else 1.0, timing, cancel):
            if isinstance(part, list):
                failures = part
                break
            spoken += len(part.segment.words)
            yield part
        else:
            return
        if spoken:
            spec = spec.split(spoken)[1]
        retries = self.config.guardrails.retries
        if stage == 0 and retries >= 1 and len(spec.words) >= 2:
            self._record(plan, failures, "split")
            left, right = spec.split(_best_split(spec))
            yield from self._speak(left, plan, timing, cancel, 1)
            yield from self._speak(right, plan, timing, cancel, 1)
        elif stage < 2 and retries >= 2:
            self._record(plan, failures, "regenerated_slower")
            yield from self._speak(spec, plan, timing, cancel, 2)
        elif stage == 2 and len(spec.words) >= 2:
            # Before the system voice speaks, narrow the failure down: halves that render well
            # keep the chosen voice, and only words that fail on their own are handed over.
            self._record(plan, failures, "split")
            left, right = spec.split(_best_split(spec))
            yield from self._speak(left, plan, timing, cancel, 2)
            yield from self._speak(right, plan, timing, cancel, 2)
        else:
            yield self._fallback_or_fail(spec, plan, failures, timing)

    def _fallback_or_fail(self, spec: _Spec, plan: Plan, failures: list[Failure], timing: _Timing) -> _Rendered:
        if not self.config.fallback:
            raise RenderError(f"segment {' '.join(w.text for w in spec.words)[:60]!r} failed: "
                              + "; ".join(f.check for f in failures))
        self._record(plan, failures, "fallback")
        return self._fallback(spec, timing)

    def _record(self, plan: Plan, failures: list[Failure], action: str) -> None:
        """One report event per failed check; the action is counted once per decision."""
        for failure in failures:
            plan.report.events.append(GuardrailEvent(len(plan.segments), failure.check, failure.detail, action))
        with self._counter_lock:
            self.counters.failures.update(f.check for f in failures)
            self.counters.actions[action] += 1

    # --- the stream -------------------------------------------------------------------------
    def _run(self, pieces: list, plan: Plan, cancel: threading.Event) -> Iterator[Event]:
        started = time.perf_counter()
        timing = _Timing()
        first_audio: float | None = None
        position = 0
        chunk = max(1, int(self.config.chunk_seconds * self.sample_rate))
        first_spec = True

        def emit(audio: np.ndarray, marks: list[tuple[str, int]]) -> Iterator[Event]:
            """Audio from `position` on, with marks (offsets relative to it) exactly in place."""
            nonlocal position, first_audio
            pcm = to_pcm16(audio)
            cuts = sorted({0, len(pcm), *range(0, len(pcm), chunk), *(m for _, m in marks)})
            pending = sorted(marks, key=lambda m: m[1])
            for a, b in zip(cuts, cuts[1:] + [None]):
                while pending and pending[0][1] <= a:
                    name, offset = pending.pop(0)
                    plan.marks.append(PlannedMark(name, position + offset))
                    yield MarkReached(name, position + offset)
                if b is None or b <= a:
                    continue
                if cancel.is_set():
                    return
                if first_audio is None:
                    first_audio = time.perf_counter() - started
                yield AudioChunk(pcm[a:b].astype("<i2").tobytes(), position + a)
            position += len(pcm)

        for piece in pieces:
            if cancel.is_set():
                break
            if isinstance(piece, Mark):
                yield from emit(np.zeros(0, np.float32), [(piece.name, 0)])
            elif isinstance(piece, Break):
                silence = np.zeros(int(piece.ms * self.sample_rate / 1000), np.float32)
                plan.breaks.append(PlannedBreak(piece.ms, position, position + len(silence)))
                yield from emit(silence, [])
            else:
                try:
                    for spec in self._prepare(piece, first_spec, plan):
                        for rendered in self._speak(spec, plan, timing, cancel):
                            if cancel.is_set():
                                break
                            self._place(rendered.segment, position)
                            plan.segments.append(rendered.segment)
                            with self._counter_lock:
                                self.counters.segments += 1
                            yield from emit(rendered.audio, rendered.marks)
                except _Cancelled:
                    break
                first_spec = False
        plan.samples = position
        plan.report.system_voice_words = [w.text for seg in plan.segments if seg.renderer == "fallback" for w in seg.words]
        seconds = position / self.sample_rate
        yield Finished(
            plan=plan,
            time_to_first_audio=first_audio if first_audio is not None else time.perf_counter() - started,
            real_time_factor=timing.synth_seconds / seconds if seconds else 0.0,
            cancelled=cancel.is_set(),
        )

    @staticmethod
    def _place(segment: Segment, offset: int) -> None:
        segment.start += offset
        segment.end += offset
        for word in segment.words:
            word.start += offset
            word.end += offset
