"""RFC 6455, the client's half, on bytes only: no sockets, no threads, standard library only.

Handshake text, frame encoding, frame parsing and message assembly are pure and tested on bytes;
`connection.WebSocket` is the thin socket layer around them. Written for the NVDA add-on (no
dependencies, no asyncio, no C speedups inside NVDA's own Python) and used by every client.

Errors: `WebSocketError` for everything; `ConnectionClosed` (with `code` and `reason`) when the
connection is gone; `HandshakeError` when the server refused the upgrade (e.g. HTTP 403);
`ProtocolError` when the server sent something RFC 6455 forbids.
"""

import base64
import hashlib
import os
import struct

GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

OP_CONTINUATION = 0x0
OP_TEXT = 0x1
OP_BINARY = 0x2
OP_CLOSE = 0x8
OP_PING = 0x9
OP_PONG = 0xA
_CONTROL = (OP_CLOSE, OP_PING, OP_PONG)
_DATA = (OP_CONTINUATION, OP_TEXT, OP_BINARY)

#: Largest message accepted (the daemon's own limit is 1 MiB; audio frames are far smaller).
MAX_MESSAGE = 4 * 1024 * 1024


class WebSocketError(Exception):
    """Base of every error raised by this module."""


class HandshakeError(WebSocketError):
    """The server did not upgrade the connection (wrong status, bad accept key)."""


class ProtocolError(WebSocketError):
    """The server sent something RFC 6455 forbids."""


class ConnectionClosed(WebSocketError):
    """The connection is closed; `code` and `reason` come from the close frame, if any."""

    def __init__(self, code=1006, reason=""):
        super().__init__(f"connection closed: {code} {reason}".strip())
        self.code = code
        self.reason = reason


# Handshake (pure)

def new_key():
    return base64.b64encode(os.urandom(16)).decode("ascii")


def accept_for(key):
    digest = hashlib.sha1((key + GUID).encode("ascii")).digest()
    return base64.b64encode(digest).decode("ascii")


def handshake_request(host, port, path, key):
    """The HTTP upgrade request. No Origin header: the daemon refuses connections that carry one."""
    hostHeader = f"[{host}]" if ":" in host else host
    lines = [
        f"GET {path} HTTP/1.1",
        f"Host: {hostHeader}:{port}",
        "Upgrade: websocket",
        "Connection: Upgrade",
        f"Sec-WebSocket-Key: {key}",
        "Sec-WebSocket-Version: 13",
        "User-Agent: echoic-nvda",
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("ascii")


def check_handshake_response(head, key):
    """Check the server's response head (bytes up to and excluding the blank line)."""
    try:
        text = head.decode("iso-8859-1")
    except UnicodeDecodeError as e:
        raise HandshakeError("unreadable handshake response") from e
    statusLine, _sep, rest = text.partition("\r\n")
    parts = statusLine.split(" ", 2)
    if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or parts[1] != "101":
        raise HandshakeError(f"server refused the upgrade: {statusLine!r}")
    headers = {}
    for line in rest.split("\r\n"):
        name, sep, value = line.partition(":")
        if sep:
            headers[name.strip().lower()] = value.strip()
    if headers.get("upgrade", "").lower() != "websocket":
        raise HandshakeError("response lacks 'Upgrade: websocket'")
    if headers.get("sec-websocket-accept") != accept_for(key):
        raise HandshakeError("wrong Sec-WebSocket-Accept")
    return headers


# Frames (pure)

def mask(payload, maskKey):
    """XOR `payload` with the 4-byte key, fast: one big-integer XOR instead of a Python loop."""
    n = len(payload)
    if not n:
        return b""
    repeated = (maskKey * (n // 4 + 1))[:n]
    value = int.from_bytes(payload, "little") ^ int.from_bytes(repeated, "little")
    return value.to_bytes(n, "little")


def encode_frame(opcode, payload, fin=True, maskKey=None):
    """One client frame. Clients must mask (RFC 6455 5.3); `maskKey` is random unless given."""
    if maskKey is None:
        maskKey = os.urandom(4)
    header = bytearray([(0x80 if fin else 0) | opcode])
    n = len(payload)
    if n < 126:
        header.append(0x80 | n)
    elif n < 1 << 16:
        header.append(0x80 | 126)
        header += struct.pack("!H", n)
    else:
        header.append(0x80 | 127)
        header += struct.pack("!Q", n)
    return bytes(header) + maskKey + mask(payload, maskKey)


def encode_close(code=1000, reason=""):
    return struct.pack("!H", code) + reason.encode("utf-8")[:120]


def decode_close(payload):
    if not payload:
        return 1005, ""
    if len(payload) == 1:
        raise ProtocolError("close frame with a 1-byte payload")
    code = struct.unpack("!H", payload[:2])[0]
    return code, payload[2:].decode("utf-8", "replace")


class FrameParser:
    """Bytes in (`feed`), frames out (`frames()` yields (fin, opcode, payload))."""

    def __init__(self):
        self._buffer = bytearray()

    def feed(self, data):
        self._buffer += data

    def frames(self):
        while True:
            frame = self._next()
            if frame is None:
                return
            yield frame

    def _next(self):
        buf = self._buffer
        if len(buf) < 2:
            return None
        first, second = buf[0], buf[1]
        if first & 0x70:
            raise ProtocolError("reserved bits set (no extension was negotiated)")
        fin = bool(first & 0x80)
        opcode = first & 0x0F
        if opcode not in _DATA and opcode not in _CONTROL:
            raise ProtocolError(f"unknown opcode {opcode:#x}")
        masked = bool(second & 0x80)
        length = second & 0x7F
        pos = 2
        if length == 126:
            if len(buf) < 4:
                return None
            length = struct.unpack_from("!H", buf, 2)[0]
            pos = 4
        elif length == 127:
            if len(buf) < 10:
                return None
            length = struct.unpack_from("!Q", buf, 2)[0]
            pos = 10
        if opcode in _CONTROL and (length > 125 or not fin):
            raise ProtocolError("control frames must be short and unfragmented")
        if length > MAX_MESSAGE:
            raise ProtocolError(f"frame of {length} bytes is too large")
        maskKey = None
        if masked:
            # Servers must not mask; tolerate it anyway rather than drop speech.
            if len(buf) < pos + 4:
                return None
            maskKey = bytes(buf[pos:pos + 4])
            pos += 4
        if len(buf) < pos + length:
            return None
        payload = bytes(buf[pos:pos + length])
        del buf[:pos + length]
        if maskKey:
            payload = mask(payload, maskKey)
        return fin, opcode, payload


class MessageAssembler:
    """Frames in, messages out: joins fragments, hands control frames back separately.

    `add(fin, opcode, payload)` returns None (a fragment, kept), ("text", str), ("binary", bytes),
    or the control frame as ("ping" | "pong" | "close", payload).
    """

    def __init__(self):
        self._opcode = None
        self._parts = []
        self._size = 0

    def add(self, fin, opcode, payload):
        if opcode == OP_PING:
            return ("ping", payload)
        if opcode == OP_PONG:
            return ("pong", payload)
        if opcode == OP_CLOSE:
            return ("close", payload)
        if opcode == OP_CONTINUATION:
            if self._opcode is None:
                raise ProtocolError("continuation frame without a message to continue")
        else:
            if self._opcode is not None:
                raise ProtocolError("new message before the previous one was finished")
            self._opcode = opcode
        self._parts.append(payload)
        self._size += len(payload)
        if self._size > MAX_MESSAGE:
            raise ProtocolError("message too large")
        if not fin:
            return None
        data = b"".join(self._parts)
        opcode, self._opcode, self._parts, self._size = self._opcode, None, [], 0
        if opcode == OP_TEXT:
            try:
                return ("text", data.decode("utf-8"))
            except UnicodeDecodeError as e:
                raise ProtocolError("text message is not UTF-8") from e
        return ("binary", data)
