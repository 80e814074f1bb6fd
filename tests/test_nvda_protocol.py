"""The driver's pure parts: the RFC 6455 client on bytes (and against the websockets server),
and speech sequence -> SSML."""

from __future__ import annotations

import struct
import sys
import threading
from pathlib import Path
from xml.etree import ElementTree

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "nvda_stubs"))
import nvda_env  # noqa: E402

nvda_env.install()
ADDON = nvda_env.staged_addon()  # the driver with its copy of the client core, as built
if ADDON not in sys.path:
    sys.path.insert(1, ADDON)

from speech.commands import (  # noqa: E402
    BreakCommand,
    CharacterModeCommand,
    IndexCommand,
    LangChangeCommand,
    PitchCommand,
    RateCommand,
    VolumeCommand,
)
from synthDrivers.echoic import _ssml  # noqa: E402
from synthDrivers.echoic._client import websocket as ws  # noqa: E402
from synthDrivers.echoic._client.connection import WebSocket  # noqa: E402


# WebSocket frames

def test_accept_key_matches_rfc_6455_example():
    assert ws.accept_for("dGhlIHNhbXBsZSBub25jZQ==") == "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


@pytest.mark.parametrize("size", [0, 1, 125, 126, 65535, 65536, 200_000])
def test_client_frames_are_masked_and_parse_back(size):
    payload = bytes(range(256)) * (size // 256) + bytes(size % 256)
    frame = ws.encode_frame(ws.OP_BINARY, payload, maskKey=b"\x01\x02\x03\x04")
    assert frame[1] & 0x80, "client frames must be masked"
    if size:
        assert payload not in frame
    parser = ws.FrameParser()
    out = []
    for i in range(0, len(frame), 7000):  # arrives in pieces
        parser.feed(frame[i:i + 7000])
        out += list(parser.frames())
    assert out == [(True, ws.OP_BINARY, payload)]


def _server_frame(opcode, payload, fin=True):
    head = bytes([(0x80 if fin else 0) | opcode])
    n = len(payload)
    head += bytes([n]) if n < 126 else bytes([126]) + struct.pack("!H", n)
    return head + payload


def test_fragments_join_and_control_frames_interleave():
    parser, assembler = ws.FrameParser(), ws.MessageAssembler()
    parser.feed(_server_frame(ws.OP_TEXT, "héllo ".encode()[:3], fin=False))
    parser.feed(_server_frame(ws.OP_PING, b"p"))
    parser.feed(_server_frame(ws.OP_CONTINUATION, "héllo ".encode()[3:] + b"world"))
    messages = [assembler.add(*f) for f in parser.frames()]
    assert messages == [None, ("ping", b"p"), ("text", "héllo world")]


def test_protocol_violations_are_errors():
    with pytest.raises(ws.ProtocolError):
        ws.MessageAssembler().add(True, ws.OP_CONTINUATION, b"x")
    parser = ws.FrameParser()
    parser.feed(bytes([0x80 | 0x40 | ws.OP_TEXT, 0]))
    with pytest.raises(ws.ProtocolError):
        list(parser.frames())
    with pytest.raises(ws.HandshakeError):
        ws.check_handshake_response(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0", "key")


def test_client_against_the_websockets_server():
    from websockets.sync.server import serve

    seen = {}

    def handler(conn):
        seen["origin"] = conn.request.headers.get("Origin")
        for message in conn:
            if message == "close please":
                conn.close(4401, "bye")
                return
            conn.send(message if isinstance(message, bytes) else message.upper())
            conn.send([b"ab", b"cd", b"ef"])  # a fragmented binary message

    with serve(handler, "127.0.0.1", 0, compression=None) as server:
        threading.Thread(target=server.serve_forever, daemon=True).start()
        client = WebSocket.connect("127.0.0.1", server.socket.getsockname()[1])
        client.send_text("bonjour é")
        assert client.recv() == "BONJOUR É"
        assert client.recv() == b"abcdef"
        big = bytes(300_000)
        client.send_binary(big)
        assert client.recv() == big
        assert client.recv() == b"abcdef"
        client.send_text("close please")
        with pytest.raises(ws.ConnectionClosed) as closed:
            client.recv()
        assert (closed.value.code, closed.value.reason) == (4401, "bye")
        server.shutdown()
    assert seen["origin"] is None, "the daemon refuses connections that carry an Origin"


# SSML

def _convert(sequence, ratio=lambda command: 1.5):
    ssml, indexes = _ssml.to_ssml(sequence, "en-US", ratio, _ssml.locale_tag)
    ElementTree.fromstring(ssml)  # well-formed, whatever the order of commands
    return ssml, indexes


def test_text_is_escaped_and_invalid_xml_characters_dropped():
    ssml, _ = _convert(['if a < b && c > "d" \x00\x07 <mark name="9"/>'])
    assert "if a &lt; b &amp;&amp; c &gt; \"d\"" in ssml
    assert "\x00" not in ssml and "\x07" not in ssml
    assert ssml.count("<mark") == 0


def test_marks_lang_break_say_as_and_prosody():
    ssml, indexes = _convert([
        IndexCommand(1), "Hello", LangChangeCommand("fr_FR"), IndexCommand(2), "bonjour",
        LangChangeCommand(None), CharacterModeCommand(True), PitchCommand(offset=30), "B",
        IndexCommand(3), "C", CharacterModeCommand(False), PitchCommand(), BreakCommand(250),
        RateCommand(multiplier=2), VolumeCommand(multiplier=0.5), "end",
    ])
    assert indexes == [1, 2, 3]
    body = ssml.split(">", 1)[1]
    assert body.startswith('<mark name="1"/>Hello<mark name="2"/><lang xml:lang="fr-FR">bonjour</lang>')
    # say-as holds text only: the mark closes it, the next text reopens it.
    assert '<prosody pitch="+50%"><say-as interpret-as="characters">B</say-as></prosody><mark name="3"/>' in ssml
    assert '<say-as interpret-as="characters">C</say-as>' in ssml
    assert '<break time="250ms"/>' in ssml
    assert '<prosody rate="150%" volume="+3.5dB">end</prosody>' in ssml


def test_unknown_language_stays_in_the_current_one():
    ssml, _ = _ssml.to_ssml([LangChangeCommand("xx_YY"), "text"], "en-US", lambda c: 1.0, lambda lang: None)
    assert "<lang" not in ssml and "text" in ssml
