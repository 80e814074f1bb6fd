"""engine/train/lighter_generator.py's probe: the generator's last stage replaced (the twin's
`Generator.forward(last_stage=...)`), and nothing else; its spectral loss sees differences."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine import model_store  # noqa: E402
from engine.train import lighter_generator as lg  # noqa: E402
from engine.train.convert import load_from_onnx  # noqa: E402

pytestmark = pytest.mark.slow


def test_the_last_stage_is_replaced_and_nothing_else():
    """The three-block average given as the last stage is the model's own render, bit for bit."""
    torch.set_num_threads(2)
    model = load_from_onnx(model_store.read_stock_model()).eval()
    vocab = model_store.load_vocab()
    ids = [vocab[c] for c in "həlˈoʊ" if c in vocab]
    style = torch.from_numpy(np.load(str(model_store.voices_file()))["jf_alpha"][len(ids) - 1].astype(np.float32))
    gen = model.decoder.generator
    with torch.no_grad():
        p = model.plan(torch.tensor([[0, *ids, 0]]), style)
        seen = {}
        hook = gen.register_forward_pre_hook(lambda m, args: seen.update(x=args[0], s=args[1], f0=args[2]))
        whole = model.render(p.asr, p.f0, p.energy, style)
        hook.remove()
        same = gen(seen["x"], seen["s"], seen["f0"], last_stage=lambda x, s: sum(
            gen.resblocks[3 + j](x, s) for j in range(gen.num_kernels)) / gen.num_kernels)
        one = gen(seen["x"], seen["s"], seen["f0"], last_stage=gen.resblocks[3])
    assert torch.equal(same, whole) and same.shape[-1] == 600 * int(p.durations.sum())
    assert one.shape == whole.shape and not torch.allclose(one, whole, atol=1e-3)
    assert lg._spectral_loss(whole, whole).item() == 0.0 and lg._spectral_loss(one, whole).item() > 0.1
