"""`sd_echoic` driven over its pipes with a scripted server conversation.

Against the fake protocol-v1 daemon (paced sine audio, marks inside frames) for exact checks of
the event stream; `test_speechd_real_daemon.py` runs the same conversation against the real one.
"""

from __future__ import annotations

import os
import queue
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from speechd_bridge import protocol as p
from speechd_bridge.bench import stages
from speechd_bridge.module import AUDIO_BLOCK_SAMPLES

from .test_speechd_client import SAMPLES_PER_CHAR, FakeDaemon, plan_ssml

REPO = Path(__file__).resolve().parents[1]
FINAL = {"702 END", "703 STOP", "704 PAUSE"}


class ModuleProcess:
    """`python -m speechd_bridge.module` on pipes; a reader thread splits its output into events."""

    def __init__(self, runtime_dir: Path, autostart: bool = False, extra_env: dict | None = None):
        env = dict(os.environ, ECHOIC_RUNTIME_DIR=str(runtime_dir), ECHOIC_AUTOSTART="1" if autostart else "0",
                   PYTHONPATH=str(REPO))
        env.update(extra_env or {})
        self.proc = subprocess.Popen([sys.executable, "-m", "speechd_bridge.module"], cwd=REPO, env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.lines: queue.Queue = queue.Queue()
        self.stderr: list[bytes] = []
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=lambda: self.stderr.extend(self.proc.stderr), daemon=True).start()

    def _read(self) -> None:
        for raw in self.proc.stdout:
            self.lines.put(raw)
        self.lines.put(None)

    def send(self, text: str) -> None:
        self.proc.stdin.write(text.encode("utf-8"))
        self.proc.stdin.flush()

    def line(self, timeout: float = 10.0) -> bytes:
        try:
            raw = self.lines.get(timeout=timeout)
        except queue.Empty:
            raise AssertionError(f"no output within {timeout} s; stderr:\n{self.log()}") from None
        if raw is None:
            raise AssertionError(f"the module exited; stderr:\n{self.log()}")
        return raw

    def reply(self, timeout: float = 10.0) -> list[str]:
        """One whole reply: `NNN-...` lines then the final `NNN ...` line."""
        lines = []
        while True:
            text = self.line(timeout).decode("utf-8").rstrip("\n")
            lines.append(text)
            if len(text) < 4 or text[3] != "-":
                return lines

    def events(self, timeout: float = 15.0) -> list:
        """Events up to a final one: "701 BEGIN", ("audio", samples, pcm), ("mark", name), final."""
        out = []
        deadline = time.monotonic() + timeout
        block = b""
        while True:
            raw = self.line(max(0.01, deadline - time.monotonic()))
            if raw.startswith(b"705-"):
                block += raw
                continue
            if raw == b"705 AUDIO\n":
                fields, pcm = p.parse_audio_event(block + raw)
                assert fields["num_samples"] * 2 == len(pcm)
                out.append(("audio", fields["num_samples"], pcm))
                block = b""
                continue
            text = raw.decode("utf-8").rstrip("\n")
            if text.startswith("700-"):
                out.append(("mark", text[4:]))
                assert self.line().decode().rstrip("\n") == "700 INDEX MARK"
                continue
            out.append(text)
            if text in FINAL:
                return out

    def log(self) -> str:
        return b"".join(self.stderr).decode("utf-8", "replace")

    def close(self) -> int:
        if self.proc.poll() is None:
            try:
                self.send("QUIT\n")
            except BrokenPipeError:
                pass
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
        return self.proc.wait(5)


def handshake(module: ModuleProcess, audio: str = "server") -> None:
    module.send("INIT\n")
    assert module.reply(30)[-1] == p.OK_LOADED
    module.send(f"AUDIO\naudio_output_method={audio}\n.\n")
    assert module.reply() == [p.OK_RECEIVING_AUDIO]
    assert module.reply() == [p.OK_AUDIO_INITIALIZED]
    module.send("LOGLEVEL\nlog_level=4\n.\n")
    assert module.reply() == [p.OK_RECEIVING_LOGLEVEL]
    assert module.reply() == [p.OK_LOGLEVEL_SET]


def set_block(module: ModuleProcess, **values) -> None:
    module.send("SET\n")
    assert module.reply() == [p.OK_RECEIVING_SETTINGS]
    module.send("".join(f"{k}={v}\n" for k, v in values.items()) + ".\n")
    assert module.reply() == [p.OK_SETTINGS_RECEIVED]


def speak(module: ModuleProcess, ssml: str, command: str = "SPEAK") -> list[str]:
    module.send(f"{command}\n")
    assert module.reply() == [p.OK_RECEIVING_MESSAGE]
    module.send(p.stuff(ssml))
    return module.reply(20)


SSML = ('<speak>Hello there. <mark name="__spd_1"/>Here is a second one.\n.With a dot line. '
        '<mark name="__spd_2"/>And the end.</speak>')


@pytest.fixture
def fake(tmp_path):
    daemon = FakeDaemon(tmp_path / "run", pace=3.0).start()
    yield daemon
    daemon.stop()


@pytest.fixture
def module(fake):
    proc = ModuleProcess(fake.runtime_dir)
    yield proc
    proc.close()


def test_conversation_with_marks_at_exact_samples(module, fake):
    handshake(module)
    module.send("LIST VOICES\n")
    voices = module.reply()
    assert voices[-1] == p.OK_VOICE_LIST_SENT
    assert "200-ff_two\tes-ES\tnone" in voices
    module.send("LIST VOICES en-us\n")
    assert module.reply() == [p.ERR_LIST_VOICES_FILTER]

    set_block(module, rate=50, pitch=0, volume=100, voice="FEMALE1", language="es", synthesis_voice="NULL",
              punctuation_mode="some", spelling_mode=0, cap_let_recogn="none", pitch_range=0)
    assert speak(module, SSML) == [p.OK_SPEAKING]
    events = module.events()
    assert events[0] == "701 BEGIN" and events[-1] == "702 END"
    assert [e[1] for e in events if e[0] == "mark"] == ["__spd_1", "__spd_2"]
    # Each mark comes right after exactly the samples before it (the fake puts marks inside frames).
    expected = dict(plan_ssml(SSML)[1])
    assert expected["__spd_1"] == SAMPLES_PER_CHAR * len("Hello there.")
    position, seen = 0, {}
    for event in events:
        if event[0] == "audio":
            assert event[1] <= AUDIO_BLOCK_SAMPLES
            position += event[1]
        elif event[0] == "mark":
            seen[event[1]] = position
    assert seen == expected
    sent = fake.speaks[-1]
    assert sent["ssml"] == SSML  # multi-line, dot line un-stuffed
    assert (sent["locale"], sent["voice"], sent["rate"]) == ("es-ES", "ff_two", 2.0)


def test_the_log_says_where_a_speaks_time_went(module, fake):
    """sd_echoic logs its first audio's timeline on the monotonic clock; `echoic bench speechd`
    reads it back into stages that add up to the whole SPEAK."""
    handshake(module)
    set_block(module, rate=0, pitch=0, volume=100, voice="MALE1", language="es", synthesis_voice="NULL",
              punctuation_mode="some", spelling_mode=0, cap_let_recogn="none", pitch_range=0)
    started = time.monotonic()
    assert speak(module, SSML) == [p.OK_SPEAKING]
    module.events()
    ended = time.monotonic()
    found = stages(module.log(), [(started, ended)])
    assert set(found) == {"speechd -> module", "module -> daemon audio", "daemon audio -> module out",
                          "module out -> sink"}
    assert all(len(v) == 1 and v[0] >= 0 for v in found.values()), found
    assert found["module out -> sink"][0] < ended - started  # the first 705 went out before the last


def test_stop_while_speaking_ends_with_703_promptly(module, fake):
    handshake(module)
    assert speak(module, "<speak>" + "A long sentence that goes on. " * 20 + "</speak>") == [p.OK_SPEAKING]
    assert module.line().startswith(b"701 BEGIN")
    module.line()  # the first audio is flowing
    started = time.monotonic()
    module.send("STOP\n")
    events = module.events(5)
    assert events[-1] == "703 STOP"
    assert time.monotonic() - started < 1.0
    deadline = time.monotonic() + 3
    while not fake.cancels and time.monotonic() < deadline:
        time.sleep(0.01)
    assert fake.cancels and fake.cancels[-1]["id"] == fake.speaks[-1]["id"]
    # The next message speaks normally.
    assert speak(module, "<speak>Next.</speak>") == [p.OK_SPEAKING]
    assert module.events()[-1] == "702 END"


def test_pause_stops_at_the_next_spd_mark(module):
    handshake(module)
    ssml = '<speak>' + 'First sentence is long enough. ' * 3 + '<mark name="__spd_1"/>Second. <mark name="__spd_2"/>Third.</speak>'
    assert speak(module, ssml) == [p.OK_SPEAKING]
    assert module.line().startswith(b"701 BEGIN")
    module.send("PAUSE\n")
    events = module.events(10)
    assert events[-2:] == [("mark", "__spd_1"), "704 PAUSE"]


def test_char_key_and_sound_icon(module, fake):
    handshake(module)
    assert speak(module, "a", "CHAR") == [p.OK_SPEAKING]
    assert module.events()[-1] == "702 END"
    assert (fake.speaks[-1]["text"], fake.speaks[-1]["spell"]) == ("a", True)
    assert speak(module, "shift_a", "KEY") == [p.OK_SPEAKING]
    assert module.events()[-1] == "702 END"
    assert fake.speaks[-1]["text"] == "shift a"
    assert speak(module, "message", "SOUND_ICON") == [p.OK_SPEAKING]
    assert module.events() == ["701 BEGIN", "706-message", "706 ICON", "702 END"]


def test_daemon_playback_when_the_server_does_not_take_audio(module, fake):
    handshake(module, audio="pulse")
    assert speak(module, SSML) == [p.OK_SPEAKING]
    events = module.events()
    assert not [e for e in events if e[0] == "audio"]
    assert [e[1] for e in events if e[0] == "mark"] == ["__spd_1", "__spd_2"]
    assert events[-1] == "702 END"
    assert fake.speaks[-1]["playback"] == "daemon"


def test_daemon_lost_mid_message_ends_the_message(module, fake):
    handshake(module)
    assert speak(module, "<speak>" + "Long words keep coming here. " * 20 + "</speak>") == [p.OK_SPEAKING]
    assert module.line().startswith(b"701 BEGIN")
    fake.stop()
    assert module.events(10)[-1] == "703 STOP"
    # No daemon now, no autostart: the next message is refused, not hung.
    assert speak(module, "<speak>Anyone?</speak>") == [p.ERR_CANT_SPEAK]
    fake.start()  # the daemon is back: the module reconnects
    assert speak(module, "<speak>Back.</speak>") == [p.OK_SPEAKING]
    assert module.events()[-1] == "702 END"


def test_without_a_daemon_init_loads_voices_list_and_speak_refuses(tmp_path):
    module = ModuleProcess(tmp_path / "nothing-here")
    try:
        handshake(module)
        module.send("LIST VOICES\n")
        voices = module.reply()
        assert len(voices) >= 2 and voices[-1] == p.OK_VOICE_LIST_SENT  # never zero voices
        assert speak(module, "<speak>Hello.</speak>") == [p.ERR_CANT_SPEAK]
        module.send("BOGUS\n")
        assert module.reply() == [p.ERR_UNKNOWN_COMMAND]
        module.send("QUIT\n")
        assert module.reply() == [p.OK_QUIT]
        assert module.proc.wait(5) == 0
    finally:
        module.close()


# ---- the same conversation against the real daemon and model ------------------------------------


@pytest.fixture(scope="module")
def real_daemon(tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("echoic-run")
    log_path = run_dir.parent / "daemon.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--port", "0", "--runtime-dir",
                                    str(run_dir)], cwd=REPO, stdout=log, stderr=log, start_new_session=True)
    from speechd_bridge.daemon_client import read_runtime_file

    deadline = time.monotonic() + 180
    while read_runtime_file(run_dir) is None:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait(5)
            pytest.fail("the daemon did not start:\n" + log_path.read_text()[-3000:])
        time.sleep(0.1)
    yield run_dir
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)


@pytest.mark.slow
def test_scripted_conversation_with_the_real_daemon(real_daemon):
    module = ModuleProcess(real_daemon)
    try:
        handshake(module)
        module.send("LIST VOICES\n")
        voices = module.reply()
        assert voices[-1] == p.OK_VOICE_LIST_SENT and len(voices) >= 2
        assert all(len(v[4:].split("\t")) == 3 for v in voices[:-1])
        set_block(module, rate=0, pitch=0, volume=100, voice="MALE1", language="en", synthesis_voice="NULL",
                  punctuation_mode="some", spelling_mode=0, cap_let_recogn="none", pitch_range=0)
        ssml = '<speak>Hello there. <mark name="__spd_1"/>This is Echoic. <mark name="__spd_2"/>Goodbye.</speak>'
        assert speak(module, ssml) == [p.OK_SPEAKING]
        events = module.events(120)
        assert events[0] == "701 BEGIN" and events[-1] == "702 END"
        assert [e[1] for e in events if e[0] == "mark"] == ["__spd_1", "__spd_2"]
        audio = [e for e in events if e[0] == "audio"]
        before_first_mark = events.index(("mark", "__spd_1"))
        samples_before = sum(e[1] for e in events[:before_first_mark] if e[0] == "audio")
        total = sum(e[1] for e in audio)
        assert 0 < samples_before < total  # "Hello there." is spoken before its mark, the rest after
        assert max(max(abs(x) for x in memoryview(e[2]).cast("h")) for e in audio) > 1000  # real sound

        long = "<speak>" + "This sentence is long and keeps going so that we can stop it. " * 6 + "</speak>"
        assert speak(module, long) == [p.OK_SPEAKING]
        assert module.line(60).startswith(b"701 BEGIN")
        while not module.line(120).startswith(b"705 AUDIO"):
            pass
        stopped = time.monotonic()
        module.send("STOP\n")
        assert module.events(10)[-1] == "703 STOP"
        assert time.monotonic() - stopped < 1.0
    finally:
        module.close()
