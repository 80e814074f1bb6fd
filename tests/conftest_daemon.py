"""Daemon test helpers: a fake engine with the real Engine's interface, and a daemon run in a thread.

The fake engine speaks a 50 ms tone per word (so tests are fast and exact); the integration
tests use the real Engine through the same `running_daemon` helper.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
import threading
import time
from pathlib import Path

import numpy as np

from engine.api import AudioChunk, Finished, MarkReached, SpeechRequest
from engine.errors import TextError, VoiceError
from engine.locales import LOCALES, get_locale
from engine.plan import Plan, PlannedMark
from engine.voices import VoiceInfo

SAMPLE_RATE = 24000
WORD_SAMPLES = 1200  # 50 ms
CHUNK_SAMPLES = 6000  # 250 ms, like the real engine


class FakeEngine:
    """Same interface as engine.synth.Engine; `delay` seconds of "compute" per chunk."""

    sample_rate = SAMPLE_RATE

    def __init__(self, delay: float = 0.002):
        self.delay = delay
        self.requests: list[SpeechRequest] = []
        all_tags = tuple(loc.tag for loc in LOCALES)
        self._voices = [VoiceInfo("jm_kumo", "Kumo", "male", all_tags), VoiceInfo("jf_alpha", "Alpha", "female", all_tags)]
        # Every locale's default voice exists, as in the real engine (the native packs).
        defaults = sorted({loc.default_voice for loc in LOCALES} - {"jm_kumo", "jf_alpha"})
        self._voices += [VoiceInfo(voice, voice, "unknown", all_tags) for voice in defaults]

    def locales(self):
        return list(LOCALES)

    def statistics(self):
        return {"guardrails": {"segments": len(self.requests), "failures": {}, "actions": {}},
                "cache": {"hits": 0, "misses": 0}, "providers": ["fake"]}

    def voices(self, locale=None):
        return list(self._voices)

    # Chunked rendering's idle work (engine/daemon/interface.py): nothing to load or calibrate.
    def preload_streaming(self, cancel):
        return False

    def wanted_calibrations(self):
        return []

    def calibration_rows(self, voice):
        return ()

    def calibrate(self, voice, rows=None, cancel=None):
        return 0

    def stream(self, request: SpeechRequest, cancel: threading.Event | None = None):
        locale = get_locale(request.locale)
        voice = request.voice or locale.default_voice
        if voice not in {v.id for v in self._voices}:
            raise VoiceError(f"unknown voice {voice!r}")
        if request.text.strip() == "":
            raise TextError("nothing to say")
        self.requests.append(request)
        return self._run(request, locale.tag, voice, cancel or threading.Event())

    def _run(self, request, tag, voice, cancel):
        started = time.perf_counter()
        text = request.text
        pieces = re.split(r"(<mark\s+name=['\"]([^'\"]+)['\"]\s*/>)", text) if request.ssml else [text]
        marks, total = [], 0
        words_samples = []
        for k, piece in enumerate(pieces):  # (text, whole mark, mark name) repeated: re.split's groups
            if k % 3 == 2:
                marks.append((piece, total))
            elif k % 3 == 0:  # text, where a stray "<mark" that is no mark is markup like any other
                n = len(re.sub(r"<[^>]*>", " ", piece).split()) * WORD_SAMPLES
                words_samples.append(n)
                total += n
        gain = 0.3 * 32767 * (request.volume if request.volume is not None else 1)

        def audio(a, b):  # made per chunk, so a long utterance costs nothing up front
            return (gain * np.sin(2 * np.pi * 220 * np.arange(a, b) / SAMPLE_RATE)).astype("<i2")

        plan = Plan(locale=tag, voice=voice, rate=request.rate or 1.0, sample_rate=SAMPLE_RATE, samples=total)
        cuts = sorted({0, total, *range(0, total, CHUNK_SAMPLES), *(m for _, m in marks)})
        pending = list(marks)
        for a, b in zip(cuts, cuts[1:] + [None]):
            while pending and pending[0][1] <= a:
                name, offset = pending.pop(0)
                plan.marks.append(PlannedMark(name, offset))
                yield MarkReached(name, offset)
            if b is None or b <= a:
                continue
            if cancel.is_set():
                yield Finished(plan, 0.0, 0.0, cancelled=True)
                return
            time.sleep(self.delay)
            yield AudioChunk(audio(a, b).tobytes(), a)
        yield Finished(plan, 0.001, (time.perf_counter() - started) / max(total / SAMPLE_RATE, 1e-3))


@contextlib.contextmanager
def running_daemon(engine, runtime_dir: Path, settings_path: Path | None = None, **options):
    """A real daemon (real sockets, port 0) serving in a background thread; yields the Server."""
    from engine.daemon.server import Server
    from engine.daemon.settings import SettingsStore

    server = Server(engine, port=0, runtime_dir=runtime_dir,
                    settings=SettingsStore(settings_path or runtime_dir.parent / "settings.toml"), **options)
    ready = threading.Event()
    failure: list[BaseException] = []
    stop_holder: list = []

    def main():
        async def go():
            stop = asyncio.Event()
            stop_holder.append(stop)
            await server.run(stop, ready=lambda _: ready.set())

        try:
            asyncio.run(go())
        except BaseException as exc:  # reported to the test below
            failure.append(exc)
            ready.set()

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    assert ready.wait(30), "daemon did not start"
    if failure:
        raise failure[0]
    try:
        yield server
    finally:
        server.request_stop()
        thread.join(15)
        assert not thread.is_alive(), "daemon did not stop"
        if failure:
            raise failure[0]
