"""The client core's exceptions, in one place; each message is a sentence a user can act on.

    ClientError             the daemon cannot be used
    ├── DaemonUnavailable   no daemon runs, none could be started, or it cannot be reached
    ├── DaemonRefused       the daemon closed the hello (wrong token 4401, protocol 4400)
    ├── DaemonLost          the connection dropped (or went silent); the next call reconnects
    ├── RequestRefused      the daemon answered a request with an `error` (has its `code`)
    └── RuntimeDirError     the runtime folder cannot be created or is not safely ours

Transport errors (sockets, subprocesses, files) are wrapped once, where the core meets them.
`websocket.WebSocketError` stays below this line: it is raised by the pure framing code only.
"""


class ClientError(Exception):
    """The Echoic daemon cannot be used."""


class DaemonUnavailable(ClientError):
    """No daemon runs and none could be started, or it cannot be reached."""


class DaemonRefused(ClientError):
    """The daemon refused our hello; `code` is the WebSocket close code (4401, 4400) when known."""

    def __init__(self, message, code=None):
        super().__init__(message)
        self.code = code


class DaemonLost(ClientError):
    """The connection to the daemon dropped, or it sent nothing for too long."""


class RequestRefused(ClientError):
    """The daemon answered with `{"type": "error"}`; `code` is the protocol's error code."""

    def __init__(self, code, message):
        super().__init__(message)
        self.code = code


class RuntimeDirError(ClientError):
    """The runtime folder cannot be created, or another user owns it or may write to it."""
