"""Making a listening test: the pure plan, the audio processing, the folder, the blinding."""

from __future__ import annotations

import json
import re
import zlib

import numpy as np
import pytest

from engine.errors import ConfigError
from engine.listening.create import (ANCHOR, SYSTEM_VOICE, System, default_locales, loudness_matched, low_pass,
                                     native_voices, plan_test, render_test)
from engine.listening.manifest import listener_order, load_manifest
from engine.locales import LOCALES
from engine.voices import VoiceInfo

RATE = 24000
EVERY = tuple(loc.tag for loc in LOCALES)
STOCK = [VoiceInfo("jm_kumo", "Kumo", "male", EVERY), VoiceInfo("jf_alpha", "Alpha", "female", EVERY),
         VoiceInfo("jf_nezumi", "Nezumi", "female", EVERY)]
NATIVE = [VoiceInfo("af_bella", "Bella", "female", ("en-US",)), VoiceInfo("af_heart", "Heart", "female", ("en-US",)),
          VoiceInfo("ff_siwis", "Siwis", "female", ("fr-FR",))]


def voices_for(tag: str) -> list[VoiceInfo]:
    return [v for v in STOCK + NATIVE if tag in v.locales]


def sine_renderer(system: System, sentence: str, locale: str) -> np.ndarray:
    """A different tone per system, about a second long: cheap stand-ins for speech."""
    freq = 200 + zlib.crc32(system.name.encode()) % 2000
    t = np.arange(int(RATE * (0.8 + len(sentence) % 5 / 10))) / RATE
    return (0.3 * np.sin(2 * np.pi * freq * t) + 0.05 * np.sin(2 * np.pi * 5000 * t)).astype(np.float32)


def make_sine_test(folder, locales=("en-US",), systems=("jm_kumo", "jf_nezumi", SYSTEM_VOICE), per_locale=2):
    planned = plan_test("custom", locales, voices_for, systems=list(systems), reference="jf_alpha",
                        sentences={tag: [f"Sentence {n} in {tag}." for n in range(1, 4)] for tag in locales},
                        per_locale=per_locale)
    return render_test(folder, "custom", planned, sine_renderer, RATE)


# --- the plan -----------------------------------------------------------------------------------
def test_accent_set_tests_the_stock_voice_native_voices_and_system_voice_against_the_best_native():
    trials = plan_test("accent", ["en-US", "fr-FR"], voices_for, per_locale=1)
    by_locale = {t.locale: t for t in trials}
    assert by_locale["en-US"].reference == System("af_heart")  # preferred over af_bella
    assert [s.name for s in by_locale["en-US"].systems] == ["jm_kumo", "af_bella", "system"]
    assert by_locale["fr-FR"].reference == System("ff_siwis")
    assert [s.name for s in by_locale["fr-FR"].systems] == ["jm_kumo", "system"]


def test_the_accent_set_stays_small_when_a_locale_has_many_native_voices():
    many = STOCK + [VoiceInfo(f"af_{n}", "V", "female", ("en-US",)) for n in range(20)]
    (trial,) = plan_test("accent", ["en-US"], lambda tag: many, per_locale=1)
    assert trial.reference == System("af_0")
    assert [s.name for s in trial.systems] == ["jm_kumo", "af_1", "system"]


def test_a_new_voice_appears_without_code_changes():
    extra = VoiceInfo("bf_emma", "Emma", "female", ("en-GB",))
    trials = plan_test("accent", ["en-GB"], lambda tag: voices_for(tag) + [extra], per_locale=1)
    assert trials[0].reference == System("bf_emma")
    trials = plan_test("voices", ["en-US"], lambda tag: voices_for(tag) + [VoiceInfo("zz_new", "New", "x", ("en-US",))],
                       reference="af_heart", per_locale=1)
    assert "zz_new" in [s.name for s in trials[0].systems]


def test_held_out_sentences_exist_for_every_locale():
    trials = plan_test("accent", EVERY, voices_for, reference="jf_alpha")
    assert {t.locale for t in trials} == set(EVERY)
    assert all(len([t for t in trials if t.locale == tag]) == 3 for tag in EVERY)


def test_plan_refuses_what_it_cannot_do():
    with pytest.raises(ConfigError, match="no native voice is installed for de-DE"):
        plan_test("accent", ["de-DE"], voices_for)
    with pytest.raises(ConfigError, match="unknown voice 'nobody'"):
        plan_test("custom", ["en-US"], voices_for, systems=["nobody"], reference="af_heart")
    with pytest.raises(ConfigError, match="needs --systems and --reference"):
        plan_test("custom", ["en-US"], voices_for, systems=["jm_kumo"])
    with pytest.raises(ConfigError, match="unknown set"):
        plan_test("everything", ["en-US"], voices_for)
    with pytest.raises(ConfigError, match="accent strength must be in 0..1"):
        System.parse("jm_kumo@2")
    many = [VoiceInfo(f"v{n}", "V", "x", ("en-US",)) for n in range(11)]
    with pytest.raises(ConfigError, match="at most 12"):
        plan_test("voices", ["en-US"], lambda tag: many, reference="v0")
    with pytest.raises(ConfigError, match="no locale has a native voice"):
        default_locales("accent", lambda tag: STOCK)
    assert default_locales("accent", voices_for) == ["en-US", "fr-FR"]


def test_system_names_round_trip():
    assert System.parse("jm_kumo@0.5").name == "jm_kumo@0.5"
    assert System.parse("system") == System(None)
    assert native_voices("en-US", STOCK) == []


# --- audio --------------------------------------------------------------------------------------
def test_low_anchor_removes_everything_above_3_5_khz_and_keeps_what_is_below():
    t = np.arange(RATE) / RATE
    low, high = np.sin(2 * np.pi * 1000 * t), np.sin(2 * np.pi * 6000 * t)
    filtered = low_pass((low + high).astype(np.float32), RATE)
    assert np.max(np.abs(filtered - low)) < 1e-3
    spectrum = np.abs(np.fft.rfft(filtered))
    freqs = np.fft.rfftfreq(len(filtered), 1 / RATE)
    assert spectrum[freqs > 3500].max() < 1e-3 * spectrum.max()


def test_loudness_matching_levels_rms_and_never_clips():
    quiet = 0.01 * np.sin(np.linspace(0, 400, RATE)).astype(np.float32)
    matched = loudness_matched(quiet)
    assert abs(np.sqrt(np.mean(matched.astype(np.float64) ** 2)) - 0.05) < 1e-4
    spiky = np.zeros(RATE, dtype=np.float32)
    spiky[::1000] = 1.0
    assert np.max(np.abs(loudness_matched(spiky))) <= 0.99 + 1e-6
    with pytest.raises(ConfigError, match="silent"):
        loudness_matched(np.zeros(100, dtype=np.float32))


# --- the folder ---------------------------------------------------------------------------------
def test_render_writes_blinded_files_and_a_manifest_that_says_what_each_is(tmp_path):
    folder = tmp_path / "test"
    manifest = make_sine_test(folder, locales=("en-US", "fr-FR"))
    assert len(manifest.trials) == 4
    again = load_manifest(folder)
    assert again == manifest
    for trial in manifest.trials:
        roles = sorted(s.role for s in trial.stimuli)
        assert roles == ["anchor", "reference", "test", "test", "test"]
        assert {s.system for s in trial.stimuli} == {"jm_kumo", "jf_nezumi", "system", "jf_alpha", ANCHOR}
        for stimulus in trial.stimuli:
            assert re.fullmatch(r"audio/[0-9a-f]{16}\.wav", stimulus.file)
            for word in ("kumo", "nezumi", "alpha", "system", "anchor", "ref"):
                assert word not in stimulus.file
        hidden = next(s for s in trial.stimuli if s.role == "reference")
        assert (folder / trial.reference).read_bytes() == (folder / hidden.file).read_bytes()
    listing = sorted(p.name for p in (folder / "audio").iterdir())
    assert len(listing) == 4 * 6  # five samples and the open reference per trial
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # no work folder left behind


def test_each_listener_gets_their_own_order_and_the_same_one_again(tmp_path):
    manifest = make_sine_test(tmp_path / "t", locales=("en-US", "fr-FR"), per_locale=3)
    orders = {name: [(t.id, [s.file for s in st]) for t, st in listener_order(manifest, name)]
              for name in ("ana", "ben", "cleo")}
    assert orders["ana"] == [(t.id, [s.file for s in st]) for t, st in listener_order(manifest, "ana")]
    assert len({json.dumps(o) for o in orders.values()}) == 3
    for order in orders.values():
        assert sorted(t for t, _ in order) == sorted(t.id for t in manifest.trials)


def test_an_existing_folder_is_never_overwritten(tmp_path):
    folder = tmp_path / "t"
    folder.mkdir()
    (folder / "keep.txt").write_text("mine")
    with pytest.raises(ConfigError, match="not empty"):
        make_sine_test(folder)
    assert (folder / "keep.txt").read_text() == "mine"


def test_a_failing_render_leaves_no_half_made_folder(tmp_path):
    planned = plan_test("custom", ["en-US"], voices_for, systems=["jm_kumo"], reference="af_heart")

    def broken(system, sentence, locale):
        raise RuntimeError("renderer died")

    with pytest.raises(RuntimeError):
        render_test(tmp_path / "t", "custom", planned, broken, RATE)
    assert list(tmp_path.iterdir()) == []


# --- bad folders --------------------------------------------------------------------------------
def test_bad_folders_get_clear_errors(tmp_path):
    with pytest.raises(ConfigError, match="is not a folder"):
        load_manifest(tmp_path / "missing")
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ConfigError, match="has no manifest.json"):
        load_manifest(empty)
    folder = tmp_path / "t"
    make_sine_test(folder)
    good = (folder / "manifest.json").read_text()
    (folder / "manifest.json").write_text(good[: len(good) // 2])
    with pytest.raises(ConfigError, match="cannot be read as JSON"):
        load_manifest(folder)
    broken = json.loads(good)
    del broken["trials"][0]["stimuli"][0]["sha256"]
    (folder / "manifest.json").write_text(json.dumps(broken))
    with pytest.raises(ConfigError, match="damaged"):
        load_manifest(folder)
    broken = json.loads(good)
    broken["trials"][0]["stimuli"][0]["role"] = "favourite"
    (folder / "manifest.json").write_text(json.dumps(broken))
    with pytest.raises(ConfigError, match="role 'favourite'"):
        load_manifest(folder)
    (folder / "manifest.json").write_text(good)
    victim = folder / json.loads(good)["trials"][0]["stimuli"][0]["file"]
    victim.write_bytes(victim.read_bytes()[:-2] + b"\x00\x01")
    with pytest.raises(ConfigError, match="was changed after the test was made"):
        load_manifest(folder)


@pytest.mark.slow
def test_create_really_renders_through_the_engine(tmp_path, engine):
    from engine.audio import read_wav
    from engine.listening.create import EngineRenderer

    planned = plan_test("custom", ["en-US"], engine.voices, systems=["jm_kumo", SYSTEM_VOICE],
                        reference="jf_alpha", per_locale=1)
    manifest = render_test(tmp_path / "t", "custom", planned, EngineRenderer(engine), engine.sample_rate)
    (trial,) = manifest.trials
    assert trial.sentence.startswith("The weather report")
    durations = {}
    for stimulus in trial.stimuli:
        audio, rate = read_wav(tmp_path / "t" / stimulus.file)
        assert rate == engine.sample_rate
        durations[stimulus.system] = len(audio) / rate
        assert abs(np.sqrt(np.mean(audio.astype(np.float64) ** 2)) - 0.05) < 0.005  # loudness-matched
    assert all(2.0 < d < 12.0 for d in durations.values()), durations
    assert durations["jf_alpha"] == durations[ANCHOR]


def test_systems_that_render_the_same_audio_are_pointed_out(tmp_path):
    planned = plan_test("custom", ["en-US"], voices_for, systems=["jm_kumo", "jm_kumo@0.5", "system"],
                        reference="jf_alpha", sentences={"en-US": ["One."]})
    lines = []

    def strength_blind(system, sentence, locale):
        return sine_renderer(System(system.voice), sentence, locale)

    render_test(tmp_path / "t", "custom", planned, strength_blind, RATE, progress=lines.append)
    assert "note: jm_kumo@0.5 rendered exactly the same audio as jm_kumo" in lines
