"""`echoic bench nvda`: the NVDA driver's latencies, through the NVDA stand-ins, against a daemon.

Key echo: speak a sentence, cancel it after a moment, speak one character: milliseconds from
that speak() to the character's first audio reaching the (stand-in) speaker. After each, the same
is done on the daemon directly (the client core: `speak`, `cancel`, a spelled `speak` -> its first
audio frame), so the driver's own cost is the difference, run by run.
Say-all index lag: speak several sentences with an index before each; for every index, how late
its synthIndexReached came compared with an uninterrupted stream (first audio + the audio before
the mark): growth means the stream stalled (synthesis slower than playback) before that index.

The daemon runs in this process (engine.daemon.server.Server on loopback, the real Engine), or an
already running one is used with --runtime-dir. Prints a table; asserts nothing.
"""

from __future__ import annotations

import asyncio
import os
import statistics
import sys
import threading
import time
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STUBS = ROOT / "tests" / "nvda_stubs"

SENTENCES = [
    "The quick brown fox jumps over the lazy dog.",
    "Screen readers need speech that starts at once and never lags behind the cursor.",
    "Every index must arrive when its words have been heard, not before and not after.",
    "Long mail should start speaking at once, while the rest is still being made.",
    "This is the last sentence of the say-all test.",
]


def _install_nvda():
    if not STUBS.is_dir():
        raise SystemExit(f"echoic bench nvda: the NVDA stand-ins are not here ({STUBS}); run it from a source checkout")
    sys.path.insert(0, str(STUBS))
    import nvda_env

    nvda_env.install()
    sys.path.insert(1, nvda_env.staged_addon())  # the driver with its copy of the client core


@contextmanager
def _in_process_daemon(runtime_dir: Path, threads: int):
    from engine.daemon.server import Server
    from engine.daemon.settings import SettingsStore
    from engine.runtime import RuntimeConfig
    from engine.synth import Engine, EngineConfig

    # Render cache off: the bench repeats its texts, and a user's new text is never cached.
    engine = Engine(EngineConfig(runtime=RuntimeConfig(threads=threads), cache_megabytes=0))
    server = Server(engine, port=0, runtime_dir=runtime_dir, settings=SettingsStore(runtime_dir / "settings.toml"))
    ready = threading.Event()
    failure: list[BaseException] = []

    def main():
        try:
            asyncio.run(server.run(ready=lambda _: ready.set()))
        except BaseException as exc:  # reported below
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    ready.wait(120)
    if failure:
        raise failure[0]
    try:
        yield server
    finally:
        server.request_stop()
        thread.join(15)


def _wait_growth(player, start, timeout=10.0):
    deadline = time.monotonic() + timeout
    while len(player.played) <= start:
        if time.monotonic() > deadline:
            return None
        time.sleep(0.0005)
    return time.monotonic()


INTERRUPTED = "This sentence is interrupted by a key press before it ends."


def daemon_key_echo(client, char: str) -> float | None:
    """The daemon's own key echo after a cancel, through the client core: milliseconds from the
    character's `speak` to its first audio frame (frames of the cancelled sentence are skipped)."""
    from engine.client.wire import AudioFrame

    sentence = client.start_speaking(INTERRUPTED)
    time.sleep(0.4)
    client.cancel(sentence)
    t0 = time.monotonic()
    uid = client.start_speaking(char, spell=True)
    number = first = None
    while True:
        message = client.receive(30)
        if isinstance(message, AudioFrame):
            if message.utterance == number and first is None:
                first = (time.monotonic() - t0) * 1000
        elif message.get("type") == "accepted" and message.get("id") == uid:
            number = message.get("utterance")
        elif message.get("type") in ("done", "error") and message.get("id") == uid:
            return first


def key_echo(synth, repeats, direct=None):
    """Driver key echoes (ms), and with `direct` (a client core connection) the daemon's own after each."""
    from speech.commands import CharacterModeCommand

    player = synth._player
    results, own = [], []
    for i in range(repeats):
        synth.speak([INTERRUPTED])
        time.sleep(0.4)
        synth.cancel()
        start = len(player.played)
        t0 = time.monotonic()
        synth.speak([CharacterModeCommand(True), "abcdefghij"[i % 10], CharacterModeCommand(False)])
        first = _wait_growth(player, start)
        results.append(None if first is None else (first - t0) * 1000)
        time.sleep(0.5)
        synth.cancel()
        if direct is not None:
            own.append(daemon_key_echo(direct, "klmnopqrst"[i % 10]))
            time.sleep(0.5)
    return results, own


def say_all(synth):
    import synthDriverHandler
    from speech.commands import IndexCommand

    player = synth._player
    seen = {}
    offsets = {}
    done = threading.Event()
    conn = synth._conn
    forward = conn._onEvent

    def spy(item):
        if isinstance(item, dict) and item.get("type") == "index":
            offsets[int(item["mark"])] = item["sample_offset"]
        forward(item)

    def onIndex(synth, index):
        seen[index] = time.monotonic()

    def onDone(synth):
        done.set()

    conn._onEvent = spy
    synthDriverHandler.synthIndexReached.register(onIndex)
    synthDriverHandler.synthDoneSpeaking.register(onDone)
    try:
        start = len(player.played)
        sequence = []
        for i, sentence in enumerate(SENTENCES, 1):
            sequence += [IndexCommand(i), sentence + " "]
        sequence.append(IndexCommand(len(SENTENCES) + 1))
        t0 = time.monotonic()
        synth.speak(sequence)
        first = _wait_growth(player, start)
        done.wait(60)
    finally:
        conn._onEvent = forward
        synthDriverHandler.synthIndexReached.unregister(onIndex)
        synthDriverHandler.synthDoneSpeaking.unregister(onDone)
    if first is None:
        return None, []
    rate = conn.sampleRate
    rows = []
    for index in sorted(seen):
        # A mark at sample 0 has no audio before it: it is due at once, not at the first audio.
        expected = first + offsets[index] / rate if offsets.get(index) else t0
        rows.append((index, offsets.get(index, 0) / rate, (seen[index] - expected) * 1000))
    return (first - t0) * 1000 if first else None, rows


def run(args) -> int:
    _install_nvda()
    import tempfile

    import synthDriverHandler

    if args.runtime_dir:
        os.environ["ECHOIC_RUNTIME_DIR"] = args.runtime_dir
        context = None
    else:
        tmp = Path(tempfile.mkdtemp(prefix="echoic-bench-nvda-"))
        os.environ["ECHOIC_RUNTIME_DIR"] = str(tmp)
        context = _in_process_daemon(tmp, args.threads)
    os.environ.pop("ECHOIC_DAEMON_COMMAND", None)
    try:
        return _measure(context or _null(), synthDriverHandler, args)
    except ImportError as exc:
        print(f"echoic bench nvda: the engine cannot load here: {exc}", file=sys.stderr)
        return 2


def _measure(context, synthDriverHandler, args) -> int:
    with context:
        if not synthDriverHandler.setSynth("echoic"):
            print("echoic bench nvda: the driver did not load (see the log above)", file=sys.stderr)
            return 2
        synth = synthDriverHandler.getSynth()
        from engine.client import DaemonClient

        direct = DaemonClient.connect(os.environ["ECHOIC_RUNTIME_DIR"], name="echoic-bench-direct")
        try:
            say_all(synth)  # warm-up: first-call costs are not what a user feels on each key
            driver, own = key_echo(synth, args.repeats, direct)
            ttfa, rows = say_all(synth)
        finally:
            direct.close()
            synthDriverHandler.setSynth(None)
    echoes = [e for e in driver if e is not None]
    added = [a - b for a, b in zip(driver, own) if a is not None and b is not None]
    own = [e for e in own if e is not None]
    print("NVDA driver bench (stand-in player, real-time pacing; render cache off)")
    print(f"{'measure':<40}{'value':>12}")
    if echoes:
        echoes.sort()
        print(f"{'key echo after cancel, median ms':<40}{statistics.median(echoes):>12.1f}")
        print(f"{'key echo after cancel, worst ms':<40}{echoes[-1]:>12.1f}")
        print(f"{'key echo runs':<40}{len(echoes):>12d}")
    if own:
        print(f"{'daemon own key echo after cancel, median':<40}{statistics.median(own):>12.1f}")
    if added:
        print(f"{'driver minus daemon, run by run, median':<40}{statistics.median(added):>12.1f}")
    if ttfa is not None:
        print(f"{'say-all first audio ms':<40}{ttfa:>12.1f}")
    print()
    print(f"{'index':>6}{'audio before (s)':>18}{'lag (ms)':>12}")
    for index, at, lag in rows:
        print(f"{index:>6}{at:>18.2f}{lag:>12.1f}")
    return 0


@contextmanager
def _null():
    yield None
