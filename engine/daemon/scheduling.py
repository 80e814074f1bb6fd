"""Per-client priorities with speech-dispatcher's meaning, as one pure function.

A client's queue is a list of its live utterances in speaking order; the leading ones that have
started (synthesis or audio under way) are "speaking" and are never overtaken.
"""

from __future__ import annotations

from dataclasses import dataclass

_DISPOSABLE = ("notification", "progress")


@dataclass(frozen=True)
class Admission:
    cancel: tuple[int, ...]
    """Indexes into the queue of the utterances the new one cancels."""
    position: int | None
    """Where the new utterance goes in the queue after the cancelled ones are removed; None: dropped."""


def admit(queue: list[tuple[str, bool]], priority: str) -> Admission:
    """Decide what a new utterance of `priority` does to a queue of (priority, started) entries."""
    if priority == "notification":
        return Admission((), None if queue else 0)
    if priority == "progress":
        # Every progress message but the last of a burst may be dropped: a newer one replaces the queued ones.
        cancel = tuple(i for i, (p, started) in enumerate(queue) if p == "progress" and not started)
        return Admission(cancel, len(queue) - len(cancel))
    cancelled = set(p for p in _DISPOSABLE)
    if priority in ("message", "text"):
        cancelled.add("text")
    cancel = tuple(i for i, (p, _) in enumerate(queue) if p in cancelled)
    kept = [entry for i, entry in enumerate(queue) if i not in cancel]
    position = len(kept)
    if priority in ("important", "message"):
        ahead = ("important",) if priority == "important" else ("important", "message")
        position = 0
        for i, (p, started) in enumerate(kept):
            if started or p in ahead:
                position = i + 1
    return Admission(cancel, position)


RANK = {"important": 0, "message": 1, "text": 2, "notification": 3, "progress": 3}


def next_turn(candidates: list[tuple[bool, str]]) -> int | None:
    """Which client's utterance gets the synthesis thread's next step.

    `candidates`: per client with room ahead, in round-robin order from the client after the last
    one served, (whether its next utterance has started streaming, its priority). An utterance
    still waiting for its first audio goes before those already streaming (they have seconds of
    audio buffered; it has none), then higher priorities; ties keep the round-robin order.
    """
    best = None
    for i, (streaming, priority) in enumerate(candidates):
        rank = (streaming, RANK.get(priority, 2))
        if best is None or rank < best[0]:
            best = (rank, i)
    return None if best is None else best[1]
