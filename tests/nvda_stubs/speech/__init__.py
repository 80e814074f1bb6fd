"""Stand-in for NVDA's speech package: only what synth drivers import."""

from .commands import *  # noqa: F401,F403  (NVDA re-exports the commands here too)

SpeechSequence = list
