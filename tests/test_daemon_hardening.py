"""Regressions for the defects an outside probe of the daemon found (issue #15): each test here
failed before its fix. Real sockets and the fake engine of conftest_daemon."""

from __future__ import annotations

import json
import time

import pytest
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from engine.client import DaemonClient
from engine.daemon import protocol as p
from engine.daemon.settings import SettingsStore, read_table
from engine.errors import ConfigError
from tests.conftest_daemon import WORD_SAMPLES, FakeEngine, running_daemon

BROKEN_SETTINGS = {
    "latin1": b"# caf\xe9 au lait\n[en-US]\nrate = 1.5\n",
    "nested": b"x = " + b"[" * 5000 + b"]" * 5000 + b"\n",
    "nested_tables": b"x = " + b"{a = " * 3000 + b"1" + b"}" * 3000 + b"\n",
    "huge": b"# " + b"a" * 200_000 + b"\n",
    "not_toml": b"[en-US\nrate = \n",
    "invalid": b"[en-US]\nrate = 99\n",
}


# --- settings file: never raises past its boundary (#15 item 2) --------------------------------

@pytest.mark.parametrize("kind", sorted(BROKEN_SETTINGS))
def test_read_table_turns_every_broken_file_into_one_config_error(tmp_path, kind):
    path = tmp_path / "settings.toml"
    path.write_bytes(BROKEN_SETTINGS[kind])
    with pytest.raises(ConfigError) as info:
        read_table(path)
    assert str(path) in str(info.value) or "settings" in str(info.value)


def test_read_table_of_a_folder_is_a_config_error(tmp_path):
    with pytest.raises(ConfigError):
        read_table(tmp_path)


@pytest.mark.parametrize("kind", sorted(BROKEN_SETTINGS))
def test_store_keeps_the_last_good_table_when_the_file_breaks(tmp_path, kind):
    path = tmp_path / "settings.toml"
    path.write_text("[en-US]\nrate = 1.25\n")
    store = SettingsStore(path)
    assert store.for_locale("en-US") == {"rate": 1.25} and store.problem is None
    time.sleep(0.01)
    path.write_bytes(BROKEN_SETTINGS[kind])
    assert store.for_locale("en-US") == {"rate": 1.25}
    assert store.problem


@pytest.mark.parametrize("kind", ["latin1", "nested"])
def test_a_broken_settings_file_never_silences_speech(tmp_path, kind):
    settings = tmp_path / "settings.toml"
    settings.write_text("[en-US]\nrate = 1.5\n")
    engine = FakeEngine()
    with running_daemon(engine, tmp_path / "rt", settings) as server:
        with DaemonClient.connect(server.runtime_dir) as c:
            assert c.speak("one two").samples == 2 * WORD_SAMPLES and engine.requests[-1].rate == 1.5
            time.sleep(0.01)
            settings.write_bytes(BROKEN_SETTINGS[kind])
            result = c.speak("three four")
            assert result.error is None and result.samples == 2 * WORD_SAMPLES
            assert engine.requests[-1].rate == 1.5  # the last good table stays in force
            status = c.status()
            assert status["settings_problem"] and "Traceback" not in status["settings_problem"]
            c.send({"type": "settings", "action": "get"})
            reply = c.receive()
            assert reply["settings"] == {"en-US": {"rate": 1.5}} and reply["problem"]


@pytest.mark.parametrize("kind", ["latin1", "nested"])
def test_config_show_of_a_broken_file_is_one_line_not_a_traceback(tmp_path, kind, capsys):
    from engine.cli import main

    path = tmp_path / "settings.toml"
    path.write_bytes(BROKEN_SETTINGS[kind])
    assert main(["config", "show", "--settings-file", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("echoic: ") and err.count("\n") == 1 and "Traceback" not in err
