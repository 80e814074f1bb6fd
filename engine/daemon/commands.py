"""`echoic serve | status | stop | config show|set|reset` and `echoic bench daemon`."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sys
import time
from pathlib import Path

from ..client import ClientError, DaemonClient
from ..client.discovery import is_daemon_process
from ..errors import ConfigError
from . import DaemonError
from .protocol import DEFAULT_PORT, SETTINGS_FIELDS
from .runtime_file import (
    default_runtime_dir,
    ensure_runtime_dir,
    lock_is_held,
    lock_record,
    pid_alive,
    read_runtime_file,
)


def _runtime_dir(args) -> Path:
    return Path(args.runtime_dir) if args.runtime_dir else default_runtime_dir()


def _settings_path(args) -> Path | None:
    return Path(args.settings_file) if getattr(args, "settings_file", None) else None


def cmd_serve(args) -> int:
    from .server import Server
    from .settings import SettingsStore

    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO, stream=sys.stderr,
                        format="%(asctime)s echoic[%(process)d] %(levelname)s %(message)s")
    runtime_dir = _runtime_dir(args)
    ensure_runtime_dir(runtime_dir)  # a folder that is not ours: one line, before the model loads
    other = read_runtime_file(runtime_dir)
    if other is not None and other.pid != os.getpid():
        raise DaemonError(f"an Echoic daemon is already running (pid {other.pid}, port {other.port}); "
                          "'echoic stop' stops it")
    if not 0 <= args.port <= 65535:
        raise ConfigError(f"--port must be 0..65535, got {args.port}")
    from ..runtime import RuntimeConfig
    from ..synth import Engine, EngineConfig

    started = time.perf_counter()
    engine = Engine(EngineConfig(runtime=RuntimeConfig(threads=args.threads)))
    logging.getLogger("echoic.daemon").info("engine loaded in %.2f s", time.perf_counter() - started)
    server = Server(engine, port=args.port, runtime_dir=runtime_dir, settings=SettingsStore(_settings_path(args)),
                    allow_origins=tuple(args.allow_origin or ()), render_ahead_s=args.render_ahead,
                    calibrate_ahead=not args.no_calibrate_ahead)
    try:
        asyncio.run(server.run())
    except OSError as exc:  # a full disk, a folder that became unwritable: one line, never a traceback
        raise DaemonError(f"the daemon cannot run: {_describe(exc)}") from None
    return 0


def _describe(exc: OSError) -> str:
    where = f": {exc.filename}" if exc.filename else ""
    return f"{exc.strerror or exc}{where}"


def _candidates(runtime_dir: Path):
    """The records that may name the running daemon: daemon.json's, then the lock's."""
    seen = []
    for info in (read_runtime_file(runtime_dir), lock_record(runtime_dir)):
        if info is not None and pid_alive(info.pid) and info not in seen:
            seen.append(info)
    return seen


def cmd_status(args) -> int:
    runtime_dir = _runtime_dir(args)
    status, problems = None, []
    for info in _candidates(runtime_dir):
        try:
            with DaemonClient.connect(info=info, name="echoic status", timeout=5.0) as client:
                status = client.status()
            break
        except ClientError as exc:
            problems.append(f"pid {info.pid}, port {info.port}: {exc}")
    if status is None:
        if problems and lock_is_held(runtime_dir):
            raise DaemonError(f"a daemon holds the lock in {runtime_dir} but does not answer ({'; '.join(problems)})")
        print("echoic daemon: not running" + (f" (stale runtime file: {problems[0]})" if problems else ""))
        return 3  # LSB "program is not running"
    print(f"echoic daemon: running, pid {status['pid']}, port {status['port']}, version {status['version']}, "
          f"protocol {status['protocol']}")
    print(f"uptime {status['uptime_s']:.0f} s, {status['clients'] - 1} other client(s), {status['queued']} queued, "
          f"resident memory {status['rss_bytes'] / 2**20:.0f} MiB")
    print(f"settings: {status['settings_file']}" + (f" (ignored: {status['settings_problem']})"
                                                   if status.get("settings_problem") else ""))
    guard = status["engine"]["guardrails"]
    print(f"guardrails: {guard['segments']} segments, failures {guard['failures'] or 'none'}, "
          f"actions {guard['actions'] or 'none'}; cache hits {status['engine']['cache']['hits']}")
    return 0


def cmd_stop(args) -> int:
    """Stop the daemon: ask it over the socket (the token proves it is ours). Signal a pid only
    when no daemon answered, a process holds the daemon lock, and that pid is the process that
    wrote the lock's record (its start time, else its command line): a stale runtime file whose
    pid now belongs to another program must never get that program killed (issue 15)."""
    runtime_dir = _runtime_dir(args)
    stopped, problems = None, []
    for info in _candidates(runtime_dir):
        try:
            with DaemonClient.connect(info=info, name="echoic stop", timeout=5.0) as client:
                client.shutdown()
            stopped = info
            break
        except ClientError as exc:
            problems.append(f"pid {info.pid}, port {info.port}: {exc}")
    if stopped is None:
        if not problems:
            print("echoic daemon: not running")
            return 0
        if not lock_is_held(runtime_dir):
            print(f"echoic daemon: not running (stale runtime file: {problems[0]}); nothing was signalled")
            return 0
        holder = lock_record(runtime_dir)
        ours, why = is_daemon_process(holder) if holder is not None else (False, "the lock holds no record")
        if not ours or sys.platform == "win32":
            raise DaemonError(f"a process holds the daemon lock in {runtime_dir} but does not answer, and {why}; "
                              "nothing was signalled")
        os.kill(holder.pid, signal.SIGTERM)
        stopped = holder
    deadline = time.monotonic() + args.timeout
    while pid_alive(stopped.pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    if pid_alive(stopped.pid):
        raise DaemonError(f"the daemon (pid {stopped.pid}) did not stop within {args.timeout} s")
    print(f"echoic daemon: stopped (pid {stopped.pid})")
    return 0


def speak_via_daemon(text: str, *, ssml: bool = False, locale: str | None = None, voice: str | None = None,
                     rate: float | None = None, pitch: float | None = None, volume: float | None = None,
                     spell: bool = False, runtime_dir: Path | None = None) -> bool:
    """`echoic say` through the running daemon's own audio output, waiting until it is done.

    Returns False when no daemon runs (the caller then speaks in-process). Raises
    AudioDeviceError when the daemon has no audio output, ProtocolError for any other refusal.
    """
    from ..errors import AudioDeviceError, ProtocolError

    info = read_runtime_file(runtime_dir)  # DaemonError (one line) when the folder is not ours
    if info is None:
        return False
    try:
        client = DaemonClient.connect(info=info, name="echoic say")
    except ClientError:
        return False  # a daemon that died between the file check and the connection
    with client:
        try:
            result = client.speak(text, ssml=ssml, locale=locale, voice=voice, rate=rate, pitch=pitch,
                                  volume=volume, spell=spell or None, playback="daemon", timeout=600.0)
        except ClientError as exc:
            raise DaemonError(str(exc)) from None
    if result.error is not None:
        if result.error["code"] == "no_audio_device":
            raise AudioDeviceError(result.error["message"])
        raise ProtocolError(result.error["code"], result.error["message"])
    return True


def _parse_assignment(text: str) -> tuple[str, object]:
    name, sep, value = text.partition("=")
    name = name.strip()
    if not sep or name not in SETTINGS_FIELDS:
        raise ConfigError(f"expected FIELD=VALUE with FIELD one of {', '.join(SETTINGS_FIELDS)}, got {text!r}")
    value = value.strip()
    if name == "voice":
        return name, value
    try:
        return name, float(value)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {value!r}") from None


def cmd_config(args) -> int:
    from .settings import default_settings_path, dump_table, read_table, updated, write_table

    path = _settings_path(args) or default_settings_path()
    table = read_table(path)
    if args.action == "show":
        if args.locale:
            from ..locales import canonical_tag

            tag = canonical_tag(args.locale)
            table = {tag: table.get(tag, {})}
        print(f"# {path}")
        print(dump_table(table).split("\n", 2)[2] if table else "# no settings: every locale uses its defaults")
        return 0
    if args.action == "set":
        values = dict(_parse_assignment(a) for a in args.values)
        if not values:
            raise ConfigError("nothing to set: give FIELD=VALUE, e.g. rate=1.5")
        if "voice" in values:
            from ..voices import VoiceLibrary

            known = {v.id for v in VoiceLibrary().list()}
            if values["voice"] not in known:
                raise ConfigError(f"unknown voice {values['voice']!r}; available: {', '.join(sorted(known))}")
        table = updated(table, args.locale, values)
    else:  # reset
        if args.locale is None:
            table = {}
        else:
            fields = args.fields or list(SETTINGS_FIELDS)
            table = updated(table, args.locale, {name: None for name in fields})
    try:
        write_table(path, table)
    except OSError as exc:  # a full disk, a read-only folder: one line and status 2, never a traceback
        raise ConfigError(f"cannot write the settings file {path}: {_describe(exc)}") from None
    print(f"# {path}")
    print(dump_table(table).split("\n", 2)[2] if table else "# no settings: every locale uses its defaults")
    return 0


def cmd_bench_daemon(args) -> int:
    from .bench import run_bench

    for line in run_bench(clients=args.clients, repeats=args.repeats, threads=args.threads):
        print(line, flush=True)
    return 0


def cmd_bench_fairness(args) -> int:
    from .fairness import run_fairness

    from .fairness import CASES

    cases = {name: fields for name, fields in CASES.items() if not args.only or any(o in name for o in args.only)}
    for line in run_fairness(repeats=args.repeats, threads=args.threads, cases=cases, compare=not args.no_compare):
        print(line, flush=True)
    return 0


def cmd_bench_soak(args) -> int:
    from .soak import run_soak

    for line in run_soak(args.minutes, Path(args.out), threads=args.threads):
        print(line, flush=True)
    return 0


def cmd_bench_memory(args) -> int:
    from .soak import run_memory_probe

    for line in run_memory_probe(threads=args.threads, speed=not args.no_speed):
        print(line, flush=True)
    return 0


def register(commands, bench) -> None:
    def runtime_option(parser):
        parser.add_argument("--runtime-dir", help="where the runtime file lives (default: the user's runtime dir)")

    serve = commands.add_parser("serve", help="run the speech daemon (WebSocket on loopback)")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT, help=f"TCP port (default {DEFAULT_PORT}; 0 picks a free one)")
    runtime_option(serve)
    serve.add_argument("--threads", type=int, default=2, help="onnxruntime threads (default 2)")
    serve.add_argument("--allow-origin", action="append", metavar="ORIGIN",
                       help="accept WebSocket connections carrying this Origin header (repeatable; default: none)")
    serve.add_argument("--settings-file", help="the per-locale settings file (default: the user's config dir)")
    serve.add_argument("--render-ahead", type=float, default=3.0, help="seconds of audio rendered ahead per client")
    serve.add_argument("--no-calibrate-ahead", action="store_true",
                       help="calibrate only the voice rows long segments lacked, not the rest of that voice's rows")
    serve.add_argument("-v", "--verbose", action="store_true")
    serve.set_defaults(func=cmd_serve)

    status = commands.add_parser("status", help="is the daemon running, and how is it doing")
    runtime_option(status)
    status.set_defaults(func=cmd_status)

    stop = commands.add_parser("stop", help="stop the running daemon")
    runtime_option(stop)
    stop.add_argument("--timeout", type=float, default=10.0)
    stop.set_defaults(func=cmd_stop)

    config = commands.add_parser("config", help="per-locale voice settings (voice, rate, pitch, volume, accent_strength)")
    config_actions = config.add_subparsers(dest="action", required=True, metavar="ACTION")
    show = config_actions.add_parser("show", help="print the settings")
    show.add_argument("locale", nargs="?")
    set_ = config_actions.add_parser("set", help="set fields for a locale: echoic config set en-US rate=1.5 voice=jf_alpha")
    set_.add_argument("locale")
    set_.add_argument("values", nargs="+", metavar="FIELD=VALUE")
    reset = config_actions.add_parser("reset", help="forget a locale's settings (or some fields, or everything)")
    reset.add_argument("locale", nargs="?")
    reset.add_argument("fields", nargs="*", metavar="FIELD")
    for sub in (show, set_, reset):
        sub.add_argument("--settings-file", help="the settings file (default: the user's config dir)")
        sub.set_defaults(func=cmd_config)

    bench_daemon = bench.add_parser("daemon", help="time to first audio, cancel and concurrency over the socket")
    bench_daemon.add_argument("--clients", type=int, nargs="*", default=[1, 2, 4])
    bench_daemon.add_argument("--repeats", type=int, default=5)
    bench_daemon.add_argument("--threads", type=int, default=2)
    bench_daemon.set_defaults(func=cmd_bench_daemon)

    fairness = bench.add_parser("fairness", help="how long one client's heavy request delays another's first audio")
    fairness.add_argument("--repeats", type=int, default=3)
    fairness.add_argument("--threads", type=int, default=2)
    fairness.add_argument("--only", action="append", metavar="TEXT", help="only the cases whose name contains TEXT")
    fairness.add_argument("--no-compare", action="store_true", help="skip the rows without preemption")
    fairness.set_defaults(func=cmd_bench_fairness)

    soak = bench.add_parser("soak", help="mixed load for N minutes, resident memory sampled to a CSV and a plot")
    soak.add_argument("--minutes", type=float, default=10.0)
    soak.add_argument("--out", default="soak", help="path of the CSV and PNG, without suffix (default: ./soak)")
    soak.add_argument("--threads", type=int, default=2)
    soak.set_defaults(func=cmd_bench_soak)

    memory = bench.add_parser("memory", help="resident memory after each kind of request, and after malloc_trim")
    memory.add_argument("--threads", type=int, default=2)
    memory.add_argument("--no-speed", action="store_true", help="skip the speed comparison")
    memory.set_defaults(func=cmd_bench_memory)

