"""`echoic voice create`: recording -> fit -> store, progress, Ctrl-C and resume.

The plumbing tests run the command with a stand-in for engine/train/clone_fit.py that keeps its
contract (FitConfig, FitResult, a checkpoint written atomically each step and resumed from), so they
say exactly what the command does around the fit; the last test runs the real fit (torch), one step.
"""

from __future__ import annotations

import json
import sys
import types
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from engine.atomic_write import write_atomically
from engine.cli import main as echoic
from engine.cloning.store import VoiceStore
from engine.voices import VoiceLibrary

from .test_recording import render_speech

soundfile = pytest.importorskip("soundfile")
pytestmark = pytest.mark.slow


def stand_in_fit(interrupt_at: int | None = None):
    """A module with fit.py's interface; `calls` records each fit_voice call's (config, start step)."""
    module = types.ModuleType("engine.train.clone_fit")

    @dataclass(frozen=True)
    class FitConfig:
        steps: int = 4
        lr: float = 0.1
        device: str = "auto"
        seed: int = 0

    @dataclass(frozen=True)
    class FitResult:
        pack: np.ndarray
        nearest: str
        losses: dict = field(default_factory=dict)
        similarity: float = 0.0
        steps: int = 0

    def fit_voice(audio, sample_rate, transcript, locale, config=FitConfig(), checkpoint=None, progress=None):
        assert audio.dtype == np.float32 and audio.ndim == 1 and sample_rate == 24000
        start = json.loads(Path(checkpoint).read_text())["step"] if checkpoint and Path(checkpoint).exists() else 0
        module.calls.append((config, start, transcript, locale))
        for step in range(start + 1, config.steps + 1):
            if checkpoint:
                write_atomically(Path(checkpoint), json.dumps({"step": step}).encode())
            if step == module.interrupt_at:
                module.interrupt_at = None
                raise KeyboardInterrupt
            if progress:
                progress(step, config.steps, {"speaker": 1.0 / step, "spectral": 0.5})
        pack = VoiceLibrary(voice_dir=Path("/nonexistent")).get("af_heart").pack * 1.01
        return FitResult(pack, "af_heart", {"speaker": 0.2, "spectral": 0.5}, 0.91, config.steps)

    module.FitConfig, module.FitResult, module.fit_voice = FitConfig, FitResult, fit_voice
    module.calls, module.interrupt_at = [], interrupt_at
    return module


@pytest.fixture(scope="module")
def reference(engine, tmp_path_factory):
    a, _ = render_speech(engine)
    path = tmp_path_factory.mktemp("reference") / "me.flac"
    soundfile.write(path, a, 24000)
    return path


@pytest.fixture
def voices(tmp_path, monkeypatch):
    monkeypatch.setenv("ECHOIC_VOICE_DIR", str(tmp_path / "voices"))
    return VoiceStore(tmp_path / "voices")


def test_create_checks_fits_and_saves_with_the_fit_metadata(reference, voices, monkeypatch, capsys):
    fit = stand_in_fit()
    monkeypatch.setitem(sys.modules, "engine.train.clone_fit", fit)
    assert echoic(["voice", "create", "me", "--audio", str(reference), "--locale", "en-GB", "--steps", "6",
                   "--text", "The old lighthouse keeper", "--keep-reference"]) == 0
    out, err = capsys.readouterr()
    assert "recording: 25.0 s, 19.9 s of speech, 24000 Hz x 1" in err and "fitting [" in err and "6/6" in err
    assert "saved voice 'me'" in out and "echoic say --voice me" in out
    assert [(c.steps, start, text, locale) for c, start, text, locale in fit.calls] == [
        (6, 0, "The old lighthouse keeper", "en-GB")]
    meta = voices.show("me")
    assert (meta.source_locale, meta.nearest, meta.gender, meta.steps, meta.similarity) == ("en-GB", "af_heart", "female", 6, 0.91)
    assert meta.reference_seconds == pytest.approx(19.9, abs=0.05) and meta.losses == {"speaker": 0.2, "spectral": 0.5}
    kept, rate = soundfile.read(voices.directory / meta.reference)
    assert rate == 24000 and len(kept) == 25 * 24000
    assert not voices.checkpoint_path("me").exists() and not voices.checkpoint_path("me").with_suffix(".json").exists()
    assert VoiceLibrary(voice_dir=voices.directory).get("me").info.native_locale == "en-GB"


def test_ctrl_c_keeps_a_checkpoint_and_the_same_command_resumes(reference, voices, monkeypatch, capsys):
    fit = stand_in_fit(interrupt_at=3)
    monkeypatch.setitem(sys.modules, "engine.train.clone_fit", fit)
    command = ["voice", "create", "me", "--audio", str(reference), "--steps", "5"]
    assert echoic(command) == 130
    assert "interrupted; the fit so far is kept in" in capsys.readouterr().err
    assert voices.names() == [] and json.loads(voices.checkpoint_path("me").read_text()) == {"step": 3}
    assert echoic(command) == 0
    assert f"resuming from {voices.checkpoint_path('me')}" in capsys.readouterr().err
    assert [start for _, start, _, _ in fit.calls] == [0, 3] and voices.names() == ["me"]
    # Other input: the old checkpoint is set aside, not resumed.
    fit.interrupt_at = 2
    assert echoic(["voice", "create", "you", "--audio", str(reference), "--steps", "5"]) == 130
    assert echoic(["voice", "create", "you", "--audio", str(reference), "--steps", "4"]) == 0
    assert "made from other input" in capsys.readouterr().err and fit.calls[-1][1] == 0


def test_without_the_train_extra_create_says_what_to_install(reference, voices, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "engine.train.clone_fit", None)
    assert echoic(["voice", "create", "me", "--audio", str(reference)]) == 2
    assert "pip install 'echoic[train]'" in capsys.readouterr().err and voices.names() == []


def test_create_with_the_real_fit_one_step_then_the_engine_speaks_it(engine, reference, voices, capsys):
    """The real fit (torch twin, Resemblyzer): one step, from the nearest pack. The voice is saved
    with what the fit measured, and the engine speaks it in its own locale and in another."""
    pytest.importorskip("torch")
    pytest.importorskip("resemblyzer")  # the fit's speaker loss (engine/train/speaker.py)
    from dataclasses import replace

    from engine.api import SpeechRequest
    from engine.synth import Engine

    assert echoic(["voice", "create", "real", "--audio", str(reference), "--steps", "1"]) == 0
    meta = voices.show("real")
    assert meta.steps == 1 and meta.source_locale == "en-US"
    assert meta.nearest and 0.5 < meta.similarity <= 1.0 and {"speaker", "similarity_start"} <= set(meta.losses)
    library = VoiceLibrary(voice_dir=voices.directory)
    assert meta.nearest in {v.id for v in library.list()}
    assert not np.array_equal(library.get("real").pack, library.get(meta.nearest).pack)
    custom = Engine(replace(engine.config), runtime=engine.runtime)
    for locale in ("en-US", "fr-FR"):
        audio, plan = custom.synthesize(SpeechRequest("Hello, this is a test.", voice="real", locale=locale))
        assert plan.voice == "real" and len(audio) > 24000 // 2 and np.abs(audio).max() > 1000
