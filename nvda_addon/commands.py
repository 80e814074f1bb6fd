"""The NVDA add-on's `echoic` sub-commands: `nvda-build` and `bench nvda`."""

from __future__ import annotations

from pathlib import Path


def _cmd_build(args) -> int:
    from .build import build

    print(build(Path(args.out)))
    return 0


def _cmd_bench(args) -> int:
    from .bench import run

    return run(args)


def register(commands, bench) -> None:
    build = commands.add_parser("nvda-build", help="build the NVDA add-on (dist/echoic-<version>.nvda-addon)")
    build.add_argument("--out", default="dist", help="output folder (default: dist)")
    build.set_defaults(func=_cmd_build)

    nvda = bench.add_parser("nvda", help="NVDA driver: key echo after cancel, say-all index lag")
    nvda.add_argument("--repeats", type=int, default=5, help="key echo runs (default 5)")
    nvda.add_argument("--threads", type=int, default=2, help="onnxruntime threads of the in-process daemon")
    nvda.add_argument("--runtime-dir", help="use the daemon already running with this runtime dir")
    nvda.set_defaults(func=_cmd_bench)
