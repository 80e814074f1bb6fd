"""Shared fixtures. The real model is loaded once per test session (about 1 s)."""

from __future__ import annotations

import os
import tempfile

import pytest

# Calibrations for chunked rendering (engine/streaming.py) change how long segments render. The
# daemons that tests start (in-process or as processes) calibrate in idle moments into a fresh
# directory, whatever this machine calibrated before; the session engine below reads another,
# always empty one, so its segments render whole as they did before chunked rendering. Tests of
# chunked rendering calibrate into directories of their own.
os.environ["ECHOIC_CALIBRATION_DIR"] = tempfile.mkdtemp(prefix="echoic-test-calibration-")


@pytest.fixture(scope="session")
def engine():
    from engine.synth import Engine, EngineConfig
    from engine.runtime import RuntimeConfig
    from engine.streaming import StreamingConfig

    uncalibrated = StreamingConfig(calibration_dir=tempfile.mkdtemp(prefix="echoic-test-uncalibrated-"))
    return Engine(EngineConfig(runtime=RuntimeConfig(threads=2), streaming=uncalibrated))
