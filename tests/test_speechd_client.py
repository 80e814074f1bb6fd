"""The bridge's daemon client against a scripted fake daemon that speaks protocol v1.

`FakeDaemon` is also what the module tests use when they only need the protocol, not the model:
a real WebSocket server on loopback with a runtime file, paced audio (a sine per character) and
index marks that fall inside frames, so the module must split frames at marks.
"""

from __future__ import annotations

import json
import math
import os
import queue
import re
import secrets
import struct
import threading
import time
from pathlib import Path

import pytest
from websockets.sync.server import serve

from speechd_bridge.daemon_client import (
    AUDIO_HEADER,
    DaemonClient,
    DaemonRefused,
    DaemonUnavailable,
    parse_audio_frame,
    parse_runtime_file,
    read_runtime_file,
)

SAMPLE_RATE = 24000
SAMPLES_PER_CHAR = 480  # 20 ms a character
FRAME_SAMPLES = 4800  # 0.2 s frames: marks land inside them


def fake_pcm(text: str, start: int) -> bytes:
    n = SAMPLES_PER_CHAR * max(1, len(text))
    return b"".join(struct.pack("<h", int(3000 * math.sin(2 * math.pi * 440 * (start + i) / SAMPLE_RATE)))
                    for i in range(n))


def plan_ssml(ssml: str) -> tuple[list[str], list[tuple[str, int]]]:
    """(text segments, [(mark, sample_offset)]) of a small SSML text."""
    body = re.sub(r"</?speak[^>]*>", "", ssml)
    segments, marks, offset = [], [], 0
    for piece in re.split(r"(<mark\s+name=\"[^\"]*\"\s*/>)", body):
        m = re.match(r"<mark\s+name=\"([^\"]*)\"", piece)
        if m:
            marks.append((m.group(1), offset))
        else:
            text = re.sub(r"<[^>]+>", "", piece).strip()
            if text:
                segments.append(text)
                offset += SAMPLES_PER_CHAR * len(text)
    return segments, marks


class FakeDaemon:
    """A protocol-v1 daemon with no model. `pace` is how much faster than real time it streams."""

    def __init__(self, runtime_dir: Path, pace: float = 4.0):
        self.runtime_dir = Path(runtime_dir)
        self.token = secrets.token_hex(32)
        self.pace = pace
        self.speaks: list[dict] = []
        self.cancels: list[dict] = []
        self._server = None
        self._thread = None
        self._number = 0

    def start(self) -> "FakeDaemon":
        self._server = serve(self._handle, "127.0.0.1", 0, compression=None)
        self.port = self._server.socket.getsockname()[1]
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()
        self.runtime_dir.mkdir(parents=True, exist_ok=True, mode=0o700)  # a runtime folder is private
        path = self.runtime_dir / "daemon.json"
        path.write_text(json.dumps({"pid": os.getpid(), "port": self.port, "token": self.token,
                                    "protocol": 1, "version": "fake"}))
        path.chmod(0o600)
        return self

    def stop(self) -> None:
        (self.runtime_dir / "daemon.json").unlink(missing_ok=True)
        self._server.shutdown()
        self._thread.join(5)

    def _handle(self, ws) -> None:
        hello = json.loads(ws.recv())
        if hello.get("type") != "hello" or hello.get("token") != self.token:
            ws.close(4401, "bad token")
            return
        ws.send(json.dumps({"type": "hello", "protocol": 1, "version": "fake", "sample_rate": SAMPLE_RATE,
                            "channels": 1, "format": "s16le", "capabilities": ["ssml", "marks"]}))
        jobs: queue.Queue = queue.Queue()
        cancelled: set[str] = set()
        lock = threading.Lock()

        def speaker():
            while True:
                msg = jobs.get()
                if msg is None:
                    return
                try:
                    self._speak(ws, msg, cancelled, lock)
                except Exception:  # noqa: BLE001 - the client went away mid-utterance
                    return

        thread = threading.Thread(target=speaker, daemon=True)
        thread.start()
        try:
            for frame in ws:
                msg = json.loads(frame)
                kind = msg.get("type")
                if kind == "voices":
                    ws.send(json.dumps({"type": "voices", "voices": [
                        {"id": "fm_one", "name": "One", "gender": "male", "locales": ["en-US", "en-GB"]},
                        {"id": "ff_two", "name": "Two", "gender": "female", "locales": ["en-US", "es-ES"]}]}))
                elif kind == "locales":
                    ws.send(json.dumps({"type": "locales", "locales": [
                        {"tag": t, "name": t, "status": "", "default_voice": "fm_one"}
                        for t in ("en-US", "en-GB", "es-ES")]}))
                elif kind == "speak":
                    self.speaks.append(msg)
                    jobs.put(msg)
                elif kind == "cancel":
                    self.cancels.append(msg)
                    with lock:
                        cancelled.add(msg.get("id", "*"))
                elif kind == "ping":
                    ws.send(json.dumps({"type": "pong", "id": msg.get("id")}))
        except Exception:  # noqa: BLE001 - a client going away ends its handler
            pass
        jobs.put(None)

    def _speak(self, ws, msg, cancelled, lock) -> None:
        uid = msg["id"]
        self._number += 1
        number = self._number
        ws.send(json.dumps({"type": "accepted", "id": uid, "utterance": number,
                            "locale": msg.get("locale", "en-US"), "voice": msg.get("voice", "fm_one")}))
        segments, marks = plan_ssml(msg["ssml"]) if "ssml" in msg else ([msg["text"]], [])
        pcm = fake_pcm(" ".join(segments), 0)
        total = len(pcm) // 2
        pending = sorted(marks, key=lambda m: m[1])
        seq, offset, t0 = 0, 0, time.monotonic()
        while offset < total or pending:
            with lock:
                if uid in cancelled or "*" in cancelled:
                    cancelled.discard(uid)
                    cancelled.discard("*")
                    ws.send(json.dumps({"type": "done", "id": uid, "samples": offset, "cancelled": True, "stats": {}}))
                    return
            end = min(total, offset + FRAME_SAMPLES)
            if end > offset and msg.get("playback", "client") == "client":
                header = AUDIO_HEADER.pack(b"EAU1", number, seq, offset, SAMPLE_RATE, 1, 1)
                ws.send(header + pcm[offset * 2:end * 2])
                seq += 1
            while pending and (pending[0][1] < end or end >= total):
                name, at = pending.pop(0)
                ws.send(json.dumps({"type": "index", "id": uid, "mark": name, "sample_offset": at}))
            offset = end
            # Stay about real time / pace ahead, as the real daemon stays a few seconds ahead.
            delay = t0 + offset / SAMPLE_RATE / self.pace - time.monotonic()
            if delay > 0:
                time.sleep(delay)
        ws.send(json.dumps({"type": "done", "id": uid, "samples": total, "cancelled": False, "stats": {}}))


@pytest.fixture
def fake_daemon(tmp_path):
    daemon = FakeDaemon(tmp_path / "run").start()
    yield daemon
    daemon.stop()


def _drain(utterance, timeout=10.0):
    events = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = utterance.events.get(timeout=deadline - time.monotonic())
        events.append(event)
        if event[0] in ("done", "error", "lost"):
            return events
    raise AssertionError(f"no done within {timeout} s: {events}")


def test_runtime_file_parsing_and_staleness(tmp_path):
    info = parse_runtime_file('{"pid": 12, "port": 49733, "token": "ab", "protocol": 1, "version": "0.1.0"}')
    assert (info.pid, info.port, info.token) == (12, 49733, "ab")
    with pytest.raises(ValueError, match="field"):
        parse_runtime_file('{"pid": 12}')
    (tmp_path / "daemon.json").write_text(json.dumps({"pid": 2**22 + 12345, "port": 1, "token": "x"}))
    assert read_runtime_file(tmp_path) is None  # pid not alive: stale
    (tmp_path / "daemon.json").write_text(json.dumps({"pid": os.getpid(), "port": 1, "token": "x"}))
    assert read_runtime_file(tmp_path).port == 1


def test_audio_frame_header_round_trip():
    frame = AUDIO_HEADER.pack(b"EAU1", 7, 3, 48000, 24000, 1, 1) + b"\x01\x02\x03\x04"
    parsed = parse_audio_frame(frame)
    assert (parsed.utterance, parsed.seq, parsed.sample_offset, parsed.sample_rate, parsed.pcm) == (
        7, 3, 48000, 24000, b"\x01\x02\x03\x04")
    with pytest.raises(ValueError, match="magic"):
        parse_audio_frame(b"XXXX" + frame[4:])
    with pytest.raises(ValueError, match="shorter"):
        parse_audio_frame(frame[:10])


def test_no_daemon_and_no_autostart_says_why(tmp_path):
    client = DaemonClient(runtime_dir=tmp_path, autostart=False)
    with pytest.raises(DaemonUnavailable, match="no daemon runs"):
        client.ensure_connected()


def test_autostart_failure_says_why(tmp_path, monkeypatch):
    monkeypatch.setenv("ECHOIC_SERVE_COMMAND", "false")
    client = DaemonClient(runtime_dir=tmp_path, autostart=True, start_timeout=5)
    with pytest.raises(DaemonUnavailable, match="exited with status 1"):
        client.ensure_connected()


def test_wrong_token_is_refused(fake_daemon):
    fake_daemon.token = "0" * 64  # the runtime file still holds the old token
    client = DaemonClient(runtime_dir=fake_daemon.runtime_dir, autostart=False)
    with pytest.raises(DaemonRefused):
        client.ensure_connected()


def test_speak_streams_audio_marks_and_done_in_order(fake_daemon):
    client = DaemonClient(runtime_dir=fake_daemon.runtime_dir, autostart=False)
    hello = client.ensure_connected()
    assert hello["sample_rate"] == SAMPLE_RATE
    ssml = '<speak>Hello there. <mark name="__spd_1"/>Second sentence here.</speak>'
    utterance = client.speak({"type": "speak", "id": "u1", "ssml": ssml})
    events = _drain(utterance)
    kinds = [e[0] for e in events]
    assert kinds[0] == "accepted" and kinds[-1] == "done"
    audio = [e for e in events if e[0] == "audio"]
    assert [e[1] for e in audio] == sorted(e[1] for e in audio)
    (index,) = [e for e in events if e[0] == "index"]
    assert index[1:] == ("__spd_1", SAMPLES_PER_CHAR * len("Hello there."))
    # The index comes after the frame holding its sample, before any frame starting after it.
    position = events.index(index)
    assert max(e[1] for e in events[:position] if e[0] == "audio") <= index[2]
    assert all(e[1] >= index[2] for e in events[position:] if e[0] == "audio")
    client.close()


def test_voices_and_locales_requests(fake_daemon):
    client = DaemonClient(runtime_dir=fake_daemon.runtime_dir, autostart=False)
    client.ensure_connected()
    assert [v["id"] for v in client.request({"type": "voices"}, "voices")["voices"]] == ["fm_one", "ff_two"]
    assert "es-ES" in [loc["tag"] for loc in client.request({"type": "locales"}, "locales")["locales"]]
    client.close()


def test_reconnects_after_the_daemon_restarts(tmp_path):
    first = FakeDaemon(tmp_path).start()
    client = DaemonClient(runtime_dir=tmp_path, autostart=False)
    client.ensure_connected()
    utterance = client.speak({"type": "speak", "id": "long", "text": "x" * 200})
    first.stop()
    assert _drain(utterance)[-1][0] in ("lost", "done")
    deadline = time.monotonic() + 5
    while client.connected and time.monotonic() < deadline:
        time.sleep(0.01)
    assert not client.connected
    second = FakeDaemon(tmp_path).start()
    try:
        client.ensure_connected()
        events = _drain(client.speak({"type": "speak", "id": "again", "text": "hi"}))
        assert events[-1][0] == "done" and not events[-1][1]["cancelled"]
    finally:
        client.close()
        second.stop()
