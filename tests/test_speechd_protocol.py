"""speech-dispatcher module protocol: pure functions on strings and bytes."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from speechd_bridge import protocol as p


# ---- data blocks --------------------------------------------------------------------------------


def test_dot_stuffing_round_trip_of_multi_line_ssml():
    text = '<speak>First line.\n.hidden dot line\n..two dots\n<mark name="__spd_1"/>last</speak>'
    stuffed = p.stuff(text)
    assert stuffed.endswith("\n.\n")
    lines = stuffed.split("\n")[:-2]  # without the final "." and the empty tail
    assert lines[1] == "..hidden dot line" and lines[2] == "...two dots"
    assert not any(p.is_block_end(ln) for ln in lines)
    assert p.join_block(lines) == text


def test_block_end_is_a_lone_dot_only():
    assert p.is_block_end(".") and p.is_block_end(".\r\n")
    assert not p.is_block_end("..") and not p.is_block_end(". ") and not p.is_block_end("")


@given(st.lists(st.text(alphabet=st.characters(blacklist_characters="\n\r"), max_size=20), min_size=1, max_size=6))
def test_stuffing_round_trips_any_lines(lines):
    text = "\n".join(lines)
    block = p.stuff(text).split("\n")[:-2]
    assert p.join_block(block) == text


def test_parse_command():
    assert p.parse_command("SPEAK\n") == p.Command("SPEAK")
    assert p.parse_command("LIST VOICES en-us") == p.Command("LIST", ("VOICES", "en-us"))
    assert p.parse_command("quit") == p.Command("QUIT")
    assert p.parse_command("   ").name == ""


# ---- replies and events -------------------------------------------------------------------------


def test_every_reply_line():
    assert p.line(p.OK_LOADED) == b"299 OK LOADED SUCCESSFULLY\n"
    assert p.ERR_CANT_INIT.startswith("399 ")
    assert p.OK_RECEIVING_AUDIO == "207 OK RECEIVING AUDIO SETTINGS"
    assert p.OK_AUDIO_INITIALIZED == "203 OK AUDIO INITIALIZED"
    assert p.OK_RECEIVING_LOGLEVEL.startswith("207 ") and p.OK_LOGLEVEL_SET == "203 OK LOGLEVEL SET"
    assert p.OK_RECEIVING_SETTINGS == "203 OK RECEIVING SETTINGS"
    assert p.OK_SETTINGS_RECEIVED == "203 OK SETTINGS RECEIVED"
    assert p.OK_RECEIVING_MESSAGE == "202 OK RECEIVING MESSAGE"
    assert p.OK_SPEAKING == "200 OK SPEAKING" and p.ERR_CANT_SPEAK == "301 ERROR CANT SPEAK"
    assert p.OK_VOICE_LIST_SENT == "200 OK VOICE LIST SENT"
    assert p.ERR_LIST_VOICES_FILTER.startswith("300 ") and p.ERR_UNKNOWN_COMMAND.startswith("300 ")
    assert p.OK_QUIT == "210 OK QUIT"
    assert [p.EVENT_BEGIN, p.EVENT_END, p.EVENT_STOP, p.EVENT_PAUSE] == ["701 BEGIN", "702 END", "703 STOP", "704 PAUSE"]


def test_multi_line_reply_and_voice_list():
    voices = [p.VoiceInfo("fm_one", "One", "male", ("en-US", "en-GB"))]
    lines = p.voice_list_lines(voices)
    assert p.reply_lines(200, lines, p.OK_VOICE_LIST_SENT) == (
        b"200-fm_one\ten-US\tnone\n200-fm_one\ten-GB\tnone\n200 OK VOICE LIST SENT\n")
    assert p.reply_lines(299, ["two\nlines"], p.OK_LOADED) == b"299-two lines\n299 OK LOADED SUCCESSFULLY\n"


def test_mark_and_icon_events():
    assert p.mark_event("__spd_3") == b"700-__spd_3\n700 INDEX MARK\n"
    assert p.icon_event("message") == b"706-message\n706 ICON\n"


def test_audio_escaping_of_newline_and_escape_byte():
    assert p.escape_audio(b"a\nb}c") == b"a\x7d\x2ab\x7d\x5dc"
    assert p.unescape_audio(b"a\x7d\x2ab\x7d\x5dc") == b"a\nb}c"
    assert b"\n" not in p.escape_audio(bytes(range(256)) * 4)


@given(st.binary(max_size=2000))
def test_audio_escaping_round_trips(data):
    escaped = p.escape_audio(data)
    assert b"\n" not in escaped
    assert p.unescape_audio(escaped) == data


def test_audio_event_layout():
    pcm = b"\x0a\x00\x7d\x00\x01\x02"
    block = p.audio_event(pcm, 24000)
    assert block.startswith(b"705-bits=16\n705-num_channels=1\n705-sample_rate=24000\n705-num_samples=3\n"
                            b"705-big_endian=0\n705-AUDIO\x00")
    assert block.endswith(b"\n705 AUDIO\n")
    fields, back = p.parse_audio_event(block)
    assert fields == {"bits": 16, "num_channels": 1, "sample_rate": 24000, "num_samples": 3, "big_endian": 0}
    assert back == pcm
    with pytest.raises(ValueError, match="even"):
        p.audio_event(b"\x00", 24000)


# ---- settings -----------------------------------------------------------------------------------


SET_BLOCK = """pitch=10
pitch_range=0
rate=50
volume=100
punctuation_mode=some
spelling_mode=0
cap_let_recogn=none
voice=FEMALE1
language=en-GB
synthesis_voice=NULL""".split("\n")


def test_set_block_parsing():
    settings = p.apply_settings(p.Settings(), p.parse_key_values(SET_BLOCK))
    assert settings == p.Settings(rate=50, pitch=10, pitch_range=0, volume=100, punctuation_mode="some",
                                  spelling_mode=False, cap_let_recogn="none", voice="female1",
                                  language="en-GB", synthesis_voice=None)
    later = p.apply_settings(settings, {"rate": "-20", "synthesis_voice": "ff_two", "unknown": "x"})
    assert (later.rate, later.synthesis_voice, later.language) == (-20, "ff_two", "en-GB")
    assert p.apply_settings(settings, {"spelling_mode": "1"}).spelling_mode is True
    assert p.apply_settings(settings, {"rate": "400"}).rate == 100  # clamped


def test_set_rejects_a_non_number_quoting_it():
    with pytest.raises(ValueError, match="'fast'"):
        p.apply_settings(p.Settings(), {"rate": "fast"})
    with pytest.raises(ValueError, match="-101"):
        p.Settings(rate=-101)


def test_rate_curve_is_monotonic_with_documented_endpoints():
    values = [p.rate_multiplier(r) for r in range(-100, 101)]
    assert all(a < b for a, b in zip(values, values[1:]))
    assert p.rate_multiplier(-100) == pytest.approx(0.5)
    assert p.rate_multiplier(0) == pytest.approx(1.0)
    assert p.rate_multiplier(50) == pytest.approx(2.0)
    assert p.rate_multiplier(100) == pytest.approx(4.0)
    assert p.rate_multiplier(None) is None
    assert all(0.25 <= v <= 6 for v in values)  # inside the daemon's accepted range


def test_pitch_and_volume_maps():
    assert p.pitch_multiplier(-100) == pytest.approx(0.5) and p.pitch_multiplier(100) == pytest.approx(2.0)
    assert p.pitch_multiplier(0) == 1.0
    assert p.volume_gain(100) == 1.0 and p.volume_gain(-100) == 0.0 and p.volume_gain(0) == 0.5


def test_language_to_locale():
    known = ["en-US", "en-GB", "es-ES", "es-US", "fr-FR"]
    assert p.locale_for_language("en", known) == "en-US"
    assert p.locale_for_language("en-gb", known) == "en-GB"
    assert p.locale_for_language("EN_GB", known) == "en-GB"
    assert p.locale_for_language("es", known) == "es-ES"
    assert p.locale_for_language("es-mx", known) == "es-US"
    assert p.locale_for_language("en-IN", known) == "en-US"
    assert p.locale_for_language("fr-CA", known) == "fr-FR"
    assert p.locale_for_language("ja", known) is None
    assert p.locale_for_language(None, known) is None


VOICES = [
    p.VoiceInfo("m1", "M1", "male", ("en-US",)),
    p.VoiceInfo("f1", "F1", "female", ("en-US", "es-ES")),
    p.VoiceInfo("m2", "M2", "male", ("en-US", "es-ES")),
]


def test_voice_types_to_voices():
    assert p.voice_for_type("male1", VOICES, "en-US") == "m1"
    assert p.voice_for_type("male2", VOICES, "en-US") == "m2"
    assert p.voice_for_type("male3", VOICES, "en-US") == "m1"  # wraps around
    assert p.voice_for_type("female1", VOICES, "en-US") == "f1"
    assert p.voice_for_type("child_female", VOICES, "es-ES") == "f1"
    assert p.voice_for_type("male1", VOICES, "es-ES") == "m2"
    assert p.voice_for_type("female1", VOICES, "fr-FR") is None
    assert p.voice_for_type(None, VOICES, "en-US") is None


def test_ssml_marks_in_order():
    ssml = '<speak>One. <mark name="__spd_1"/>Two. <mark name=\'own\'/><mark name="__spd_2" /></speak>'
    assert p.ssml_marks(ssml) == ["__spd_1", "own", "__spd_2"]


def test_speak_message_from_settings():
    settings = p.Settings(rate=100, pitch=0, volume=100, voice="male2", language="es")
    job = p.speak_message("sd1", "SPEAK", '<speak>Hola. <mark name="__spd_1"/>Adiós.</speak>', settings,
                          VOICES, ["en-US", "es-ES"])
    assert job.marks == ("__spd_1",)
    assert job.message == {"type": "speak", "id": "sd1", "priority": "text",
                           "ssml": '<speak>Hola. <mark name="__spd_1"/>Adiós.</speak>',
                           "locale": "es-ES", "voice": "m2", "rate": 4.0, "pitch": 1.0, "volume": 1.0}
    chosen = p.speak_message("sd2", "SPEAK", "plain", p.Settings(synthesis_voice="f1", voice="male1"), VOICES, [])
    assert chosen.message["voice"] == "f1" and chosen.message["ssml"] == "<speak>plain</speak>"
    unknown = p.speak_message("sd3", "SPEAK", "x", p.Settings(synthesis_voice="nope"), VOICES, [])
    assert "voice" not in unknown.message
    daemon_plays = p.speak_message("sd4", "SPEAK", "x", p.Settings(), [], [], playback="daemon")
    assert daemon_plays.message["playback"] == "daemon"


def test_char_and_key_messages():
    char = p.speak_message("c", "CHAR", "a", p.Settings(), [], []).message
    assert (char["text"], char["spell"]) == ("a", True)
    assert p.speak_message("c", "CHAR", "space", p.Settings(), [], []).message["text"] == " "
    assert p.key_text("a") == ("a", True)
    assert p.key_text("shift_a") == ("shift a", False)
    assert p.key_text("kp-enter") == ("kp enter", False)
    key = p.speak_message("k", "KEY", "control_alt_delete", p.Settings(), [], []).message
    assert key["text"] == "control alt delete" and "spell" not in key


def test_module_config_file():
    text = '# comment\nEchoicRuntimeDir "/tmp/x y"\nEchoicAutostart 0\n\n'
    assert p.parse_module_config(text) == {"EchoicRuntimeDir": "/tmp/x y", "EchoicAutostart": "0"}
