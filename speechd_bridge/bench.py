"""`echoic bench speechd`: what a screen-reader user feels, sd_echoic against Debian's espeak-ng.

One private speech-dispatcher with both modules, a PulseAudio null sink whose monitor we record
with `parec`: "first audio" is the first non-silent 10 ms at the sink after an SSIP SPEAK, "cancel"
is SSIP CANCEL -> the CANCEL callback, and -> the last non-silent 10 ms at the sink.
Both modules run in the same server, the same run, the same sink, so the sink's latency cancels out.

Beside sd_echoic, the same kind of sentence goes to the daemon directly, before or after each SPEAK
in turn (the client core on its WebSocket, `speak` -> first audio frame): the row "daemon" is
Echoic's own first audio in the same run. Where the time goes inside a SPEAK comes from
sd_echoic's log (`stages`): speech-dispatcher -> the module, the module -> the daemon's first
audio, the module holding it, the module's first 705 -> the sink. The daemon started here keeps
its render cache in a fresh folder, so every sentence is rendered (each text is spoken once).
"""

from __future__ import annotations

import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from array import array
from pathlib import Path

from engine.client import DaemonClient
from engine.daemon.bench import first_audio
from engine.client.errors import ClientError

from .daemon_client import read_runtime_file
from .private_server import ModuleSpec, PrivateSpeechd, SpeechdUnavailable, _stop_pid, echoic_module_wrapper

CHUNK_SAMPLES = 240  # 10 ms at 24 kHz
LOUD = 300  # peak above which a 10 ms chunk counts as sound
BENCH_VOICE = "am_michael"  # Echoic's en-US default, asked of sd_echoic and of the daemon alike


class SinkMonitor:
    """Records when the null sink's monitor carries sound."""

    def __init__(self, env: dict[str, str]):
        self.process = subprocess.Popen(
            ["parec", "-d", "null.monitor", "--raw", "--format=s16le", "--rate=24000", "--channels=1",
             "--latency-msec=10"], env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, start_new_session=True)
        self.loud_times: list[float] = []
        self.lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        while True:
            data = self.process.stdout.read(CHUNK_SAMPLES * 2)
            if not data:
                return
            now = time.monotonic()
            samples = array("h", data[: len(data) // 2 * 2])
            if samples and max(abs(min(samples)), max(samples)) > LOUD:
                with self.lock:
                    self.loud_times.append(now)

    def first_loud_after(self, t: float, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            with self.lock:
                later = [x for x in self.loud_times if x >= t]
            if later:
                return later[0]
            time.sleep(0.005)
        return None

    def last_loud_after(self, t: float) -> float | None:
        with self.lock:
            later = [x for x in self.loud_times if x >= t]
        return later[-1] if later else None

    def stop(self) -> None:
        _stop_pid(self.process)


def _ms(values: list[float]) -> str:
    if not values:
        return "-"
    values = sorted(values)
    p90 = values[min(len(values) - 1, int(round(0.9 * (len(values) - 1))))]
    return f"{statistics.median(values) * 1000:7.0f} / {p90 * 1000:5.0f}"


def _sentence(n: int) -> str:
    return f"Sentence number {n}. The quick brown fox jumps over the lazy dog."


TIMELINE = re.compile(r"(sd\d+) timeline: read ([\d.]+), daemon audio ([\d.]+), first audio out ([\d.]+)")


def stages(module_log: str, spoken: list[tuple[float, float]]) -> dict[str, list[float]]:
    """Where a SPEAK's time goes, from sd_echoic's timeline lines (monotonic seconds, the same clock
    as the bench's): each (SSIP speak, first sound at the sink) pair is matched with the timeline
    whose `read` falls between them."""
    lines = [tuple(float(x) for x in m.groups()[1:]) for m in TIMELINE.finditer(module_log)]
    out: dict[str, list[float]] = {"speechd -> module": [], "module -> daemon audio": [],
                                   "daemon audio -> module out": [], "module out -> sink": []}
    for started, heard in spoken:
        match = [t for t in lines if started <= t[0] <= heard]
        if not match:
            continue
        read, daemon, out_at = match[0]
        out["speechd -> module"].append(read - started)
        out["module -> daemon audio"].append(daemon - read)
        out["daemon audio -> module out"].append(out_at - daemon)
        out["module out -> sink"].append(heard - out_at)
    return out


def _measure(private: PrivateSpeechd, monitor: SinkMonitor, module: str, runs: int,
             direct=None) -> dict[str, list[float]]:
    """One module's figures; with `direct` (a client core connection) also the daemon's own first
    audio, one direct sentence after each SPEAK (texts numbered past the module's: never cached)."""
    import speechd

    client = speechd.SSIPClient(f"echoic-bench-{module}", address=f"unix_socket:{private.socket}", autospawn=False)
    client.set_output_module(module)
    if direct is not None:
        client.set_synthesis_voice(BENCH_VOICE)  # the voice the direct sentences use too
    events: dict[str, float] = {}
    changed = threading.Condition()

    def callback(kind, index_mark=None):
        with changed:
            events.setdefault(str(kind), time.monotonic())
            changed.notify_all()

    def wait(kind: str, timeout: float) -> float | None:
        deadline = time.monotonic() + timeout
        with changed:
            while kind not in events and time.monotonic() < deadline:
                changed.wait(deadline - time.monotonic())
            return events.get(kind)

    cb = speechd.CallbackType
    kinds = (cb.BEGIN, cb.END, cb.CANCEL)
    result: dict[str, list[float]] = {"first_audio": [], "cancel_event": [], "cancel_silence": [], "failed": [],
                                      "daemon_first_audio": [], "added": [], "spoken": []}
    try:
        for i in range(runs + 1):  # the first is a warm-up (pulse opens its stream lazily)
            own = None
            if direct is not None and i % 2:  # the direct sentence before or after, in turn
                own = first_audio(direct, _sentence(runs + 1 + i), locale="en-US", voice=BENCH_VOICE)
                time.sleep(0.3)
            events.clear()
            started = time.monotonic()
            client.speak(_sentence(i), callback=callback, event_types=kinds)
            heard = monitor.first_loud_after(started, 30)
            wait("end", 60)
            time.sleep(0.3)
            if direct is not None and not i % 2:
                own = first_audio(direct, _sentence(runs + 1 + i), locale="en-US", voice=BENCH_VOICE)
                time.sleep(0.3)
            if i == 0:
                continue
            if heard is None:
                result["failed"].append(1.0)
            else:
                result["first_audio"].append(heard - started)
                result["spoken"].append((started, heard))
            if own is not None and math.isfinite(own):
                result["daemon_first_audio"].append(own)
                if heard is not None:
                    result["added"].append(heard - started - own)
        for i in range(runs):
            events.clear()
            started = time.monotonic()
            client.speak("This is a long paragraph that goes on and on so that there is time to cancel it. " * 4,
                         callback=callback, event_types=kinds)
            heard = monitor.first_loud_after(started, 30)
            if heard is None:
                result["failed"].append(1.0)
                client.cancel()
                wait("cancel", 5)
                continue
            time.sleep(0.5)
            cancelled = time.monotonic()
            client.cancel()
            at = wait("cancel", 5)
            time.sleep(0.5)
            if at is not None:
                result["cancel_event"].append(at - cancelled)
            last = monitor.last_loud_after(cancelled)
            result["cancel_silence"].append((last - cancelled) if last else 0.0)
            time.sleep(0.2)
    finally:
        client.close()
    return result


def run_bench(args) -> int:
    why = PrivateSpeechd.missing() or (None if shutil.which("parec") else "parec is missing (pulseaudio-utils)")
    if why:
        print(f"echoic: cannot bench speech-dispatcher: {why}", file=sys.stderr)
        return 2
    try:
        import speechd  # noqa: F401
    except ImportError:
        print("echoic: the SSIP client is missing: pip install speechd-unofficial", file=sys.stderr)
        return 2
    modules = [m.strip() for m in args.modules.split(",") if m.strip()]
    repo = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryDirectory(prefix="echoic-bench-speechd-") as tmp:
        base = Path(tmp)
        daemon = None
        runtime_dir = Path(args.runtime_dir) if args.runtime_dir else base / "run"
        if not args.runtime_dir:
            env = dict(os.environ, ECHOIC_RENDER_CACHE_DIR=str(base / "render-cache"))
            daemon = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--port", "0", "--runtime-dir",
                                       str(runtime_dir)], stdout=subprocess.DEVNULL, env=env,
                                      stderr=open(base / "daemon.log", "wb"), start_new_session=True)
            deadline = time.monotonic() + 180
            while read_runtime_file(runtime_dir) is None:
                if daemon.poll() is not None or time.monotonic() > deadline:
                    print("echoic: the daemon did not start:\n" + (base / "daemon.log").read_text()[-2000:],
                          file=sys.stderr)
                    _stop_pid(daemon)
                    return 2
                time.sleep(0.1)
        wrapper = echoic_module_wrapper(base / "sd_echoic", env={"PYTHONPATH": str(repo)})
        private = PrivateSpeechd(
            base / "speechd",
            [ModuleSpec("echoic", str(wrapper), "EchoicAutostart 0\n"), ModuleSpec("espeak-ng", "sd_espeak-ng")],
            default_module=modules[0],
            extra_env={"ECHOIC_RUNTIME_DIR": str(runtime_dir), "ECHOIC_AUTOSTART": "0"})
        monitor = direct = None
        try:
            private.start()
            monitor = SinkMonitor(private.env)
            direct = DaemonClient.connect(runtime_dir, name="echoic-bench-direct")
            rows = [(module, _measure(private, monitor, module, args.runs, direct if module == "echoic" else None))
                    for module in modules]
            breakdown = {module: stages(private.module_log(module), r["spoken"]) for module, r in rows
                         if module == "echoic"}
        except (SpeechdUnavailable, ClientError) as exc:
            print(f"echoic: {exc}", file=sys.stderr)
            return 2
        finally:
            if direct:
                direct.close()
            if monitor:
                monitor.stop()
            private.stop()
            _stop_pid(daemon)
    print(f"speech-dispatcher, PulseAudio null sink, {args.runs} runs each; milliseconds, median / p90")
    print(f"{'module':<12} {'SPEAK -> first audio':>22} {'CANCEL -> event':>18} {'CANCEL -> silence':>20} {'failed':>7}")
    for module, r in rows:
        print(f"{module:<12} {_ms(r['first_audio']):>22} {_ms(r['cancel_event']):>18} "
              f"{_ms(r['cancel_silence']):>20} {len(r['failed']):>7}")
        if r["daemon_first_audio"]:
            print(f"{'daemon':<12} {_ms(r['daemon_first_audio']):>22} {'-':>18} {'-':>20} {0:>7}")
        if r["added"]:
            print(f"  {module} minus the daemon's own first audio, run by run: median "
                  f"{statistics.median(r['added']) * 1000:.0f} ms (speech-dispatcher, the module and the sink)")
        for stage, values in breakdown.get(module, {}).items():
            print(f"  {stage:<28} {_ms(values):>15}")
    return 0
