"""Preempting a long utterance's model call so another client's first audio does not wait for it.

The synthesis thread takes one step at a time, and a step of a say-all is one segment rendered
whole: a sentence of up to 300 phoneme tokens, seconds on a loaded CPU (#15 measured another
client's first audio 5.3 s late behind one). A model call cannot be cut in two, but it can be
stopped (onnxruntime's `terminate`) and the segment rendered again later. So:

- each engine stream of a plain-text utterance runs with its own `Attempt` (a `Cancellation`
  linked to the utterance's cancel);
- when another client's utterance arrives and is waiting for its first audio, the server calls
  `Attempt.preempt()` on the step in flight: the model call stops at once (only a model call:
  audio already rendered is never cut), the engine ends that stream with a cancelled `Finished`
  whose plan holds exactly the words already handed out;
- `slicing.sliced_stream` then yields `PREEMPTED` (the synthesis thread delivers nothing and
  picks the newcomer next) and later goes on with the text after the last word handed out
  (`resume_offset`), its audio offsets running on, so the client hears one utterance. Where the
  words cannot be placed in the text (SSML, spelled text, a word long enough to span segments),
  the slice is rendered again from its start and the samples and marks already handed out are
  dropped (the model is deterministic).

What a preemption costs: the part of one segment rendered before the stop; at a resume point, the
engine's short first segment (its first clause or first 8 words, the same cut every utterance
and every slice already has); on a render from the start, the audio before the stop once more.
An utterance is preempted at most `MAX_PREEMPTIONS` times before it hands out audio again, so a
flood of new utterances cannot starve it.
"""

from __future__ import annotations

import threading

from ..api import Cancellation, SpeechRequest

PREEMPTED = object()
"""Yielded by `slicing.sliced_stream` when a step was preempted: no event, the utterance goes on."""

MIN_CHARS = 100
"""Shorter utterances are not preempted: one of their steps costs about what the newcomer's does."""

MAX_WORD_CHARS = 24
"""A preempted stream whose last word handed out is longer is rendered again from its slice's
start instead of resumed after that word: the engine may have cut such a word into several
segments, and a resume point must fall between whole words."""

MAX_PREEMPTIONS = 3
"""Preemptions of one utterance in a row without it handing out audio in between."""

def preemptible(request: SpeechRequest) -> bool:
    """Whether an utterance's model calls may be stopped and rendered again later: every request
    long enough for it to matter."""
    return len(request.text) >= MIN_CHARS


class Attempt(Cancellation):
    """The cancel flag of one engine stream: set by the utterance's cancel, or by `preempt`."""

    def __init__(self, cancel: threading.Event):
        super().__init__()
        self.preempted = False
        self._link = cancel.hooked(self.set) if isinstance(cancel, Cancellation) else None
        if self._link is not None:
            self._link.__enter__()
        elif cancel.is_set():
            self.set()

    def preempt(self) -> bool:
        """Stop the model call in flight, if one is: True if one was. Between model calls nothing
        happens (the step is handing out audio already made, which is quick), so a preemption never
        cuts a rendered segment in two."""
        with self._hooks_lock:
            if not self._hooks or self.is_set():
                return False
            self.preempted = True
            threading.Event.set(self)
            hooks = list(self._hooks)
        for hook in hooks:
            hook()
        return True

    def close(self) -> None:
        if self._link is not None:
            self._link.__exit__(None, None, None)
            self._link = None


def resume_offset(text: str, words: list[str]) -> int | None:
    """Where the text after `words` (each as written, in order) starts in `text`, or None when a
    word cannot be found (then the utterance is not resumed mid-slice)."""
    position = 0
    for word in words:
        if not word:
            continue
        found = text.find(word, position)
        if found < 0:
            return None
        position = found + len(word)
    return position
