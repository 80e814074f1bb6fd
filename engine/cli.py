"""`echoic`: the command line. Owns the terminal; the library code never prints.

Core commands live here (say, synth, voices, locales, bench synth). Components add their own
(serve, status, speechd install, bench daemon, ...) through the `echoic.commands` entry points.
"""

from __future__ import annotations

import argparse
import sys
from importlib.metadata import entry_points

from .errors import EchoicError


def _register_components(commands, bench) -> None:
    for entry in entry_points(group="echoic.commands"):
        try:
            register = entry.load()
        except ImportError:
            continue  # a component not built yet, or not installed: its commands are simply absent
        register(commands, bench)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="echoic", description="Echoic: neural speech for screen readers.")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    bench_parser = commands.add_parser("bench", help="benchmarks that print a table against baselines")
    bench = bench_parser.add_subparsers(dest="bench", required=True, metavar="WHAT")
    from . import commands as core

    core.register(commands, bench)
    _register_components(commands, bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except EchoicError as exc:
        print(f"echoic: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        return 130


if __name__ == "__main__":
    sys.exit(main())
