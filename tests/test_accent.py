"""The accent knob (engine/voices.py: apply_accent, VoiceLibrary.accent_direction / accented), the
per-locale defaults, and the accent meter's code (engine/evaluation/accent.py) on a tiny fixture:
fake synthesis and fake meters, so no model is needed (the real evaluation is `echoic eval accent`)."""

from __future__ import annotations

import json
import math
from dataclasses import replace

import numpy as np
import pytest

from engine.api import SpeechRequest
from engine.errors import VoiceError
from engine.evaluation import accent, accent_report
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
    never moves: today's code path), then strength 0 against the same. The knob is what a locale
    without an adapter uses: the engine here loads none (French has one in the package)."""
    from engine.adapters import AdapterSet
    from engine.synth import Engine

    np.save(tmp_path / "kumo_copy.npy", engine.voice_library.get("jm_kumo").pack)
    (tmp_path / "kumo_copy.json").write_text(json.dumps({"native_locale": "fr-FR"}))
    monkeypatch.setenv("ECHOIC_VOICE_DIR", str(tmp_path))
    custom = Engine(replace(engine.config), runtime=engine.runtime, adapters=AdapterSet())
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
    german = next(loc for loc in LOCALES if loc.tag == "de-DE")  # no native pack: the measured best of the others
    assert (german.default_voice, german.other_voice) == ("ef_dora", "em_alex")


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

    def measure(audio, locale, text):
        voice = calls[-1][0].voice
        base = np.full(4, 1.0) if voice == "ff_siwis" else np.array([1.0, 1.0, 0.0, 0.0])
        emb = base + 0.1 * audio[:4]
        return {"target": 0.9 if locale == "fr-FR" else 0.5, "wer": 0.1, "confidence": 0.8, "mos": 3.0,
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
    doc = accent_report.document(summaries, 2, "echoic eval accent --locales fr-FR", "accent.png")
    assert "| jm_kumo | fr-FR | 0.5 |" in doc and accent.sentences("fr-FR", 1)[0] in doc
    again = accent_report.document(summaries[:1], 2, "x", "accent.png", doc + "\nMy findings.\n")
    assert again.endswith(accent_report.NOTES_MARK + "\n\nMy findings.\n") and "| jm_kumo |" not in again
    # Rows for the real command: natives are never given other strengths; references are added.
    library = VoiceLibrary(voice_dir=tmp_path)
    made = accent.default_rows(library, ["fr-FR"], ["ff_siwis", "jm_kumo"], [1.0, 0.5])
    assert made == [accent.Row("ff_siwis", "fr-FR"), accent.Row("jm_kumo", "fr-FR"), accent.Row("jm_kumo", "fr-FR", 0.5),
                    accent.Row("jm_kumo", "en-US")]


def test_the_plot_is_written(tmp_path):
    pytest.importorskip("matplotlib")
    s = [accent.Summary(accent.Row("jm_kumo", "fr-FR", k), 0.2 + 0.5 * (1 - k), 0.3, 0.7, 0.9 - 0.1 * (1 - k), 0.9, 2)
         for k in (1.0, 0.5, 0.0)]
    accent_report.plot(s, tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


# --- the phone error rate, the human ceilings and the goal, on fixtures ---------------------------

def test_phones_fold_espeak_and_pnm_spellings_onto_one_set():
    # espeak-ng (ties as ^, British vowels) and pnm (ties as U+0361, flaps, r-coloured schwa)
    espeak_us = "ðə lˈa^ɪbɹɛɹi ˈo^ʊpənz æt nˈa^ɪn, bˌʌɾɚ"
    pnm_us = "ðə lˈa͡ɪbɹɛɹi ˈo͡ʊpənz æt nˈa͡ɪn bˌʌtəɹ"
    assert accent.phones(espeak_us) == accent.phones(pnm_us)
    assert accent.phones("tʃˈɜːtʃ d^ʒˈʌd^ʒ") == ["tʃ", "ɜ", "tʃ", "dʒ", "ʌ", "dʒ"]
    assert accent.phones("ɡˈəʊ lˈɒt") == accent.phones("ɡˈo͡ʊ lˈɑːt")  # GOAT and LOT: one symbol each
    assert accent.phone_error_rate("kæt", "kæt") == 0.0
    assert accent.phone_error_rate("kæt", "bæt") == pytest.approx(1 / 3)
    assert accent.phone_error_rate("kæts", "kæ") == 0.5
    with pytest.raises(ValueError):
        accent.phone_error_rate("ˈ ", "kæt")


def test_small_numbers_written_as_digits_count_as_their_words():
    text = "The library opens at nine, but the reading room stays closed until noon."
    heard = "The library opens at 9, but the reading room stays closed until noon."
    assert accent.word_error_rate(text, heard) == pytest.approx(1 / 13)
    assert accent.word_error_rate(text, heard, language="en") == 0.0
    assert accent.word_error_rate("ouvre à neuf heures", "ouvre à 9 heures", language="fr") == 0.0
    assert accent.word_error_rate("ouvre à neuf heures", "ouvre à 19 heures", language="fr") == 0.25
    # a cached record's WER is computed again from what was heard, under the current rule
    record = {"heard": heard, "wer": 1 / 13}
    assert accent.record_wer(record, text, "en-GB") == 0.0 and accent.record_wer({"wer": 0.5}, text, "en-US") == 0.5


def test_word_error_rate_can_compare_without_diacritics():
    assert accent.word_error_rate("Por favor ingrese su numero", "Por favor, ingrese su número.") == 0.2
    assert accent.word_error_rate("Por favor ingrese su numero", "Por favor, ingrese su número.", fold=True) == 0.0


def test_a_cached_record_without_a_meter_gets_only_that_meter(tmp_path):
    class Meter:
        calls: list = []

        def __call__(self, audio, locale, text):
            self.calls.append("all")
            return {"target": 1.0, "wer": 0.0, "confidence": 1.0, "mos": 3.5, "per": None, "emb": [1, 0], "emb2": [1, 0]}

        def fill(self, audio, locale, text, record):
            self.calls.append(("fill", locale, "mos" in record and record["mos"] is not None))
            return {"per": 0.1} if record.get("mos") is not None else {"mos": 3.0}

    results = accent.Results(tmp_path / "c.json")
    row, text = accent.Row("am_michael", "en-US"), accent.sentences("en-US", 1)[0]
    results.put(row, 0, text, {"target": 1.0, "wer": 0.0, "confidence": 1.0, "emb": [1, 0], "emb2": [1, 0]})  # before MOS
    meter = Meter()
    synth = lambda r, t: np.zeros(160, dtype=np.float32)  # noqa: E731
    accent.run([row], 2, synth, meter, results)
    assert meter.calls == [("fill", "en-US", False), "all"]
    assert results.get(row, 0, text)["mos"] == 3.0 and results.get(row, 0, text)["target"] == 1.0
    accent.run([row], 2, synth, meter, results)
    assert len(meter.calls) == 2  # nothing lacks anything
    accent.run([row], 2, synth, meter, results, phones=True)  # English rows get the phone error rate
    assert meter.calls[2:] == [("fill", "en-US", True), ("fill", "en-US", True)]
    s, = accent.summarise([row], 3, results, {"am_michael": "en-US"})  # 2 of 3 sentences: shown on 2
    assert s.n == 2 and s.mos == pytest.approx(3.25) and s.per == pytest.approx(0.1)
    assert accent.summarise([accent.Row("af_heart", "en-US")], 3, results, {}) == []


def test_human_prompts_are_parsed_chosen_and_decoded(tmp_path, monkeypatch):
    import gzip
    import shutil
    import subprocess

    from engine.evaluation import accent_human as human

    text = ("\ufeff; Core Asterisk Sounds in Spanish\n\n"
            "agent-alreadyon: Ese agente ya ha sido autenticado. Por favor ingrese su numero.\n"
            "digits/h-5: quinto\n"
            "vm-short: Adios.\n"
            "vm-bracket: Pulse la tecla de numero [pausa] para salir de aqui ahora.\n"
            "vm-cut: ...para dejar un mensaje en el buzon de voz ahora.\n"
            "vm-whichbox: Para dejar un mensaje por favor, entre un numero de buzon.\n"
            "vm-norecording: Para dejar un mensaje por favor, diga su nombre ahora mismo.\n")
    parsed = human.parse_texts(text)
    assert parsed["digits/h-5"] == "quinto" and "; Core" not in "".join(parsed)
    have = {"agent-alreadyon", "vm-short", "vm-bracket", "vm-cut", "vm-whichbox"}
    assert human.eligible(parsed, have) == ["agent-alreadyon", "vm-whichbox"]  # recorded, long, plain, top level
    assert human.spread(list("abcdefg"), 3) == ["a", "d", "g"] and human.spread(list("ab"), 5) == ["a", "b"]
    monkeypatch.setattr(human, "SOUNDS", tmp_path / "sounds")
    monkeypatch.setattr(human, "DOCS", tmp_path / "doc")
    source = human.BY_ID["human-es"]
    with pytest.raises(FileNotFoundError, match="apt-get install asterisk-core-sounds-es asterisk-core-sounds-es-g722"):
        human.prompts(source, 2)
    (tmp_path / "doc" / source.package).mkdir(parents=True)
    source.texts_file.write_bytes(gzip.compress(text.encode("utf-8")))
    folder = tmp_path / "sounds" / source.folder
    folder.mkdir(parents=True)
    if shutil.which("ffmpeg") is None:
        pytest.skip("ffmpeg (apt-get install ffmpeg) decodes G.722")
    # A 440 Hz tone encoded as raw G.722 at 16 kHz, as the packages hold it: it decodes to the same.
    tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(16000) / 16000)).astype(np.float32)
    encoded = subprocess.run(["ffmpeg", "-hide_banner", "-loglevel", "error", "-f", "f32le", "-ar", "16000", "-ac", "1",
                              "-i", "-", "-f", "g722", "-"], input=tone.tobytes(), capture_output=True, check=True).stdout
    assert len(encoded) == 8000  # 64 kbit/s
    for key in have:
        (folder / f"{key}.g722").write_bytes(encoded)
    chosen = human.prompts(source, 2)
    assert [k for k, _ in chosen] == ["agent-alreadyon", "vm-whichbox"]
    audio = human.recording(source, chosen[1][1], 2)
    assert abs(len(audio) - 16000) <= 160
    spectrum = np.abs(np.fft.rfft(audio[2000:14000]))
    assert abs(np.argmax(spectrum) * 16000 / 12000 - 440) < 5
    with pytest.raises(KeyError):
        human.recording(source, "no such prompt", 2)
    (folder / "vm-whichbox.g722").write_bytes(b"")
    with pytest.raises(ValueError, match="ffmpeg could not decode"):
        human.recording(source, chosen[1][1], 2)


def test_the_goal_table_says_what_each_locale_reaches():
    def s(voice, locale, strength, target, wer, sim, native=False):
        return accent.Summary(accent.Row(voice, locale, strength), target, wer, 0.9, sim, sim, 3, native, 3.0, math.nan)

    summaries = [s("ff_siwis", "fr-FR", 1, 0.99, 0.10, 0.98, True), s("jm_kumo", "fr-FR", 1, 0.47, 0.46, 0.86),
                 s("jm_kumo", "fr-FR", 0.5, 0.92, 0.05, 0.95), s("jm_kumo", "fr-FR", 0, 0.99, 0.2, 0.70),
                 s("jm_kumo", "en-US", 1, 0.96, 0.04, 0.99), s("am_michael", "en-US", 1, 1.0, 0.04, 0.98, True),
                 s("af_bella", "en-US", 1, 1.0, 0.0, 0.98, True), s("ef_dora", "de-DE", 1, 0.66, 0.17, 0.90),
                 s("human-fr", "fr-FR", 1, 1.0, 0.05, 0.95, True)]
    lines = accent_report.goal(summaries, {"en-US": "am_michael", "fr-FR": "ff_siwis", "de-DE": "ef_dora"}, 0.5,
                        {"en-US": True, "fr-FR": True, "de-DE": False}, summaries[-1:])
    text = "\n".join(lines)
    assert "| en-US | am_michael 1.00 / 4% / – / 3.00 | af_bella (" in text and "| no |" in text  # WER 4% > 0%
    assert "| fr-FR | ff_siwis" in text and "yes (it is the best)" in text and "1.00 / 5% / – / 3.00 |" in text
    assert "| de-DE | ef_dora 0.66 / 17%" in text and "no native pack" in text
    assert "| jm_kumo in fr-FR | **0.5** | 0.92 | 5% | 0.950 | 0.950 | 0.990 | yes | yes (0.47 -> 0.92) |" in text
    assert "| jm_kumo in fr-FR | 0 | 0.99 | 20% | 0.700 | 0.700 | 0.990 | no (-0.290) |" in text
    ranked = accent_report.ranking(summaries, {"en-US": "am_michael", "fr-FR": "ff_siwis", "de-DE": "ef_dora"})
    assert ranked[0].startswith("- **en-US** (2): af_bella 0.900 (A, MOS 3.00), **am_michael** 0.864 (A, MOS 3.00)")
    assert len(ranked) == 2 and "de-DE" not in "".join(ranked)
    # Other engines (`--systems`) are the locale's bar, never one of its voices.
    systems = [s("system-pico:de-DE", "de-DE", 1, 1.0, 0.05, 0.97, True),
               s("system-espeak:de", "de-DE", 1, 0.65, 0.49, 0.96, True)]
    text = "\n".join(accent_report.goal(summaries + systems, {"de-DE": "ef_dora"}, 0.5, {"de-DE": False}, [], systems))
    assert "| de-DE | ef_dora 0.66 / 17%" in text and "no native pack" in text  # not a native pack of German
    assert ("Other engines in de-DE (target / WER / MOS), against the default voice ef_dora (0.66 / 17% / MOS 3.00): "
            "pico:de-DE 1.00 / 5% / MOS 3.00; espeak:de 0.65 / 49% / MOS 3.00. "
            "The default's WER is at most that of: espeak:de.") in text
    assert accent_report.ranking(summaries + systems, {"de-DE": "ef_dora"}) == []
    assert "system-pico:de-DE" not in str(accent.best_voices(summaries + systems, {}))
    assert "| system-pico:de-DE | de-DE | 1 | system | 3 | 1.00 | 5% |" in "\n".join(accent_report.table(systems))


def test_system_rows_speak_the_sentences_through_another_engine():
    from engine.evaluation import accent_systems

    have, missing = accent_systems.voices("de-DE")
    assert "system-espeak:de" in have and len(have) + len(missing) == 8  # Pico, six MBROLA voices, espeak-ng
    have, missing = accent_systems.voices("en-AU")
    assert len(have) + len(missing) == 2 and "system-espeak:en" in have  # and Pico's British English
    assert all(tag in accent_systems.PICO for tag in (loc.tag for loc in LOCALES))
    audio = accent_systems.synthesize(accent.Row("system-espeak:de", "de-DE"), "Guten Morgen, wie geht es Ihnen?")
    seconds, rms = len(audio) / accent.SAMPLE_RATE, float(np.sqrt(np.mean(audio ** 2)))
    assert audio.dtype == np.float32 and 1.0 < seconds < 5.0 and rms > 0.01
    for bad in ("ef_dora", "system-", "system-kokoro:af_heart", "system-pico"):
        with pytest.raises(ValueError, match="not a system voice"):
            accent_systems.teacher(bad)
    assert not accent.is_pack("system-pico:de-DE") and not accent.is_pack("human-en") and accent.is_pack("ef_dora")


def test_eval_accent_takes_adapters_from_a_folder(tmp_path, capsys):
    """`--adapters DIR` measures with that folder's adapters (here the base model, `none`, from the
    cache alone); a folder that does not exist is refused before anything loads."""
    from engine.cli import main as echoic

    with pytest.raises(SystemExit, match="--adapters .*: no such folder"):
        echoic(["eval", "accent", "--report-only", "--adapters", str(tmp_path / "missing"),
                "--cache", str(tmp_path / "c.json"), "--locales", "fr-FR", "--voices", "af_heart"])
    cache = tmp_path / "c.json"
    record = {"target": 0.5, "wer": 0.25, "heard": "x", "confidence": 0.6, "emb": [1.0, 0.0], "emb2": [1.0, 0.0],
              "mos": 3.0, "per": None}
    cache.write_text(json.dumps({accent._key(accent.Row("af_heart", "fr-FR"), i, t): record
                                 for i, t in enumerate(accent.sentences("fr-FR", 2))}))
    assert echoic(["eval", "accent", "--report-only", "--adapters", "none", "--cache", str(cache), "--sentences", "2",
                   "--locales", "fr-FR", "--voices", "af_heart"]) == 0
    assert "| af_heart | fr-FR | 1 |" in capsys.readouterr().out


def test_eval_accent_measures_another_first_segment_cut(tmp_path, monkeypatch):
    """`--first-segment-words N` gives the measured engine that cut (N large: whole sentences);
    a value the engine refuses is refused before anything loads."""
    from engine import synth
    from engine.cli import main as echoic

    made = []

    class Stop(Exception):
        pass

    def engine(config=None, **kw):
        made.append(config)
        raise Stop

    args = ["eval", "accent", "--report-only", "--cache", str(tmp_path / "c.json"), "--locales", "de-DE"]
    with pytest.raises(SystemExit, match="--first-segment-words: first_segment_words must be a positive integer"):
        echoic(args + ["--first-segment-words", "0"])
    monkeypatch.setattr(synth, "Engine", engine)
    with pytest.raises(Stop):
        echoic(args + ["--first-segment-words", "1000"])
    with pytest.raises(Stop):
        echoic(args)
    assert made[0].first_segment_words == 1000 and made[1] is None
