"""A real speech-dispatcher with `sd_echoic` and the real daemon, heard through spd-say and SSIP.

The server, a PulseAudio null sink (real-time pacing) and the daemon start once for the module.
Without speech-dispatcher installed these tests fail in CI (CI=true) and skip elsewhere.
`ECHOIC_TEST_FAKE_DAEMON=1` swaps the real daemon for the scripted one (no model needed).
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from speechd_bridge.daemon_client import DaemonClient, read_runtime_file
from speechd_bridge.private_server import (
    ModuleSpec,
    PrivateSpeechd,
    SpeechdUnavailable,
    echoic_module_wrapper,
)

pytestmark = pytest.mark.slow
REPO = Path(__file__).resolve().parents[1]
DAEMON_START_TIMEOUT = 180


def _unavailable(why: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"speech-dispatcher integration cannot run in CI: {why}")
    pytest.skip(why)


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    """The runtime dir of a running daemon: the real one, or the fake when asked for."""
    why = PrivateSpeechd.missing()
    if why:
        _unavailable(why)  # before loading a model for nothing
    run_dir = tmp_path_factory.mktemp("echoic-run")
    if os.environ.get("ECHOIC_TEST_FAKE_DAEMON") == "1":
        from .test_speechd_client import FakeDaemon

        fake = FakeDaemon(run_dir, pace=1.0).start()  # real time, as a real sink would play it
        yield run_dir
        fake.stop()
        return
    log = open(run_dir.parent / "daemon.log", "wb")
    process = subprocess.Popen([sys.executable, "-m", "engine", "serve", "--port", "0", "--runtime-dir", str(run_dir),
                                "--no-calibrate-ahead"],
                               cwd=REPO, stdout=log, stderr=log, start_new_session=True)
    deadline = time.monotonic() + DAEMON_START_TIMEOUT
    while read_runtime_file(run_dir) is None:
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            process.wait(5)
            log.close()
            pytest.fail("the daemon did not start:\n" + (run_dir.parent / "daemon.log").read_text()[-3000:])
        time.sleep(0.1)
    yield run_dir
    process.terminate()
    try:
        process.wait(10)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait(5)
    log.close()


@pytest.fixture(scope="module")
def server(tmp_path_factory, daemon):
    why = PrivateSpeechd.missing()
    if why:
        _unavailable(why)
    try:
        import speechd  # noqa: F401
    except ImportError:
        _unavailable("the SSIP client is missing: pip install speechd-unofficial (the test extra)")
    base = tmp_path_factory.mktemp("speechd")
    wrapper = echoic_module_wrapper(base / "sd_echoic", env={"PYTHONPATH": str(REPO)})
    private = PrivateSpeechd(
        base, [ModuleSpec("echoic", str(wrapper), "EchoicAutostart 0\n"), ModuleSpec("espeak-ng", "sd_espeak-ng")],
        default_module="echoic", extra_env={"ECHOIC_RUNTIME_DIR": str(daemon), "ECHOIC_AUTOSTART": "0"})
    try:
        private.start()
    except SpeechdUnavailable as exc:
        _unavailable(str(exc))
    # The first utterance through pulse opens the device lazily (about 2 s): warm up once.
    spd_say(private, "-o", "echoic", "-w", "Ready.", timeout=120)
    yield private
    private.stop()


def spd_say(private: PrivateSpeechd, *args: str, timeout: float = 60) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["spd-say", *args], env=private.env, capture_output=True, text=True,
                              timeout=timeout, check=True)
    except subprocess.TimeoutExpired:
        pytest.fail(f"spd-say {' '.join(args)} hung for {timeout} s; module log:\n{private.module_log('echoic')[-3000:]}")


class Listener:
    """An SSIP client that records callbacks with their times (callbacks run on its reader thread)."""

    def __init__(self, private: PrivateSpeechd, name: str = "echoic-test"):
        import speechd

        self.speechd = speechd
        # `method=`/`socket_path=` hit a bug in the 0.12 client; an address string works.
        self.client = speechd.SSIPClient(name, address=f"unix_socket:{private.socket}", autospawn=False)
        self.client.set_output_module("echoic")
        self.client.set_data_mode(speechd.DataMode.SSML)
        self.events: list[tuple[float, str, str | None]] = []
        self.changed = threading.Condition()

    def callback(self, kind, index_mark=None):
        with self.changed:
            self.events.append((time.monotonic(), str(kind), index_mark))
            self.changed.notify_all()

    def speak(self, ssml: str) -> float:
        cb = self.speechd.CallbackType
        self.events.clear()
        started = time.monotonic()
        self.client.speak(ssml, callback=self.callback,
                          event_types=(cb.BEGIN, cb.END, cb.INDEX_MARK, cb.CANCEL, cb.PAUSE, cb.RESUME))
        return started

    def wait_for(self, kind: str, timeout: float = 30.0) -> float:
        deadline = time.monotonic() + timeout
        with self.changed:
            while True:
                for at, k, _ in self.events:
                    if k == kind:
                        return at
                left = deadline - time.monotonic()
                if left <= 0:
                    raise AssertionError(f"no {kind} within {timeout} s; got {self.kinds()}")
                self.changed.wait(left)

    def kinds(self) -> list[str]:
        return [k if m is None else f"{k}:{m}" for _, k, m in self.events]

    def close(self):
        self.client.close()


@pytest.fixture
def listener(server):
    client = Listener(server)
    yield client
    client.close()


def test_spd_say_speaks_and_returns(server):
    started = time.monotonic()
    spd_say(server, "-o", "echoic", "-w", "Hello from Echoic.")
    assert time.monotonic() - started < 30


def test_ssip_client_hears_begin_every_mark_in_order_and_end(listener):
    ssml = ('<speak>One sentence here. <mark name="first"/>Another one follows. <mark name="second"/>'
            'And a last one. <mark name="third"/></speak>')
    listener.speak(ssml)
    listener.wait_for("end")
    assert listener.kinds() == ["begin", "index_marks:first", "index_marks:second", "index_marks:third", "end"]


def test_cancel_mid_message_is_prompt(listener, server):
    listener.speak("<speak>" + "This is a long paragraph that keeps on going for a while. " * 8 + "</speak>")
    listener.wait_for("begin")
    time.sleep(1.0)
    cancelled = time.monotonic()
    listener.client.cancel()
    at = listener.wait_for("cancel", timeout=5)
    assert "end" not in listener.kinds()
    assert at - cancelled < 1.0, f"CANCEL took {at - cancelled:.3f} s"


def test_pause_and_resume(listener):
    listener.speak("<speak>" + "A first sentence to pause in. " * 3 + "Then a second sentence. "
                   "And a third one to finish.</speak>")
    listener.wait_for("begin")
    time.sleep(0.3)
    listener.client.pause()
    listener.wait_for("pause", timeout=20)
    time.sleep(0.3)
    listener.client.resume()
    listener.wait_for("resume", timeout=10)
    listener.wait_for("end", timeout=60)
    kinds = listener.kinds()
    assert kinds.index("pause") < kinds.index("resume") < kinds.index("end")


def test_two_languages_one_after_the_other(listener, server):
    listener.client.set_language("en")
    listener.speak("<speak>Good morning.</speak>")
    listener.wait_for("end")
    listener.client.set_language("es")
    listener.speak("<speak>Buenos días.</speak>")
    listener.wait_for("end")
    log = server.module_log("echoic")
    assert "locale=en-US" in log and "locale=es-ES" in log


def test_spd_say_lists_echoic_voices(server, daemon):
    listing = spd_say(server, "-o", "echoic", "-L", timeout=30).stdout
    client = DaemonClient(runtime_dir=daemon, autostart=False)
    client.ensure_connected()
    voices = client.request({"type": "voices"}, "voices")["voices"]
    client.close()
    assert voices
    for voice in voices:
        assert voice["id"] in listing, f"{voice['id']} missing from spd-say -L:\n{listing}"


def test_echoic_and_espeak_in_one_server(server):
    spd_say(server, "-o", "espeak-ng", "-w", "Espeak speaks too.")
    spd_say(server, "-o", "echoic", "-w", "Echoic again.")  # both returned: the server switched modules
