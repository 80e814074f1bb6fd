"""`echoic bench fairness`: how long one client's heavy request delays another client's first audio.

For each case, client A sends a heavy `speak` (a long say-all, a huge word, a huge alias...) and,
a moment later, client B speaks a short sentence; the row is B's time from `speak` to its first
audio frame, against B alone on an idle daemon. A refused heavy request (`too_large`) is shown as
such: it costs the other client nothing. The daemon runs in this process on port 0.
"""

from __future__ import annotations

import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

SHORT = "Hello there."

CASES = {
    "say-all, 200,000 characters": {"text": "This is a sentence of ordinary prose, read aloud. " * 3900},
    "one word of 100,000 letters": {"text": "a" * 100_000},
    "one word of 1,000 letters": {"text": "a" * 1_000},
    "sub alias of 50,000 words": {"ssml": '<speak><sub alias="%s">x</sub></speak>' % ("word " * 50_000)[:-1]},
    "sub alias of 200 characters": {"ssml": '<speak><sub alias="%s">x</sub></speak>' % ("word " * 40)[:-1]},
    "spell 1,000 characters": {"text": "abcd " * 200, "spell": True},
}


def _first_audio(client, fields: dict, timeout: float = 300.0) -> tuple[float | None, str | None]:
    """Seconds from speak to the first audio frame (None if none came), and the error code if any."""
    from . import protocol as p

    start = time.perf_counter()
    uid = client.start_speaking(fields.pop("text", None) or fields.pop("ssml"), **fields)
    first = None
    while True:
        message = client.receive(timeout)
        if isinstance(message, p.AudioFrame):
            if first is None:
                first = time.perf_counter() - start
                client.cancel(uid)
        elif message.get("id") == uid and message.get("type") in ("done", "error"):
            return first, message.get("code")


def _heavy(client, fields: dict, started: threading.Event, result: list) -> None:
    from . import protocol as p

    fields = dict(fields)
    ssml = "ssml" in fields
    uid = client.start_speaking(fields.pop("ssml") if ssml else fields.pop("text"), ssml=ssml, **fields)
    started.set()
    while True:
        message = client.receive(600)
        if isinstance(message, dict) and message.get("id") == uid and message.get("type") in ("done", "error"):
            result.append(message.get("code") or "done")
            return
        if isinstance(message, p.AudioFrame):
            result.append("audio")


def run_fairness(repeats: int = 3, threads: int = 2, engine=None, cases: dict | None = None,
                 wait: float = 0.3, compare: bool = True) -> Iterator[str]:
    """Rows per case: B's first audio and its delay against B alone, with preemption (the daemon's
    default) and, with `compare`, without it (every step of A runs to its end), measured
    alternately in one run. B's sentences are new each time (never in the render cache), so B
    alone pays for its own render, and so does B behind A."""
    from ..client import DaemonClient
    from .bench import _Daemon

    if engine is None:
        from ..runtime import RuntimeConfig
        from ..synth import Engine, EngineConfig

        engine = Engine(EngineConfig(runtime=RuntimeConfig(threads=threads)))
    cases = CASES if cases is None else cases
    modes = (True, False) if compare else (True,)
    # No clause end before the last word, so the first segment is the whole new sentence.
    sentences = iter(f"Message number {k} is {word} here" for k in range(10_000) for word in ("right", "just", "now"))
    with tempfile.TemporaryDirectory(prefix="echoic-fair-") as root, _Daemon(engine, Path(root)) as daemon:
        synthesis = daemon.server.synthesis
        with DaemonClient.connect(daemon.runtime, name="b") as b:
            _first_audio(b, {"text": SHORT})  # warm-up: the model's first call
            idle = [_first_audio(b, {"text": next(sentences)})[0] for k in range(repeats)]
            base = statistics.median(idle)
            head = f"{'case (client A)':34} {'A got':>10} {'B first audio ms':>17} {'delay ms':>9} {'preempted':>9}"
            if compare:
                head += f" {'without preemption: B ms':>25} {'delay ms':>9}"
            yield head
            yield f"{'idle (B alone)':34} {'-':>10} {base * 1000:17.0f} {0:9.0f}"
            for name, fields in cases.items():
                delays = {mode: [] for mode in modes}
                stopped = {mode: 0 for mode in modes}
                outcome = "?"
                for k in range(repeats):
                    for mode in modes:
                        synthesis.preempt = mode
                        before = synthesis.preemptions
                        with DaemonClient.connect(daemon.runtime, name="a") as a:
                            started, result = threading.Event(), []
                            worker = threading.Thread(target=_heavy, args=(a, fields, started, result), daemon=True)
                            worker.start()
                            started.wait(30)
                            time.sleep(wait)
                            first, _ = _first_audio(b, {"text": next(sentences)})
                            a.cancel()
                            worker.join(600)
                        stopped[mode] += synthesis.preemptions - before
                        got = next((r for r in result if r != "audio"), "?")
                        outcome = "audio" if "audio" in result and got in ("done", "?") else got
                        delays[mode].append(first if first is not None else float("nan"))
                synthesis.preempt = True
                median = statistics.median(delays[True])
                row = (f"{name:34} {outcome:>10} {median * 1000:17.0f} {(median - base) * 1000:9.0f} "
                       f"{stopped[True]:9d}")
                if compare:
                    off = statistics.median(delays[False])
                    row += f" {off * 1000:25.0f} {(off - base) * 1000:9.0f}"
                yield row
            yield (f"median of {repeats}; B alone is a new sentence each time (render cache missed); "
                   f"'preempted': model calls of A stopped for B")
