"""Every bound the daemon puts on what clients may make it hold, in one place (#15).

docs/protocol.md (Limits) and docs/reliability.md state them for clients; `status` reports each
pool's use against its limit. Read as `limits.NAME` at the point of use, so a test can lower one.
"""

from __future__ import annotations

HELLO_TIMEOUT_S = 3.0
"""From the end of the HTTP handshake to a valid hello; the HTTP handshake has as long again."""
HELLO_MAX_BYTES = 4096
"""The largest frame accepted before authentication (a hello is ~150 bytes); MAX_MESSAGE_BYTES after."""
MAX_CONNECTIONS = 64
"""Open connections at once (the screen reader, speech-dispatcher and a few CLI calls need a handful)."""
MAX_UNAUTHENTICATED = 8
"""Connections still without a valid hello; more are answered HTTP 503 before any WebSocket exists."""
INCOMING_FRAMES = 4
"""Frames websockets buffers per connection before it stops reading the socket (each up to 1 MiB)."""
MAX_CONTROL_BACKLOG = 64
"""Answers queued for a client that does not read them; past this its next message waits."""
MAX_QUEUED_CHARS_PER_CLIENT = 1_000_000
"""Text of one client's live utterances (64 of 200,000 characters would be 12.8 MB per client)."""
MAX_QUEUED_CHARS = 8_000_000
"""Text of every client's live utterances together."""
TRIM_AFTER_CHARS = 10_000
"""Text synthesised since the last malloc_trim that makes the next idle moment trim."""
TRIM_EVERY_S = 30.0
"""After any synthesis, an idle moment this long after the last trim trims again."""
KEY_ECHO_VOICES = 16
"""(locale, voice, rate, pitch) combinations remembered as already warmed up for key echo."""
WORDS_AHEAD = 32
"""Words of the utterance just spoken that idle time renders alone, so that moving by word through
it is served from the render cache (with punctuation attached counted as another word); 0: none."""
