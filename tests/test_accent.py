"""The accent knob (engine/voices.py: apply_accent, VoiceLibrary.accent_direction / accented), the
per-locale defaults, and the accent meter's code (engine/evaluation/accent.py) on a tiny fixture:
fake synthesis and fake meters, so no model is needed (the real evaluation is `echoic eval accent`)."""

from __future__ import annotations

import json
from dataclasses import replace

import numpy as np
import pytest

from engine.api import SpeechRequest
from engine.errors import VoiceError
from engine.evaluation import accent
from engine.locales import LOCALES
from engine.voices import ACCENT_COLUMNS, VoiceLibrary, apply_accent


@pytest.fixture(scope="module")
def library(tmp_path_factory):
    return VoiceLibrary(voice_dir=tmp_path_factory.mktemp("no-user-voices"))


# --- the knob, pure ---------------------------------------------------------------------------

def test_apply_accent_is_the_identity_at_one_and_moves_only_the_timbre_half():
    rng = np.random.default_rng(0)
    style = rng.normal(size=(1, 256)).astype(np.float32)
    direction = rng.normal(size=(1, 256)).astype(np.float32)
    assert apply_accent(style, direction, 1.0) is style and apply_accent(style, direction, None) is style
    full = apply_accent(style, direction, 0.0)
    np.testing.assert_allclose(full[:, ACCENT_COLUMNS], style[:, :128] + direction[:, :128], rtol=1e-6)
    assert np.array_equal(full[:, 128:], style[:, 128:])
    half = apply_accent(style, direction, 0.5)
    np.testing.assert_allclose(half[:, :128] - style[:, :128], 0.5 * direction[:, :128], rtol=1e-5, atol=1e-6)
    with pytest.raises(VoiceError, match="0..1, got 1.5"):
        apply_accent(style, direction, 1.5)


def test_accent_directions_come_from_the_native_packs(library):
    siwis = library.get("ff_siwis").pack
    japanese = np.mean([library.get(v).pack for v in ("jf_alpha", "jf_gongitsune", "jf_nezumi", "jf_tebukuro", "jm_kumo")], axis=0)
    np.testing.assert_allclose(library.accent_direction("fr-FR", "jm_kumo"), siwis - japanese, atol=1e-5)
    assert not library.accent_direction("fr-FR", "ff_siwis").any()  # native: nothing to move
    assert not library.accent_direction("de-DE", "jm_kumo").any()  # no German pack exists
    # en-AU has no pack of its own and borrows en-GB's.
    np.testing.assert_array_equal(library.accent_direction("en-AU", "jm_kumo"), library.accent_direction("en-GB", "jm_kumo"))
    kumo = library.get("jm_kumo")
    assert library.accented(kumo, "fr-FR", 1.0) is kumo and library.accented(library.get("ff_siwis"), "fr-FR", 0.0).accent == ""
    moved = library.accented(kumo, "fr-FR", 0.0)
    assert moved.accent == "fr-FR@0" and moved.info == kumo.info
    assert moved.key == "jm_kumo@fr-FR@0" and library.get(moved.key) is moved  # calibrations name it so
    with pytest.raises(VoiceError, match="'x' is not a number"):
        library.get("jm_kumo@fr-FR@x")
    assert np.array_equal(moved.pack[:, 128:], kumo.pack[:, 128:]) and not np.array_equal(moved.pack[:, :128], kumo.pack[:, :128])


def test_strength_one_equals_todays_output_bit_for_bit_and_zero_differs(engine, tmp_path, monkeypatch):
    """jm_kumo at strength 1 against a copy of its pack declared native to French (which the knob
    never moves: today's code path), then strength 0 against the same."""
    from engine.synth import Engine

    np.save(tmp_path / "kumo_copy.npy", engine.voice_library.get("jm_kumo").pack)
    (tmp_path / "kumo_copy.json").write_text(json.dumps({"native_locale": "fr-FR"}))
    monkeypatch.setenv("ECHOIC_VOICE_DIR", str(tmp_path))
    custom = Engine(replace(engine.config), runtime=engine.runtime)
    text = "Bonjour, voici une phrase en français."
    today, _ = custom.synthesize(SpeechRequest(text, locale="fr-FR", voice="kumo_copy", accent_strength=0.0))
    one, _ = custom.synthesize(SpeechRequest(text, locale="fr-FR", voice="jm_kumo", accent_strength=1.0))
    zero, _ = custom.synthesize(SpeechRequest(text, locale="fr-FR", voice="jm_kumo", accent_strength=0.0))
    assert np.array_equal(one, today)
    n = min(len(zero), len(today))
    assert len(zero) != len(today) or np.abs(zero[:n].astype(float) - today[:n].astype(float)).mean() > 100


def test_the_locale_setting_reaches_the_audio_through_the_daemon(engine, tmp_path):
    """Settings round trip: a per-locale accent_strength saved through the daemon is what the audio follows."""
    from engine.client import DaemonClient
    from tests.conftest_daemon import running_daemon

    text = "Ciao, questa è una prova."
    expected, _ = engine.synthesize(SpeechRequest(text, locale="it-IT", voice="jf_alpha", accent_strength=0.0))
    plain, _ = engine.synthesize(SpeechRequest(text, locale="it-IT", voice="jf_alpha", accent_strength=1.0))
    with running_daemon(engine, tmp_path / "run", tmp_path / "settings.toml", calibrate_ahead=False) as server:
        with DaemonClient.connect(server.runtime_dir) as c:
            c.set_settings("it-IT", {"voice": "jf_alpha", "accent_strength": 0.0})
            assert c.settings()["it-IT"] == {"voice": "jf_alpha", "accent_strength": 0.0}
            heard = c.speak(text, locale="it-IT").pcm
            c.set_settings("it-IT", {"accent_strength": 1.0})
            heard_plain = c.speak(text, locale="it-IT").pcm
    assert heard == expected.tobytes() and heard_plain == plain.tobytes() and heard != heard_plain


# --- defaults -----------------------------------------------------------------------------------

def test_every_default_voice_exists_and_is_native_where_a_native_pack_exists(library):
    for loc in LOCALES:
        voice = library.get(loc.default_voice).info
        natives = library.native(loc.tag)
        if natives:
            assert voice.is_native(loc.tag), (loc.tag, voice.id)
        else:
            assert voice.native_locale != "ja-JP", (loc.tag, voice.id)  # the measured best, not the old default
        if loc.other_voice:  # the other gender, offered beside the default
            other = library.get(loc.other_voice).info
            assert {other.gender, voice.gender} == {"female", "male"}
            assert other.is_native(loc.tag) or not natives
    assert [loc.default_voice for loc in LOCALES if loc.tag in ("en-US", "en-GB", "es-ES", "fr-FR", "it-IT")] == \
        ["am_michael", "bm_george", "ef_dora", "ff_siwis", "im_nicola"]  # the meter's picks (docs/accent.md)


# --- the meter on a tiny fixture -----------------------------------------------------------------

def test_word_error_rate():
    assert accent.word_error_rate("Press the button twice.", "press the button twice") == 0.0
    assert accent.word_error_rate("L'heure du départ", "l heure du depart") == 0.25  # accents count
    assert accent.word_error_rate("one two three four", "one three four five") == 0.5
    with pytest.raises(ValueError):
        accent.word_error_rate("...", "x")


def test_the_meter_measures_resumes_and_reports(tmp_path):
    calls = []

    def synthesize(row, text):
        calls.append((row, text))
        rng = np.random.default_rng(len(text) + int(row.strength * 10))
        return rng.normal(size=1600).astype(np.float32)

    def measure(audio, language, text):
        voice = calls[-1][0].voice
        base = np.full(4, 1.0) if voice == "ff_siwis" else np.array([1.0, 1.0, 0.0, 0.0])
        emb = base + 0.1 * audio[:4]
        return {"target": 0.9 if language == "fr" else 0.5, "wer": 0.1, "confidence": 0.8, "heard": text,
                "emb": emb.tolist(), "emb2": emb.tolist()}

    rows = [accent.Row("ff_siwis", "fr-FR"), accent.Row("jm_kumo", "fr-FR"), accent.Row("jm_kumo", "fr-FR", 0.5),
            accent.Row("jm_kumo", "en-US")]
    results = accent.Results(tmp_path / "cache.json")
    lines = []
    accent.run(rows, 2, synthesize, measure, results, lines.append)
    assert len(calls) == 8 and len(lines) == 8 and "jm_kumo fr-FR strength 0.5 #1" in lines[5]
    accent.run(rows, 2, synthesize, measure, accent.Results(tmp_path / "cache.json"), lines.append)
    assert len(calls) == 8  # resumed: everything was cached on disk
    natives = {"ff_siwis": "fr-FR", "jm_kumo": "ja-JP"}
    summaries = accent.summarise(rows, 2, accent.Results(tmp_path / "cache.json"), natives)
    by_row = {s.row: s for s in summaries}
    siwis, kumo_fr = by_row[rows[0]], by_row[rows[1]]
    assert siwis.native and not kumo_fr.native and siwis.target == pytest.approx(0.9)
    assert siwis.sim > 0.99 and by_row[rows[3]].sim > 0.99  # each against its own reference centroid
    assert kumo_fr.sim > 0.99  # jm_kumo's fixture embedding is the same in every locale
    assert accent.grade(siwis) == "B" and accent.score(siwis) == pytest.approx(0.9 * 0.8 * 0.9)
    best = accent.best_voices(summaries, {"ff_siwis": "female", "jm_kumo": "male"})
    assert best["fr-FR"] == {"female": siwis}  # natives only where the locale has one
    assert best["en-US"]["male"].row.voice == "jm_kumo"  # else the best of what was measured
    doc = accent.document(summaries, 2, "echoic eval accent --locales fr-FR", "accent.png")
    assert "| jm_kumo | fr-FR | 0.5 |" in doc and accent.sentences("fr-FR", 1)[0] in doc
    again = accent.document(summaries[:1], 2, "x", "accent.png", doc + "\nMy findings.\n")
    assert again.endswith(accent.NOTES_MARK + "\n\nMy findings.\n") and "| jm_kumo |" not in again
    # Rows for the real command: natives are never given other strengths; references are added.
    library = VoiceLibrary(voice_dir=tmp_path)
    made = accent.default_rows(library, ["fr-FR"], ["ff_siwis", "jm_kumo"], [1.0, 0.5])
    assert made == [accent.Row("ff_siwis", "fr-FR"), accent.Row("jm_kumo", "fr-FR"), accent.Row("jm_kumo", "fr-FR", 0.5),
                    accent.Row("jm_kumo", "en-US")]


def test_the_plot_is_written(tmp_path):
    pytest.importorskip("matplotlib")
    s = [accent.Summary(accent.Row("jm_kumo", "fr-FR", k), 0.2 + 0.5 * (1 - k), 0.3, 0.7, 0.9 - 0.1 * (1 - k), 0.9, 2)
         for k in (1.0, 0.5, 0.0)]
    accent.plot(s, tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
