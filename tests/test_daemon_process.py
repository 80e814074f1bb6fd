"""The daemon as a process: lock, stale and killed daemons, SIGTERM, `echoic status` and `echoic stop`.

These start real processes running the real Server (with the fake engine, so they do not depend
on the model); test_daemon_engine.py starts `python -m engine serve` itself.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.cli import main as echoic
from engine.client import DaemonClient, find_daemon
from engine.daemon.runtime_file import RUNTIME_FILE, RuntimeInfo, write_runtime_file

REPO = Path(__file__).resolve().parents[1]
SERVE = """
import asyncio, logging, sys
from pathlib import Path
from tests.conftest_daemon import FakeEngine
from engine.daemon.server import Server
from engine.daemon.settings import SettingsStore
logging.basicConfig(level=logging.INFO)
runtime = Path(sys.argv[1])
asyncio.run(Server(FakeEngine(), port=0, runtime_dir=runtime, settings=SettingsStore(runtime.parent / "s.toml")).run())
"""


def start(runtime: Path) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-c", SERVE, str(runtime)], cwd=REPO, stderr=subprocess.PIPE, text=True)


def wait_ready(proc: subprocess.Popen, runtime: Path, timeout: float = 30) -> RuntimeInfo:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        info = find_daemon(runtime)
        if info is not None and info.pid == proc.pid:
            return info
        assert proc.poll() is None, proc.stderr.read()
        time.sleep(0.05)
    raise AssertionError("daemon did not write its runtime file")


@pytest.fixture
def runtime(tmp_path):
    return tmp_path / "runtime"


def test_second_daemon_is_refused_and_sigterm_cleans_up(runtime):
    first = start(runtime)
    try:
        info = wait_ready(first, runtime)
        assert oct((runtime / RUNTIME_FILE).stat().st_mode & 0o777) == "0o600"
        second = start(runtime)
        _, err = second.communicate(timeout=30)
        assert second.returncode != 0 and "already running" in err
        with DaemonClient.connect(runtime) as c:
            assert c.status()["pid"] == info.pid
        first.send_signal(signal.SIGTERM)
        assert first.wait(15) == 0
        assert not (runtime / RUNTIME_FILE).exists()
    finally:
        first.kill()


def test_sigint_also_stops_cleanly(runtime):
    proc = start(runtime)
    try:
        wait_ready(proc, runtime)
        proc.send_signal(signal.SIGINT)
        assert proc.wait(15) == 0 and not (runtime / RUNTIME_FILE).exists()
    finally:
        proc.kill()


def test_stale_runtime_file_is_replaced(runtime):
    write_runtime_file(runtime, RuntimeInfo(2**22 + 4321, 1, "f" * 64, 1, "0.0.0"))
    assert find_daemon(runtime) is None  # clients ignore it
    proc = start(runtime)
    try:
        info = wait_ready(proc, runtime)
        assert info.pid == proc.pid and info.token != "f" * 64
    finally:
        proc.terminate()
        proc.wait(15)


def test_killed_daemon_does_not_block_the_next(runtime):
    proc = start(runtime)
    wait_ready(proc, runtime)
    proc.kill()
    proc.wait(15)
    assert (runtime / RUNTIME_FILE).exists() and find_daemon(runtime) is None  # left behind, but stale
    assert echoic(["status", "--runtime-dir", str(runtime)]) == 3
    again = start(runtime)
    try:
        info = wait_ready(again, runtime)
        with DaemonClient.connect(runtime) as c:
            assert c.speak("after a crash").samples > 0 and info.pid == again.pid
    finally:
        again.terminate()
        again.wait(15)


def test_echoic_status_and_stop(runtime, capsys):
    proc = start(runtime)
    try:
        info = wait_ready(proc, runtime)
        assert echoic(["status", "--runtime-dir", str(runtime)]) == 0
        assert f"pid {info.pid}" in capsys.readouterr().out
        assert echoic(["stop", "--runtime-dir", str(runtime)]) == 0
        assert proc.wait(15) == 0 and not (runtime / RUNTIME_FILE).exists()
        assert echoic(["status", "--runtime-dir", str(runtime)]) == 3
        assert "not running" in capsys.readouterr().out
    finally:
        proc.kill()


def test_config_commands(tmp_path, capsys):
    path = str(tmp_path / "settings.toml")
    assert echoic(["config", "set", "en_gb", "rate=1.75", "voice=jf_alpha", "--settings-file", path]) == 0
    assert echoic(["config", "set", "de", "pitch=1.2", "--settings-file", path]) == 0
    assert echoic(["config", "set", "en-GB", "rate=9", "--settings-file", path]) == 2
    assert echoic(["config", "set", "en-GB", "voice=nobody", "--settings-file", path]) == 2
    assert echoic(["config", "set", "xx-XX", "rate=1", "--settings-file", path]) == 2
    capsys.readouterr()
    assert echoic(["config", "show", "--settings-file", path]) == 0
    out = capsys.readouterr().out
    assert '[en-GB]\nvoice = "jf_alpha"\nrate = 1.75' in out and "[de-DE]\npitch = 1.2" in out
    assert echoic(["config", "reset", "en-GB", "rate", "--settings-file", path]) == 0
    assert echoic(["config", "reset", "de-DE", "--settings-file", path]) == 0
    import tomllib

    assert tomllib.loads(Path(path).read_text()) == {"en-GB": {"voice": "jf_alpha"}}
    assert echoic(["config", "reset", "--settings-file", path]) == 0
    assert tomllib.loads(Path(path).read_text()) == {}
    leftovers = [p for p in tmp_path.iterdir() if p.name != "settings.toml"]
    assert leftovers == []  # no temporary files left behind
