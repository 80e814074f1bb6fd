"""The frozen daemon's entry point: `echoic-daemon ARGS` is `echoic ARGS`.

Other parts of Echoic start "this Python" as `sys.executable -m engine serve` (the
speech-dispatcher module's autostart) or `sys.executable -m speechd_bridge.module` (the
`sd_echoic` wrapper that `echoic speechd install` writes). In a frozen build `sys.executable` is
this program, so it answers those two `-m` forms too; any other `-m` is an error.
"""

from __future__ import annotations

import sys

# `-m MODULE` forms the rest of Echoic runs through sys.executable, and what runs them.
_MODULES = {
    "engine": "engine.cli",
    "speechd_bridge.module": "speechd_bridge.module",
}


def main(argv: list[str]) -> int:
    if argv[:1] == ["-m"]:
        if len(argv) < 2 or argv[1] not in _MODULES:
            print(f"echoic-daemon: -m supports only {', '.join(_MODULES)}", file=sys.stderr)
            return 2
        module, argv = _MODULES[argv[1]], argv[2:]
    else:
        module = "engine.cli"
    if module == "speechd_bridge.module":
        from speechd_bridge.module import main as run
    else:
        from engine.cli import main as run
    return int(run(argv) or 0)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
