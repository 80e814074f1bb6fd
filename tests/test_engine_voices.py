"""Voices: the bundled packs, user packs from the voice directory, clear errors."""

import json

import numpy as np
import pytest

from engine.errors import VoiceError
from engine.locales import LOCALES
from engine.voices import VoiceLibrary


def test_bundled_voices_speak_every_locale(tmp_path):
    library = VoiceLibrary(voice_dir=tmp_path)
    infos = library.list()
    assert len(infos) == 39 and [v.id for v in infos] == sorted(v.id for v in infos)
    assert [v.id for v in infos if v.id.startswith("j")] == ["jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo"]
    assert {v.gender for v in infos} == {"male", "female"}
    assert all(set(v.locales) == {loc.tag for loc in LOCALES} for v in infos)
    style = library.get("jm_kumo").style(12)
    assert style.shape == (1, 256) and style.dtype == np.float32


def test_style_row_follows_the_input_length(tmp_path):
    voice = VoiceLibrary(voice_dir=tmp_path).get("jf_alpha")
    assert np.array_equal(voice.style(1), voice.pack[0:1])
    assert np.array_equal(voice.style(600), voice.pack[509:510])  # clamped to the pack
    assert not np.array_equal(voice.style(5), voice.style(50))


def test_user_voices_load_and_broken_ones_are_reported(tmp_path):
    rng = np.random.default_rng(0)
    np.save(tmp_path / "my_clone.npy", rng.normal(size=(510, 256)).astype(np.float32))
    (tmp_path / "my_clone.json").write_text(json.dumps({"name": "My clone", "gender": "female", "locales": ["de-DE"]}))
    np.save(tmp_path / "broken.npy", np.zeros((3, 7), np.float32))
    np.save(tmp_path / "jm_kumo.npy", np.zeros((510, 256), np.float32))
    library = VoiceLibrary(voice_dir=tmp_path)
    clone = library.get("my_clone")
    assert clone.info.name == "My clone" and clone.info.locales == ("de-DE",)
    assert [v.id for v in library.list("de-DE")][-1] == "my_clone"
    assert "my_clone" not in [v.id for v in library.list("fr-FR")]
    assert any("broken" in p and "(3, 7)" in p for p in library.problems)
    assert any("bundled voice" in p for p in library.problems)
    assert not np.array_equal(library.get("jm_kumo").pack, np.zeros((510, 256)))


def test_unknown_voice_lists_the_available_ones(tmp_path):
    with pytest.raises(VoiceError, match="unknown voice 'nobody'; available: af_alloy, af_aoede"):
        VoiceLibrary(voice_dir=tmp_path).get("nobody")


def test_a_user_voice_changes_the_audio(engine, tmp_path, monkeypatch):
    from dataclasses import replace

    from engine.api import SpeechRequest
    from engine.synth import Engine

    kumo = engine.voice_library.get("jm_kumo").pack
    alpha = engine.voice_library.get("jf_alpha").pack
    np.save(tmp_path / "blend.npy", (0.5 * kumo + 0.5 * alpha).astype(np.float32))
    monkeypatch.setenv("ECHOIC_VOICE_DIR", str(tmp_path))
    custom = Engine(replace(engine.config), runtime=engine.runtime)
    a, _ = custom.synthesize(SpeechRequest("Hello there.", voice="blend"))
    b, _ = custom.synthesize(SpeechRequest("Hello there.", voice="jm_kumo"))
    n = min(len(a), len(b))
    assert np.abs(a[:n].astype(float) - b[:n].astype(float)).mean() > 100
