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
# Likewise the render cache on disk (engine/render_store.py): renders this machine kept from an
# earlier run must not answer a test's request; each session starts with an empty folder.
os.environ["ECHOIC_RENDER_CACHE_DIR"] = tempfile.mkdtemp(prefix="echoic-test-renders-")


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """In CI (`CI=true`, set by .ci/run, which installs everything the tests need) a skipped
    test is a failure: a check that did not run proves nothing. Elsewhere a test may skip when
    this machine lacks a package, and says which."""
    outcome = yield
    report = outcome.get_result()
    if report.skipped and os.environ.get("CI") == "true" and not hasattr(report, "wasxfail"):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        report.outcome = "failed"
        report.longrepr = f"skipped in CI, where everything the tests need is installed: {reason}"


@pytest.fixture(scope="session")
def engine():
    from engine.synth import Engine, EngineConfig
    from engine.runtime import RuntimeConfig
    from engine.streaming import StreamingConfig

    # No calibration, and nothing learnt from speech: the shared engine renders every segment
    # whole, whatever ran before (tests/test_streaming.py asks for windows where it tests them).
    uncalibrated = StreamingConfig(calibration_dir=tempfile.mkdtemp(prefix="echoic-test-uncalibrated-"), learn=False)
    # No render cache on disk either: tests build engines from this one's config around stand-in
    # and fault-injecting runtimes, which must render what they are asked, not read a render
    # another engine of the session kept (tests/test_render_store.py turns it on).
    return Engine(EngineConfig(runtime=RuntimeConfig(threads=2), streaming=uncalibrated, disk_cache_megabytes=0))
