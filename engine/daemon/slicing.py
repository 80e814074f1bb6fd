"""Long plain text in slices, so no single step of the synthesis thread reads a whole book.

`Engine.stream` reads its whole request's text (normalisation, words) before it yields anything:
for 200,000 characters that is seconds during which every other client waits (#15). The daemon
hands the engine plain text in slices of at most `SLICE_CHARS`, cut at sentence ends (else at a
space), one `stream` after another, and joins the events back into one utterance: audio offsets
run on, and one `Finished` carries the plan of the whole. SSML and spelled text are not sliced
(a cut could fall inside an element); the limits in `cost.py` keep them small enough instead.
The same joining carries a preempted utterance on after the words it handed out (preemption.py).
"""

from __future__ import annotations

import dataclasses
import re
import threading
from typing import Callable, Iterator

from ..api import AudioChunk, Finished, MarkReached, SpeechRequest
from ..plan import Plan
from .preemption import MAX_WORD_CHARS, PREEMPTED, Attempt, preemptible, resume_offset

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


def sliced_stream(engine, request: SpeechRequest, cancel: threading.Event,
                  on_attempt: Callable[[Attempt], None] | None = None) -> Iterator:
    """`engine.stream(request, cancel)`, with plain text longer than a slice read slice by slice.
    Like the engine's, it raises a bad request before returning (for the first slice).

    With `on_attempt`, a preemptible request (`preemption.preemptible`) runs each engine stream
    with an `Attempt` handed to `on_attempt` first; after `Attempt.preempt()` this yields
    `PREEMPTED` and, on the next `next()`, goes on where the audio handed out ends."""
    resumable = on_attempt is not None and preemptible(request)
    plain = not (request.ssml or request.spell)
    if not resumable and (not plain or len(request.text) <= SLICE_CHARS):
        return engine.stream(request, cancel)
    slices = text_slices(request.text) if plain else [request.text]
    if len(slices) == 1 and not resumable:
        return engine.stream(request, cancel)
    attempt = Attempt(cancel) if resumable else cancel
    try:
        first = engine.stream(dataclasses.replace(request, text=slices[0]), attempt)
    except BaseException:
        if resumable:
            attempt.close()
        raise
    if resumable:
        on_attempt(attempt)
    return _joined(engine, request, slices, first, cancel, attempt, on_attempt if resumable else None)


def _joined(engine, request: SpeechRequest, slices: list[str], first, cancel: threading.Event, attempt,
            on_attempt) -> Iterator:
    plans: list[Plan] = []
    base = 0
    ttfa = None
    compute = 0.0
    stream = first
    skip = skip_marks = 0
    """Samples and marks of this slice already handed out, when it is rendered again from its start."""
    k = 0
    while k < len(slices):
        if stream is None:
            attempt = Attempt(cancel) if on_attempt is not None else cancel
            stream = engine.stream(dataclasses.replace(request, text=slices[k]), attempt)
            if on_attempt is not None:
                on_attempt(attempt)
        preempted = None
        marks = 0
        try:
            for event in stream:
                if isinstance(event, AudioChunk):
                    if event.sample_offset + event.samples <= skip:
                        continue
                    if event.sample_offset < skip:
                        cut = 2 * (skip - event.sample_offset)
                        event = AudioChunk(event.pcm[cut:], skip)
                    yield AudioChunk(event.pcm, event.sample_offset + base)
                elif isinstance(event, MarkReached):
                    marks += 1
                    if marks > skip_marks:
                        yield MarkReached(event.name, event.sample_offset + base)
                elif isinstance(event, Finished):
                    if event.cancelled and not cancel.is_set() and getattr(attempt, "preempted", False):
                        preempted = event
                        break
                    plans.append(event.plan)
                    if ttfa is None and event.plan.samples:
                        ttfa = event.time_to_first_audio
                    compute += event.real_time_factor * event.plan.samples / max(event.plan.sample_rate, 1)
                    base += event.plan.samples
                    if event.cancelled:
                        yield Finished(merged_plan(plans), ttfa or 0.0, _factor(compute, plans), cancelled=True)
                        return
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                close()  # the engine's generator frees its state now, not at garbage collection
            if isinstance(attempt, Attempt):
                attempt.close()
        stream = None
        if preempted is None:
            k, skip, skip_marks = k + 1, 0, 0
            continue
        offset = _resume_at(request, slices[k], preempted.plan) if not skip else None
        if offset is None:
            # Render the slice again from its start and drop what was handed out already (the
            # model is deterministic: the same samples and marks come again).
            skip, skip_marks = max(skip, preempted.plan.samples), max(skip_marks, marks)
        else:
            plans.append(preempted.plan)
            if ttfa is None and preempted.plan.samples:
                ttfa = preempted.time_to_first_audio
            compute += preempted.real_time_factor * preempted.plan.samples / max(preempted.plan.sample_rate, 1)
            base += preempted.plan.samples
            rest = slices[k][offset:]
            if rest.strip():
                slices[k] = rest
            else:
                k += 1
        yield PREEMPTED
    yield Finished(merged_plan(plans), ttfa or 0.0, _factor(compute, plans))


def _resume_at(request: SpeechRequest, text: str, plan: Plan) -> int | None:
    """Where in `text` the words after a preempted stream's audio start, or None when that cannot
    be told: SSML and spelled text, and a long last word, which the engine may have cut into
    several segments (`preemption.MAX_WORD_CHARS`)."""
    if request.ssml or request.spell:
        return None
    words = [w.text for segment in plan.segments for w in segment.words]
    if words and len(words[-1]) > MAX_WORD_CHARS:
        return None
    return resume_offset(text, words)


def _factor(compute: float, plans: list[Plan]) -> float:
    seconds = sum(p.samples / max(p.sample_rate, 1) for p in plans)
    return compute / seconds if seconds > 0 else 0.0
