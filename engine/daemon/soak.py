"""`echoic bench soak --minutes N`: mixed load on one daemon, resident memory sampled throughout.

Clients, each on its own thread, for N minutes: a say-all of long text (paused, resumed and
cancelled at random moments), key-echo bursts (single spelled keys, each cutting the last),
reconnects (connect, speak, vanish mid-utterance), settings changes (the per-locale rate written
and read back). Every few seconds a row goes to a CSV: time, resident memory, the status pools.
At the end the daemon idles until it has given memory back; the summary compares that with the
idle figure before the load. A PNG of the memory over time is drawn when matplotlib is installed.
"""

from __future__ import annotations

import csv
import io
import random
import tempfile
import threading
import time
from pathlib import Path
from typing import Iterator

from ..atomic_write import write_atomically
from .memory import resident_memory_bytes

PROSE = ("Screen readers speak all day long, so the speech daemon must come back to the same memory "
         "after every long document, every burst of keys and every client that goes away. ")
KEYS = "abcdefghijklmnopqrstuvwxyz0123456789"


def _say_all(runtime: Path, stop: threading.Event, counts: dict, rng: random.Random) -> None:
    from ..client import DaemonClient
    from . import protocol as p

    with DaemonClient.connect(runtime, name="soak-say-all") as c:
        while not stop.is_set():
            uid = c.start_speaking(PROSE * rng.randint(5, 40))
            received, paused = 0, False
            limit = rng.randint(2, 40) * 6000
            while True:
                message = c.receive(300)
                if isinstance(message, p.AudioFrame):
                    received += len(message.pcm) // 2
                    if not paused and rng.random() < 0.05:
                        c.send({"type": "pause"})
                        time.sleep(rng.uniform(0.1, 1.0))
                        c.send({"type": "resume"})
                    if received >= limit or stop.is_set():
                        c.cancel(uid)
                elif message.get("id") == uid and message.get("type") in ("done", "error"):
                    counts["say_all"] += 1
                    break


def _key_echo(runtime: Path, stop: threading.Event, counts: dict, rng: random.Random) -> None:
    from ..client import DaemonClient

    with DaemonClient.connect(runtime, name="soak-keys") as c:
        while not stop.is_set():
            ids = [c.start_speaking(rng.choice(KEYS), spell=True, priority="text") for _ in range(rng.randint(3, 12))]
            c.collect(ids, timeout=300)
            counts["keys"] += len(ids)
            stop.wait(rng.uniform(0.2, 2.0))


def _reconnects(runtime: Path, stop: threading.Event, counts: dict, rng: random.Random) -> None:
    from ..client import DaemonClient

    while not stop.is_set():
        c = DaemonClient.connect(runtime, name="soak-reconnect")
        c.start_speaking(PROSE * rng.randint(1, 5))
        stop.wait(rng.uniform(0.2, 2.0))
        c.close()  # mid-utterance: the daemon must free its work
        counts["reconnects"] += 1
        stop.wait(rng.uniform(0.5, 3.0))


def _settings(runtime: Path, stop: threading.Event, counts: dict, rng: random.Random) -> None:
    from ..client import DaemonClient

    with DaemonClient.connect(runtime, name="soak-settings") as c:
        while not stop.is_set():
            c.set_settings("en-GB", {"rate": round(rng.uniform(0.8, 1.5), 2)})
            c.settings()
            counts["settings"] += 1
            stop.wait(rng.uniform(2.0, 6.0))


def _guarded(work, errors: list, *args) -> None:
    try:
        work(*args)
    except Exception as exc:  # a soak worker's failure is a finding to report, not a crash
        errors.append(f"{work.__name__}: {type(exc).__name__}: {exc}")


def _plot(rows: list[dict], path: Path) -> bool:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return False
    fig, ax = plt.subplots(figsize=(8, 3.5))
    ax.plot([r["t_s"] / 60 for r in rows], [r["rss_mib"] for r in rows], lw=1)
    ax.set_xlabel("minutes")
    ax.set_ylabel("resident memory (MiB)")
    ax.set_title("echoic daemon under mixed load")
    ax.grid(alpha=0.3)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    write_atomically(path, buf.getvalue())
    return True


def run_soak(minutes: float, out: Path, engine=None, threads: int = 2, every_s: float = 3.0,
             seed: int = 1, settle_s: float = 40.0) -> Iterator[str]:
    """Run the soak; yields progress and summary lines; writes `out`.csv and `out`.png."""
    from ..client import DaemonClient
    from .bench import _Daemon

    if engine is None:
        from ..runtime import RuntimeConfig
        from ..synth import Engine, EngineConfig

        engine = Engine(EngineConfig(runtime=RuntimeConfig(threads=threads)))
    rows: list[dict] = []
    counts = {"say_all": 0, "keys": 0, "reconnects": 0, "settings": 0}
    errors: list[str] = []
    with tempfile.TemporaryDirectory(prefix="echoic-soak-") as root, _Daemon(engine, Path(root)) as daemon:
        with DaemonClient.connect(daemon.runtime, name="soak-probe") as probe:
            # The idle figure is that of a daemon that has spoken normally (a paragraph, a key),
            # not of one fresh from loading: the model's buffers grow to a working size once.
            probe.speak(PROSE * 3)
            probe.speak("a", spell=True)
            idle_rss = _settled(probe, settle_s)
            yield f"idle after normal speech: {idle_rss / 2**20:.0f} MiB"
            stop = threading.Event()
            workers = [threading.Thread(target=_guarded, args=(w, errors, daemon.runtime, stop, counts,
                                                               random.Random(seed + k)), daemon=True)
                       for k, w in enumerate((_say_all, _key_echo, _reconnects, _settings))]
            start = time.monotonic()
            for w in workers:
                w.start()
            while time.monotonic() - start < minutes * 60:
                time.sleep(every_s)
                rows.append(_row(probe, start, "load"))
                if len(rows) % 20 == 0:
                    yield f"{rows[-1]['t_s'] / 60:6.1f} min  {rows[-1]['rss_mib']:7.1f} MiB  {counts}"
            stop.set()
            for w in workers:
                w.join(330)
            final = _settled(probe, settle_s, rows, start)
    out.parent.mkdir(parents=True, exist_ok=True)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=list(rows[0]) if rows else ["t_s"])
    writer.writeheader()
    writer.writerows(rows)
    write_atomically(out.with_suffix(".csv"), text.getvalue().encode())
    plotted = _plot(rows, out.with_suffix(".png")) if rows else False
    peak = max((r["rss_mib"] for r in rows), default=0.0)
    yield f"work done: {counts}; worker errors: {len(errors)} {errors[:3]}"
    pending = rows[-1].get("calibrations_pending") if rows else None
    yield (f"resident memory: idle {idle_rss / 2**20:.0f} MiB, peak {peak:.0f} MiB, after the load "
           f"{final / 2**20:.0f} MiB ({(final / idle_rss - 1) * 100:+.1f}% of idle)"
           + (f"; {pending} calibrations still pending: the daemon was calibrating in its idle time" if pending else ""))
    yield f"samples: {out.with_suffix('.csv')}" + (f", plot: {out.with_suffix('.png')}" if plotted
                                                   else " (matplotlib not installed: no plot)")


def _row(probe, start: float, phase: str) -> dict:
    status = probe.status()
    pools = status.get("pools", {})
    return {"t_s": round(time.monotonic() - start, 1), "phase": phase, "rss_mib": round(status["rss_bytes"] / 2**20, 1),
            "clients": status["clients"], "queued": status["queued"],
            "queued_text_chars": pools.get("queued_text_chars", {}).get("used"),
            "rendered_ahead_bytes": pools.get("rendered_ahead_bytes", {}).get("used"), "trims": status.get("trims"),
            "calibrations_pending": status.get("calibrations_pending"), "preemptions": status.get("preemptions")}


def _settled(probe, settle_s: float, rows: list | None = None, start: float = 0.0) -> int:
    """Resident memory once the daemon has idled `settle_s` (its idle trim included)."""
    deadline = time.monotonic() + settle_s
    row = None
    while time.monotonic() < deadline:
        time.sleep(2.0)
        # Asked every 2 s even when not kept: the client answers the daemon's keepalive pings only
        # while it reads, and 40 s of silence closed the connection on a loaded machine.
        row = _row(probe, start, "idle")
        if rows is not None:
            rows.append(row)
    return max(probe.status()["rss_bytes"], 1) if row is None else int(row["rss_mib"] * 2**20)


PROBES = (
    ("a short sentence", {"text": "Hello there, this is short."}),
    ("a key echo", {"text": "a", "spell": True}),
    ("a long sentence (~180 phoneme tokens)",
     {"text": "Reading a long paragraph aloud, the screen reader should start speaking almost at once, without "
              "waiting for the whole sentence to be rendered by the model, and it should never stop."}),
    ("a say-all of 1,500 characters", {"text": "This is a sentence of ordinary prose, read aloud. " * 30}),
    ("hostile: one word of 1,000 letters", {"text": "a" * 1000}),
    ("a short sentence again", {"text": "Hello there, this is short."}),
)
"""Request kinds in the order `echoic bench memory` speaks them. The 1,000-letter word is the
largest single word the cost limits let through: the engine cuts it into segments of the most
phoneme tokens a call takes, so its tensors are the largest any request makes."""


def memory_rows(threads: int = 2, engine=None, shrink_arena: bool = True) -> Iterator[dict]:
    """One process's memory after each step: resident MiB, resident after malloc_trim, Python
    objects alive (tracemalloc) and the step's seconds."""
    import tracemalloc

    from ..api import SpeechRequest
    from .memory import trim

    def mib() -> float:
        return resident_memory_bytes() / 2**20

    yield {"step": "imports", "rss": mib()}
    started = time.perf_counter()
    if engine is None:
        from ..runtime import RuntimeConfig
        from ..synth import Engine, EngineConfig

        engine = Engine(EngineConfig(runtime=RuntimeConfig(threads=threads, shrink_arena=shrink_arena)))
    yield {"step": "engine loaded (planner, renderer)", "rss": mib(), "seconds": time.perf_counter() - started}
    if hasattr(engine, "runtime"):
        started = time.perf_counter()
        engine.runtime.window_renderer()
        yield {"step": "chunked-rendering sessions loaded", "rss": mib(), "seconds": time.perf_counter() - started}
    tracemalloc.start()
    for name, fields in PROBES:
        started = time.perf_counter()
        for _ in engine.stream(SpeechRequest(locale="en-US", **fields), threading.Event()):
            pass
        seconds = time.perf_counter() - started
        before = mib()
        trim()
        current, peak = tracemalloc.get_traced_memory()
        yield {"step": name, "rss": before, "trimmed": mib(), "python": current / 2**20,
               "python_peak": peak / 2**20, "seconds": seconds}
        tracemalloc.reset_peak()
    tracemalloc.stop()


def speed_rows(threads: int = 2, rounds: int = 3) -> Iterator[dict]:
    """The planner and renderer with the arena kept and with it shrunk after every call, two
    runtimes in one process, calls alternating (so a loaded machine slows both alike)."""
    import statistics

    from ..runtime import KokoroRuntime, RuntimeConfig
    from ..synth import Engine, EngineConfig
    from ..api import SpeechRequest
    from ..model_store import ensure_model

    engine = Engine(EngineConfig(runtime=RuntimeConfig(threads=threads)))
    runtimes = {kept: KokoroRuntime(ensure_model(engine.config.model),
                                    RuntimeConfig(threads=threads, shrink_arena=not kept)) for kept in (True, False)}
    voice = engine.voice_library.get("af_heart")
    for name, fields in (PROBES[0], PROBES[2]):
        ids = [i for seg in engine.plan(SpeechRequest(locale="en-US", **fields)).segments for i in seg.token_ids[1:-1]]
        style = voice.style(len(ids))
        times: dict[bool, list[float]] = {True: [], False: []}
        for r in range(rounds + 1):
            for kept, runtime in runtimes.items():
                started = time.perf_counter()
                runtime.render_planned(runtime.plan(ids, style, 1.0), style)
                if r:  # the first round sizes the arenas
                    times[kept].append(time.perf_counter() - started)
        yield {"step": f"{name}: {len(ids)} tokens", "kept": statistics.median(times[True]),
               "shrunk": statistics.median(times[False])}


def _child(kind: str, threads: int, flag: bool) -> list[dict]:
    import json
    import subprocess
    import sys

    code = (f"import json; from engine.daemon.soak import {kind}; "
            f"[print(json.dumps(r), flush=True) for r in {kind}({threads}" + (f", shrink_arena={flag})]" if kind == "memory_rows" else ")]"))
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.startswith("{")]


def _num(value, fmt: str = "{:.0f}") -> str:
    return fmt.format(value) if value is not None else ""


def run_memory_probe(threads: int = 2, engine=None, speed: bool = True) -> Iterator[str]:
    """`echoic bench memory`: resident memory after each kind of request, the real engine in a
    fresh process with onnxruntime's arena kept (before) and shrunk after every call (now),
    after malloc_trim, and the Python objects alive (tracemalloc); then the speed of the two,
    alternating in one process. With `engine` (tests): that engine, in this process, one column."""
    if engine is not None:
        yield f"{'after':40} {'resident MiB':>12} {'after trim':>10} {'Python objects MiB':>18}"
        for row in memory_rows(threads, engine):
            yield (f"{row['step']:40} {row['rss']:12.0f} {_num(row.get('trimmed')):>10} "
                   f"{_num(row.get('python'), '{:.1f}'):>18}")
        return
    yield "resident memory (MiB) of a fresh process per column, after each step in order:"
    kept = _child("memory_rows", threads, False)
    shrunk = _child("memory_rows", threads, True)
    yield (f"{'after':40} {'arena kept':>10} {'+trim':>6} {'s':>6}   {'arena shrunk':>12} {'+trim':>6} {'s':>6}"
           f"   {'Python objects':>14}")
    for a, b in zip(kept, shrunk):
        yield (f"{a['step']:40} {a['rss']:10.0f} {_num(a.get('trimmed')):>6} {_num(a.get('seconds'), '{:.1f}'):>6}"
               f"   {b['rss']:12.0f} {_num(b.get('trimmed')):>6} {_num(b.get('seconds'), '{:.1f}'):>6}"
               f"   {_num(b.get('python'), '{:.1f}'):>14}")
    if speed:
        yield ""
        yield "speed, planner + renderer, two runtimes in one process, calls alternating (median seconds):"
        yield f"{'input':48} {'arena kept':>10} {'shrunk':>8} {'ratio':>6}"
        for row in _child("speed_rows", threads, True):
            yield f"{row['step']:48} {row['kept']:10.2f} {row['shrunk']:8.2f} {row['shrunk'] / row['kept']:6.2f}"
