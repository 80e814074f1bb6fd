"""The user's voice store (engine/cloning/store.py), the library's view of it, and `echoic voice`."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from engine.cli import main as echoic
from engine.cloning.store import VoiceMetadata, VoiceStore
from engine.errors import VoiceError
from engine.voices import VoiceLibrary, bundled_voice_ids


def metadata(name="anna", **changes) -> VoiceMetadata:
    values = dict(name=name, source_locale="fr-FR", created="2026-11-29T21:00:00+00:00", reference_seconds=31.5,
                  losses={"spectral": 0.25, "speaker": 0.1}, similarity=0.87, nearest="ff_siwis", gender="female",
                  steps=300)
    values.update(changes)
    return VoiceMetadata(**values)


@pytest.fixture
def pack():
    return np.random.default_rng(1).normal(0, 0.3, (510, 256)).astype(np.float32)


def test_a_saved_voice_round_trips_and_the_library_speaks_it_natively(tmp_path, pack):
    store = VoiceStore(tmp_path)
    path = store.save(pack, metadata())
    assert path == tmp_path / "anna.npz" and sorted(p.name for p in tmp_path.iterdir()) == ["anna.json", "anna.npz"]
    assert np.array_equal(store.load_pack("anna"), pack)
    assert store.show("anna") == metadata()
    assert store.names() == ["anna"] and store.list() == [metadata()]
    voice = VoiceLibrary(voice_dir=tmp_path).get("anna")
    assert np.array_equal(voice.pack, pack) and voice.pack.dtype == np.float32
    assert (voice.info.native_locale, voice.info.gender, voice.info.name) == ("fr-FR", "female", "anna")
    assert voice.info.is_native("fr-FR") and not voice.info.is_native("en-US")
    assert oct(os.stat(path).st_mode & 0o777) == "0o600"  # written through write_atomically


def test_a_cloned_voice_in_another_locale_goes_through_the_accent_seam(tmp_path, pack):
    """Native locale = source locale: in its own locale it is spoken as is; in another its timbre
    half moves along the same accent direction every voice uses (no other path reads its style)."""
    from engine.conditioning import Conditioner
    from engine.locales import get_locale

    VoiceStore(tmp_path).save(pack, metadata())
    library = VoiceLibrary(voice_dir=tmp_path)
    conditioner = Conditioner(accent=library.accented)
    voice = library.get("anna")
    own = conditioner.condition(voice, get_locale("fr-FR"), 20, 0.0)
    assert np.array_equal(own.style, pack[19:20])
    english = conditioner.condition(voice, get_locale("en-US"), 20, 0.0)
    direction = library.accent_direction("en-US", "anna")
    assert np.allclose(english.style[:, :128], pack[19:20, :128] + direction[19:20, :128], atol=1e-6)
    assert np.array_equal(english.style[:, 128:], pack[19:20, 128:])
    assert np.abs(direction[:, :128]).mean() > 0.01


@pytest.mark.parametrize("name", ["", "../evil", "a/b", "a.b", "with space", "-dash", "x" * 65, "naïve", "CON", "lpt1",
                                  "af_heart@fr-FR@0.5", ".hidden"])
def test_names_that_are_not_plain_ids_are_refused(tmp_path, pack, name):
    store = VoiceStore(tmp_path)
    with pytest.raises(VoiceError, match="not allowed|reserved"):
        store.check_new(name)
    with pytest.raises(VoiceError, match="not allowed|reserved"):
        metadata(name=name)
    with pytest.raises(VoiceError, match="not allowed|reserved"):
        store.show(name)
    assert list(tmp_path.iterdir()) == []


def test_bundled_names_and_case_twins_are_refused(tmp_path, pack):
    store = VoiceStore(tmp_path)
    assert "af_heart" in bundled_voice_ids() and "jm_kumo" in bundled_voice_ids() and len(bundled_voice_ids()) == 39
    for name in ("af_heart", "JM_KUMO"):
        with pytest.raises(VoiceError, match="bundled voice"):
            store.save(pack, metadata(name=name))
    store.save(pack, metadata(name="Anna"))
    with pytest.raises(VoiceError, match="already exists"):
        store.save(pack, metadata(name="anna"))
    with pytest.raises(VoiceError, match="already exists"):
        store.save(pack, metadata(name="Anna"))
    store.save(pack * 2, metadata(name="Anna"), overwrite=True)
    assert np.array_equal(store.load_pack("Anna"), pack * 2)


def test_bad_packs_and_metadata_are_refused_before_anything_is_written(tmp_path, pack):
    store = VoiceStore(tmp_path)
    bad = pack.copy()
    bad[3, 4] = np.nan
    with pytest.raises(VoiceError, match="NaN"):
        store.save(bad, metadata())
    with pytest.raises(VoiceError, match=r"\(510, 256\)"):
        store.save(pack[:100], metadata())
    with pytest.raises(Exception, match="unknown locale|xx-YY"):
        metadata(source_locale="xx-YY")
    with pytest.raises(VoiceError, match="gender"):
        metadata(gender="robot")
    assert list(tmp_path.iterdir()) == []


def test_unknown_names_say_which_voices_exist(tmp_path, pack):
    store = VoiceStore(tmp_path)
    with pytest.raises(VoiceError, match="you have no voices yet"):
        store.show("nobody")
    store.save(pack, metadata())
    for action in (store.show, store.remove, store.load_pack):
        with pytest.raises(VoiceError, match=r"no voice named 'nobody' .*your voices: anna"):
            action("nobody")


def test_remove_takes_every_file_of_the_voice_and_nothing_else(tmp_path, pack):
    store = VoiceStore(tmp_path)
    store.save(pack, metadata(), reference=(np.sin(np.arange(24000) / 10).astype(np.float32) * 0.3, 24000))
    store.save(pack, metadata(name="bert"))
    store.checkpoint_path("anna").parent.mkdir()
    store.checkpoint_path("anna").write_bytes(b"x")
    assert store.show("anna").reference == "anna.reference.flac"
    removed = store.remove("anna")
    assert sorted(p.name for p in removed) == ["anna.json", "anna.npz", "anna.pt", "anna.reference.flac"]
    assert store.names() == ["bert"] and not store.checkpoint_path("anna").exists()


def test_a_broken_file_is_reported_not_fatal(tmp_path, pack):
    store = VoiceStore(tmp_path)
    store.save(pack, metadata())
    store.save(pack, metadata(name="bert"))
    (tmp_path / "bert.json").write_text("{not json")
    (tmp_path / "carl.npz").write_bytes(b"garbage")
    items = store.list()
    assert items[0] == metadata() and isinstance(items[1], VoiceError) and "bert" in str(items[1])
    library = VoiceLibrary(voice_dir=tmp_path)
    assert "anna" in {v.id for v in library.list()} and not {"bert", "carl"} & {v.id for v in library.list()}
    assert any("bert.json" in p for p in library.problems) and any("carl.npz" in p for p in library.problems)


def test_the_library_sees_voices_come_and_go_without_a_new_library(tmp_path, pack):
    library = VoiceLibrary(voice_dir=tmp_path / "voices")  # the folder does not exist yet
    before = [v.id for v in library.list()]
    assert library.refresh() is False
    store = VoiceStore(tmp_path / "voices")
    store.save(pack, metadata())
    assert library.refresh() is True and library.refresh() is False
    assert [v.id for v in library.list()] == before + ["anna"]
    moved = library.accented(library.get("anna"), "en-US", 0.0)
    store.save(pack * 0.5, metadata(source_locale="en-US"), overwrite=True)  # replaced: caches must not serve the old
    assert library.refresh() is True
    assert np.array_equal(library.get("anna").pack, pack * 0.5) and library.get("anna").info.native_locale == "en-US"
    assert library.accented(library.get("anna"), "en-US", 0.0) is library.get("anna")  # now native: unmoved
    assert moved.pack is not library.get("anna").pack
    store.remove("anna")
    assert library.refresh() is True and [v.id for v in library.list()] == before
    with pytest.raises(VoiceError, match="unknown voice 'anna'"):
        library.get("anna")


def test_a_bare_npy_still_loads_and_the_npz_wins_a_tie(tmp_path, pack):
    np.save(tmp_path / "old.npy", pack)
    np.save(tmp_path / "twin.npy", pack)
    VoiceStore(tmp_path).save(pack * 3, metadata(name="twin"))
    library = VoiceLibrary(voice_dir=tmp_path)
    assert np.array_equal(library.get("old").pack, pack) and np.array_equal(library.get("twin").pack, pack * 3)
    assert any("twin.npy" in p and "twin.npz" in p for p in library.problems)


# --- the command line ------------------------------------------------------------------------

def test_voice_list_show_remove_on_the_command_line(tmp_path, pack, capsys, monkeypatch):
    monkeypatch.setenv("ECHOIC_VOICE_DIR", str(tmp_path))
    assert echoic(["voice", "list"]) == 0
    assert "no voices" in capsys.readouterr().err
    VoiceStore(tmp_path).save(pack, metadata())
    assert echoic(["voice", "list"]) == 0
    assert capsys.readouterr().out.split("\t") == ["anna", "fr-FR", "31.5 s", "0.870", "2026-11-29T21:00:00+00:00\n"]
    assert echoic(["voice", "show", "anna"]) == 0
    out = capsys.readouterr().out
    assert "source locale: fr-FR" in out and "similarity to the reference: 0.870" in out and "loss spectral: 0.25" in out
    assert echoic(["voices", "--locale", "fr-FR"]) == 0
    assert "anna\tanna\tfemale\tfr-FR\t-\tnative" in capsys.readouterr().out
    assert echoic(["voice", "show", "bert"]) == 2
    assert "no voice named 'bert'" in capsys.readouterr().err
    assert echoic(["voice", "remove", "anna"]) == 0
    assert "removed voice 'anna'" in capsys.readouterr().out and list(tmp_path.glob("anna*")) == []
    assert echoic(["voice", "remove", "anna"]) == 2


def test_create_refuses_a_taken_name_and_a_bad_recording_before_fitting(tmp_path, pack, capsys, monkeypatch):
    """Nothing is fitted (nor torch imported) when the name or the recording is refused."""
    import sys

    monkeypatch.setenv("ECHOIC_VOICE_DIR", str(tmp_path))
    monkeypatch.setitem(sys.modules, "engine.train.clone_fit", None)  # importing it would fail loudly
    VoiceStore(tmp_path).save(pack, metadata())
    assert echoic(["voice", "create", "anna", "--audio", str(tmp_path / "x.wav")]) == 2
    assert "already exists" in capsys.readouterr().err
    assert echoic(["voice", "create", "af_heart", "--audio", str(tmp_path / "x.wav")]) == 2
    assert "bundled voice" in capsys.readouterr().err
    assert echoic(["voice", "create", "new", "--audio", str(tmp_path / "x.wav")]) == 2
    assert "x.wav: no such file" in capsys.readouterr().err
    (tmp_path / "x.wav").write_bytes(b"RIFF not really")
    assert echoic(["voice", "create", "new", "--audio", str(tmp_path / "x.wav")]) == 2
    assert "not an audio file" in capsys.readouterr().err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["anna.json", "anna.npz", "x.wav"]


def test_remove_notes_locale_settings_that_named_the_voice(tmp_path, pack, capsys, monkeypatch):
    monkeypatch.setenv("ECHOIC_VOICE_DIR", str(tmp_path / "voices"))
    settings = tmp_path / "settings.toml"
    settings.write_text('[fr-FR]\nvoice = "anna"\n')
    monkeypatch.setattr("engine.daemon.settings.default_settings_path", lambda: settings)
    VoiceStore(tmp_path / "voices").save(pack, metadata())
    assert echoic(["voice", "remove", "anna"]) == 0
    assert "the settings of fr-FR name this voice" in capsys.readouterr().err


def test_metadata_file_is_plain_json_with_the_contract_fields(tmp_path, pack):
    VoiceStore(tmp_path).save(pack, metadata())
    data = json.loads((tmp_path / "anna.json").read_text())
    assert {"name", "source_locale", "created", "reference_seconds", "losses", "similarity", "nearest",
            "gender"} <= set(data)
    with np.load(tmp_path / "anna.npz") as npz:
        assert npz.files == ["pack"] and npz["pack"].shape == (510, 256) and npz["pack"].dtype == np.float32
