"""What makes a window of the renderer differ from the whole render, proved in float torch.

Measured (docs/model.md): with whole-utterance AdaIN statistics, the whole-utterance harmonic
source and 16 context frames each side, 40-frame windows reproduce the whole render to 3.5e-6
(max |diff|); drop either the statistics or the source phase and they do not.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine import model_store  # noqa: E402
from engine.train import streaming  # noqa: E402
from engine.train.convert import load_from_onnx  # noqa: E402
from engine.train.spectral import log_mel_distance  # noqa: E402

pytestmark = pytest.mark.slow
PHRASE = "hˈɛloʊ wˈɜːld, ðɪs ɪz ə tˈɛst."
CHUNK, CONTEXT = 40, 16


@pytest.fixture(scope="module")
def case():
    torch.set_num_threads(2)
    model = load_from_onnx(model_store.read_stock_model()).eval()
    vocab = model_store.load_vocab()
    ids = [vocab[c] for c in PHRASE if c in vocab]
    style = torch.from_numpy(np.load(str(model_store.voices_file()))["jf_alpha"][len(ids) - 1].astype(np.float32))
    with torch.no_grad():
        plan = model.plan(torch.tensor([[0, *ids, 0]]), style)
        s = style[:, :128]
        with streaming.statistics(model.decoder) as stats:
            whole = model.decoder(plan.asr, plan.f0, plan.energy, s)[0].numpy()
        har = model.decoder.generator.harmonic_source(plan.f0)
    return dict(model=model, plan=plan, s=s, stats=stats, whole=whole, har=har)


def _windows(case, with_stats: bool, with_phase: bool) -> np.ndarray:
    plan, dec, whole = case["plan"], case["model"].decoder, case["whole"]
    frames = plan.asr.shape[-1]
    out = np.zeros_like(whole)
    with torch.no_grad(), streaming.fixed_statistics(dec, case["stats"], None if with_stats else ()):
        for a in range(0, frames, CHUNK):
            b = min(frames, a + CHUNK)
            lo, hi = max(0, a - CONTEXT), min(frames, b + CONTEXT)
            audio = streaming.render_window(dec, plan.asr, plan.f0, plan.energy, case["s"], lo, hi,
                                            case["har"] if with_phase else None)
            out[a * 600:b * 600] = audio[0, (a - lo) * 600:(b - lo) * 600].numpy()
    return out


def test_every_adain_is_recorded(case):
    assert len(case["stats"]) == len(streaming.adain_norms(case["model"].decoder)) == 58


def test_statistics_phase_and_context_make_windows_exact(case):
    assert case["plan"].asr.shape[-1] > 2 * CHUNK  # at least two joins
    exact = _windows(case, with_stats=True, with_phase=True)
    assert float(np.abs(exact - case["whole"]).max()) < 1e-4
    assert log_mel_distance(_windows(case, with_stats=False, with_phase=True), case["whole"]) > 0.3
    assert float(np.abs(_windows(case, with_stats=True, with_phase=False) - case["whole"]).max()) > 0.05
