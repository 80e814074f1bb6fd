"""The daemon's pure parts: protocol parsing and producing, priorities, the settings file, the runtime file."""

from __future__ import annotations

import json
import os
import stat

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from engine.daemon import DaemonError
from engine.daemon import protocol as p
from engine.daemon.runtime_file import DaemonLock, RuntimeInfo, read_runtime_file, write_runtime_file
from engine.daemon.scheduling import admit
from engine.daemon.settings import SettingsStore, dump_table, read_table, updated, write_table
from engine.errors import ConfigError, ProtocolError


def code_of(frame) -> str:
    with pytest.raises(ProtocolError) as info:
        p.parse_client_message(frame)
    return info.value.code


# --- parsing ------------------------------------------------------------------------------------

def test_speak_is_parsed_with_defaults():
    msg = p.parse_client_message(json.dumps({"type": "speak", "id": "a", "text": "hi", "extra": 1}))
    assert msg == p.Speak(id="a", text="hi")
    ssml = p.parse_client_message(json.dumps({"type": "speak", "id": "b", "ssml": "<speak>x</speak>",
                                              "rate": 2, "priority": "important", "playback": "daemon"}))
    assert ssml.ssml and ssml.text == "<speak>x</speak>" and ssml.rate == 2
    assert ssml.priority == "important" and ssml.playback == "daemon"


@pytest.mark.parametrize("frame, code", [
    ("{not json", "bad_json"),
    ("[1, 2]", "not_object"),
    ('"hello"', "not_object"),
    ('{"type": "sing"}', "unknown_type"),
    ('{"no": "type"}', "unknown_type"),
    (b"\x00\x01", "binary_not_allowed"),
    ('{"type": "speak", "text": "x"}', "missing_field"),
    ('{"type": "speak", "id": "a"}', "missing_field"),
    ('{"type": "speak", "id": "a", "text": "x", "ssml": "y"}', "bad_value"),
    ('{"type": "speak", "id": "", "text": "x"}', "bad_value"),
    ('{"type": "speak", "id": 5, "text": "x"}', "bad_value"),
    ('{"type": "speak", "id": "a", "text": "x", "rate": 7}', "bad_value"),
    ('{"type": "speak", "id": "a", "text": "x", "rate": true}', "bad_value"),
    ('{"type": "speak", "id": "a", "text": "x", "volume": -0.1}', "bad_value"),
    ('{"type": "speak", "id": "a", "text": "x", "priority": "urgent"}', "bad_value"),
    ('{"type": "speak", "id": "a", "text": "x", "playback": "both"}', "bad_value"),
    ('{"type": "hello", "token": "t"}', "missing_field"),
    ('{"type": "settings", "action": "set", "locale": "en-US", "values": {"rate": 9}}', "bad_value"),
    ('{"type": "settings", "action": "set", "locale": "en-US", "values": {"colour": 1}}', "bad_value"),
    ('{"type": "settings", "action": "delete"}', "bad_value"),
])
def test_bad_messages_get_their_code(frame, code):
    assert code_of(frame) == code


def test_too_long_text_is_too_large():
    frame = json.dumps({"type": "speak", "id": "a", "text": "a" * (p.MAX_TEXT_CHARS + 1)})
    assert code_of(frame) == "too_large"
    assert p.parse_client_message(json.dumps({"type": "speak", "id": "a", "text": "a" * p.MAX_TEXT_CHARS}))


def test_cancel_star_means_all():
    assert p.parse_client_message('{"type": "cancel", "id": "*"}') == p.Cancel(None)
    assert p.parse_client_message('{"type": "cancel"}') == p.Cancel(None)
    assert p.parse_client_message('{"type": "cancel", "id": "x"}') == p.Cancel("x")


def test_audio_frame_round_trip_and_header_layout():
    frame = p.audio_frame(7, 3, 48000, b"\x01\x00\x02\x00")
    assert len(frame) == 28 + 4
    assert frame[:4] == b"EAU1"
    assert int.from_bytes(frame[4:8], "little") == 7
    assert int.from_bytes(frame[8:12], "little") == 3
    assert int.from_bytes(frame[12:20], "little") == 48000
    assert int.from_bytes(frame[20:24], "little") == 24000
    assert int.from_bytes(frame[24:26], "little") == 1 and int.from_bytes(frame[26:28], "little") == 1
    assert p.parse_audio_frame(frame) == p.AudioFrame(7, 3, 48000, 24000, 1, 1, b"\x01\x00\x02\x00")


def test_produced_messages_are_compact_json():
    assert json.loads(p.dumps(p.error_message(None, "bad_json", "x"))) == {
        "type": "error", "id": None, "code": "bad_json", "message": "x"}
    done = p.done_message("a", 10, True)
    assert done["stats"]["guardrail"] == {"events": [], "notes": []}


@settings(max_examples=300, deadline=None)
@given(st.one_of(st.text(max_size=200), st.binary(max_size=50),
                 st.recursive(st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=10),
                              lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
                              max_leaves=12).map(json.dumps),
                 st.fixed_dictionaries({"type": st.sampled_from(p.CLIENT_TYPES)},
                                       optional={k: st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5)
                                                 | st.dictionaries(st.sampled_from(p.SETTINGS_FIELDS), st.floats() | st.text(max_size=4))
                                                 for k in ("id", "text", "ssml", "rate", "pitch", "volume", "priority", "playback",
                                                           "token", "protocol", "action", "locale", "values", "voice", "spell")}
                                       ).map(json.dumps)))
def test_parser_only_ever_raises_protocol_errors(frame):
    try:
        p.parse_client_message(frame)
    except ProtocolError as exc:
        assert exc.code in p.ERROR_CODES


# --- priorities -------------------------------------------------------------------------------

def test_text_cancels_text_and_waits_behind_important():
    queue = [("important", True), ("text", False), ("notification", False)]
    a = admit(queue, "text")
    assert a.cancel == (1, 2) and a.position == 1


def test_important_goes_before_queued_messages_but_after_the_speaking_one():
    queue = [("text", True), ("important", False), ("message", False), ("text", False)]
    a = admit(queue, "important")
    assert a.cancel == () and a.position == 2


def test_message_cancels_text_and_queues_after_messages():
    queue = [("important", True), ("message", False), ("text", False), ("progress", False)]
    a = admit(queue, "message")
    assert a.cancel == (2, 3) and a.position == 2


def test_notification_is_dropped_unless_idle():
    assert admit([], "notification").position == 0
    assert admit([("text", True)], "notification").position is None


def test_progress_keeps_only_the_last_of_a_burst():
    queue = [("text", True), ("progress", False), ("progress", False)]
    a = admit(queue, "progress")
    assert a.cancel == (1, 2) and a.position == 1


def test_anything_cancels_a_speaking_notification():
    assert admit([("notification", True)], "important").cancel == (0,)


# --- settings file ----------------------------------------------------------------------------

def test_settings_round_trip_and_validation(tmp_path):
    path = tmp_path / "settings.toml"
    table = updated({}, "en_us", {"voice": "jf_alpha", "rate": 1.5, "accent_strength": 0.25})
    table = updated(table, "de", {"volume": 0.5})
    write_table(path, table)
    assert read_table(path) == {"en-US": {"voice": "jf_alpha", "rate": 1.5, "accent_strength": 0.25},
                                "de-DE": {"volume": 0.5}}
    with pytest.raises(ConfigError, match="rate"):
        updated(table, "en-US", {"rate": 0})
    with pytest.raises(ConfigError, match="xx"):
        updated(table, "xx", {"rate": 1})
    assert updated(table, "de-DE", {"volume": None}) == {"en-US": table["en-US"]}
    path.write_text('[en-US]\nrate = "fast"\n')
    with pytest.raises(ConfigError, match="rate"):
        read_table(path)


def test_settings_writer_escapes_strings(tmp_path):
    import tomllib

    text = dump_table({"en-US": {"voice": 'a"b\\c'}})
    assert tomllib.loads(text) == {"en-US": {"voice": 'a"b\\c'}}


def test_store_picks_up_edits_and_keeps_the_last_good_table(tmp_path):
    path = tmp_path / "settings.toml"
    store = SettingsStore(path)
    assert store.table() == {}
    path.write_text("[en-US]\nrate = 2.0\n")
    assert store.for_locale("en-US") == {"rate": 2.0}
    path.write_text("[en-US]\nrate = 2.5\npitch = \n")  # a half-typed edit
    assert store.for_locale("en-US") == {"rate": 2.0} and "not valid TOML" in store.problem
    os.remove(path)
    assert store.table() == {}


# --- runtime file and lock ----------------------------------------------------------------------

def test_runtime_file_is_private_and_stale_files_are_ignored(tmp_path):
    info = RuntimeInfo(os.getpid(), 1234, "ab" * 32, 1, "0.1.0")
    path = write_runtime_file(tmp_path, info)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert read_runtime_file(tmp_path) == info
    write_runtime_file(tmp_path, RuntimeInfo(2**22 + 12345, 1234, "x", 1, "0.1.0"))  # no such pid
    assert read_runtime_file(tmp_path) is None
    path.write_text("{half")
    assert read_runtime_file(tmp_path) is None


def test_lock_refuses_a_second_daemon(tmp_path):
    with DaemonLock(tmp_path):
        with pytest.raises(DaemonError, match="already running"):
            DaemonLock(tmp_path).acquire()
    with DaemonLock(tmp_path):  # released: a new daemon may take it
        pass
