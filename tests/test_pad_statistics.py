"""Pad statistics (engine/train/pad_statistics.py), in float torch: a word rendered without its pad
sounds like its whole render when each norm mixes its own frames' statistics with the pad's,
learnt from *other* words of the voice; mixing nothing (share 0) is the plain norm exactly."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine import model_store  # noqa: E402
from engine.train import pad_statistics as ps  # noqa: E402
from engine.train.convert import load_from_onnx  # noqa: E402

pytestmark = pytest.mark.slow
WORDS = {"Hello": "hələʊ", "seven": "sˈɛvən", "window": "wˈɪndəʊ"}


@pytest.fixture(scope="module")
def words():
    torch.set_num_threads(2)
    model = load_from_onnx(model_store.read_stock_model()).eval()
    vocab = model_store.load_vocab()
    pack = np.load(str(model_store.voices_file()))["jf_alpha"]
    out = {}
    for text, phonemes in WORDS.items():
        ids = [vocab[c] for c in phonemes if c in vocab]
        out[text] = ps.Word(model, ids, torch.from_numpy(pack[len(ids) - 1].astype(np.float32)))
    return out


def test_share_zero_is_the_plain_norm(words):
    w = words["Hello"]
    name, norm = next(iter(ps.adain_norms(w.model.decoder).items()))
    x = torch.randn(1, w.pad[name][0].shape[1], 40)
    s = w.style[:, :128]
    plain = norm(x, s)
    with ps.mixed_statistics(w.model.decoder, w.pad, 0.0):
        mixed = norm(x, s)
    assert torch.allclose(plain, mixed, atol=1e-5)
    assert "forward" not in vars(norm)  # the block restores the class's forward


def test_other_words_pad_statistics_bring_the_cut_to_the_whole_render(words):
    """Measured: plain 0.6-2.4 log-mel (the pad's statistics missing), own pad 0.1-0.2, other
    words' pad 0.2-0.3 (engine/train/pad_statistics.py, docs/latency.md)."""
    w = words["Hello"]
    assert 0.2 < w.share < 0.7 and w.pad and all(m.shape == m2.shape for m, m2 in w.pad.values())
    plain = w.cut_distance(None)
    own = w.cut_distance(w.pad)
    others = w.cut_distance(ps.pooled([words["seven"].pad, words["window"].pad]))
    assert plain > 0.5
    assert own < 0.3 and others < 0.4
    assert others < plain / 2
