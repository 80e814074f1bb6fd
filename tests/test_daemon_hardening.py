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


# --- protocol edges (#15 item 7) --------------------------------------------------------------

@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    root = tmp_path_factory.mktemp("hardening")
    engine = FakeEngine(delay=0.005)
    with running_daemon(engine, root / "runtime", root / "settings.toml") as server:
        server.fake = engine
        yield server


def raw(server, **kwargs):
    return connect(f"ws://127.0.0.1:{server.port}/", max_size=None, **kwargs)


def hello(ws, server, protocol=1):
    ws.send(json.dumps({"type": "hello", "token": server.token, "protocol": protocol}))
    return json.loads(ws.recv(5))


def reply_to(ws, frame: str) -> dict:
    ws.send(frame)
    return json.loads(ws.recv(5))


def test_parse_refuses_nan_and_infinity_as_not_json():
    for frame in ('{"type": "ping", "id": NaN}', '{"type": "ping", "id": -Infinity}',
                  '{"type": "speak", "id": "a", "text": "hi", "rate": NaN}'):
        with pytest.raises(p.ProtocolError) as info:
            p.parse_client_message(frame)
        assert info.value.code == "bad_json"


@pytest.mark.parametrize("value", [[1], {"a": 1}, "x" * 65, 1e300 * 10, 2 ** 60])
def test_ping_id_must_be_short_string_or_number(value):
    with pytest.raises(p.ProtocolError) as info:
        p.parse_client_message(json.dumps({"type": "ping", "id": value}))
    assert info.value.code == "bad_value"


@pytest.mark.parametrize("value", [None, 7, -1.5, "abc", True])
def test_ping_id_echoed_when_plain(value):
    assert p.parse_client_message(json.dumps({"type": "ping", "id": value})).id == value


@pytest.mark.parametrize("field", ["id", "type", "voice"])
def test_nested_values_are_named_not_rendered(field):
    message = {"type": "speak", "id": "a", "text": "hi"}
    value = [[]]
    for _ in range(800):
        value = [value]
    message[field] = value
    with pytest.raises(p.ProtocolError) as info:
        p.parse_client_message(json.dumps(message)[:-1] if False else _dumps_deep(message))
    assert info.value.code in ("bad_value", "unknown_type") and "a list" in str(info.value)


def _dumps_deep(message: dict) -> str:
    parts = []
    for key, value in message.items():
        if isinstance(value, list):
            parts.append(f'"{key}": {deep(800)}')
        else:
            parts.append(f'"{key}": {json.dumps(value)}')
    return "{" + ", ".join(parts) + "}"


def deep(n: int) -> str:
    return "[" * n + "]" * n


# Nested ~980 deep: the parser itself may give up first (bad_json) depending on the stack left.
@pytest.mark.parametrize("frame, codes", [
    ('{"type": "ping", "id": NaN}', ("bad_json",)),
    ('{"type": "ping", "id": %s}' % deep(900), ("bad_value", "bad_json")),
    ('{"type": "ping", "id": %s}' % deep(980), ("bad_value", "bad_json")),
    ('{"type": "speak", "id": %s, "text": "hi"}' % deep(900), ("bad_value", "bad_json")),
    ('{"type": %s}' % deep(900), ("unknown_type", "bad_json")),
    ('{"type": "speak", "id": "a", "text": "hi", "voice": %s}' % deep(900), ("bad_value", "bad_json")),
], ids=["nan", "ping900", "ping980", "speak900", "type900", "voice900"])
def test_hostile_ids_get_a_clear_error_and_the_connection_stays(daemon, frame, codes):
    with raw(daemon) as ws:
        hello(ws, daemon)
        reply = reply_to(ws, frame)
        assert reply["type"] == "error" and reply["code"] in codes, reply
        assert reply_to(ws, '{"type": "ping", "id": 3}') == {"type": "pong", "id": 3}


def test_a_150_digit_protocol_closes_4400(daemon):
    with raw(daemon) as ws:
        ws.send('{"type": "hello", "token": "%s", "protocol": %s}' % (daemon.token, "9" * 150))
        with pytest.raises(ConnectionClosed):
            ws.recv(5)
        assert ws.close_code == p.CLOSE_BAD_VERSION and "not supported" in ws.close_reason


def http_answer(port: int, headers: str) -> bytes:
    import socket

    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(("GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                   "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
                   + headers + "\r\n").encode())
        data = b""
        while b"\r\n\r\n" not in data:
            part = s.recv(4096)
            if not part:
                break
            data += part
    return data


def test_two_origin_headers_are_refused_cleanly(daemon, caplog):
    answer = http_answer(daemon.port, "Origin: http://a.example\r\nOrigin: http://b.example\r\n")
    assert answer.startswith(b"HTTP/1.1 403"), answer[:60]
    assert not [r for r in caplog.records if r.exc_info]
    with raw(daemon) as ws:  # and the daemon serves on
        assert hello(ws, daemon)["type"] == "hello"


def test_two_allowed_origin_headers_are_still_refused(tmp_path):
    with running_daemon(FakeEngine(), tmp_path / "rt", allow_origins=("http://a.example",)) as server:
        answer = http_answer(server.port, "Origin: http://a.example\r\nOrigin: http://a.example\r\n")
        assert answer.startswith(b"HTTP/1.1 403")
        assert http_answer(server.port, "Origin: http://a.example\r\n").startswith(b"HTTP/1.1 101")


def test_accepted_comes_at_once_while_paused_and_before_a_later_pong(daemon):
    with DaemonClient.connect(daemon.runtime_dir) as c:
        first = c.start_speaking("word " * 200)
        while not any(isinstance(m, p.AudioFrame) for m in c.backlog):
            c.backlog.append(c.receive())
        c.send({"type": "pause"})
        time.sleep(0.2)  # the render-ahead fills up behind the pause
        c.send({"type": "speak", "id": "second", "text": "two words", "priority": "important"})
        c.send({"type": "ping", "id": "after"})
        got = []
        while not (got and isinstance(got[-1], dict) and got[-1].get("type") == "pong"):
            got.append(c.receive(5))
        kinds = [m["type"] for m in got if isinstance(m, dict)]
        assert "accepted" in kinds and kinds.index("accepted") < kinds.index("pong")
        accepted = next(m for m in got if isinstance(m, dict) and m["type"] == "accepted")
        assert accepted["id"] == "second"
        c.backlog.extend(got)
        c.send({"type": "resume"})
        results = c.collect([first, "second"])
    assert results["second"].samples == 2 * WORD_SAMPLES and results[first].samples == 200 * WORD_SAMPLES


def test_a_cancel_while_paused_is_answered_while_paused(daemon):
    with DaemonClient.connect(daemon.runtime_dir) as c:
        c.send({"type": "pause"})
        a = c.start_speaking("word " * 200, priority="important")
        b = c.start_speaking("word " * 200, priority="important")
        time.sleep(0.2)
        c.cancel(b)
        got = []
        while not (got and isinstance(got[-1], dict) and got[-1].get("type") == "done"):
            got.append(c.receive(5))
        assert got[-1]["id"] == b and got[-1]["cancelled"] is True
        assert not [m for m in got if isinstance(m, p.AudioFrame)]  # a's audio still held
        c.backlog.extend(got)
        c.cancel()
        c.collect([a])


class EmptyPlanEngine(FakeEngine):
    """Answers empty text as the real engine does: a plan of 0 samples, no error."""

    def stream(self, request, cancel=None):
        if request.text.strip():
            return super().stream(request, cancel)
        from engine.api import Finished
        from engine.plan import Plan

        self.requests.append(request)
        return iter([Finished(Plan(locale=request.locale, voice=request.voice, rate=1.0, sample_rate=24000,
                                   samples=0), 0.0, 0.0)])


@pytest.mark.parametrize("field, value", [("text", ""), ("text", "  \n\t"), ("ssml", " ")])
def test_empty_text_is_bad_value_as_documented(tmp_path, field, value):
    engine = EmptyPlanEngine()
    with running_daemon(engine, tmp_path / "rt") as server:
        with DaemonClient.connect(server.runtime_dir) as c:
            c.send({"type": "speak", "id": "e", field: value})
            result = c.collect(["e"])["e"]
    assert result.accepted is not None and result.done is None and result.error["code"] == "bad_value"
    assert engine.requests == []


def test_ssml_with_a_doctype_is_refused_not_read_aloud(daemon):
    with DaemonClient.connect(daemon.runtime_dir) as c:
        for doc in ('<!DOCTYPE speak [<!ENTITY a "aaaa">]><speak>hi &a;</speak>',
                    '<?xml version="1.0"?><!doctype speak SYSTEM "file:///etc/passwd"><speak>hi</speak>'):
            c.send({"type": "speak", "id": "d", "ssml": doc})
            reply = c.receive(5)
            assert reply["type"] == "error" and reply["code"] == "bad_value" and "DOCTYPE" in reply["message"]


def test_ssml_reader_never_reads_a_doctype_aloud():
    from engine.text import FrontEndReport, read_ssml

    report = FrontEndReport()
    runs = read_ssml('<!DOCTYPE speak [<!ENTITY a "x">]><speak>hello</speak>', "en-US", report)
    assert [i.text for run in runs for i in run.items] == ["hello"]


# --- before authentication (#15 item 5) -------------------------------------------------------

def test_a_large_frame_before_hello_closes_1009_at_once(daemon):
    from engine.daemon.limits import HELLO_MAX_BYTES

    with raw(daemon) as ws:
        ws.send(json.dumps({"type": "hello", "token": daemon.token, "protocol": 1, "pad": "x" * HELLO_MAX_BYTES}))
        with pytest.raises(ConnectionClosed):
            ws.recv(5)
        assert ws.close_code == 1009


def test_large_frames_are_fine_after_hello(daemon):
    with raw(daemon) as ws:
        hello(ws, daemon)
        assert reply_to(ws, json.dumps({"type": "ping", "id": 1, "pad": "x" * 500_000})) == {"type": "pong", "id": 1}


def test_hello_deadline_is_short(tmp_path):
    from engine.daemon import limits as server_module

    assert server_module.HELLO_TIMEOUT_S <= 5
    with running_daemon(FakeEngine(), tmp_path / "rt", hello_timeout_s=0.3) as server:
        with raw(server) as ws:
            start = time.monotonic()
            with pytest.raises(ConnectionClosed):
                ws.recv(5)
            assert ws.close_code == p.CLOSE_UNAUTHORIZED and time.monotonic() - start < 3


def test_connections_without_hello_are_limited(tmp_path, monkeypatch):
    from websockets.exceptions import InvalidStatus

    from engine.daemon import limits as server_module

    with running_daemon(FakeEngine(), tmp_path / "rt") as server:
        idle = [raw(server) for _ in range(server_module.MAX_UNAUTHENTICATED)]
        time.sleep(0.1)
        with pytest.raises(InvalidStatus) as info:
            raw(server)
        assert info.value.response.status_code == 503
        for ws in idle:
            ws.close()
        time.sleep(0.2)
        with raw(server) as ws:  # room again
            assert hello(ws, server)["type"] == "hello"


def test_open_connections_are_limited(tmp_path, monkeypatch):
    from websockets.exceptions import InvalidStatus

    from engine.daemon import limits as server_module

    monkeypatch.setattr(server_module, "MAX_CONNECTIONS", 5)
    with running_daemon(FakeEngine(), tmp_path / "rt") as server:
        clients = [DaemonClient.connect(server.runtime_dir) for _ in range(5)]
        with pytest.raises(InvalidStatus) as info:
            raw(server)
        assert info.value.response.status_code == 503
        assert clients[0].speak("still served").samples == 2 * WORD_SAMPLES
        clients.pop().close()
        time.sleep(0.2)
        with raw(server) as ws:
            assert hello(ws, server)["type"] == "hello"
        for c in clients:
            c.close()


# --- bounded memory (#15 item 4) ----------------------------------------------------------------

def test_status_reports_every_pool_with_its_limit(daemon):
    with DaemonClient.connect(daemon.runtime_dir) as c:
        status = c.status()
    pools = status["pools"]
    for name in ("connections", "unauthenticated", "queued_text_chars", "rendered_ahead_bytes", "answers_queued"):
        assert pools[name]["used"] >= 0 and pools[name]["limit"] > 0, name
    assert pools["connections"]["used"] >= 1 and status["rss_bytes"] > 0


def test_queued_text_is_bounded_per_client(tmp_path, monkeypatch):
    from engine.daemon import limits as server_module

    monkeypatch.setattr(server_module, "MAX_QUEUED_CHARS_PER_CLIENT", 30_000)
    with running_daemon(FakeEngine(delay=0.01), tmp_path / "rt") as server:
        with DaemonClient.connect(server.runtime_dir) as c, DaemonClient.connect(server.runtime_dir) as other:
            c.send({"type": "pause"})
            ids = [c.start_speaking("word " * 2000, priority="important") for _ in range(3)]  # 30,000 chars
            c.send({"type": "speak", "id": "over", "text": "one more", "priority": "important"})
            while True:
                reply = c.receive(5)
                if isinstance(reply, dict) and reply.get("id") == "over":
                    break
            assert reply["type"] == "error" and reply["code"] == "queue_full"
            assert other.speak("another client is not affected").samples == 5 * WORD_SAMPLES
            c.cancel()
            c.collect(ids)


def test_trim_and_arena_limit_are_safe_to_call():
    from engine.daemon import memory

    assert memory.trim() in (True, False)
    assert memory.limit_arenas() in (True, False)
    assert memory.resident_memory_bytes() > 10 * 2**20


def test_idle_daemon_trims_after_much_text(tmp_path):
    with running_daemon(FakeEngine(delay=0), tmp_path / "rt") as server:
        with DaemonClient.connect(server.runtime_dir) as c:
            c.speak("word " * 2500)  # 12,500 characters
            deadline = time.monotonic() + 5
            while server.trims == 0 and time.monotonic() < deadline:
                time.sleep(0.05)
    assert server.trims >= 1
