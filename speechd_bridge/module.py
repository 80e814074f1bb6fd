"""`sd_echoic`: the speech-dispatcher output module, a client of the Echoic daemon.

speech-dispatcher starts `sd_echoic <configfile>` and talks the module protocol over its
stdin/stdout (pure parsing in `protocol.py`). The main thread reads commands; one `SpeechJob`
thread per message streams the daemon's audio back as 705 events with the index marks at their
sample positions. STOP and PAUSE arrive on the main thread while a job speaks. Every reply and
event goes through `Output` under one lock. Logs go to stderr, which the server keeps in
`<LogDir>/echoic.log`.

Failure rule: the server must never wait forever. No daemon -> `301 ERROR CANT SPEAK`; a daemon
that fails mid-message -> the message ends with 702 END (error) or 703 STOP (connection lost).

Size: about 430 lines, because the module protocol's whole command set (speak, sound icon,
character, key, pause, stop, settings, audio) is dispatched here and each has its failure rule;
the parsing is already out in `protocol.py`.
"""

from __future__ import annotations

import logging
import os
import queue
import sys
import threading
import time
from pathlib import Path

from . import protocol as p
from .daemon_client import DaemonClient, DaemonError, Utterance

log = logging.getLogger("sd_echoic")

AUDIO_BLOCK_SAMPLES = 2400
"""Largest 705 block (0.1 s at 24 kHz): STOP is checked between blocks."""
MARK_GRACE_S = 0.015
"""How long a frame is held back waiting for an index inside it (see SpeechJob)."""
IDLE_TIMEOUT_S = 30.0
"""A daemon silent this long mid-message is given up on (the message ends with 702)."""
JOIN_TIMEOUT_S = 2.0
EVENT_GAP_S = 0.01
"""Least time between a reply and the first event after it. speech-dispatcher 0.11 reads replies
through a buffered stream and events from the raw pipe: a 701 that lands in the same read as the
200 before it was seen lost (the client got no BEGIN) or read as the next reply (a stuck server)."""

FALLBACK_VOICE_LINES = ["echoic\ten-US\tnone"]
"""LIST VOICES when the daemon cannot be asked: zero voices would unload the module."""

_LOGLEVELS = {0: logging.ERROR, 1: logging.ERROR, 2: logging.WARNING, 3: logging.INFO, 4: logging.DEBUG, 5: logging.DEBUG}


class Output:
    """The module's stdout: replies and events, each written whole under one lock."""

    def __init__(self, stream):
        self._stream = stream
        self.lock = threading.Lock()
        self.broken = False

    def write(self, data: bytes) -> None:
        with self.lock:
            if self.broken:
                return
            try:
                self._stream.write(data)
                self._stream.flush()
            except (BrokenPipeError, ValueError, OSError):
                self.broken = True  # the server went away; the reader sees EOF and we exit

    def reply(self, text: str) -> None:
        self.write(p.line(text))


class SpeechJob(threading.Thread):
    """Speaks one message: 701, audio and marks in sample order, then 702 / 703 / 704.

    With server audio a daemon frame is held back until the next daemon message (or MARK_GRACE_S)
    when marks are still expected, because an `index` inside a frame arrives after that frame:
    holding it lets us send the audio up to the mark, the mark, then the rest.
    """

    def __init__(self, output: Output, client: DaemonClient, utterance: Utterance, marks: tuple[str, ...],
                 server_audio: bool, sample_rate: int, replied_at: float = 0.0, read_at: float = 0.0):
        super().__init__(name=f"speak-{utterance.id}", daemon=True)
        self.output = output
        self.client = client
        self.utterance = utterance
        self.remaining = list(marks)
        self.server_audio = server_audio
        self.sample_rate = sample_rate
        self.stop_requested = threading.Event()
        self.pause_requested = threading.Event()
        self._held: tuple[int, bytes] | None = None
        self._replied_at = replied_at
        self._read_at = read_at
        self._daemon_audio_at: float | None = None
        self._begun = False

    def _begin(self) -> None:
        """701 BEGIN, once, when the first audio, mark or end is ready (and EVENT_GAP_S after the 200)."""
        if self._begun:
            return
        self._begun = True
        wait = self._replied_at + EVENT_GAP_S - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        self.output.reply(p.EVENT_BEGIN)

    def stop(self) -> None:
        self.stop_requested.set()
        self.utterance.wake()

    def pause(self) -> None:
        self.pause_requested.set()
        self.utterance.wake()

    # -- audio --

    def _send_audio(self, pcm: bytes) -> bool:
        """Write PCM as 705 blocks; False when STOP came in between."""
        step = AUDIO_BLOCK_SAMPLES * 2
        for start in range(0, len(pcm), step):
            if self.stop_requested.is_set():
                return False
            first = not self._begun
            self._begin()
            self.output.write(p.audio_event(pcm[start:start + step], self.sample_rate))
            if first:
                # Monotonic seconds (one clock for every process here): `echoic bench speechd` reads them.
                log.info("%s timeline: read %.4f, daemon audio %.4f, first audio out %.4f", self.utterance.id,
                         self._read_at, self._daemon_audio_at or 0.0, time.monotonic())
        return True

    def _flush(self, up_to: int | None = None) -> bool:
        """Send held audio up to sample `up_to` (all of it when None)."""
        if self._held is None:
            return True
        offset, pcm = self._held
        if up_to is None or up_to >= offset + len(pcm) // 2:
            self._held = None
            return self._send_audio(pcm)
        cut = max(0, up_to - offset) * 2
        self._held = (offset + cut // 2, pcm[cut:])
        return self._send_audio(pcm[:cut])

    # -- the message --

    def _cancel_daemon(self) -> None:
        self.client.forget(self.utterance)
        try:
            self.client.cancel(self.utterance.id)
        except DaemonError as exc:
            log.info("cancel not sent: %s", exc)

    def run(self) -> None:
        try:
            final = self._speak()
            self._begin()
            self.output.reply(final)
            log.info("%s ended: %s", self.utterance.id, final)
        except Exception:  # noqa: BLE001 - whatever happens, the message must end for the server
            log.exception("speech job failed")
            self._begin()
            self.output.reply(p.EVENT_END)

    def _speak(self) -> str:
        """Stream the utterance; returns the final event line."""
        events = self.utterance.events
        while True:
            if self.stop_requested.is_set():
                self._cancel_daemon()
                return p.EVENT_STOP
            try:
                event = events.get(timeout=MARK_GRACE_S if self._held else IDLE_TIMEOUT_S)
            except queue.Empty:
                if self._held:
                    self._flush()
                    continue
                log.error("the daemon sent nothing for %.0f s; ending the message", IDLE_TIMEOUT_S)
                self._cancel_daemon()
                return p.EVENT_END
            kind = event[0]
            if kind == "audio":
                _, offset, pcm = event
                if self._daemon_audio_at is None:
                    self._daemon_audio_at = time.monotonic()
                if not self.server_audio:
                    continue
                if not self._flush():
                    continue
                if self.remaining:
                    self._held = (offset, pcm)
                elif not self._send_audio(pcm):
                    continue
            elif kind == "index":
                _, mark, offset = event
                if self.server_audio and not self._flush(offset):
                    continue
                self._begin()
                self.output.write(p.mark_event(mark))
                if mark in self.remaining:
                    del self.remaining[: self.remaining.index(mark) + 1]
                if self.pause_requested.is_set() and mark.startswith(p.SPD_MARK_PREFIX):
                    self._cancel_daemon()
                    return p.EVENT_PAUSE
            elif kind == "done":
                self._flush()
                if self.stop_requested.is_set():
                    return p.EVENT_STOP
                return p.EVENT_END
            elif kind == "error":
                self._flush()
                log.error("the daemon could not speak: %s", event[1].get("message"))
                return p.EVENT_END
            elif kind == "lost":
                log.error("lost the daemon mid-message: %s", event[1])
                return p.EVENT_STOP
            # "accepted" and "wake": loop, the checks at the top decide


class Module:
    """The command loop on the server's pipes."""

    def __init__(self, stdin, stdout, client: DaemonClient, init_timeout: float = 20.0,
                 speak_timeout: float = 10.0):
        self.stdin = stdin
        self.output = Output(stdout)
        self.client = client
        self.init_timeout = init_timeout
        self.speak_timeout = speak_timeout
        self.settings = p.Settings()
        self.server_audio = False
        self.voices: list[p.VoiceInfo] = []
        self.looked_for: str | None = None
        """A voice name SET that the last catalogue lacked, already looked for again."""
        self.locales: list[str] = []
        self.job: SpeechJob | None = None

    # -- reading --

    def _readline(self) -> str | None:
        raw = self.stdin.readline()
        if not raw:
            return None
        return raw.decode("utf-8", errors="replace").rstrip("\r\n")

    def _read_block(self) -> list[str] | None:
        lines = []
        while True:
            raw = self._readline()
            if raw is None:
                return None
            if p.is_block_end(raw):
                return lines
            lines.append(raw)

    # -- daemon --

    def _refresh_catalogue(self) -> None:
        try:
            voices = self.client.request({"type": "voices"}, "voices").get("voices", [])
            locales = self.client.request({"type": "locales"}, "locales").get("locales", [])
        except DaemonError as exc:
            log.warning("could not list the daemon's voices: %s", exc)
            return
        self.voices = [
            p.VoiceInfo(str(v.get("id")), str(v.get("name", v.get("id"))), str(v.get("gender", "")),
                        tuple(str(tag) for tag in v.get("locales", ())))
            for v in voices if isinstance(v, dict) and v.get("id")
        ]
        self.locales = [str(loc.get("tag")) for loc in locales if isinstance(loc, dict) and loc.get("tag")]

    def _connect(self, timeout: float) -> bool:
        fresh = not self.client.connected
        try:
            self.client.ensure_connected(start_timeout=timeout)
        except DaemonError as exc:
            log.error("%s", exc)
            return False
        if fresh or not self.voices:
            self._refresh_catalogue()
        return True

    # -- commands --

    def run(self) -> int:
        while True:
            raw = self._readline()
            if raw is None:
                log.info("the server closed our stdin; exiting")
                self._stop_job()
                return 0
            command = p.parse_command(raw)
            if not command.name:
                continue
            log.debug("<- %s", raw)
            handler = getattr(self, f"_cmd_{command.name.lower()}", None)
            if handler is None:
                self.output.reply(p.ERR_UNKNOWN_COMMAND)
                continue
            if handler(command) is False:
                return 0

    def _cmd_init(self, command) -> None:
        if self._connect(self.init_timeout):
            self.output.write(p.reply_lines(299, [f"Echoic daemon {self.client.hello.get('version', '')}"], p.OK_LOADED))
        else:
            # Still loaded: a later SPEAK retries the daemon and answers 301 while it is down.
            self.output.write(p.reply_lines(299, ["Echoic daemon not reachable yet; see the module log"], p.OK_LOADED))

    def _cmd_audio(self, command) -> bool | None:
        self.output.reply(p.OK_RECEIVING_AUDIO)
        block = self._read_block()
        if block is None:
            return False
        method = p.parse_key_values(block).get("audio_output_method", "")
        # Server audio: we hand audio back as 705 events. Anything else: the daemon plays.
        self.server_audio = method == "server"
        log.info("audio output: %s", "server (705 events)" if self.server_audio else f"daemon ({method or 'unset'})")
        self.output.reply(p.OK_AUDIO_INITIALIZED)
        return None

    def _cmd_loglevel(self, command) -> bool | None:
        self.output.reply(p.OK_RECEIVING_LOGLEVEL)
        block = self._read_block()
        if block is None:
            return False
        try:
            level = int(p.parse_key_values(block).get("log_level", "3"))
            logging.getLogger().setLevel(_LOGLEVELS.get(level, logging.DEBUG))
        except ValueError:
            log.warning("ignoring a bad log level in %r", block)
        self.output.reply(p.OK_LOGLEVEL_SET)
        return None

    def _cmd_list(self, command) -> None:
        if not command.args or command.args[0].upper() != "VOICES":
            self.output.reply(p.ERR_UNKNOWN_COMMAND)
            return
        if len(command.args) > 1:
            self.output.reply(p.ERR_LIST_VOICES_FILTER)
            return
        if not self.client.connected:
            self._connect(timeout=1.0)
        else:
            self._refresh_catalogue()  # voices created or removed since the last list (echoic voice)
        lines = p.voice_list_lines(self.voices) or FALLBACK_VOICE_LINES
        self.output.write(p.reply_lines(200, lines, p.OK_VOICE_LIST_SENT))

    def _cmd_set(self, command) -> bool | None:
        self.output.reply(p.OK_RECEIVING_SETTINGS)
        block = self._read_block()
        if block is None:
            return False
        for key, value in p.parse_key_values(block).items():
            try:
                self.settings = p.apply_settings(self.settings, {key: value})
            except ValueError as exc:
                log.warning("ignoring setting: %s", exc)
        self.output.reply(p.OK_SETTINGS_RECEIVED)
        return None

    def _speak_command(self, command) -> bool | None:
        self.output.reply(p.OK_RECEIVING_MESSAGE)
        block = self._read_block()
        if block is None:
            return False
        read_at = time.monotonic()
        data = p.join_block(block)
        self._stop_job()
        if command.name == "SOUND_ICON":
            self.output.reply(p.OK_SPEAKING)
            time.sleep(EVENT_GAP_S)
            self.output.reply(p.EVENT_BEGIN)
            if self.server_audio:
                self.output.write(p.icon_event(data.strip()))
            self.output.reply(p.EVENT_END)
            return None
        if not self._connect(self.speak_timeout):
            self.output.reply(p.ERR_CANT_SPEAK)
            return None
        wanted = self.settings.synthesis_voice
        if wanted and wanted != self.looked_for and wanted not in {v.id for v in self.voices}:
            self.looked_for = wanted  # asked once per name, not before every message
            self._refresh_catalogue()  # a voice created after the last LIST VOICES
        job = p.speak_message(self.client.new_id(), command.name, data, self.settings, self.voices,
                              self.locales, playback="client" if self.server_audio else "daemon")
        message = job.message
        log.info("speak %s %s locale=%s voice=%s rate=%s marks=%d", message["id"], command.name,
                 message.get("locale", "default"), message.get("voice", "default"), message.get("rate", "default"),
                 len(job.marks))
        try:
            utterance = self.client.speak(message)
        except DaemonError as exc:
            log.error("cannot send the message to the daemon: %s", exc)
            self.output.reply(p.ERR_CANT_SPEAK)
            return None
        self.output.reply(p.OK_SPEAKING)
        self.job = SpeechJob(self.output, self.client, utterance, job.marks, self.server_audio,
                             self.client.sample_rate, replied_at=time.monotonic(), read_at=read_at)
        self.job.start()
        return None

    _cmd_speak = _cmd_char = _cmd_key = _cmd_sound_icon = _speak_command

    def _stop_job(self) -> None:
        job, self.job = self.job, None
        if job is not None and job.is_alive():
            job.stop()
            job.join(JOIN_TIMEOUT_S)

    def _cmd_stop(self, command) -> None:
        job = self.job
        if job is not None and job.is_alive():
            job.stop()

    def _cmd_pause(self, command) -> None:
        job = self.job
        if job is not None and job.is_alive():
            job.pause()

    def _cmd_quit(self, command) -> bool:
        self._stop_job()
        self.output.reply(p.OK_QUIT)
        self.client.close()
        return False


def _client_from_config(config_path: str | None) -> DaemonClient:
    config: dict[str, str] = {}
    if config_path:
        try:
            config = p.parse_module_config(Path(config_path).read_text(encoding="utf-8"))
        except OSError as exc:
            log.info("no module config read from %s: %s", config_path, exc)
    runtime_dir = config.get("EchoicRuntimeDir") or None
    autostart = config.get("EchoicAutostart", os.environ.get("ECHOIC_AUTOSTART", "1")) not in ("0", "no", "false")
    timeout = float(config.get("EchoicStartTimeout", "60"))
    return DaemonClient(runtime_dir=runtime_dir, autostart=autostart, start_timeout=timeout)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    logging.basicConfig(stream=sys.stderr, level=logging.INFO,
                        format="%(asctime)s sd_echoic[%(process)d] %(levelname)s %(message)s")
    stdout = sys.stdout.buffer
    sys.stdout = sys.stderr  # nothing but protocol lines may reach the server's pipe
    client = _client_from_config(argv[0] if argv else None)
    module = Module(sys.stdin.buffer, stdout, client)
    return module.run()


if __name__ == "__main__":
    sys.exit(main())
