"""The client core (engine/client/): one protocol implementation for the CLI, sd_echoic, the
NVDA driver and the daemon's constants; and the runtime-folder and `echoic stop` defects of
issue 15 (items 1 and 6), each against real processes and real folders."""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest

from engine.cli import main as echoic
from engine.client import discovery, find_daemon
from engine.client.discovery import LOCK_FILE, RUNTIME_FILE, RuntimeInfo, looks_like_daemon, runtime_dir
from engine.daemon.runtime_file import DaemonLock, default_runtime_dir, write_runtime_file
from tests.test_daemon_process import start, wait_ready

REPO = Path(__file__).resolve().parents[1]
CORE = REPO / "engine" / "client"


# --- one core, copied byte for byte -------------------------------------------------------------

def test_the_core_imports_nothing_but_the_standard_library():
    probe = ("import sys, engine.client\n"
             "print(sorted(m for m in sys.modules if m.split('.')[0] in "
             "('numpy', 'onnxruntime', 'websockets', 'platformdirs', 'torch') "
             "or (m.startswith('engine.') and not m.startswith('engine.client'))))")
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_the_nvda_add_on_carries_a_byte_identical_copy_of_the_core(tmp_path):
    from nvda_addon.build import CORE_TARGET, build

    sources = {p.name: p.read_bytes() for p in CORE.glob("*.py")}
    assert {"wire.py", "websocket.py", "discovery.py", "connection.py"} <= set(sources)
    with zipfile.ZipFile(build(tmp_path)) as zf:
        copied = {n[len(CORE_TARGET) + 1:]: zf.read(n) for n in zf.namelist() if n.startswith(CORE_TARGET + "/")}
        names = zf.namelist()
    assert copied == sources
    assert not [n for n in names if n.endswith("_websocket.py")], "the driver keeps no framing of its own"


def test_daemon_constants_are_the_cores():
    from engine.client import wire
    from engine.daemon import protocol as p

    for name in ("PROTOCOL_VERSION", "DEFAULT_PORT", "AUDIO_MAGIC", "AUDIO_HEADER", "CLOSE_UNAUTHORIZED",
                 "CLOSE_BAD_VERSION", "MAX_MESSAGE_BYTES", "SAMPLE_RATE", "FORMAT_S16LE"):
        assert getattr(p, name) is getattr(wire, name), name
    assert p.AudioFrame is wire.AudioFrame and p.parse_audio_frame is wire.parse_audio_frame


# --- one runtime lookup ---------------------------------------------------------------------------

@pytest.mark.parametrize("environ, platform, expected", [
    ({"ECHOIC_RUNTIME_DIR": "/x/rt", "XDG_RUNTIME_DIR": "/run/user/5"}, "linux", "/x/rt"),
    ({"XDG_RUNTIME_DIR": "/run/user/5"}, "linux", "/run/user/5/echoic"),
    ({"XDG_RUNTIME_DIR": "relative"}, "linux", "/tmp/runtime-5/echoic"),
    ({}, "linux", "/tmp/runtime-5/echoic"),
    ({"LOCALAPPDATA": "C:/Users/a/AppData/Local"}, "win32", os.path.join("C:/Users/a/AppData/Local", "echoic")),
])
def test_runtime_dir_is_a_function_of_the_environment(environ, platform, expected):
    assert runtime_dir(environ, platform, uid=5, temp="/tmp") == expected


@pytest.fixture
def nvda_daemon_module():
    sys.path.insert(0, str(REPO / "tests" / "nvda_stubs"))
    import nvda_env

    nvda_env.install()
    if nvda_env.staged_addon() not in sys.path:
        sys.path.insert(1, nvda_env.staged_addon())
    from synthDrivers.echoic import _daemon

    return _daemon


@pytest.mark.parametrize("env", [
    {"ECHOIC_RUNTIME_DIR": "{tmp}/override"},
    {"XDG_RUNTIME_DIR": "{tmp}/not-there-yet"},
    {},
])
def test_daemon_and_every_client_look_in_one_place(env, tmp_path, monkeypatch, nvda_daemon_module):
    from speechd_bridge.daemon_client import default_runtime_dir as speechd_dir

    for name in ("ECHOIC_RUNTIME_DIR", "XDG_RUNTIME_DIR"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value.format(tmp=tmp_path))
    daemon = default_runtime_dir()
    assert speechd_dir() == daemon
    assert Path(nvda_daemon_module.runtimeDir()) == daemon
    assert Path(runtime_dir()) == daemon


def test_a_missing_xdg_runtime_dir_is_created_private_and_clients_find_the_daemon(tmp_path, monkeypatch):
    """Issue 15: the daemon made a missing XDG_RUNTIME_DIR 0755 and clients then looked elsewhere."""
    monkeypatch.delenv("ECHOIC_RUNTIME_DIR", raising=False)
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "xdg"))
    from tests.conftest_daemon import FakeEngine, running_daemon

    with running_daemon(FakeEngine(), default_runtime_dir()) as server:
        assert (tmp_path / "xdg" / "echoic") == server.runtime_dir
        for folder in (tmp_path / "xdg", tmp_path / "xdg" / "echoic"):
            assert folder.stat().st_mode & 0o777 == 0o700, folder
        info = find_daemon()
        assert info is not None and info.port == server.port
        from speechd_bridge.daemon_client import DaemonClient as SpeechdClient

        client = SpeechdClient(autostart=False)
        try:
            assert client.ensure_connected()["type"] == "hello"
        finally:
            client.close()


def _one_line_error(capsys) -> str:
    err = capsys.readouterr().err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


@pytest.mark.parametrize("command", [["status"], ["stop"], ["serve", "--port", "0"]])
def test_a_runtime_folder_others_may_write_is_refused_in_one_line(command, tmp_path, capsys):
    folder = tmp_path / "rt"
    folder.mkdir()
    folder.chmod(0o777)
    assert echoic([*command, "--runtime-dir", str(folder)]) == 2
    assert "can be written by others" in _one_line_error(capsys)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_a_runtime_folder_of_another_user_is_refused_in_one_line(tmp_path, capsys):
    folder = tmp_path / "rt"
    folder.mkdir(mode=0o700)
    os.chown(folder, 12345, 12345)
    (folder / RUNTIME_FILE).write_text(json.dumps({"pid": os.getpid(), "port": 1, "token": "planted"}))
    assert echoic(["status", "--runtime-dir", str(folder)]) == 2
    assert "belongs to uid 12345" in _one_line_error(capsys)
    with pytest.raises(discovery.RuntimeDirError):
        find_daemon(folder)


@pytest.mark.skipif(os.geteuid() != 0, reason="giving a folder to another user needs root")
def test_a_runtime_folder_inside_another_users_folder_is_refused(tmp_path, capsys):
    """/tmp/runtime-<uid> pre-created by someone else: our echoic/ inside it could be swapped."""
    base = tmp_path / "runtime-0"
    base.mkdir(mode=0o755)
    os.chown(base, 12345, 12345)
    assert echoic(["serve", "--port", "0", "--runtime-dir", str(base / "echoic")]) == 2
    assert "belongs to uid 12345" in _one_line_error(capsys)


def test_a_runtime_folder_that_cannot_be_created_is_one_line(tmp_path, capsys):
    (tmp_path / "file").write_text("x")
    assert echoic(["serve", "--port", "0", "--runtime-dir", str(tmp_path / "file" / "rt")]) == 2
    assert "cannot be created" in _one_line_error(capsys)


# --- the runtime file is recovered from the lock ----------------------------------------------------

@pytest.mark.parametrize("damage", ["delete", "corrupt"])
def test_a_damaged_runtime_file_does_not_orphan_the_daemon(damage, tmp_path, capsys):
    runtime = tmp_path / "runtime"
    proc = start(runtime)
    try:
        info = wait_ready(proc, runtime)
        if damage == "delete":
            (runtime / RUNTIME_FILE).unlink()
        else:
            (runtime / RUNTIME_FILE).write_text('{"pid": ')
        found = find_daemon(runtime)
        assert found == info
        assert echoic(["status", "--runtime-dir", str(runtime)]) == 0
        assert f"running, pid {proc.pid}" in capsys.readouterr().out
        second = start(runtime)  # still refused: the lock names the running daemon
        _, err = second.communicate(timeout=30)
        assert second.returncode != 0 and f"pid {proc.pid}" in err
        assert echoic(["stop", "--runtime-dir", str(runtime)]) == 0
        assert proc.wait(15) == 0
    finally:
        proc.kill()
        proc.wait(15)
    assert find_daemon(runtime) is None  # the lock's record is cleared on a clean exit
    assert (runtime / LOCK_FILE).read_bytes() == b""


# --- echoic stop signals only a verified daemon ---------------------------------------------------

@pytest.fixture
def stranger():
    proc = subprocess.Popen(["sleep", "300"])
    yield proc
    proc.kill()
    proc.wait(5)


def test_stop_with_a_stale_file_naming_another_process_signals_nothing(stranger, tmp_path, capsys):
    """Issue 15, item 1: `sleep 300 &`, daemon.json with that pid and port 1, `echoic stop`."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700)
    (runtime / RUNTIME_FILE).write_text(json.dumps({"pid": stranger.pid, "port": 1, "token": "x" * 64,
                                                    "protocol": 1, "version": "0.1.0"}))
    assert echoic(["stop", "--runtime-dir", str(runtime), "--timeout", "1"]) == 0
    assert "nothing was signalled" in capsys.readouterr().out
    time.sleep(0.2)
    assert stranger.poll() is None, "echoic stop killed an unrelated process"


def test_stop_signals_nothing_when_the_lock_holder_is_not_that_process(stranger, tmp_path, capsys):
    """Even with the lock held (by this test) and its record naming the stranger: the record's
    start time is not the stranger's, and `sleep` is no daemon, so nothing is signalled."""
    runtime = tmp_path / "runtime"
    with DaemonLock(runtime):
        write_runtime_file(runtime, RuntimeInfo(stranger.pid, 1, "x" * 64, 1, "0.1.0", started=1))
        assert echoic(["stop", "--runtime-dir", str(runtime), "--timeout", "1"]) == 2
        assert "nothing was signalled" in _one_line_error(capsys)
    time.sleep(0.2)
    assert stranger.poll() is None


def test_stop_signals_a_wedged_daemon_it_has_verified(tmp_path, capsys):
    """A daemon that holds the lock but does not answer (stopped with SIGSTOP) is the one case
    for a signal: its pid and start time match the lock's record."""
    runtime = tmp_path / "runtime"
    proc = start(runtime)
    try:
        wait_ready(proc, runtime)
        proc.send_signal(signal.SIGSTOP)
        assert echoic(["stop", "--runtime-dir", str(runtime), "--timeout", "1"]) == 2  # did not stop yet: stopped
        proc.send_signal(signal.SIGCONT)
        assert proc.wait(15) == 0  # the SIGTERM it got while stopped ends it cleanly
    finally:
        proc.kill()
        proc.wait(15)


def test_process_identity_rules():
    assert looks_like_daemon(["/usr/bin/python3", "/usr/local/bin/echoic", "serve"])
    assert looks_like_daemon(["python", "-m", "engine", "serve", "--port", "0"])
    assert looks_like_daemon(["C:\\Echoic\\echoic-daemon.exe", "serve"])
    assert not looks_like_daemon(["sleep", "300"])
    assert not looks_like_daemon(["vim", "serve"])
    assert not looks_like_daemon(["python", "-c", "engine", "serve"])
    me = RuntimeInfo(os.getpid(), 1, "t", started=discovery.process_start_time(os.getpid()))
    assert discovery.is_daemon_process(me)[0]
    later = RuntimeInfo(os.getpid(), 1, "t", started=(me.started or 0) + 1)
    assert not discovery.is_daemon_process(later)[0]


# --- full disks and unwritable files: one line, status 2 --------------------------------------------

def test_config_set_that_cannot_write_is_one_line(tmp_path, capsys):
    assert echoic(["config", "set", "en-US", "rate=1.5", "--settings-file", "/proc/echoic-settings.toml"]) == 2
    assert _one_line_error(capsys).startswith("echoic: cannot write the settings file")


def test_config_set_on_a_full_disk_is_one_line(tmp_path, capsys, monkeypatch):
    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    assert echoic(["config", "set", "en-US", "rate=1.5", "--settings-file", str(tmp_path / "s.toml")]) == 2
    assert "No space left on device" in _one_line_error(capsys)
    assert not list(tmp_path.iterdir()), "no temporary file is left behind"


def test_serve_on_a_full_disk_is_one_line(tmp_path, capsys, monkeypatch):
    import engine.daemon.runtime_file as runtime_file
    import engine.synth
    from tests.conftest_daemon import FakeEngine

    def full(path, data):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path))

    monkeypatch.setattr(engine.synth, "Engine", lambda config: FakeEngine())
    monkeypatch.setattr("logging.basicConfig", lambda **options: None)  # leave pytest's handlers alone
    monkeypatch.setattr(runtime_file, "write_atomically", full)
    assert echoic(["serve", "--port", "0", "--runtime-dir", str(tmp_path / "rt"),
                   "--settings-file", str(tmp_path / "s.toml")]) == 2
    assert "No space left on device" in _one_line_error(capsys)
