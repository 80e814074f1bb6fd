"""Cancelling model work: a cancel stops the onnxruntime call in flight, and a session load (which
cannot be stopped) is waited for only until the cancel comes.

Used by the renderer (`engine/rendering.py`) and by calibration (`engine/streaming.py`).
"""

from __future__ import annotations

import contextlib
import threading

from .api import Cancellation


class Cancelled(Exception):
    """A model call was interrupted because its utterance was cancelled."""


@contextlib.contextmanager
def interrupting(cancel: threading.Event, options):
    """While the block runs, a Cancellation being set terminates the onnxruntime call in flight
    (`options` is that call's run options). A plain threading.Event is only looked at between calls."""
    if isinstance(cancel, Cancellation):
        with cancel.hooked(lambda: setattr(options, "terminate", True)):
            yield
    else:
        yield


def unless_cancelled(load, cancel: threading.Event):
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

    # Not a daemon thread: a process that exits while onnxruntime builds a session aborts
    # (SIGABRT), so the interpreter waits for the load (a second or so) before it exits.
    thread = threading.Thread(target=run, name="echoic-load", daemon=False)
    thread.start()
    while thread.is_alive():
        if cancel.wait(0.02):
            return None
        thread.join(0.0)
    if failure:
        raise failure[0]
    return result[0]
