"""The client core of the Echoic daemon's protocol (docs/protocol.md): one copy for every client.

    wire        constants, audio frames, messages                      pure
    websocket   RFC 6455, the client's half, on bytes                  pure
    discovery   the runtime folder and file, the lock record, trusting a pid, starting a daemon
    connection  the socket layer and the authenticated connection (hello)
    client      DaemonClient: a small synchronous client (the CLI, benches, tests)
    errors      ClientError and its subclasses

Standard library only, and nothing imported from the rest of `engine`: the CLI, `sd_echoic`
and the daemon import it, and the NVDA add-on build copies these files byte for byte into the
add-on (nvda_addon/build.py; tests/test_client_core.py proves the copy identical).
"""

from .client import DaemonClient, SpeechResult, find_daemon
from .connection import Connection
from .discovery import RuntimeInfo, read_runtime_file, runtime_dir
from .errors import ClientError, DaemonLost, DaemonRefused, DaemonUnavailable, RequestRefused, RuntimeDirError
from .wire import AudioFrame, FrameError, parse_audio_frame

__all__ = [
    "AudioFrame", "ClientError", "Connection", "DaemonClient", "DaemonLost", "DaemonRefused", "DaemonUnavailable",
    "FrameError", "RequestRefused", "RuntimeDirError", "RuntimeInfo", "SpeechResult", "find_daemon",
    "parse_audio_frame", "read_runtime_file", "runtime_dir",
]
