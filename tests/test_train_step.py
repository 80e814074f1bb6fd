"""A gradient step on the rebuilt torch Kokoro changes what it outputs (it is trainable)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from engine import model_store  # noqa: E402
from engine.train.convert import load_from_onnx  # noqa: E402

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def model_and_inputs():
    torch.set_num_threads(2)
    model = load_from_onnx(model_store.read_stock_model())
    vocab = model_store.load_vocab()
    ids = [vocab[c] for c in "həlˈoʊ" if c in vocab]
    style = np.load(str(model_store.voices_file()))["jf_alpha"][len(ids) - 1].astype(np.float32)
    return model, torch.tensor([[0, *ids, 0]]), torch.from_numpy(style)


def test_gradient_step_on_pitch_head_moves_f0(model_and_inputs):
    model, tokens, style = model_and_inputs
    with torch.no_grad():
        before = model.plan(tokens, style)
    head = model.predictor.F0_proj
    saved = {k: v.clone() for k, v in head.state_dict().items()}
    model.requires_grad_(False)
    head.requires_grad_(True)  # train the pitch head alone, as an adapter would
    try:
        plan = model.plan(tokens, style, durations=before.durations)  # teacher-forced durations
        target = before.f0 + 20.0  # sing 20 Hz higher
        loss = torch.mean((plan.f0 - target) ** 2)
        loss.backward()
        assert head.weight.grad is not None and head.weight.grad.abs().sum() > 0
        assert model.bert.embeddings.word_embeddings.weight.grad is None  # frozen parts get no gradient
        # Half a Polyak step on a linear head: the error must drop (measured 400 -> 248 Hz^2).
        grad_sq = sum(float((p.grad ** 2).sum()) for p in head.parameters())
        torch.optim.SGD(head.parameters(), lr=0.5 * loss.item() / grad_sq).step()
        with torch.no_grad():
            after = model.plan(tokens, style, durations=before.durations)
            new_loss = torch.mean((after.f0 - target) ** 2)
        assert new_loss.item() < 0.8 * loss.item()
        assert float((after.f0 - before.f0).abs().mean()) > 1.0  # Hz
    finally:
        head.load_state_dict(saved)
        model.requires_grad_(True)
        model.zero_grad(set_to_none=True)


def test_gradient_step_on_decoder_changes_audio(model_and_inputs):
    model, tokens, style = model_and_inputs
    with torch.no_grad():
        plan = model.plan(tokens, style)
        before = model.render(plan.asr, plan.f0, plan.energy, style)
    layer = model.decoder.generator.conv_post
    saved = {k: v.clone() for k, v in layer.state_dict().items()}
    optimizer = torch.optim.Adam(layer.parameters(), lr=1e-3)
    try:
        audio = model.render(plan.asr, plan.f0, plan.energy, style)
        loss = audio.abs().mean()  # make it quieter
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            after = model.render(plan.asr, plan.f0, plan.energy, style)
        assert after.shape == before.shape
        assert float(after.abs().mean()) < float(before.abs().mean())
        assert float((after - before).abs().max()) > 1e-3
    finally:
        layer.load_state_dict(saved)
        model.zero_grad(set_to_none=True)
