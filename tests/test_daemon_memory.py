"""Memory comes back after the largest input (#15): onnxruntime's CPU arena is shrunk after every
call (`RuntimeConfig.shrink_arena`), so a 300-token segment's tensors do not stay resident.

Each figure is taken in a fresh process (the test process holds whatever other tests loaded): the
runtime renders a short input, then the longest a call takes, and resident memory after both is
compared with the figure after the short one. Asserted on numbers, not on time."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

pytestmark = pytest.mark.slow

_PROBE = """
import json, sys
from engine.daemon.memory import resident_memory_bytes, trim
from engine.model_store import MAX_TOKEN_IDS, ensure_model, load_vocab
from engine.runtime import KokoroRuntime, RuntimeConfig
from engine.voices import VoiceLibrary

shrink = sys.argv[1] == "1"
runtime = KokoroRuntime(ensure_model(), RuntimeConfig(threads=2, shrink_arena=shrink))
vocab = load_vocab()
ids = [vocab[c] for c in "ðə kwˈɪk bɹˈaʊn fˈɑks ʤˈʌmps ˌOvəɹ ðə lˈAzi dˈɑɡ. " * 8 if c in vocab]
pack = VoiceLibrary().get("af_heart").pack

def speak(n):
    style = pack[n - 1]
    runtime.render_planned(runtime.plan(ids[:n], style, 1.0), style)
    trim()
    return resident_memory_bytes() / 2**20

short = speak(24)
longest = speak(300)
again = speak(24)
print(json.dumps({"short": short, "longest": longest, "again": again}))
"""


def _probe(shrink: bool) -> dict:
    out = subprocess.run([sys.executable, "-c", _PROBE, "1" if shrink else "0"], capture_output=True, text=True,
                         check=True, timeout=1200).stdout
    return json.loads(out.strip().splitlines()[-1])


def test_memory_returns_after_the_longest_segment():
    shrunk, kept = _probe(True), _probe(False)
    # Shrinking: after the longest call the process is back within 32 MiB of its short-input figure.
    assert shrunk["longest"] - shrunk["short"] < 32, shrunk
    assert shrunk["again"] - shrunk["short"] < 32, shrunk
    # Without it (the old runtime) the arena keeps the longest call's tensors: the test would fail.
    assert kept["again"] - kept["short"] > 100, kept
