"""`echoic train data` (engine/train/data.py): sentences kept apart from the accent meter's
held-out ones, the manifest contract (docs/training-data.md), resuming, the teachers.

The Kokoro builds render a few short sentences with the real model (about 2-5 s each on two cores);
the non-neural teachers need Debian packages (.ci/run installs them); a teacher this machine lacks
is skipped with the reason, never faked."""

from __future__ import annotations

import gzip
import json
import wave
from pathlib import Path

import numpy as np
import pytest

from engine.errors import ConfigError, LocaleError
from engine.locales import LOCALES, get_locale
from engine.train import data
from engine.train.data import HeldOut, Phonemizer, Teacher

LANGUAGES = sorted({loc.language for loc in LOCALES})


@pytest.fixture(scope="module")
def runtime():
    from engine.model_store import ensure_model
    from engine.runtime import KokoroRuntime, RuntimeConfig

    return KokoroRuntime(ensure_model(), RuntimeConfig(threads=2, use_gpu=False))


@pytest.fixture()
def no_asterisk(tmp_path):
    """An empty folder in place of /usr/share/doc: only the curated sentences."""
    root = tmp_path / "doc"
    root.mkdir()
    return root


def wav_info(path: Path) -> tuple[int, int, int, int]:
    with wave.open(str(path), "rb") as w:
        return w.getframerate(), w.getnchannels(), w.getsampwidth(), w.getnframes()


# --- sentences -----------------------------------------------------------------------------------

@pytest.mark.parametrize("language", LANGUAGES)
def test_curated_sentences_never_overlap_the_heldout_ones(language):
    """Neither a held-out sentence (accent_sentences.json, the everyday and prose evaluation texts)
    nor any run of five of its words appears in the curated training sentences, nor in the whole
    pool (Asterisk prompts included, where installed)."""
    heldout = data.heldout_sentences(language)
    assert len(heldout) >= 100  # the meter's 6 sentences + the evaluation texts
    meter = json.loads(Path(data.__file__).parents[1].joinpath("evaluation", "accent_sentences.json").read_text())
    assert set(meter[language]) <= set(heldout)
    check = HeldOut(heldout)
    curated = data.curated_sentences(language)
    assert len(curated) >= 140
    assert [s for s in curated if check.overlaps(s)] == []
    assert [s.text for s in data.sentence_pool(language) if check.overlaps(s.text)] == []
    assert len({data.normalized(s) for s in curated}) == len(curated)  # no duplicates


def test_overlap_detector():
    check = HeldOut(["Can you pass me the salt and the pepper?"])
    assert check.overlaps("can you pass me the salt and the pepper")        # case, punctuation
    assert check.overlaps("Please, can you pass me the salt tonight?")      # five words in a row
    assert not check.overlaps("Pass the salt, please.")
    assert not check.overlaps("Can you pass me some bread?")               # four in a row only


@pytest.mark.parametrize("tag", [loc.tag for loc in LOCALES])
def test_every_curated_sentence_phonemizes_for_the_model(tag):
    loc = get_locale(tag)
    phonemize = Phonemizer(loc)
    for text in data.curated_sentences(loc.language):
        assert not any(c.isdigit() for c in text), text
        phonemes, ids = phonemize(text)
        assert 1 <= len(ids) <= data.MAX_IDS, text
        assert ids == [phonemize.vocab[c] for c in phonemes]


def test_asterisk_prompts_are_filtered(tmp_path):
    folder = tmp_path / "asterisk-core-sounds-en"
    folder.mkdir()
    lines = ["; Core Asterisk Sounds in English", "", "beep: [this is a simple beep tone]",
             "vm-intro: Please leave your message after the tone", "digits: Press 5 now.",
             "conf-only: You are currently the only participant in the conference.",
             "or-pound: or pound to cancel.", "dial: Enter a number followed by #.",
             "demo: Thank you for trying out the Asterisk Open Source PBX.", "at-tone: At the tone the time will be..."]
    with gzip.open(folder / "core-sounds-en.txt.gz", "wt", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    assert data.asterisk_sentences("en", tmp_path) == [
        ("vm-intro", "Please leave your message after the tone."),
        ("conf-only", "You are currently the only participant in the conference.")]
    assert data.asterisk_sentences("de", tmp_path) == []
    pool = data.sentence_pool("en", tmp_path)
    assert len(pool) == len(data.curated_sentences("en")) + 2
    assert pool == data.sentence_pool("en", tmp_path)  # a fixed order


def test_small_builds_hold_some_sentences_out():
    """Held-out sentences (a hash of the text) are spread through the pool: one after every 15."""
    for language in LANGUAGES:
        pool = data.sentence_pool(language)
        held = [i for i, s in enumerate(pool) if data.is_heldout(s.text)]
        assert held[:4] == [15, 31, 47, 63]
        assert 4 <= len(held) <= len(pool) // 8


def test_measure_needs_built_data(tmp_path):
    with pytest.raises(ConfigError, match="build the data first"):
        data.measure(tmp_path, "en-US")


def test_dialect_locales_get_dialect_phonemes():
    au, gb = Phonemizer(get_locale("en-AU")), Phonemizer(get_locale("en-GB"))
    south, us = Phonemizer(get_locale("en-US-south")), Phonemizer(get_locale("en-US"))
    text = "Take the car to the pen at five."
    assert au(text)[0] != gb(text)[0] and "fˈɑɪv" in au(text)[0] and "tˈæɪk" in au(text)[0]
    assert "kˈɐː" in au(text)[0] and "pˈen" in au(text)[0]
    assert "pˈɪn" in south(text)[0] and "fˈaːv" in south(text)[0] and south(text)[0] != us(text)[0]


# --- audio and weights -----------------------------------------------------------------------------

@pytest.mark.parametrize("rate", [16000, 22050])
def test_resample_keeps_pitch_and_level(rate):
    t = np.arange(rate) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440.0 * t)
    out = data.resample(tone, rate)
    assert len(out) == data.SAMPLE_RATE
    spectrum = np.abs(np.fft.rfft(out))
    assert abs(np.argmax(spectrum) * data.SAMPLE_RATE / len(out) - 440.0) <= 1.0
    assert abs(np.sqrt(np.mean(out[2400:-2400] ** 2)) - 0.5 / np.sqrt(2)) < 0.005


def test_weights_follow_teacher_shares():
    teachers = (Teacher("pico", "de-DE", 0.4), Teacher("mbrola", "de1", 0.3), Teacher("mbrola", "de2", 0.3))
    entries = ([{"teacher": "pico:de-DE"}] + [{"teacher": "mbrola:de1"} for _ in range(3)]
               + [{"teacher": "mbrola:de2"} for _ in range(6)])
    data.set_weights(entries, teachers)
    total = {name: sum(e["weight"] for e in entries if e["teacher"] == name) for name in ("pico:de-DE", "mbrola:de1", "mbrola:de2")}
    assert total == pytest.approx({"pico:de-DE": 4.0, "mbrola:de1": 3.0, "mbrola:de2": 3.0}, abs=1e-5)
    assert np.mean([e["weight"] for e in entries]) == pytest.approx(1.0)
    # Teachers absent from the data: the shares of those present are renormalised.
    only = [{"teacher": "mbrola:de1"}, {"teacher": "mbrola:de2"}]
    data.set_weights(only, teachers)
    assert [e["weight"] for e in only] == [1.0, 1.0]


def test_assign_rotates_teachers():
    teachers = tuple(Teacher("mbrola", f"de{i}", 0.25) for i in range(1, 5))
    pool = [data.Sentence(f"s{i}", "echoic") for i in range(6)]
    jobs = data.assign(pool, teachers, 2)
    assert len(jobs) == 12
    counts = {t.name: sum(1 for _, u in jobs if u == t) for t in teachers}
    assert set(counts.values()) == {3}
    assert all(jobs[2 * i][1] != jobs[2 * i + 1][1] for i in range(6))  # two different teachers per sentence


# --- errors ----------------------------------------------------------------------------------------

def test_unknown_locale_and_teacher_are_errors(tmp_path):
    with pytest.raises(LocaleError):
        data.build("xx-YY", tmp_path)
    with pytest.raises(ConfigError, match="kokoro:nobody"):
        data.teachers_for("en-US", ["kokoro:nobody"])
    with pytest.raises(ConfigError, match="--sentences"):
        data.build("en-US", tmp_path, sentences=0)


def test_missing_teacher_is_a_clear_error(tmp_path, monkeypatch):
    absent = Teacher("mbrola", "zz9", 1.0)
    assert "mbrola-zz9" in absent.missing()
    monkeypatch.setitem(data.TEACHERS, "es-US", (absent,))
    with pytest.raises(ConfigError, match="mbrola-zz9.*--skip-missing"):
        data.build("es-US", tmp_path / "out")
    with pytest.raises(ConfigError, match="no teacher"):
        data.build("es-US", tmp_path / "out", skip_missing=True)
    assert not (tmp_path / "out").exists()  # nothing written before the check


def test_other_locales_data_is_refused(tmp_path, no_asterisk):
    (tmp_path / "dataset.json").write_text(json.dumps({"format": 1, "locale": "fr-FR"}))
    with pytest.raises(ConfigError, match="fr-FR"):
        data.build("es-US", tmp_path, sentences=1, teacher_names=["espeak:es-419"], asterisk_root=no_asterisk)


# --- builds ----------------------------------------------------------------------------------------

def check_dataset(out: Path, locale: str, expected: int) -> list[dict]:
    dataset = json.loads((out / "dataset.json").read_text(encoding="utf-8"))
    assert dataset["format"] == 1 and dataset["locale"] == locale and dataset["created"]
    entries = [json.loads(line) for line in (out / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    assert len(entries) == expected == dataset["counts"]["utterances"]
    assert dataset["counts"]["train"] + dataset["counts"]["heldout"] == expected
    vocab = Phonemizer(get_locale(locale)).vocab
    for e in entries:
        assert set(e) >= {"id", "text", "phonemes", "ids", "teacher", "wav", "plan", "split", "weight"}
        assert e["teacher"] in dataset["teachers"] and e["split"] in ("train", "heldout")
        assert e["ids"] == [vocab[c] for c in e["phonemes"]] and e["weight"] > 0
        rate, channels, width, frames = wav_info(out / e["wav"])
        assert (rate, channels, width) == (24000, 1, 2) and frames > 0.3 * rate
        assert e["seconds"] == pytest.approx(frames / rate, abs=1e-3)
    return entries


def test_kokoro_build_writes_plans_and_resumes(tmp_path, runtime, no_asterisk):
    out = tmp_path / "en-US"
    teachers = ["kokoro:af_heart", "kokoro:am_michael"]
    lines = []
    result = data.build("en-US", out, sentences=2, per_sentence=1, teacher_names=teachers, runtime=runtime,
                        progress=lines.append, asterisk_root=no_asterisk)
    assert (result.rendered, result.kept, result.failed) == (2, 0, [])
    assert any("[2/2]" in line for line in lines)
    entries = check_dataset(out, "en-US", 2)
    assert {e["teacher"] for e in entries} == set(teachers)
    for e in entries:
        plan = np.load(out / e["plan"], allow_pickle=False)
        durations = plan["durations"]
        assert durations.dtype == np.int64 and len(durations) == len(e["ids"]) + 2
        assert int(durations.sum()) * 600 == wav_info(out / e["wav"])[3]  # plan and audio agree exactly
        assert plan["f0"].shape == plan["energy"].shape == (2 * int(durations.sum()),)
        assert np.isfinite(plan["f0"]).all() and (plan["f0"] > 50).any()
    # Resuming renders nothing that is on disk; a lost file is rendered again.
    again = data.build("en-US", out, sentences=2, per_sentence=1, teacher_names=teachers, runtime=runtime,
                       asterisk_root=no_asterisk)
    assert (again.rendered, again.kept) == (0, 2)
    (out / entries[0]["wav"]).unlink()
    third = data.build("en-US", out, sentences=2, per_sentence=1, teacher_names=teachers, runtime=runtime,
                       asterisk_root=no_asterisk)
    assert (third.rendered, third.kept) == (1, 1)
    assert check_dataset(out, "en-US", 2)[0]["id"] in {e["id"] for e in entries}
    # Phonemes that G2P no longer gives (new rules) are rendered again, from the manifest alone.
    stale = [json.loads(line) for line in (out / "manifest.jsonl").read_text(encoding="utf-8").splitlines()]
    stale[0]["phonemes"] += "ə"
    (out / "manifest.jsonl").write_text("".join(json.dumps(e, ensure_ascii=False) + "\n" for e in stale), encoding="utf-8")
    fourth = data.build("en-US", out, sentences=2, per_sentence=1, teacher_names=teachers, runtime=runtime,
                        asterisk_root=no_asterisk)
    assert (fourth.rendered, fourth.kept) == (1, 1)
    # Kept utterances of a teacher not asked for this time keep their weight and their name.
    fifth = data.build("en-US", out, sentences=1, per_sentence=1, teacher_names=teachers[:1], runtime=runtime,
                       asterisk_root=no_asterisk)
    assert (fifth.rendered, fifth.kept) == (0, 2)
    dataset = json.loads((out / "dataset.json").read_text(encoding="utf-8"))
    assert dataset["teachers"] == teachers
    assert [e["weight"] for e in check_dataset(out, "en-US", 2)] == [1.0, 1.0]


def test_dialect_build_reads_dialect_phonemes(tmp_path, runtime, no_asterisk):
    out = tmp_path / "en-AU"
    data.build("en-AU", out, sentences=1, teacher_names=["kokoro:bm_george"], runtime=runtime, asterisk_root=no_asterisk)
    (entry,) = check_dataset(out, "en-AU", 1)
    assert entry["teacher"] == "kokoro:bm_george"
    assert entry["phonemes"] == Phonemizer(get_locale("en-AU"))(entry["text"])[0]
    assert entry["phonemes"] != Phonemizer(get_locale("en-GB"))(entry["text"])[0]


def test_us_spanish_has_kokoro_teachers_reading_latin_american_phonemes(tmp_path, runtime, no_asterisk):
    """The adapter trainer aligns only to Kokoro teachers: es-US has the Spanish packs, reading es-419."""
    kokoro = [t.name for t in data.teachers_for("es-US") if t.kind == "kokoro"]
    assert kokoro == ["kokoro:ef_dora", "kokoro:em_alex"]
    assert sum(t.share for t in data.teachers_for("es-US")) == pytest.approx(1.0)
    out = tmp_path / "es-US"
    data.build("es-US", out, sentences=1, teacher_names=["kokoro:em_alex"], runtime=runtime, asterisk_root=no_asterisk)
    (entry,) = check_dataset(out, "es-US", 1)
    assert entry["teacher"] == "kokoro:em_alex"
    assert entry["phonemes"] == Phonemizer(get_locale("es-US"))(entry["text"])[0]
    # seseo: es-419 has no θ where Castilian does
    assert "θ" not in Phonemizer(get_locale("es-US"))("Hace calor en la plaza.")[0]
    assert "θ" in Phonemizer(get_locale("es-ES"))("Hace calor en la plaza.")[0]


def test_recorded_speakers_speak_only_what_they_recorded(tmp_path):
    human = Teacher("human", "en_US_f_Allison", 0.2)
    kokoro = Teacher("kokoro", "af_heart", 0.8)
    pool = [data.Sentence("Your changes have been saved.", "echoic"),
            data.Sentence("Please leave your message after the tone.", "asterisk-core-sounds-en", "vm-intro"),
            data.Sentence("An unknown prompt.", "asterisk-core-sounds-en", "no-such-prompt")]
    jobs = data.assign(pool, (kokoro, human), 1)
    expected_human = [s for s in pool if data.recording(human, s)]
    assert [s for s, t in jobs if t == human] == expected_human
    assert [s for s, t in jobs if t == kokoro] == pool
    if human.missing() is None:
        assert expected_human == [pool[1]]


EXTERNAL = [("es-US", "espeak:es-419"), ("es-US", "mbrola:mx1"), ("es-US", "mbrola:vz1"),
            ("de-DE", "mbrola:de2"), ("de-DE", "mbrola:de5"), ("de-DE", "pico:de-DE"),
            ("en-US", "human:en_US_f_Allison"), ("it-IT", "human:it_IT_m_Carlo")]


@pytest.mark.parametrize("locale,teacher", EXTERNAL)
def test_non_neural_teachers_give_24khz_audio(tmp_path, locale, teacher, no_asterisk):
    (t,) = data.teachers_for(locale, [teacher])
    if t.missing():
        pytest.skip(t.missing())
    out = tmp_path / locale
    if t.kind == "human":  # a prompt it recorded: the first one in the pool
        pool = data.sentence_pool(get_locale(locale).language)
        n = next(i for i, s in enumerate(pool, 1) if data.recording(t, s))
        result = data.build(locale, out, sentences=n, teacher_names=[teacher])
    else:
        result = data.build(locale, out, sentences=1, teacher_names=[teacher], asterisk_root=no_asterisk)
    assert result.failed == [] and result.rendered == 1
    (entry,) = check_dataset(out, locale, 1)
    assert entry["plan"] is None and entry["teacher"] == teacher
    audio, rate = data.read_wav(out / entry["wav"])
    assert rate == 24000 and np.sqrt(np.mean(audio ** 2)) > 0.01


def test_command_lists_teachers(capsys):
    from engine.cli import main

    assert main(["train", "data", "--list"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == sum(len(t) for t in data.TEACHERS.values())
    assert set(data.TEACHERS) == {loc.tag for loc in LOCALES}
    assert main(["train", "data"]) == 2  # no --locale: a clear error, not a traceback
