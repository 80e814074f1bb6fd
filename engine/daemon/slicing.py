"""Long plain text in slices, so no single step of the synthesis thread reads a whole book.

`Engine.stream` reads its whole request's text (normalisation, words) before it yields anything:
for 200,000 characters that is seconds during which every other client waits (#15). The daemon
hands the engine plain text in slices of at most `SLICE_CHARS`, cut at sentence ends (else at a
space), one `stream` after another, and joins the events back into one utterance: audio offsets
run on, and one `Finished` carries the plan of the whole. SSML and spelled text are not sliced
(a cut could fall inside an element); the limits in `cost.py` keep them small enough instead.
"""

from __future__ import annotations

import dataclasses
import re
import threading
from typing import Iterator

from ..api import AudioChunk, Finished, MarkReached, SpeechRequest
from ..plan import Plan

SLICE_CHARS = 2000
"""Longest slice handed to the engine at once (~25 ms of text reading on one core)."""

_SENTENCE_END = re.compile(r"[.!?;:。！？\n]['\")\]]*\s+")


def text_slices(text: str, limit: int = SLICE_CHARS) -> list[str]:
    """`text` cut into pieces of at most `limit` characters whose concatenation is `text`: at the
    last sentence end in the second half of each window, else at its last space, else hard."""
    slices, start = [], 0
    while len(text) - start > limit:
        window = text[start : start + limit]
        cut = 0
        for m in _SENTENCE_END.finditer(window, limit // 2):
            cut = m.end()
        if not cut:
            space = max(window.rfind(" "), window.rfind("\n"), window.rfind("\t"))
            cut = space + 1 if space > 0 else limit
        slices.append(text[start : start + cut])
        start += cut
    slices.append(text[start:])
    return [s for s in slices if s.strip()] or [text]


def merged_plan(plans: list[Plan]) -> Plan:
    """One plan for consecutive slices: later slices' samples, segments and events shifted on."""
    first = plans[0]
    whole = Plan(locale=first.locale, voice=first.voice, rate=first.rate, sample_rate=first.sample_rate)
    for plan in plans:
        base, segments = whole.samples, len(whole.segments)
        for segment in plan.segments:
            words = [dataclasses.replace(w, start=w.start + base, end=w.end + base) for w in segment.words]
            whole.segments.append(dataclasses.replace(segment, start=segment.start + base, end=segment.end + base,
                                                      words=words))
        whole.marks.extend(dataclasses.replace(m, sample=m.sample + base) for m in plan.marks)
        whole.breaks.extend(dataclasses.replace(b, start=b.start + base, end=b.end + base) for b in plan.breaks)
        whole.report.events.extend(dataclasses.replace(e, segment=e.segment + segments) for e in plan.report.events)
        whole.report.notes.extend(plan.report.notes)
        whole.samples = base + plan.samples
    return whole


def sliced_stream(engine, request: SpeechRequest, cancel: threading.Event) -> Iterator:
    """`engine.stream(request, cancel)`, with plain text longer than a slice read slice by slice.
    Like the engine's, it raises a bad request before returning (for the first slice)."""
    if request.ssml or request.spell or len(request.text) <= SLICE_CHARS:
        return engine.stream(request, cancel)
    slices = text_slices(request.text)
    if len(slices) == 1:
        return engine.stream(request, cancel)
    first = engine.stream(dataclasses.replace(request, text=slices[0]), cancel)
    return _joined(engine, request, slices, first, cancel)


def _joined(engine, request: SpeechRequest, slices: list[str], first, cancel: threading.Event) -> Iterator:
    plans: list[Plan] = []
    base = 0
    ttfa = None
    compute = 0.0
    stream = first
    for k in range(len(slices)):
        if k:
            stream = engine.stream(dataclasses.replace(request, text=slices[k]), cancel)
        try:
            for event in stream:
                if isinstance(event, AudioChunk):
                    yield AudioChunk(event.pcm, event.sample_offset + base)
                elif isinstance(event, MarkReached):
                    yield MarkReached(event.name, event.sample_offset + base)
                elif isinstance(event, Finished):
                    plans.append(event.plan)
                    ttfa = event.time_to_first_audio if ttfa is None else ttfa
                    compute += event.real_time_factor * event.plan.samples / max(event.plan.sample_rate, 1)
                    base += event.plan.samples
                    if event.cancelled:
                        yield Finished(merged_plan(plans), ttfa, _factor(compute, plans), cancelled=True)
                        return
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()  # the engine's generator frees its state now, not at garbage collection
    yield Finished(merged_plan(plans), ttfa or 0.0, _factor(compute, plans))


def _factor(compute: float, plans: list[Plan]) -> float:
    seconds = sum(p.samples / max(p.sample_rate, 1) for p in plans)
    return compute / seconds if seconds > 0 else 0.0
