"""`echoic speechd install | uninstall` and `echoic bench speechd`.

Install registers `sd_echoic` for the current user the way speech-dispatcher finds modules by
itself: an executable `sd_echoic` in `~/.local/libexec/speech-dispatcher-modules/` (a wrapper
exec'ing this Python's module) and `echoic.conf` in `$XDG_CONFIG_HOME/speech-dispatcher/modules/`.
Both carry a marker line; uninstall removes only files that still carry it.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

MARKER = "# Installed by 'echoic speechd install'; 'echoic speechd uninstall' removes it."

MODULE_CONFIG = f"""{MARKER}
# Options of the Echoic output module (sd_echoic); the Echoic daemon holds the voices and settings
# ('echoic config show').
# Start 'echoic serve' when no daemon runs (1) or answer 'cannot speak' until one runs (0).
EchoicAutostart 1
# Seconds to wait for a starting daemon.
EchoicStartTimeout 60
# Where the daemon's runtime file lives, when not the default $XDG_RUNTIME_DIR/echoic.
#EchoicRuntimeDir "/run/user/1000/echoic"
"""


def module_path() -> Path:
    return Path.home() / ".local" / "libexec" / "speech-dispatcher-modules" / "sd_echoic"


def config_path() -> Path:
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "speech-dispatcher" / "modules" / "echoic.conf"


def wrapper_text(python: str = sys.executable) -> str:
    return f'#!/bin/sh\n{MARKER}\nexec "{python}" -m speechd_bridge.module "$@"\n'


def _ours(path: Path) -> bool:
    try:
        return MARKER in path.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def cmd_install(args) -> int:
    targets = [(module_path(), wrapper_text(), 0o755), (config_path(), MODULE_CONFIG, 0o644)]
    for path, text, mode in targets:
        if path.exists() and not _ours(path) and not args.force:
            print(f"echoic: {path} exists and was not installed by echoic; --force replaces it", file=sys.stderr)
            return 1
    for path, text, mode in targets:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        path.chmod(mode)
        print(f"installed {path}")
    print("speech-dispatcher finds the 'echoic' module when it next starts (log out and in, or stop the\n"
          "running 'speech-dispatcher' process); then choose Echoic in Orca's voice settings or try:\n"
          "  spd-say -o echoic 'Hello from Echoic'")
    if not args.quiet:
        from speechd_bridge.private_server import PrivateSpeechd

        missing = PrivateSpeechd.missing()
        if missing and "speech-dispatcher" in missing:
            print(f"note: {missing}")
    return 0


def cmd_uninstall(args) -> int:
    removed = 0
    for path in (module_path(), config_path()):
        if not path.exists():
            continue
        if not _ours(path):
            print(f"left alone (not installed by echoic): {path}")
            continue
        path.unlink()
        removed += 1
        print(f"removed {path}")
    if not removed:
        print("nothing to remove: the Echoic module is not installed for this user")
    return 0


def cmd_bench(args) -> int:
    from .bench import run_bench

    return run_bench(args)


def register(commands, bench) -> None:
    speechd = commands.add_parser("speechd", help="the speech-dispatcher output module (for Orca)")
    actions = speechd.add_subparsers(dest="speechd_action", required=True, metavar="ACTION")
    install = actions.add_parser("install", help="register sd_echoic with speech-dispatcher for this user")
    install.add_argument("--force", action="store_true", help="replace files not installed by echoic")
    install.add_argument("--quiet", action="store_true", help="skip the check for speech-dispatcher")
    install.set_defaults(func=cmd_install)
    uninstall = actions.add_parser("uninstall", help="remove what 'echoic speechd install' made")
    uninstall.set_defaults(func=cmd_uninstall)

    b = bench.add_parser("speechd", help="SSIP speak -> first audio at the sink, and cancel latency: "
                                         "sd_echoic vs espeak-ng")
    b.add_argument("--runs", type=int, default=5, help="utterances per module (default 5)")
    b.add_argument("--runtime-dir", help="use the daemon of this runtime dir instead of starting one")
    b.add_argument("--modules", default="echoic,espeak-ng", help="comma-separated modules (default echoic,espeak-ng)")
    b.set_defaults(func=cmd_bench)
