"""What the daemon needs of an engine, declared: `engine.synth.Engine` satisfies it, and so does
the fake engine of the tests (tests/conftest_daemon.py); nothing is probed with hasattr."""

from __future__ import annotations

import threading
from typing import Iterator, Protocol, runtime_checkable

from ..api import Event, SpeechRequest
from ..locales import Locale
from ..voices import VoiceInfo


@runtime_checkable
class SpeechEngine(Protocol):
    sample_rate: int

    def voices(self, locale: str | None = None) -> list[VoiceInfo]:
        """Every voice (or those speaking `locale`) as they are now: asked again for every
        `voices` request and speak, so voices added or removed while the daemon runs are seen."""

    def locales(self) -> list[Locale]:
        """Every locale the engine reads."""

    def statistics(self) -> dict:
        """Counters since start, reported by `status` as they are."""

    def stream(self, request: SpeechRequest, cancel: threading.Event | None = None) -> Iterator[Event]:
        """Raise on a bad request before returning; then yield AudioChunk / MarkReached lazily
        and one Finished last. Setting `cancel` stops it (a model call in flight included)."""

    def preload_streaming(self, cancel: threading.Event) -> bool:
        """Idle work: load what chunked rendering needs; False when there is nothing to load."""

    def wanted_calibrations(self) -> list[tuple[str, int]]:
        """(voice, row) calibrations long segments lacked since the last call."""

    def calibration_rows(self, voice: str) -> tuple[int, ...]:
        """Rows of `voice` still to calibrate."""

    def calibrate(self, voice: str, rows: tuple[int, ...] | None = None,
                  cancel: threading.Event | None = None) -> int:
        """Idle work: calibrate rows of a voice; returns how many were done."""
