"""Shared fixtures. The real model is loaded once per test session (about 1 s)."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def engine():
    from engine.synth import Engine, EngineConfig
    from engine.runtime import RuntimeConfig

    return Engine(EngineConfig(runtime=RuntimeConfig(threads=2)))
