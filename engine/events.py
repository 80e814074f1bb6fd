"""Events out: pieces, marks and breaks become `AudioChunk`, `MarkReached` and one `Finished`.

Audio goes out in chunks of at most `chunk_seconds` (a cancel is looked at between chunks), each
mark exactly at its sample offset, and the plan grows as it goes: every segment, mark and break
placed at its offset in the utterance. Rendering is lazy: a segment is rendered when the one
before it has gone out.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import numpy as np

from .api import AudioChunk, Event, Finished, MarkReached
from .audio import to_pcm16
from .cancelling import Cancelled
from .ladder import Ladder
from .plan import Plan, PlannedBreak, PlannedMark, Segment
from .rendering import Timing
from .segmenting import Piece, Segmenter
from .text.items import Break, Mark


def place(segment: Segment, offset: int) -> None:
    """Move a segment (and its words) from its own sample 0 to `offset` in the utterance."""
    segment.start += offset
    segment.end += offset
    for word in segment.words:
        word.start += offset
        word.end += offset


class _Out:
    """The utterance's position, and the time its first audio went out."""

    def __init__(self, plan: Plan, cancel: threading.Event, chunk: int):
        self.plan, self.cancel, self.chunk = plan, cancel, chunk
        self.position = 0
        self.started = time.perf_counter()
        self.first_audio: float | None = None

    def emit(self, audio: np.ndarray, marks: list[tuple[str, int]]) -> Iterator[Event]:
        """Audio from `position` on, with marks (offsets relative to it) exactly in place."""
        pcm = to_pcm16(audio)
        cuts = sorted({0, len(pcm), *range(0, len(pcm), self.chunk), *(m for _, m in marks)})
        pending = sorted(marks, key=lambda m: m[1])
        for a, b in zip(cuts, cuts[1:] + [None]):
            while pending and pending[0][1] <= a:
                name, offset = pending.pop(0)
                self.plan.marks.append(PlannedMark(name, self.position + offset))
                yield MarkReached(name, self.position + offset)
            if b is None or b <= a:
                continue
            if self.cancel.is_set():
                return
            if self.first_audio is None:
                self.first_audio = time.perf_counter() - self.started
            yield AudioChunk(pcm[a:b].astype("<i2").tobytes(), self.position + a)
        self.position += len(pcm)


def stream_events(pieces: list[Piece | Mark | Break], plan: Plan, cancel: threading.Event,
                  segmenter: Segmenter, ladder: Ladder, chunk_seconds: float, sample_rate: int) -> Iterator[Event]:
    """Speak the pieces in order: segment each, render each segment through the guardrail
    ladder, emit; then `Finished` with the plan (also after a cancel)."""
    out = _Out(plan, cancel, max(1, int(chunk_seconds * sample_rate)))
    timing = Timing()
    first_piece = True
    for piece in pieces:
        if cancel.is_set():
            break
        if isinstance(piece, Mark):
            yield from out.emit(np.zeros(0, np.float32), [(piece.name, 0)])
        elif isinstance(piece, Break):
            silence = np.zeros(int(piece.ms * sample_rate / 1000), np.float32)
            plan.breaks.append(PlannedBreak(piece.ms, out.position, out.position + len(silence)))
            yield from out.emit(silence, [])
        else:
            try:
                for segment in segmenter.segments(piece, first_piece, plan, ladder.record):
                    for spoken in ladder.speak(segment, plan, timing, cancel):
                        if cancel.is_set():
                            break
                        place(spoken.segment, out.position)
                        plan.segments.append(spoken.segment)
                        ladder.count_segment()
                        yield from out.emit(spoken.audio, spoken.marks)
            except Cancelled:
                break
            first_piece = False
    plan.samples = out.position
    plan.report.system_voice_words = [w.text for seg in plan.segments if seg.renderer == "fallback" for w in seg.words]
    seconds = out.position / sample_rate
    yield Finished(
        plan=plan,
        time_to_first_audio=out.first_audio if out.first_audio is not None else time.perf_counter() - out.started,
        real_time_factor=timing.synth_seconds / seconds if seconds else 0.0,
        cancelled=cancel.is_set(),
    )
