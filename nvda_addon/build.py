"""Build the NVDA add-on: `python -m nvda_addon.build` writes dist/echoic-<version>.nvda-addon.

The package is a zip of nvda_addon/addon/ (manifest.ini at the root, synthDrivers/echoic/...,
doc/) without caches, plus the daemon client core, engine/client/*.py, copied byte for byte into
synthDrivers/echoic/_client/: the driver and the other clients share one protocol implementation
(standard library only), and tests/test_client_core.py proves the copy identical to the source.
`stage(folder)` lays the same files out in a folder, to run the driver from a checkout.
"""

from __future__ import annotations

import argparse
import configparser
import shutil
import sys
import zipfile
from pathlib import Path

ADDON_DIR = Path(__file__).resolve().parent / "addon"
CORE_DIR = Path(__file__).resolve().parent.parent / "engine" / "client"
CORE_TARGET = "synthDrivers/echoic/_client"
"""Where the client core goes inside the add-on (the driver imports `._client`)."""
REQUIRED = ("name", "summary", "description", "author", "version", "url", "docFileName",
            "minimumNVDAVersion", "lastTestedNVDAVersion")


def read_manifest(text: str) -> dict[str, str]:
    """manifest.ini is a section-less configobj file; read its keys, quotes stripped."""
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str
    parser.read_string("[manifest]\n" + text)
    values = {}
    for key, value in parser["manifest"].items():
        value = value.strip()
        for quote in ('"""', '"'):
            if value.startswith(quote) and value.endswith(quote) and len(value) >= 2 * len(quote):
                value = value[len(quote):-len(quote)]
                break
        values[key] = value
    return values


def addon_files(addon_dir: Path = ADDON_DIR) -> list[Path]:
    files = []
    for path in sorted(addon_dir.rglob("*")):
        if path.is_dir() or "__pycache__" in path.parts or path.suffix in (".pyc", ".pyo"):
            continue
        files.append(path)
    return files


def core_files(core_dir: Path = CORE_DIR) -> list[Path]:
    """The client core's modules (engine/client/*.py): all of it, nothing else."""
    return sorted(p for p in core_dir.glob("*.py") if p.is_file())


def package_files(addon_dir: Path = ADDON_DIR, core_dir: Path = CORE_DIR) -> list[tuple[Path, str]]:
    """(source file, name inside the add-on) for every file of the package."""
    files = [(path, path.relative_to(addon_dir).as_posix()) for path in addon_files(addon_dir)]
    core = [(path, f"{CORE_TARGET}/{path.name}") for path in core_files(core_dir)]
    if not core:
        raise FileNotFoundError(f"the client core the driver needs is not in {core_dir}")
    names = {name for _, name in core}
    return [(path, name) for path, name in files if name not in names] + core


def stage(folder: Path, addon_dir: Path = ADDON_DIR, core_dir: Path = CORE_DIR) -> Path:
    """Lay the add-on out in `folder` (replacing what is there) as NVDA would unpack it."""
    if folder.exists():
        shutil.rmtree(folder)
    for path, name in package_files(addon_dir, core_dir):
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, target)
    return folder


def build(out_dir: Path = Path("dist"), addon_dir: Path = ADDON_DIR) -> Path:
    manifest = read_manifest((addon_dir / "manifest.ini").read_text(encoding="utf-8"))
    missing = [key for key in REQUIRED if not manifest.get(key)]
    if missing:
        raise ValueError(f"manifest.ini lacks {', '.join(missing)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{manifest['name']}-{manifest['version']}.nvda-addon"
    tmp = target.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path, name in package_files(addon_dir):
            zf.write(path, name)
    tmp.replace(target)
    return target


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m nvda_addon.build", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("dist"), help="output folder (default: dist)")
    args = parser.parse_args(argv)
    print(build(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
