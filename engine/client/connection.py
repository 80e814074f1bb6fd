"""The one transport: a blocking WebSocket on a socket, and an authenticated connection on it.

`WebSocket` is the thin socket layer around the pure framing of `websocket`: one thread reads
(`recv`), any thread may send (sends are serialised by a lock). `Connection.open` connects, says
hello with the token and returns only when the daemon answered; `send` and `receive` then speak
protocol v1 in dicts and `AudioFrame`s. Transport errors become the core's errors here, once.
Standard library only (the NVDA add-on carries a byte-identical copy of this package).
"""

import socket
import threading

from .errors import DaemonLost, DaemonRefused, DaemonUnavailable
from .websocket import (
    OP_CLOSE,
    OP_PING,
    OP_PONG,
    OP_TEXT,
    OP_BINARY,
    ConnectionClosed,
    FrameParser,
    HandshakeError,
    MessageAssembler,
    WebSocketError,
    check_handshake_response,
    decode_close,
    encode_close,
    encode_frame,
    handshake_request,
    new_key,
)
from .wire import FrameError, decode, encode, hello, parse_audio_frame


class WebSocket:
    """A connected client. `recv()` from one thread; `send_*` from any thread."""

    def __init__(self, sock):
        self._sock = sock
        self._parser = FrameParser()
        self._assembler = MessageAssembler()
        self._sendLock = threading.Lock()
        self._closed = False
        self.closeCode = None
        self.closeReason = ""

    @classmethod
    def connect(cls, host, port, path="/", timeout=5.0):
        try:
            sock = socket.create_connection((host, port), timeout=timeout)
        except OSError as e:
            raise ConnectionClosed(1006, f"cannot connect to {host}:{port}: {e}") from e
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        key = new_key()
        try:
            sock.sendall(handshake_request(host, port, path, key))
            response = b""
            while b"\r\n\r\n" not in response:
                data = sock.recv(4096)
                if not data:
                    raise HandshakeError("connection closed during the handshake")
                response += data
                if len(response) > 16384:
                    raise HandshakeError("handshake response too long")
            head, _sep, rest = response.partition(b"\r\n\r\n")
            check_handshake_response(head, key)
        except OSError as e:
            sock.close()
            raise ConnectionClosed(1006, f"handshake failed: {e}") from e
        except WebSocketError:
            sock.close()
            raise
        # The timeout stays until the caller calls settimeout(None): its own first exchange (the
        # daemon's hello) must not be able to block NVDA's main thread forever either.
        ws = cls(sock)
        ws._parser.feed(rest)
        return ws

    def settimeout(self, timeout):
        """Seconds a recv or send may block (None: forever)."""
        self._sock.settimeout(timeout)

    def _sendFrame(self, opcode, payload):
        frame = encode_frame(opcode, payload)
        with self._sendLock:
            if self._closed:
                raise ConnectionClosed(self.closeCode or 1006, self.closeReason)
            try:
                self._sock.sendall(frame)
            except OSError as e:
                self._closed = True
                raise ConnectionClosed(1006, str(e)) from e

    def send_text(self, text):
        self._sendFrame(OP_TEXT, text.encode("utf-8"))

    def send_binary(self, data):
        self._sendFrame(OP_BINARY, bytes(data))

    def ping(self, payload=b""):
        self._sendFrame(OP_PING, payload)

    def recv(self):
        """The next message: str for text, bytes for binary. Answers pings; raises ConnectionClosed,
        or TimeoutError when the socket's timeout passes first."""
        while True:
            for fin, opcode, payload in self._parser.frames():
                message = self._assembler.add(fin, opcode, payload)
                if message is None:
                    continue
                kind, data = message
                if kind == "text" or kind == "binary":
                    return data
                if kind == "ping":
                    try:
                        self._sendFrame(OP_PONG, data)
                    except ConnectionClosed:
                        pass
                elif kind == "close":
                    code, reason = decode_close(data)
                    self.closeCode, self.closeReason = code, reason
                    try:
                        self._sendFrame(OP_CLOSE, data[:2])
                    except ConnectionClosed:
                        pass
                    self._shutdown()
                    raise ConnectionClosed(code, reason)
            sock = self._sock
            if sock is None:
                raise ConnectionClosed(self.closeCode or 1006, self.closeReason or "closed")
            try:
                data = sock.recv(65536)
            except TimeoutError:
                raise  # nothing came in time; a partial frame stays buffered, the connection stays up
            except OSError as e:
                self._shutdown()
                raise ConnectionClosed(1006, str(e)) from e
            if not data:
                self._shutdown()
                raise ConnectionClosed(self.closeCode or 1006, self.closeReason or "connection lost")
            self._parser.feed(data)

    def close(self, code=1000, reason=""):
        """Send a close frame (if still open) and shut the socket; safe to call twice."""
        try:
            self._sendFrame(OP_CLOSE, encode_close(code, reason))
        except ConnectionClosed:
            pass
        self._shutdown()

    def _shutdown(self):
        with self._sendLock:
            if self._closed and self._sock is None:
                return
            self._closed = True
            sock, self._sock = self._sock, None
        if sock is not None:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


class Connection:
    """One authenticated connection to the daemon. `receive` from one thread; `send` from any."""

    def __init__(self, ws, hello_reply, port):
        self.ws = ws
        self.hello = hello_reply
        self.port = port
        self.sample_rate = int(hello_reply.get("sample_rate", 24000))
        self.channels = int(hello_reply.get("channels", 1))
        self._timeout = None

    @classmethod
    def open(cls, port, token, client="echoic-client", host="127.0.0.1", timeout=5.0):
        """Connect and say hello. `timeout` bounds the connection and the hello both: a daemon
        that never answers must not block the caller (NVDA's main thread) for ever."""
        try:
            ws = WebSocket.connect(host, port, timeout=timeout)
        except HandshakeError as e:
            raise DaemonUnavailable(f"the program on port {port} refused the WebSocket upgrade: {e}") from None
        except WebSocketError as e:
            why = e.reason if isinstance(e, ConnectionClosed) and e.reason else e
            raise DaemonUnavailable(f"cannot reach the Echoic daemon on port {port}: {why}") from None
        try:
            ws.send_text(encode(hello(token, client)))
            reply = decode(ws.recv())
        except ConnectionClosed as e:
            ws.close()
            raise DaemonRefused(f"the daemon closed the hello ({e.code} {e.reason})".strip(), e.code) from None
        except TimeoutError:
            ws.close()
            raise DaemonUnavailable(f"the daemon on port {port} did not answer hello within {timeout} s") from None
        except (WebSocketError, FrameError) as e:
            ws.close()
            raise DaemonUnavailable(f"bad hello from the daemon on port {port}: {e}") from None
        if reply.get("type") != "hello":
            ws.close()
            raise DaemonRefused(f"the daemon answered the hello with {reply!r:.200}")
        ws.settimeout(None)
        return cls(ws, reply, port)

    def send(self, message):
        try:
            self.ws.send_text(encode(message))
        except ConnectionClosed as e:
            raise DaemonLost(f"the daemon connection dropped: {e}") from None

    def receive(self, timeout=None):
        """The next message: a dict for JSON, an AudioFrame for audio. DaemonLost when the
        connection ends or nothing comes within `timeout` seconds (None: wait as long as it takes);
        FrameError (a ValueError) for a frame that is not protocol v1, the connection kept."""
        if timeout != self._timeout:
            self.ws.settimeout(timeout)
            self._timeout = timeout
        try:
            data = self.ws.recv()
        except TimeoutError:
            raise DaemonLost(f"the daemon sent nothing for {timeout} s") from None
        except ConnectionClosed as e:
            raise DaemonLost(f"the daemon connection closed: {e.code} {e.reason}".strip()) from None
        except WebSocketError as e:
            self.ws.close(1002)
            raise DaemonLost(f"the daemon broke the WebSocket protocol: {e}") from None
        if isinstance(data, bytes):
            return parse_audio_frame(data)
        return decode(data)

    def close(self, code=1000, reason=""):
        self.ws.close(code, reason)

    @property
    def closed(self):
        return self.ws._closed
