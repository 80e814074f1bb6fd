"""`echoic bench daemon`: what the socket costs, measured against the in-process engine.

Rows: time to first audio (in-process Engine.stream vs speak -> first frame over the socket),
cancel to last byte, time to first audio and throughput with N clients speaking at once, and the
daemon's resident memory. The daemon runs in this process on port 0 with a private runtime dir.
"""

from __future__ import annotations

import asyncio
import statistics
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

from ..api import AudioChunk, SpeechRequest

SENTENCE = "The quick brown fox jumps over the lazy dog."
LONG = " ".join(["Screen readers need speech that starts at once and stops the moment a key is pressed."] * 8)


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:8.1f}"


def _in_process_ttfa(engine, text: str) -> float:
    start = time.perf_counter()
    stream = engine.stream(SpeechRequest(text))
    for event in stream:
        if isinstance(event, AudioChunk):
            elapsed = time.perf_counter() - start
            break
    for _ in stream:  # drain, so the next measurement starts idle
        pass
    return elapsed


class _Daemon:
    def __init__(self, engine, root: Path):
        from .server import Server
        from .settings import SettingsStore

        self.runtime = root / "runtime"
        self.server = Server(engine, port=0, runtime_dir=self.runtime, settings=SettingsStore(root / "settings.toml"))
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self.server.run(ready=lambda _: self._ready.set())),
                                        daemon=True)

    def __enter__(self):
        self._thread.start()
        if not self._ready.wait(60):
            raise RuntimeError("the benchmark daemon did not start")
        return self

    def __exit__(self, *exc):
        self.server.request_stop()
        self._thread.join(15)


def first_audio(client, text: str, **fields) -> float:
    """Seconds from a client core's `speak` (with `fields`) to the daemon's first audio frame of
    it, nan without audio; an `error` answer raises. The benches' one timer over the socket."""
    from . import protocol as p

    started = time.perf_counter()
    uid = client.start_speaking(text, **fields)
    first = None
    while True:
        message = client.receive(300)
        if isinstance(message, p.AudioFrame):
            first = first or time.perf_counter() - started
        elif message.get("type") in ("done", "error") and message.get("id") == uid:
            if message["type"] == "error":
                raise RuntimeError(f"the daemon refused {text!r}: {message}")
            return first if first is not None else float("nan")


def _cancel_to_last_byte(client) -> tuple[float, int]:
    from . import protocol as p

    uid = client.start_speaking(LONG)
    cancelled_at = None
    after = 0
    while True:
        message = client.receive(120)
        if isinstance(message, p.AudioFrame):
            if cancelled_at is None:
                client.cancel(uid)
                cancelled_at = time.perf_counter()
            else:
                after += len(message.pcm) // 2
        elif message.get("type") == "done" and message.get("id") == uid:
            return time.perf_counter() - cancelled_at, after


def _concurrent(runtime: Path, n: int, text: str) -> tuple[list[float], float, float]:
    """n clients speak `text` at once: (their times to first audio, audio seconds, wall seconds)."""
    from ..client import DaemonClient
    from . import protocol as p

    clients = [DaemonClient.connect(runtime, name=f"bench-{i}") for i in range(n)]
    ttfa: list[float] = [float("nan")] * n
    samples = [0] * n
    barrier = threading.Barrier(n + 1)

    def run(i: int):
        barrier.wait()
        start = time.perf_counter()
        uid = clients[i].start_speaking(text)
        while True:
            message = clients[i].receive(300)
            if isinstance(message, p.AudioFrame):
                if samples[i] == 0:
                    ttfa[i] = time.perf_counter() - start
                samples[i] += len(message.pcm) // 2
            elif message.get("type") in ("done", "error") and message.get("id") == uid:
                return

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    barrier.wait()
    start = time.perf_counter()
    for t in threads:
        t.join()
    wall = time.perf_counter() - start
    for c in clients:
        c.close()
    return ttfa, sum(samples) / 24000, wall


def run_bench(clients: list[int], repeats: int = 5, threads: int = 2, engine=None) -> Iterator[str]:
    from ..client import DaemonClient

    if engine is None:
        from ..runtime import RuntimeConfig
        from ..synth import Engine, EngineConfig

        started = time.perf_counter()
        # The same sentence is spoken again and again here: without the render cache, every run
        # pays for the model, as a new sentence would.
        engine = Engine(EngineConfig(runtime=RuntimeConfig(threads=threads), cache_megabytes=0))
        yield (f"engine loaded in {time.perf_counter() - started:.2f} s ({threads} onnxruntime threads; "
               "render cache off)")
    _in_process_ttfa(engine, SENTENCE)  # warm-up
    local = [_in_process_ttfa(engine, SENTENCE) for _ in range(repeats)]
    with tempfile.TemporaryDirectory(prefix="echoic-bench-") as root, _Daemon(engine, Path(root)) as daemon:
        with DaemonClient.connect(daemon.runtime, name="bench") as client:
            first_audio(client, SENTENCE)  # warm-up
            remote = [first_audio(client, SENTENCE) for _ in range(repeats)]
            cancels = [_cancel_to_last_byte(client) for _ in range(repeats)]
            yield ""
            yield f"{'measure':44} {'median ms':>9} {'max ms':>8}"
            yield f"{'time to first audio, in-process Engine.stream':44} {_ms(statistics.median(local))} {_ms(max(local))}"
            yield f"{'time to first audio, over the socket':44} {_ms(statistics.median(remote))} {_ms(max(remote))}"
            waits = [c[0] for c in cancels]
            yield f"{'cancel -> done (last byte)':44} {_ms(statistics.median(waits))} {_ms(max(waits))}"
            late = max(c[1] for c in cancels) / 24
            yield f"{'audio arriving after cancel (already sent)':44} {late:8.1f}   (ms of audio, max)"
            yield ""
            yield f"{'clients':>7} {'TTFA median ms':>15} {'TTFA max ms':>12} {'audio s':>8} {'wall s':>7} {'x realtime':>10}"
            for n in clients:
                ttfa, audio, wall = _concurrent(daemon.runtime, n, SENTENCE)
                yield (f"{n:7d} {statistics.median(ttfa) * 1000:15.1f} {max(ttfa) * 1000:12.1f} {audio:8.2f} "
                       f"{wall:7.2f} {audio / wall:10.2f}")
            status = client.status()
            yield ""
            yield f"daemon resident memory: {status['rss_bytes'] / 2**20:.0f} MiB (this process, engine included)"
