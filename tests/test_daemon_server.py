"""The daemon over real sockets (websockets clients against a server on port 0), with a fake engine
that has the real Engine's interface. The real-engine tests are in test_daemon_engine.py."""

from __future__ import annotations

import json
import time

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect

from engine.client import DaemonClient
from engine.daemon import protocol as p
from engine.locales import get_locale
from engine.daemon.runtime_file import read_runtime_file
from tests.conftest_daemon import CHUNK_SAMPLES, WORD_SAMPLES, FakeEngine, running_daemon


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    root = tmp_path_factory.mktemp("daemon")
    engine = FakeEngine(delay=0.01)
    with running_daemon(engine, root / "runtime", root / "settings.toml") as server:
        server.fake = engine
        yield server


def raw(server, **kwargs):
    return connect(f"ws://127.0.0.1:{server.port}/", max_size=None, **kwargs)


def hello(ws, server, token=None):
    ws.send(json.dumps({"type": "hello", "token": server.token if token is None else token, "protocol": 1}))
    return json.loads(ws.recv(5))


def client(server, name="test"):
    return DaemonClient.connect(server.runtime_dir, name=name)


def closed_with(ws) -> tuple[int, str]:
    with pytest.raises(ConnectionClosed):
        while True:
            ws.recv(5)
    return ws.close_code, ws.close_reason


# --- who may connect ------------------------------------------------------------------------

def test_runtime_file_names_the_daemon(daemon):
    info = read_runtime_file(daemon.runtime_dir)
    assert info.port == daemon.port and info.token == daemon.token and len(info.token) == 64


@pytest.mark.parametrize("first", [
    {"type": "hello", "token": "0" * 64, "protocol": 1},
    {"type": "hello", "protocol": 1},
    {"type": "speak", "id": "a", "text": "hi"},
    "not json at all",
])
def test_wrong_or_missing_token_closes_4401(daemon, first):
    with raw(daemon) as ws:
        ws.send(first if isinstance(first, str) else json.dumps(first))
        code, reason = closed_with(ws)
    assert code == p.CLOSE_UNAUTHORIZED and reason


def test_unsupported_protocol_closes_4400(daemon):
    with raw(daemon) as ws:
        ws.send(json.dumps({"type": "hello", "token": daemon.token, "protocol": 2}))
        code, reason = closed_with(ws)
    assert code == p.CLOSE_BAD_VERSION and "1" in reason


def test_origin_header_is_refused_with_403(daemon):
    with pytest.raises(InvalidStatus) as info:
        raw(daemon, origin="https://evil.example").close()
    assert info.value.response.status_code == 403


def test_allowed_origin_connects(tmp_path):
    with running_daemon(FakeEngine(), tmp_path / "rt", allow_origins=("http://localhost:8000",)) as server:
        with raw(server, origin="http://localhost:8000") as ws:
            assert hello(ws, server)["type"] == "hello"
        with pytest.raises(InvalidStatus):
            raw(server, origin="http://localhost:9000")


def test_ipv6_loopback_serves_too(daemon):
    with connect(f"ws://[::1]:{daemon.port}/") as ws:
        assert hello(ws, daemon)["protocol"] == 1


# --- speaking -------------------------------------------------------------------------------

def test_speak_marks_arrive_in_order_with_audio(daemon):
    with client(daemon) as c:
        result = c.speak('one two <mark name="a"/> three four five six <mark name="b"/> seven', ssml=True)
    assert result.accepted["locale"] == "en-US" and result.accepted["voice"] == get_locale("en-US").default_voice
    assert [m["mark"] for m in result.marks] == ["a", "b"]
    assert [m["sample_offset"] for m in result.marks] == [2 * WORD_SAMPLES, 6 * WORD_SAMPLES]
    assert result.samples == 7 * WORD_SAMPLES == result.done["samples"] and not result.done["cancelled"]
    # every frame before a mark ends at or before it; every frame after starts at or after it
    sent = 0
    for event in result.events:
        if isinstance(event, p.AudioFrame):
            assert event.sample_offset == sent and event.utterance == result.accepted["utterance"]
            sent += len(event.pcm) // 2
        elif event["type"] == "index":
            assert sent == event["sample_offset"]
    assert [e.seq for e in result.frames] == list(range(len(result.frames)))
    assert result.events[0]["type"] == "accepted" and result.events[-1]["type"] == "done"


def test_cancel_mid_stream_stops_within_a_chunk(daemon):
    with client(daemon) as c:
        uid = c.start_speaking("word " * 2000)  # 100 s of fake audio
        received, frames_after_cancel = 0, None
        while True:
            message = c.receive()
            if isinstance(message, p.AudioFrame):
                received += len(message.pcm) // 2
                if frames_after_cancel is not None:
                    frames_after_cancel += 1
                elif received >= 2 * CHUNK_SAMPLES:
                    c.cancel(uid)
                    frames_after_cancel = 0
            elif message["type"] == "done":
                break
        assert message["cancelled"] is True and message["samples"] == received
        # What was already on its way may still arrive (at most the render-ahead), then nothing:
        assert frames_after_cancel * CHUNK_SAMPLES <= daemon.render_ahead + CHUNK_SAMPLES
        assert received < 2000 * WORD_SAMPLES
        assert c.ping()["type"] == "pong" and not [m for m in c.backlog if isinstance(m, p.AudioFrame)]


def test_two_clients_at_once_are_interleaved_not_serialised(daemon):
    long_text = "word " * 400  # 20 s of audio, 80 chunks
    with client(daemon, "a") as a, client(daemon, "b") as b:
        ua = a.start_speaking(long_text)
        time.sleep(0.05)
        start = time.perf_counter()
        rb = b.speak("short one")
        b_done = time.perf_counter() - start
        ra = a.collect([ua])[ua]
    assert rb.samples == 2 * WORD_SAMPLES and ra.samples == 400 * WORD_SAMPLES
    assert b_done < 80 * daemon.fake.delay  # b did not wait behind a's whole utterance


def test_a_new_text_cancels_the_speaking_text(daemon):
    with client(daemon) as c:
        t1 = c.start_speaking("word " * 200, priority="text")
        t2 = c.start_speaking("newer text", priority="text")
        results = c.collect([t1, t2])
    assert results[t1].done["cancelled"] is True and results[t2].done["cancelled"] is False


def test_priorities_over_the_wire(daemon):
    with client(daemon) as c:
        # A long important utterance speaks first and nothing may cut it, so everything below is
        # decided while it is still speaking, however loaded the machine is.
        i0 = c.start_speaking("word " * 1000, priority="important")
        t1 = c.start_speaking("queued text", priority="text")
        t2 = c.start_speaking("newer text", id="t2", priority="text")
        n1 = c.start_speaking("note", priority="notification")
        i1 = c.start_speaking("important words", priority="important")
        results = c.collect([i0, t1, "t2", n1, i1])
    assert results[i0].done["cancelled"] is False and results[i0].samples == 1000 * WORD_SAMPLES
    assert results[t1].done["cancelled"] is True  # a new text cancels queued text
    assert results[n1].done["cancelled"] is True and results[n1].samples == 0  # dropped: something spoke
    assert results["t2"].done["cancelled"] is False and results[i1].done["cancelled"] is False
    assert results[i1].first_audio_order < results["t2"].first_audio_order  # important before queued text


def test_cancel_all_answers_done_for_each(daemon):
    with client(daemon) as c:
        ids = [c.start_speaking("word " * 100, priority="important") for _ in range(3)]
        c.cancel()
        results = c.collect(ids)
    assert all(r.done["cancelled"] for r in results.values())


def test_pause_holds_audio_and_resume_continues(daemon):
    with client(daemon) as c:
        c.send({"type": "pause"})
        uid = c.start_speaking("word " * 20)
        assert c.ping()["type"] == "pong"  # control still answered while paused
        time.sleep(0.3)
        assert not any(isinstance(m, p.AudioFrame) for m in c.backlog)
        c.send({"type": "resume"})
        result = c.collect([uid])[uid]
    assert result.samples == 20 * WORD_SAMPLES


def test_connection_defaults_and_settings_file_precedence(daemon, tmp_path):
    with client(daemon) as c:
        c.set_settings("de-DE", {"voice": "jf_alpha", "rate": 2.0})
        assert c.settings()["de-DE"] == {"voice": "jf_alpha", "rate": 2.0}
        assert c.set_defaults(locale="de") == {"locale": "de-DE"}
        r = c.speak("hallo welt")
        assert r.accepted["voice"] == "jf_alpha" and daemon.fake.requests[-1].rate == 2.0
        r = c.speak("hallo welt", rate=0.5, voice="jm_kumo")
        assert r.accepted["voice"] == "jm_kumo" and daemon.fake.requests[-1].rate == 0.5
        # an edit of the file by hand is picked up without a restart
        time.sleep(0.01)
        daemon.settings.path.write_text('[de-DE]\nrate = 3.0\n')
        c.speak("hallo")
        assert daemon.fake.requests[-1].rate == 3.0 and daemon.fake.requests[-1].voice == get_locale("de-DE").default_voice
        c.set_settings("de-DE", {"rate": None})
        assert "de-DE" not in c.settings()


def test_accent_strength_reaches_the_engine_request(daemon):
    """The settings file's per-locale accent_strength is a real request field, not probed."""
    with client(daemon) as c:
        c.set_settings("fr-FR", {"accent_strength": 0.25})
        c.speak("bonjour", locale="fr-FR")
        assert daemon.fake.requests[-1].accent_strength == 0.25
        c.speak("hello", locale="en-US")
        assert daemon.fake.requests[-1].accent_strength is None
        c.set_settings("fr-FR", {"accent_strength": None})
        c.speak("bonjour", locale="fr-FR")
        assert daemon.fake.requests[-1].accent_strength is None


def test_speech_request_checks_accent_strength():
    from engine.api import SpeechRequest
    from engine.errors import ConfigError

    assert SpeechRequest(text="x", accent_strength=0.0).accent_strength == 0.0
    for bad in (1.5, -0.1, float("nan"), "1"):
        with pytest.raises(ConfigError, match="accent_strength"):
            SpeechRequest(text="x", accent_strength=bad)


# --- bad input --------------------------------------------------------------------------------

def test_bad_messages_get_errors_and_the_connection_stays(daemon):
    with raw(daemon) as ws:
        hello(ws, daemon)
        cases = [
            ("{oops", "bad_json"), ("[]", "not_object"), ('{"type": "dance"}', "unknown_type"),
            (b"\x00binary", "binary_not_allowed"), ('{"type": "speak", "id": "x"}', "missing_field"),
            ('{"type": "speak", "id": "x", "text": "hi", "locale": "tlh"}', "unknown_locale"),
            ('{"type": "speak", "id": "x", "text": "hi", "voice": "nobody"}', "unknown_voice"),
            (json.dumps({"type": "speak", "id": "x", "text": "a" * 200_001}), "too_large"),
            ('{"type": "speak", "id": "x", "text": "   "}', "bad_value"),
        ]
        for frame, code in cases:
            ws.send(frame)
            while True:
                reply = json.loads(ws.recv(5))
                if reply["type"] == "error":
                    break
            assert reply["code"] == code, frame[:40]
        ws.send('{"type": "ping", "id": 7}')
        assert json.loads(ws.recv(5)) == {"type": "pong", "id": 7}


def test_engine_errors_after_accepted_come_as_error(daemon):
    with client(daemon) as c:
        r = c.speak("   ")
    assert r.accepted is not None and r.error["code"] == "bad_value" and r.done is None


def test_duplicate_id_is_refused(daemon):
    with client(daemon) as c:
        c.start_speaking("word " * 50, id="same", priority="important")
        c.start_speaking("again", id="same", priority="important")
        r = c.collect(["same"])["same"]
        assert r.error is None or r.error["code"] == "duplicate_id"
        errors = [m for m in r.events if isinstance(m, dict) and m["type"] == "error"]
        assert [e["code"] for e in errors] == ["duplicate_id"]


def test_oversized_message_closes_1009_and_others_keep_going(daemon):
    with client(daemon) as other:
        with raw(daemon) as ws:
            hello(ws, daemon)
            ws.send("x" * (p.MAX_MESSAGE_BYTES + 10))
            code, _ = closed_with(ws)
        assert code == 1009
        assert other.speak("still here").samples == 2 * WORD_SAMPLES


def test_burst_of_1000_requests(daemon):
    with client(daemon) as c:
        ids = [c.start_speaking(f"burst {i}", priority="important") for i in range(1000)]
        codes = {}
        results = c.collect(ids, timeout=120)
    for r in results.values():
        key = r.error["code"] if r.error else ("cancelled" if r.done["cancelled"] else "spoken")
        codes[key] = codes.get(key, 0) + 1
    assert codes.get("queue_full", 0) > 0 and codes["spoken"] >= p.MAX_QUEUED_UTTERANCES
    assert set(codes) <= {"queue_full", "spoken"}
    with client(daemon) as c:
        assert c.status()["queued"] == 0


def test_text_burst_keeps_only_the_last(daemon):
    with client(daemon) as c:
        ids = [c.start_speaking(f"typing {i}") for i in range(300)]
        results = c.collect(ids, timeout=60)
    assert not results[ids[-1]].done["cancelled"]
    assert sum(not r.done["cancelled"] for r in results.values()) < 10


def test_client_vanishing_mid_utterance_frees_its_work(daemon):
    ws = raw(daemon).__enter__()
    hello(ws, daemon)
    ws.send(json.dumps({"type": "speak", "id": "gone", "text": "word " * 4000}))
    ws.recv(5)
    ws.socket.close()  # no close frame: the process went away
    with client(daemon) as c:
        assert c.speak("next one").samples == 2 * WORD_SAMPLES
        deadline = time.monotonic() + 5
        while c.status()["clients"] > 1 and time.monotonic() < deadline:
            time.sleep(0.05)
        status = c.status()
    assert status["clients"] == 1 and status["queued"] == 0


def test_daemon_playback_without_a_device_is_a_clear_error(daemon):
    try:
        import sounddevice

        sounddevice.query_devices(kind="output")
        pytest.skip("this machine has an audio output device")
    except Exception:
        pass
    with client(daemon) as c:
        r = c.speak("hello", playback="daemon")
    assert r.error["code"] == "no_audio_device" and r.accepted is None


message = st.fixed_dictionaries(
    {"type": st.sampled_from(p.CLIENT_TYPES + ("x",))},
    optional={k: st.none() | st.booleans() | st.integers(-5, 10) | st.floats(allow_nan=True) | st.text(max_size=6)
              | st.sampled_from(["*", "en-US", "jm_kumo", "important", "daemon", "get", "set"])
              | st.dictionaries(st.sampled_from(p.SETTINGS_FIELDS), st.floats(0, 3) | st.text(max_size=3), max_size=2)
              for k in ("id", "text", "ssml", "rate", "pitch", "volume", "priority", "playback", "action", "locale",
                        "values", "voice", "spell")})


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(st.lists(st.one_of(message.map(json.dumps), st.text(max_size=30), st.binary(max_size=30)), min_size=1, max_size=8))
def test_fuzzed_messages_never_kill_the_daemon(daemon, frames):
    frames = [f for f in frames if not (isinstance(f, str) and '"shutdown"' in f)]
    with raw(daemon) as ws:
        hello(ws, daemon)
        for frame in frames:
            ws.send(frame)
        ws.send('{"type": "cancel"}')
        ws.send('{"type": "resume"}')
        ws.send('{"type": "ping", "id": "end"}')
        while True:
            reply = ws.recv(10)
            if isinstance(reply, str) and json.loads(reply) == {"type": "pong", "id": "end"}:
                break
    with client(daemon) as c:
        assert c.ping()["type"] == "pong"


def test_review_findings_cost_one_error_reply_not_the_connection(daemon, tmp_path):
    """Found in review: a 400-digit number, a lone surrogate, a broken settings path."""
    def reply_of(c, kind):
        while True:
            message = c.receive(10)
            if isinstance(message, dict) and message["type"] == kind:
                return message

    with client(daemon) as c:
        c.send({"type": "speak", "id": "huge", "text": "hi", "rate": 10**400})
        assert reply_of(c, "error")["code"] == "bad_value"
        c.send({"type": "settings", "action": "set", "locale": "en-US", "values": {"rate": 10**400}})
        assert reply_of(c, "error")["code"] == "bad_value"
        c.send({"type": "ping", "id": "a\ud800"})
        assert reply_of(c, "pong")["id"] == "a\ud800"
        r = c.speak("still talking")
        assert r.samples > 0


def test_cancel_all_ends_a_pause(daemon):
    with client(daemon) as c:
        c.send({"type": "pause"})
        first = c.start_speaking("word " * 20)
        c.cancel()
        c.collect([first])
        result = c.speak("after the key press")  # NVDA: pause, then any key cancels speech
    assert result.samples > 0 and result.done["cancelled"] is False


class CalibratingEngine(FakeEngine):
    """A fake engine whose utterances each leave one (voice, row) wanted; calibrating a row takes
    `seconds` (cut short by a cancel, which leaves the row undone), and every call is recorded."""

    def __init__(self, wanted_rows, usable_rows=(15, 19, 39, 47), seconds=0.05):
        super().__init__()
        self.wanted_rows, self.usable_rows, self.seconds = list(wanted_rows), usable_rows, seconds
        self._wanted, self.done, self.calls = [], [], []

    def stream(self, request, cancel=None):
        if self.wanted_rows:
            self._wanted.append(("jf_alpha", self.wanted_rows.pop(0)))
        return super().stream(request, cancel)

    def wanted_calibrations(self):
        wanted, self._wanted = self._wanted, []
        return wanted

    def calibration_rows(self, voice):
        return tuple(r for r in self.usable_rows if (voice, r) not in self.done)

    def calibrate(self, voice, rows, cancel=None):
        (row,) = rows
        self.calls.append((voice, row))
        if (voice, row) in self.done or (cancel is not None and cancel.wait(self.seconds)):
            return 0
        self.done.append((voice, row))
        return 1


def _idle(c, timeout=20):
    deadline = time.monotonic() + timeout
    while c.status()["calibrations_pending"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert c.status()["calibrations_pending"] == 0


@pytest.mark.parametrize("ahead, expected", [(True, [39, 15, 19, 47]), (False, [39])])
def test_idle_time_calibrates_the_wanted_row_first_then_the_rest_ahead(tmp_path, ahead, expected):
    engine = CalibratingEngine([39])
    with running_daemon(engine, tmp_path / "rt", calibrate_ahead=ahead) as server, client(server) as c:
        assert c.speak("hello").done["cancelled"] is False
        _idle(c)
    assert engine.done == [("jf_alpha", row) for row in expected]


def test_a_newly_wanted_row_jumps_the_rows_calibrated_ahead(tmp_path):
    engine = CalibratingEngine([39, 47], usable_rows=(15, 19, 23, 27, 31, 39, 47), seconds=0.4)
    with running_daemon(engine, tmp_path / "rt") as server, client(server) as c:
        c.speak("hello")
        deadline = time.monotonic() + 10
        while not engine.done and time.monotonic() < deadline:
            time.sleep(0.01)
        assert engine.done == [("jf_alpha", 39)]
        c.speak("again")  # interrupts the row in flight (15), and wants 47
        _idle(c)
    rows = [row for _, row in engine.done]
    assert rows[:2] == [39, 47] and sorted(rows) == [15, 19, 23, 27, 31, 39, 47]
    assert ("jf_alpha", 15) in engine.calls[:3]  # 15 had begun, was cut short and was done later


class PreloadingEngine(FakeEngine):
    def __init__(self):
        super().__init__()
        self.preloads = []

    def preload_streaming(self, cancel):
        self.preloads.append(cancel.is_set())
        return True


def test_the_first_idle_moment_preloads_chunked_rendering(tmp_path):
    engine = PreloadingEngine()
    with running_daemon(engine, tmp_path / "rt") as server, client(server) as c:
        deadline = time.monotonic() + 10
        while not engine.preloads and time.monotonic() < deadline:
            time.sleep(0.01)
        assert c.status()["warm_up_pending"] == 0 and c.speak("hello").done["cancelled"] is False
    assert engine.preloads == [False]  # once, and not again after speech
