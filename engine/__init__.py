"""Echoic's engine: text -> plan -> audio, with guardrails. Knows nothing of its clients."""

__version__ = "0.1.0"
SAMPLE_RATE = 24_000
