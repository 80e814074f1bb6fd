"""The add-on as NVDA gets it: the built zip's layout and manifest, and a driver that imports with
nothing but the standard library, the NVDA stand-ins and its own package (no site-packages)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

from nvda_addon.build import REQUIRED, build, read_manifest, stage

ROOT = Path(__file__).resolve().parent.parent
STUBS = ROOT / "tests" / "nvda_stubs"


@pytest.fixture(scope="module")
def package(tmp_path_factory):
    return build(tmp_path_factory.mktemp("dist"))


def test_zip_layout_and_manifest(package):
    assert package.name == "echoic-0.1.0.nvda-addon"
    with zipfile.ZipFile(package) as zf:
        names = set(zf.namelist())
        manifest = read_manifest(zf.read("manifest.ini").decode("utf-8"))
    assert {"manifest.ini", "synthDrivers/echoic/__init__.py", "synthDrivers/echoic/_client/websocket.py",
            "synthDrivers/echoic/_client/connection.py", "synthDrivers/echoic/_daemon.py", "synthDrivers/echoic/_ssml.py", "doc/en/readme.html"} <= names
    assert not [n for n in names if "__pycache__" in n or n.endswith(".pyc")]
    assert all(manifest[key] for key in REQUIRED)
    assert manifest["name"] == "echoic" and manifest["version"] == "0.1.0"
    assert manifest["docFileName"] == "readme.html"
    assert manifest["minimumNVDAVersion"] == "2026.1.0"
    assert manifest["lastTestedNVDAVersion"] == "2026.2.0"


ISOLATED = r"""
import sys
stubs, addon = sys.argv[1], sys.argv[2]
sys.path[:] = [stubs, addon] + [p for p in sys.path if "site-packages" not in p and "dist-packages" not in p]
stdlib = sys.argv[3:]
import nvda_env
nvda_env.install()
import synthDrivers.echoic as driver
assert driver.SynthDriver.name == "echoic"
outside = []
for name, module in sorted(sys.modules.items()):
    path = getattr(module, "__file__", None)
    if path and not path.startswith((stubs, addon, *stdlib)):
        outside.append(f"{name}: {path}")
assert not outside, outside
assert "websockets" not in sys.modules and "asyncio" not in sys.modules, "the driver must not need asyncio"
print("ok", len(sys.modules))
"""


def _stdlib_dirs():
    paths = sysconfig.get_paths()
    return [paths["stdlib"], paths["platstdlib"], str(Path(paths["stdlib"]) / "lib-dynload")]


def test_driver_imports_with_the_standard_library_only(tmp_path):
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", ISOLATED, str(STUBS), str(stage(tmp_path / "addon")), *_stdlib_dirs()],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("ok")


def test_driver_from_the_built_zip_imports_isolated(package, tmp_path):
    with zipfile.ZipFile(package) as zf:
        zf.extractall(tmp_path)
    result = subprocess.run(
        [sys.executable, "-I", "-S", "-c", ISOLATED, str(STUBS), str(tmp_path), *_stdlib_dirs()],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0, result.stderr
