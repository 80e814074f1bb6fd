"""Build the frozen Echoic daemon (and, with --addon, the NVDA add-on).

    python -m installer.build [--out DIR] [--addon [--bundle-daemon]]

writes DIR/echoic-daemon/ (default DIR: dist), a PyInstaller one-folder build whose executable
`echoic-daemon` (`echoic-daemon.exe` on Windows) is the `echoic` command line with the runtime
only: onnxruntime, numpy, the model parts, espeak-ng; no torch (docs/installer.md).
"""

from __future__ import annotations

import argparse
import importlib.util
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from .contents import forbidden_paths

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
SPEC = HERE / "echoic_daemon.spec"
DAEMON_DIR_NAME = "echoic-daemon"
EXECUTABLE_NAME = "echoic-daemon.exe" if sys.platform == "win32" else "echoic-daemon"


class BuildError(Exception):
    """The build cannot run or did not produce what it should."""


def pyinstaller_available() -> bool:
    return importlib.util.find_spec("PyInstaller") is not None


def folder_size(path: Path) -> int:
    """Bytes in all files under `path`."""
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and not p.is_symlink())


def build_daemon(out_dir: Path = Path("dist"), work_dir: Path | None = None, quiet: bool = False) -> Path:
    """Run PyInstaller on installer/echoic_daemon.spec; returns `out_dir/echoic-daemon`."""
    if not pyinstaller_available():
        raise BuildError("PyInstaller is not installed: pip install 'pyinstaller>=6' (the 'build' extra)")
    out_dir = Path(out_dir).resolve()
    with tempfile.TemporaryDirectory(prefix="echoic-build-") as tmp:
        work = Path(work_dir).resolve() if work_dir else Path(tmp)
        command = [sys.executable, "-m", "PyInstaller", str(SPEC), "--noconfirm",
                   "--distpath", str(out_dir), "--workpath", str(work)]
        if quiet:
            command += ["--log-level", "WARN"]
        result = subprocess.run(command, cwd=REPO)
    if result.returncode != 0:
        raise BuildError(f"PyInstaller failed with status {result.returncode}")
    daemon_dir = out_dir / DAEMON_DIR_NAME
    if not (daemon_dir / EXECUTABLE_NAME).is_file():
        raise BuildError(f"PyInstaller finished but {daemon_dir / EXECUTABLE_NAME} is missing")
    if bad := forbidden_paths(daemon_dir):
        raise BuildError(f"the build holds training or test code: {', '.join(str(p) for p in bad[:5])}")
    return daemon_dir


def build_addon(out_dir: Path = Path("dist"), daemon_dir: Path | None = None) -> Path:
    """The NVDA add-on (nvda_addon.build); with `daemon_dir`, that folder's contents go into the
    add-on's bin/, where the driver looks for bin/echoic-daemon.exe, and the file is named
    echoic-<version>-with-daemon.nvda-addon."""
    from nvda_addon.build import ADDON_DIR, build

    if daemon_dir is None:
        return build(Path(out_dir))
    with tempfile.TemporaryDirectory(prefix="echoic-addon-") as tmp:
        staging = Path(tmp) / "addon"
        shutil.copytree(ADDON_DIR, staging, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        shutil.copytree(daemon_dir, staging / "bin", symlinks=True)
        plain = build(Path(tmp) / "out", staging)
        target = Path(out_dir) / plain.name.replace(".nvda-addon", "-with-daemon.nvda-addon")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(plain, target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m installer.build", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("dist"), help="output folder (default: dist)")
    parser.add_argument("--work", type=Path, help="PyInstaller's work folder (default: a temporary one)")
    parser.add_argument("--addon", action="store_true", help="also build the NVDA add-on")
    parser.add_argument("--bundle-daemon", action="store_true",
                        help="put the daemon into the add-on's bin/ (large; see docs/installer.md)")
    parser.add_argument("--quiet", action="store_true", help="only PyInstaller's warnings and errors")
    args = parser.parse_args(argv)
    if args.bundle_daemon and not args.addon:
        parser.error("--bundle-daemon needs --addon")
    try:
        daemon_dir = build_daemon(args.out, args.work, quiet=args.quiet)
        print(f"{daemon_dir}  ({folder_size(daemon_dir) / 2**20:.0f} MiB)")
        if args.addon:
            addon = build_addon(args.out, daemon_dir if args.bundle_daemon else None)
            print(f"{addon}  ({addon.stat().st_size / 2**20:.1f} MiB)")
            if args.bundle_daemon and sys.platform != "win32":
                print("note: this add-on holds a build for this system, not Windows; NVDA needs one "
                      "built on Windows (bin/echoic-daemon.exe)", file=sys.stderr)
    except BuildError as exc:
        print(f"installer.build: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
