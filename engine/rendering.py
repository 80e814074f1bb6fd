"""Rendering: one segment (a `Piece` that fits one model call) becomes checked audio.

    Piece -> token ids -> Conditioning (engine/conditioning.py)
          -> planner: durations and features (or the render cache's copy of the whole render)
          -> plan checks -> the model's leading silence trimmed -> each word's first frame
          -> renderer: the whole segment in one call, or window by window (engine/streaming.py)
             when the segment is long and its voice's grid row is calibrated or has statistics
             learnt from the voice's earlier whole renders (which then teach them)
          -> audio checks against the plan -> SegmentAudio (a plan Segment, its audio, its marks)

A failed check ends the render with the list of failures; the words before it stand, and the
guardrail ladder (engine/ladder.py) decides what happens to the rest.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

import numpy as np

from . import SAMPLE_RATE
from .audio import resample
from .cancelling import Cancelled, interrupting
from .conditioning import Conditioner, Conditioning
from .graphs import context_span
from .guardrails import Failure, GuardrailConfig, check_audio, check_plan
from .model_store import FRAME_SAMPLES
from .pad_cut import PadStatistics, PadStore, pad_share
from .plan import PlannedWord, Segment
from .render_store import RenderStore
from .runtime import KokoroRuntime, PlannerOutput, Render
from .segmenting import Piece, token_ids
from .streaming import CalibrationStore, LearnedStatistics, Pace, RenderPace, Statistics, grid_row, word_windows

if TYPE_CHECKING:
    from .config import EngineConfig

FRAME_SECONDS = FRAME_SAMPLES / SAMPLE_RATE


class RenderCache:
    """Least-recently-used renders of short inputs, bounded in bytes: a screen reader says the
    same letters and words again and again (key echo, navigation), and the model is
    deterministic, so the second time costs a dictionary look-up instead of a model call."""

    def __init__(self, max_bytes: int, store: RenderStore | None = None):
        self.max_bytes = max_bytes
        self.store = store
        """The same renders on disk, across restarts (engine/render_store.py), or None."""
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[tuple, Render] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()

    def get(self, key: tuple) -> Render | None:
        with self._lock:
            render = self._items.get(key)
            if render is not None:
                self._items.move_to_end(key)
                self.hits += 1
                return render
        render = self.store.get(key) if self.store is not None and self.max_bytes else None
        with self._lock:
            if render is None:
                self.misses += 1
                return None
            self.hits += 1
        self.put(key, render)
        return render

    def persist(self, key: tuple, render: Render) -> None:
        """Keep a render that passed every check on disk too (called after it was handed out)."""
        if self.store is not None and self.max_bytes:
            self.store.put(key, render)

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


@dataclass
class Timing:
    """Seconds spent synthesising, for one stream (streams may run side by side)."""

    synth_seconds: float = 0.0


@dataclass
class SegmentAudio:
    """A plan Segment with its audio and marks, ready to go out as events."""

    segment: Segment
    audio: np.ndarray
    """float32 at the output rate, volume applied."""
    marks: list[tuple[str, int]]
    """(name, sample offset within the segment)."""


@dataclass(frozen=True)
class Layout:
    """A planned segment's tokens and frames: what the audio checks and the plan Segment read."""

    ids: list[int]
    """Token ids, pads excluded."""
    word_tokens: list[tuple[int, int]]
    """Each word's token span (pad-inclusive indexes; empty for a word with no phonemes)."""
    phonemes: str
    durations: np.ndarray
    """Frames per token, pads included, after the leading silence was trimmed."""
    bounds: list[int]
    """The frame each word starts at, then the segment's end: the words tile the segment."""


def trim_lead(durations: np.ndarray, lead_frames: int) -> tuple[np.ndarray, int]:
    """(durations with the leading pad cut to `lead_frames`, frames cut)."""
    durations = durations.copy()
    cut = max(0, int(durations[0]) - lead_frames)
    durations[0] -= cut
    return durations, cut


def trim_tail(durations: np.ndarray, tail_frames: int) -> tuple[np.ndarray, int]:
    """(durations with the trailing pad cut to `tail_frames`, frames cut)."""
    durations = durations.copy()
    cut = max(0, int(durations[-1]) - tail_frames)
    durations[-1] -= cut
    return durations, cut


def word_bounds(durations: np.ndarray, word_tokens: list[tuple[int, int]]) -> list[int]:
    """Each word runs from its first token to the next word's: a word with no tokens is empty,
    the first starts at 0 (with the leading pad) and the last ends with the end pad."""
    frames = np.concatenate(([0], np.cumsum(durations)))
    starts = [int(frames[a]) if b > a else None for a, b in word_tokens]
    bounds, nxt = [], int(frames[-1])
    for s in reversed(starts):
        nxt = s if s is not None else nxt
        bounds.append(nxt)
    bounds = bounds[::-1]
    bounds[0] = 0
    bounds.append(int(frames[-1]))
    return bounds


def check_words(piece: Piece, layout: Layout, audio: np.ndarray, first: int, last: int,
                config: GuardrailConfig) -> SegmentAudio | list[Failure]:
    """Check the audio of words [first, last) (frames bounds[first]..bounds[last] of the
    segment) against the plan: that part as one plan Segment, or the failures."""
    bounds, word_tokens, ids = layout.bounds, layout.word_tokens, layout.ids
    lo, hi = bounds[first], bounds[last]
    frames = np.concatenate(([0], np.cumsum(layout.durations)))
    spans = [(int(frames[a] - lo) * FRAME_SAMPLES, int(frames[b] - lo) * FRAME_SAMPLES)
             for a, b in word_tokens[first:last] if b > a]
    # A word's part runs on to the next word's first token (`bounds`), the last word's to the end pad.
    end_pad = int(frames[len(ids) + 1])
    reaches = [(min(bounds[i + 1], end_pad) - lo) * FRAME_SAMPLES
               for i, (a, b) in enumerate(word_tokens) if first <= i < last and b > a]
    failures = check_audio(audio, (hi - lo) * FRAME_SAMPLES, spans, SAMPLE_RATE, config, reaches,
                           ends_segment=last == len(piece.words))
    if failures:
        return failures
    out_len = round((hi - lo) * FRAME_SAMPLES / piece.pitch)
    audio = resample(audio, out_len) * np.float32(piece.volume)
    scale = FRAME_SAMPLES / piece.pitch
    # The part's tokens: from its first word's first token (the leading pad for the first
    # part) to the next part's first token (the end pad for the last).
    token_at = [next((a for a, b in word_tokens[i:] if b > a), len(ids) + 1) for i in range(len(word_tokens))]
    t0 = 0 if first == 0 else token_at[first]
    t1 = len(ids) + 2 if last == len(piece.words) else token_at[last]
    words = [
        PlannedWord(w.text, w.spoken, p, a - t0, b - t0, round((bounds[i] - lo) * scale), round((bounds[i + 1] - lo) * scale))
        for i, (w, p, (a, b)) in enumerate(zip(piece.words, piece.phonemes, word_tokens)) if first <= i < last
    ]
    words[-1].end = out_len
    full = [0, *ids, 0]
    segment = Segment(piece.locale.tag, piece.voice.info.id, piece.rate, piece.pitch, piece.volume,
                      layout.phonemes[max(t0 - 1, 0):t1 - 1], full[t0:t1], layout.durations[t0:t1].tolist(), scale,
                      0, out_len, words, renderer="kokoro" if (first, last) == (0, len(piece.words)) else "kokoro-window")
    marks = [(name, words[i - first].start if i < last else out_len) for i, name in piece.marks
             if first <= i < last or (i == last == len(piece.words))]
    return SegmentAudio(segment, audio, marks)


@dataclass(frozen=True)
class _Windows:
    """How a long segment streams: the conditioning its statistics belong to (a calibrated grid
    row's, or the segment's own with statistics learnt from the voice's speech), the generator
    statistics, and its windows."""

    conditioning: Conditioning
    generator: Statistics
    windows: list[tuple[int, int]]


class SegmentRenderer:
    """Plans, checks and renders one segment at a time; counts windows and remembers which
    calibrations long segments lacked (for the daemon's idle moments)."""

    def __init__(self, config: EngineConfig, runtime: KokoroRuntime, vocab: dict[str, int],
                 conditioner: Conditioner, cache: RenderCache, calibration: CalibrationStore):
        self.config = config
        self.runtime = runtime
        self.vocab = vocab
        self.conditioner = conditioner
        self.cache = cache
        self.calibration = calibration
        self.lock = threading.Lock()
        """Guards the counts below (streams run side by side)."""
        self.windows = 0
        """Windows rendered by chunked rendering since start."""
        self.uncalibrated: Counter[tuple[str, int]] = Counter()
        """(voice, grid row) of long segments that rendered whole for want of generator statistics."""
        self.learned = LearnedStatistics(config.streaming.learn_reach, config.streaming.learn_voices)
        """Generator statistics learnt from whole renders, for voices with no calibration."""
        self.learned_segments = 0
        """Long segments streamed with learnt statistics (no calibration) since start."""
        self.pads = PadStore(config.streaming.learn_voices)
        """Each voice's pad statistics, learnt from its whole renders, for `cut_pads`."""
        self.pad_cuts = 0
        """Segments rendered without their pad on learnt pad statistics (`cut_pads`) since start."""
        self.pace = RenderPace(config.streaming.pace_ms_per_frame)
        """What a window render costs on this machine, measured on every window (`word_windows`)."""
        self._wanted: dict[tuple[str, int], None] = {}

    def take_wanted(self) -> list[tuple[str, int]]:
        """(voice, grid row) pairs wanted since the last call (then forgotten)."""
        with self.lock:
            wanted, self._wanted = list(self._wanted), {}
        return wanted

    def render(self, piece: Piece, slower: float, timing: Timing,
               cancel: threading.Event) -> Iterator[SegmentAudio | list[Failure]]:
        """Plan, check the plan, render, check the audio against the plan.

        Yields the segment's audio as one `SegmentAudio`, or, for a long segment whose voice is
        calibrated, one per window of words as each is rendered. A failed check ends the stream
        with the list of failures; the words before it stand."""
        ids, word_tokens, phonemes = token_ids(piece, self.vocab)
        speed = piece.rate / piece.pitch * slower
        conditioning = self.conditioner.condition(piece.voice, piece.locale, len(ids), piece.accent_strength)
        key = (tuple(ids), conditioning.digest, round(speed, 4)) if len(ids) <= self.config.cache_max_tokens else None
        cached = self.cache.get(key) if key else None
        options = self.runtime.run_options()
        planned = None
        if cached is None:
            voiced = [(a, b) for a, b in word_tokens if b > a]
            with self._timed(timing, cancel, options) as failed:
                planned = self.runtime.plan(ids, conditioning.style, speed, options, **conditioning.planner_options())
                # The plan is checked before any audio exists: a runaway plan costs no render.
                failed.extend(check_plan(planned.durations, voiced, speed, FRAME_SECONDS, self.config.guardrails))
            if failed:
                yield failed
                return
        durations, cut = trim_lead((cached or planned).durations, self.config.lead_frames)
        cut_pads = self.config.streaming.cut_pads
        if cut_pads:
            durations, _ = trim_tail(durations, self.config.streaming.tail_frames)
        layout = Layout(ids, word_tokens, phonemes, durations, word_bounds(durations, word_tokens))
        # The frames outside what the engine keeps (and their context) are the model's pad silence:
        # their share of the plan's frames mixes learnt statistics for this segment.
        span = context_span(planned.frames, cut, cut + int(durations.sum()), self.config.streaming.pad_context_frames) \
            if planned is not None else None
        streamed = None if cached else self._windows_for(piece, layout, planned, conditioning, span)
        if isinstance(streamed, _Windows):
            yield from self._render_windows(piece, layout, planned, cut, streamed, timing, cancel, options)
            return
        render, learnt, learnt_pad, pad_learnt = cached, None, None, None
        # A pad cut needs the pad renderer and is keyed by the pack spoken and its adapter.
        pads_from = None
        if cut_pads and render is None and getattr(self.runtime, "pad_renderer", lambda: None)():
            pads_from = self._voice_key(piece, conditioning)
        if render is None:
            with self._timed(timing, cancel, options) as failed:
                if streamed is not None:  # (voice key, row) to learn the statistics of
                    audio, learnt, learnt_pad = self.runtime.render_with_statistics(
                        planned, conditioning.style, options, pad=(span[0], planned.frames - span[1]),
                        **conditioning.renderer_options())
                    render = Render(audio, planned.durations)
                elif pads_from is not None:
                    audio, pad_learnt = self._render_without_pads(planned, conditioning, cut, cut + int(durations.sum()),
                                                                  pads_from, options)
                    render = Render(audio, planned.durations)
                else:
                    render = Render(self.runtime.render_planned(planned, conditioning.style, options,
                                                                **conditioning.renderer_options()), planned.durations)
            if failed:
                yield failed
                return
        kept = render.audio[cut * FRAME_SAMPLES:(cut + int(durations.sum())) * FRAME_SAMPLES]
        result = check_words(piece, layout, kept, 0, len(piece.words), self.config.guardrails)
        passed = not isinstance(result, list)
        if key and cached is None and passed:
            self.cache.put(key, render)  # only renders that passed every check
        if learnt is not None and passed and all(np.isfinite(v).all() for v in [*learnt.values(), *learnt_pad.values()]):
            # likewise: a failed render teaches nothing
            self.learned.add(*streamed, planned.frames, learnt, learnt_pad, pad_share(planned.frames, *span))
        if pad_learnt is not None and passed and all(np.isfinite(v).all() for v in pad_learnt.values()):
            self.pads.add(pads_from, pad_learnt)
        yield result
        if key and cached is None and passed:
            self.cache.persist(key, render)  # the disk write after the audio went out, not before

    def render_with_neighbours(self, word: Piece, before: Piece | None, after: Piece | None, timing: Timing,
                               cancel: threading.Event) -> SegmentAudio | list[Failure]:
        """The ladder's last rung before the system voice: a one-word piece that failed on its
        own, planned and rendered whole between its neighbours (the word before it and the word
        after it, when they have phonemes), at its own speed. Only the word's own frames are
        checked and kept, from its first token to the next word's first token: the cut windows
        already make, so the result is a `kokoro-window` segment of that one word."""
        lead = [] if before is None or not before.phonemes or not before.phonemes[-1] else [-1]
        trail = [] if after is None or not after.phonemes or not after.phonemes[0] else [0]
        context = replace(word,
                          words=[before.words[i] for i in lead] + word.words + [after.words[i] for i in trail],
                          phonemes=[before.phonemes[i] for i in lead] + word.phonemes + [after.phonemes[i] for i in trail],
                          marks=[])
        first = len(lead)
        ids, word_tokens, phonemes = token_ids(context, self.vocab)
        speed = word.rate / word.pitch
        conditioning = self.conditioner.condition(word.voice, word.locale, len(ids), word.accent_strength)
        options = self.runtime.run_options()
        with self._timed(timing, cancel, options) as failed:
            planned = self.runtime.plan(ids, conditioning.style, speed, options, **conditioning.planner_options())
            failed.extend(check_plan(planned.durations, [(a, b) for a, b in word_tokens if b > a], speed,
                                     FRAME_SECONDS, self.config.guardrails))
            if not failed:
                audio = self.runtime.render_planned(planned, conditioning.style, options,
                                                    **conditioning.renderer_options())
        if failed:
            return failed
        durations, cut = trim_lead(planned.durations, self.config.lead_frames)
        layout = Layout(ids, word_tokens, phonemes, durations, word_bounds(durations, word_tokens))
        lo, hi = cut + layout.bounds[first], cut + layout.bounds[first + 1]
        result = check_words(context, layout, audio[lo * FRAME_SAMPLES:hi * FRAME_SAMPLES], first, first + 1,
                             self.config.guardrails)
        if isinstance(result, list):
            return result
        end = len(result.audio)
        result.marks = [(name, 0 if i == 0 else end) for i, name in word.marks]
        return result

    def _render_without_pads(self, planned: PlannerOutput, conditioning: Conditioning, start: int, stop: int,
                             voice: str, options) -> tuple[np.ndarray, PadStatistics | None]:
        """The whole plan's length of audio with frames [start, stop) rendered without the pad
        (`engine/pad_cut.py`): with `pad_context_frames` of context either side and each norm
        mixing its own statistics with the pad statistics learnt from the voice's earlier renders,
        silence outside, so the plan's sample offsets still tile it. With nothing learnt yet for
        the voice the plan renders whole and teaches its pad statistics (returned, to be kept
        once the audio passed its checks)."""
        pads, context = self.runtime.pad_renderer(), self.config.streaming.pad_context_frames
        learnt = self.pads.get(voice)
        adapter = conditioning.adapter
        if learnt is None:
            return pads.render_learning(planned, conditioning.style, start, stop, context, options, adapter)
        audio = np.zeros(planned.frames * FRAME_SAMPLES, dtype=np.float32)
        audio[start * FRAME_SAMPLES:stop * FRAME_SAMPLES] = pads.render_cut(planned, conditioning.style, start, stop,
                                                                          context, learnt, options, adapter)
        with self.lock:
            self.pad_cuts += 1
        return audio, None

    def _render_windows(self, piece: Piece, layout: Layout, planned: PlannerOutput, cut: int, streamed: _Windows,
                        timing: Timing, cancel: threading.Event, options) -> Iterator[SegmentAudio | list[Failure]]:
        renderer = self.runtime.window_renderer()
        with self._timed(timing, cancel, options) as failed:
            # The timbre is the grid row's (the statistics are that timbre's); prosody stays the segment's.
            prepared = renderer.prepare(planned, streamed.conditioning.style, streamed.generator, options,
                                        adapter=streamed.conditioning.adapter)
        if failed:
            yield failed
            return
        context, bounds = self.config.streaming.context_frames, layout.bounds
        for first, last in streamed.windows:
            if cancel.is_set():
                raise Cancelled  # between windows: the next one would never be heard
            started = time.perf_counter()
            with self._timed(timing, cancel, options) as failed:
                audio = renderer.render(prepared, bounds[first] + cut, bounds[last] + cut, context, options)
            if failed:
                yield failed
                return
            lo, hi = context_span(prepared.frames, bounds[first] + cut, bounds[last] + cut, context)
            self.pace.observe(hi - lo, time.perf_counter() - started)
            with self.lock:
                self.windows += 1
            result = check_words(piece, layout, audio, first, last, self.config.guardrails)
            yield result
            if isinstance(result, list):
                return

    def _windows_for(self, piece: Piece, layout: Layout, planned: PlannerOutput, conditioning: Conditioning,
                     span: tuple[int, int]) -> _Windows | tuple[str, int] | None:
        """How this segment streams in windows: streaming is on, the segment is long enough for
        two windows or more, and its voice's grid row is calibrated or has statistics learnt from
        the voice's own speech (`LearnedStatistics`, within its reach; mixed at the pad share of
        this segment, whose frames outside `span` are pad). A row with no calibration is
        remembered for the daemon's idle moments either way. Otherwise the segment renders
        whole: then (voice key, row) when that render should teach the row its statistics, else None."""
        cfg = self.config.streaming
        if not cfg.enabled or planned.frames < min(cfg.min_frames, cfg.learn_min_frames):
            return None
        voiced = [b > a for a, b in layout.word_tokens]
        pace = Pace(self.pace.ms_per_frame(), cfg.context_frames) if cfg.paced else None
        windows = word_windows(layout.bounds, voiced, cfg.first_window_frames, cfg.max_window_frames, pace)
        row = grid_row(len(layout.ids))
        if row >= len(piece.voice.pack):  # a short user voice pack has no such row
            return None
        grid = self.conditioner.condition(piece.voice, piece.locale, row + 1, piece.accent_strength)
        generator = self.calibration.get(grid, row)
        if generator is not None:
            return _Windows(grid, generator, windows) if len(windows) >= 2 and planned.frames >= cfg.min_frames else None
        # Learnt under the key of the pack actually spoken (`jf_alpha@fr-FR@0.5` when accented) and
        # its adapter; calibration (of the base model only) is wanted under the pack's key, which
        # `Engine.calibrate` resolves back to the same pack.
        key = self._voice_key(piece, conditioning)
        learnable = cfg.learn and bool(getattr(self.runtime, "statistics_names", ()))
        learnable = learnable and planned.frames >= cfg.learn_min_frames
        streams = len(windows) >= 2 and planned.frames >= cfg.min_frames
        generator = self.learned.get(key, row, pad_share(planned.frames, *span), cfg.learn_pooled_frames) \
            if learnable and streams else None
        with self.lock:
            if streams and not conditioning.adapter:
                self._wanted[(key, row)] = None
            if streams and generator is not None:
                self.learned_segments += 1
            elif streams:
                self.uncalibrated[(key, row)] += 1
        if streams and generator is not None:
            # Learnt from renders in the segment's own timbre (rows near it), so the windows keep it.
            return _Windows(conditioning, generator, windows)
        return (key, row) if learnable else None

    def _voice_key(self, piece: Piece, conditioning: Conditioning) -> str:
        """What learnt statistics belong to: the pack spoken and the adapter it speaks with (an
        adapter changes the renderer's norms as a voice does)."""
        key = self.conditioner.voice_for(piece.voice, piece.locale, piece.accent_strength).key
        return key if conditioning.adapter is None else f"{key}+{conditioning.adapter}"

    @contextlib.contextmanager
    def _timed(self, timing: Timing, cancel: threading.Event, options):
        """Time a model call; a cancel interrupts it (raising Cancelled), any other error of it
        becomes a render_error failure in the yielded list."""
        failures: list[Failure] = []
        started = time.perf_counter()
        try:
            with interrupting(cancel, options):
                yield failures
        except Exception as exc:  # onnxruntime's errors are untyped; any of them is a render failure
            if cancel.is_set():
                raise Cancelled from exc
            failures.append(Failure("render_error", f"{type(exc).__name__}: {exc}"))
        finally:
            timing.synth_seconds += time.perf_counter() - started
