"""Build the NVDA add-on: `python -m nvda_addon.build` writes dist/echoic-<version>.nvda-addon.

The package is a zip of nvda_addon/addon/ (manifest.ini at the root, synthDrivers/echoic/...,
doc/) without caches. The driver is standard library only, so nothing is vendored.
"""

from __future__ import annotations

import argparse
import configparser
import sys
import zipfile
from pathlib import Path

ADDON_DIR = Path(__file__).resolve().parent / "addon"
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


def build(out_dir: Path = Path("dist"), addon_dir: Path = ADDON_DIR) -> Path:
    manifest = read_manifest((addon_dir / "manifest.ini").read_text(encoding="utf-8"))
    missing = [key for key in REQUIRED if not manifest.get(key)]
    if missing:
        raise ValueError(f"manifest.ini lacks {', '.join(missing)}")
    out_dir.mkdir(parents=True, exist_ok=True)
    target = out_dir / f"{manifest['name']}-{manifest['version']}.nvda-addon"
    tmp = target.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for path in addon_files(addon_dir):
            zf.write(path, path.relative_to(addon_dir).as_posix())
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
