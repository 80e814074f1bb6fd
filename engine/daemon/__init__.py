"""The Echoic daemon, `echoic serve`: one long-lived process per user that keeps the model loaded
and speaks to screen-reader clients over a WebSocket on loopback (docs/protocol.md).

    protocol      the wire format as pure functions (parse, produce, audio frames)
    scheduling    per-client priorities (speech-dispatcher's meaning), as a pure function
    runtime_file  where clients find the daemon: the runtime file, the per-user lock
    settings      the per-locale settings file (TOML), read on change, written atomically
    playback      daemon-side playback through sounddevice
    server        the asyncio server and the synthesis thread around one shared Engine
    commands      `echoic serve|status|stop|config`, `echoic bench daemon`
"""

from ..errors import EchoicError


class DaemonError(EchoicError):
    """The daemon cannot start, or cannot be reached (another daemon holds the lock, the port is taken...)."""
