"""`echoic train adapter`: the objective goes down, training resumes exactly, the file loads.

Lean on purpose: a tiny dataset in the contract's format (docs/training.md) made by the runtime's
planner (a native French pack, ff_siwis, planning two short phrases; training reads only the plans),
one student voice, a few steps on the real stock model (the 2-core machine does a step in a few
seconds).
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("peft")

from engine import model_store  # noqa: E402
from engine.adapters import read_adapter  # noqa: E402
from engine.errors import ConfigError  # noqa: E402
from engine.train.adapter_training import (AdapterTrainer, AdapterTrainingConfig, LOSS_NAMES,  # noqa: E402
                                           read_dataset, train)
from engine.train.convert import load_from_onnx  # noqa: E402
from engine.train.lora import load_adapter  # noqa: E402

pytestmark = pytest.mark.slow

PHRASES = ("bɔ̃ʒˈuʁ", "mɛʁsˈi bjˈɛ̃")  # "bonjour", "merci bien": 7 and 10 ids, about 40 frames each


def write_dataset(folder, phrases=PHRASES, teacher="ff_siwis", locale="fr-FR"):
    """A dataset in the manifest format of `echoic train data`, planned by the runtime (no audio:
    the trainer reads the plans; `wav` names a file that is never opened)."""
    from engine.runtime import KokoroRuntime, RuntimeConfig
    from engine.voices import VoiceLibrary

    vocab = model_store.load_vocab()
    runtime = KokoroRuntime(model_store.ensure_model(), RuntimeConfig(threads=2))
    library = VoiceLibrary()
    (folder / "plans").mkdir(parents=True)
    lines = []
    for n, phonemes in enumerate(phrases):
        ids = [vocab[c] for c in phonemes if c in vocab]
        plan = runtime.plan(ids, library.get(teacher).style(len(ids)), 1.0)
        buf = io.BytesIO()
        np.savez(buf, durations=plan.durations, f0=plan.f0.reshape(-1), energy=plan.energy.reshape(-1))
        (folder / f"plans/u{n}.npz").write_bytes(buf.getvalue())
        lines.append(json.dumps({"id": f"u{n}", "text": phonemes, "phonemes": phonemes, "ids": ids,
                                 "teacher": f"kokoro:{teacher}", "wav": f"wavs/u{n}.wav", "plan": f"plans/u{n}.npz",
                                 "split": "train", "weight": 1.0}))
    lines.append(json.dumps({"id": "m0", "text": "x", "phonemes": "x", "ids": [1], "teacher": "mbrola:fr1",
                             "wav": "wavs/m0.wav", "plan": None, "split": "train", "weight": 1.0}))
    (folder / "manifest.jsonl").write_text("\n".join(lines) + "\n", encoding="utf-8")
    (folder / "dataset.json").write_text(json.dumps({"format": 1, "locale": locale, "teachers": [teacher],
                                                     "counts": {}, "created": "test"}), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def dataset_dir(tmp_path_factory):
    return write_dataset(tmp_path_factory.mktemp("adapter-data"))


@pytest.fixture(scope="module")
def base_state():
    torch.set_num_threads(2)
    return load_from_onnx(model_store.read_stock_model()).state_dict()


def fresh_model(base_state):
    from engine.train.kokoro_torch import KModel

    model = KModel()
    model.load_state_dict(base_state)
    return model


def config(dataset_dir, **kw):
    defaults = dict(locale="fr-FR", data_dir=dataset_dir, steps=6, voices=("am_michael",), drop_style=0.0, lr=3e-3,
                    checkpoint_every=2, threads=2, device="cpu")
    return AdapterTrainingConfig(**{**defaults, **kw})


def test_dataset_reader_keeps_kokoro_plans_and_counts_the_rest(dataset_dir):
    data = read_dataset(dataset_dir, "fr-FR")
    assert [u.id for u in data.utterances] == ["u0", "u1"]
    assert data.skipped == {"no Kokoro plan (teacher mbrola)": 1}
    u = data.utterances[0]
    assert u.tokens[0] == u.tokens[-1] == 0 and len(u.durations) == len(u.tokens)
    assert u.f0.shape == (2 * u.frames,) and u.teacher == "ff_siwis"
    with pytest.raises(ConfigError, match="expected format 1 for it-IT"):
        read_dataset(dataset_dir, "it-IT")
    with pytest.raises(ConfigError, match="no usable train utterance"):
        read_dataset(dataset_dir, "fr-FR", max_frames=4)


def test_loss_goes_down_on_a_fixed_pair(dataset_dir, base_state):
    """One utterance, one voice, no style dropout: every step trains on the same pair, so the
    objective on it must fall. Measured: total 1.29 -> 1.11 after 6 steps (content 0.52 -> 0.33,
    log-duration 0.095 -> 0.003; identity 0 -> 0.08)."""
    trainer = AdapterTrainer(config(dataset_dir), read_dataset(dataset_dir, "fr-FR"), model=fresh_model(base_state))
    trainer.dataset.utterances = trainer.dataset.utterances[:1]
    trainer._p = np.ones(1)
    pair = [(trainer.dataset.utterances[0], "am_michael", False)]
    before = trainer.evaluate(pair)
    assert before["identity"] < 1e-4  # the adapter starts at zero: the student is the unadapted voice
    assert before["content"] > 0.2  # am_michael is not ff_siwis: its French is not hers
    for _ in range(6):
        trainer.step()
    after = trainer.evaluate(pair)
    assert after["total"] < 0.92 * before["total"], (before, after)
    assert after["content"] < 0.8 * before["content"]
    assert after["duration"] < 0.5 * before["duration"]
    assert after["identity"] < 0.2  # identity is held while the content moves


def test_resume_continues_with_identical_state(dataset_dir, base_state, tmp_path):
    cfg = config(dataset_dir, voices=("am_michael", "jf_alpha"), drop_style=0.5, steps=4)
    straight = train(cfg, tmp_path / "a.npz", tmp_path / "a.ckpt", model=fresh_model(base_state))
    # Interrupted after 2 steps (the checkpoint written at step 2), then resumed to 4 by a new process.
    half = AdapterTrainingConfig(**{**cfg.__dict__, "steps": 2})
    train(half, tmp_path / "b.npz", tmp_path / "b.ckpt", model=fresh_model(base_state))
    resumed = train(cfg, tmp_path / "b.npz", tmp_path / "b.ckpt", model=fresh_model(base_state))
    assert resumed.step_count == straight.step_count == 4
    assert [r["pairs"] for r in resumed.history] == [r["pairs"] for r in straight.history]
    assert any("/null" in p for r in straight.history for p in r["pairs"])  # the null branch was drawn
    a, b = dict(straight._lora_parameters()), dict(resumed._lora_parameters())
    for name in a:
        assert torch.allclose(a[name], b[name], atol=1e-6), name
    assert torch.allclose(straight.null_style, resumed.null_style, atol=1e-6)
    assert float(sum((p.detach() ** 2).sum() for n, p in a.items() if "lora_B" in n)) > 0  # it did train
    # A checkpoint of another configuration is refused, not silently mixed in.
    other = AdapterTrainingConfig(**{**cfg.__dict__, "rank": 2})
    with pytest.raises(ConfigError, match="another configuration"):
        train(other, tmp_path / "c.npz", tmp_path / "b.ckpt", model=fresh_model(base_state))


def test_written_adapter_loads_with_the_contract_reader(dataset_dir, base_state, tmp_path):
    cfg = config(dataset_dir, steps=2)
    trainer = train(cfg, tmp_path / "fr-FR.npz", tmp_path / "x.ckpt", model=fresh_model(base_state))
    adapter = read_adapter(tmp_path / "fr-FR.npz")
    assert adapter.locale == "fr-FR" and adapter.rank == 4
    assert set(adapter.targets) == set(trainer.targets)
    assert not any(t.startswith("decoder.generator") for t in adapter.targets)
    assert adapter.null_style.shape == (128,) and np.isfinite(adapter.null_style).all()
    meta = adapter.meta["training"]
    assert meta["steps"] == 2 and set(meta["losses"]["last_20"]) == {*LOSS_NAMES, "total"}
    assert meta["data"]["utterances"] == 2 and "date" in meta
    assert (tmp_path / "fr-FR.npz").stat().st_size < 800 * 1024  # rank 4, float32: measured 0.73 MB
    # The torch twin with the file applied computes what the trainer's model computes.
    u = trainer.dataset.utterances[0]
    with torch.no_grad():
        expected = trainer._student(u, "am_michael", trainer._style("am_michael", len(u.tokens) - 2)[:, 128:])[3]
        loaded = load_adapter(fresh_model(base_state).eval(), tmp_path / "fr-FR.npz")  # eval: no dropout
        trainer_model, trainer.model = trainer.model, loaded.get_base_model()
        try:
            got = trainer._student(u, "am_michael", trainer._style("am_michael", len(u.tokens) - 2)[:, 128:])[3]
        finally:
            trainer.model = trainer_model
        with trainer.peft.disable_adapter():
            base = trainer._student(u, "am_michael", trainer._style("am_michael", len(u.tokens) - 2)[:, 128:])[3]
    delta = float((got - expected).abs().max())
    assert delta < 1e-3, delta
    assert float((expected - base).abs().max()) > 100 * delta  # the trained adapter does change the features


def test_targets_narrow_the_adapted_modules(dataset_dir, base_state, tmp_path):
    """`targets` adapts only the matching modules of the default set, names them in the file and
    in the checkpoint's configuration; a pattern that matches nothing is an error."""
    cfg = config(dataset_dir, steps=2, targets=(r"predictor\..*", "bert_encoder"))
    trainer = train(cfg, tmp_path / "fr-FR.npz", tmp_path / "t.ckpt", model=fresh_model(base_state))
    assert trainer.targets and all(t.startswith("predictor.") or t == "bert_encoder" for t in trainer.targets)
    assert "bert_encoder" in trainer.targets and any(".duration_proj." in t for t in trainer.targets)
    # Never the energy predictor: loudness is the voice's (adapting it muted first words).
    assert any(t.startswith("predictor.F0.") for t in trainer.targets)
    assert not any(t.startswith("predictor.N.") for t in trainer.targets)
    assert set(read_adapter(tmp_path / "fr-FR.npz").targets) == set(trainer.targets)
    assert cfg.identity()["targets"] == [r"predictor\..*", "bert_encoder"]
    assert "targets" not in config(dataset_dir).identity()  # checkpoints from before the option still resume
    with pytest.raises(ConfigError, match="no module of the model matches"):
        AdapterTrainer(config(dataset_dir, targets=("decoder.generator.*",)), read_dataset(dataset_dir, "fr-FR"),
                       model=fresh_model(base_state))
