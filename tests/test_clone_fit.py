"""Voice cloning's fit (engine/train/clone_fit.py): the differentiable speaker meter matches Resemblyzer,
the prior keeps the pack a voice, a fit raises similarity above its starting pack, and an
interrupted fit resumes identically."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("resemblyzer")

from engine.train.clone_fit import FitConfig, FitError, fit_voice  # noqa: E402
from engine.cloning.prior import build_space, real_packs  # noqa: E402

TARGET = "af_heart"
"""The 'speaker': a native pack's own speech, left out of the pack space the fit may use."""
START = "am_adam"
"""A deliberately different starting pack (male, where the target is female)."""
REFERENCE_TEXT = ("The morning train was late again, so we walked to the bakery and bought warm bread. "
                  "Later that afternoon my sister called to say the garden was finally full of tomatoes.")


@pytest.fixture(scope="module")
def reference():
    """About 10 s of the target pack's speech, by the shipped int8 runtime (24 kHz)."""
    from engine import model_store
    from engine.train.clone_fit import phoneme_chunks
    from engine.runtime import KokoroRuntime

    torch.set_num_threads(2)
    runtime = KokoroRuntime(model_store.ensure_model())
    pack = real_packs()[TARGET]
    parts = [runtime.render(ids, pack[len(ids) - 1], 1.0).audio
             for ids in phoneme_chunks(REFERENCE_TEXT, "en-US", model_store.load_vocab())]
    audio = np.concatenate(parts).astype(np.float32)
    assert 8.0 < len(audio) / 24000 < 14.0
    return audio


def test_torch_speaker_embedding_matches_resemblyzer(reference):
    from resemblyzer import VoiceEncoder, audio as raudio
    from scipy.signal import resample_poly

    from engine.train.speaker import ResemblyzerTorch

    encoder = VoiceEncoder("cpu", verbose=False)
    meter = ResemblyzerTorch(encoder)
    x = reference[: 24000 * 3]
    wav16 = resample_poly(x.astype(np.float64), 2, 3).astype(np.float32)
    torch_wav16 = meter.resample(torch.tensor(x)[None])[0].numpy()
    assert np.abs(torch_wav16 - wav16).max() < 1e-5
    mel = raudio.wav_to_mel_spectrogram(wav16)
    torch_mel = meter.mel(torch.tensor(wav16)[None])[0].numpy()
    assert np.abs(torch_mel - mel).max() < 1e-4 * mel.max()
    expected = encoder.embed_utterance(raudio.normalize_volume(wav16, -30))
    got = meter(torch.tensor(x)[None])[0].detach().numpy()
    assert float(expected @ got) > 0.9999  # measured 1.0000


def test_prior_space_holds_every_real_pack_and_bounds_coefficients():
    packs = real_packs()
    space = build_space(packs)
    for name in ("af_heart", "jm_kumo", "ff_siwis"):
        assert np.abs(space.pack(space.coefficients[name]) - packs[name]).max() < 1e-5
    z = np.stack(list(space.coefficients.values()))
    assert z.shape == (len(packs), 2, len(packs) - 1)
    # The real packs have unit spread along each component (the prior's scale).
    assert np.allclose(z.std(axis=0, ddof=1), 1.0, atol=1e-3)


def test_checkpoint_of_another_fit_is_refused(reference, tmp_path):
    ckpt = tmp_path / "fit.ckpt"
    cfg = FitConfig(steps=1, crop_frames=24, start=START, exclude=(TARGET,), checkpoint_every=1)
    fit_voice(reference, 24000, None, "en-US", cfg, checkpoint=ckpt)
    with pytest.raises(FitError, match="belongs to another fit"):
        fit_voice(reference[: len(reference) // 2 * 2][::2].copy(), 12000, None, "en-US", cfg, checkpoint=ckpt)


def test_interrupted_fit_resumes_identically_and_prior_bounds_hold(reference, tmp_path):
    cfg = FitConfig(steps=4, crop_frames=24, start=START, exclude=(TARGET,), checkpoint_every=2,
                    lr=5.0, w_prior=0.0)  # a wild learning rate: only the box keeps z in place
    whole = fit_voice(reference, 24000, REFERENCE_TEXT, "en-US", cfg)

    class Stop(Exception):
        pass

    def stop_after_two(step, total, losses):
        if step == 2:
            raise Stop

    ckpt = tmp_path / "fit.ckpt"
    with pytest.raises(Stop):
        fit_voice(reference, 24000, REFERENCE_TEXT, "en-US", cfg, checkpoint=ckpt, progress=stop_after_two)
    assert ckpt.exists()
    seen = []
    resumed = fit_voice(reference, 24000, REFERENCE_TEXT, "en-US", cfg, checkpoint=ckpt,
                        progress=lambda step, total, losses: seen.append(step))
    assert seen == [3, 4]
    assert resumed.steps == whole.steps == 4
    assert np.array_equal(resumed.pack, whole.pack)
    # The box: no coefficient beyond 1.1x the largest any real pack has, however large the steps.
    space = build_space(real_packs((TARGET,)))
    bound = np.abs(np.stack(list(space.coefficients.values()))).max(axis=0) * cfg.box
    state = torch.load(ckpt, weights_only=False)
    z = state["z"].numpy()
    assert state["step"] == 4 and np.abs(z).max() > 2.0  # it did move far ...
    assert np.all(np.abs(z) <= bound + 1e-6)  # ... but no further than the box
    assert np.abs(state["residual"].numpy()).max() <= cfg.residual_limit + 1e-6
    assert np.all(np.isfinite(whole.pack)) and whole.pack.shape == (510, 256)


def test_fit_raises_similarity_above_its_starting_pack(reference):
    progress = []
    result = fit_voice(reference, 24000, REFERENCE_TEXT, "en-US",
                       FitConfig(steps=8, crop_frames=48, start=START, exclude=(TARGET,)),
                       progress=lambda step, total, losses: progress.append(losses["speaker"]))
    assert result.nearest == START
    assert result.pack.shape == (510, 256) and result.pack.dtype == np.float32
    start = result.losses["similarity_start"]
    print(f"similarity start {start:.3f} -> fitted {result.similarity:.3f}; speaker loss {progress}")
    assert result.similarity > start + 0.05  # measured 0.641 -> 0.843


def test_a_fit_can_also_hold_the_speaker_in_other_languages(reference):
    """`FitConfig.cross_locales`: each step also renders a crop of another language's fitting
    text and adds its speaker term; the fit then moves elsewhere than without it."""
    from engine.errors import EchoicError

    cfg = FitConfig(steps=2, crop_frames=24, start=START, exclude=(TARGET,))
    plain = fit_voice(reference, 24000, REFERENCE_TEXT, "en-US", cfg)
    seen = []
    cross = fit_voice(reference, 24000, REFERENCE_TEXT, "en-US", replace(cfg, cross_locales=("es-ES", "it-IT")),
                      progress=lambda step, total, losses: seen.append(losses))
    assert "cross_speaker" not in plain.losses and all(0.0 < s["cross_speaker"] < 2.0 for s in seen)
    assert all(s["total"] > s["speaker"] + s["cross_speaker"] * 0.99 for s in seen)  # weighted 1 in the total
    assert np.abs(cross.pack - plain.pack).max() > 1e-3
    with pytest.raises(EchoicError, match="xx-XX"):
        fit_voice(reference, 24000, REFERENCE_TEXT, "en-US", replace(cfg, cross_locales=("xx-XX",)))


def test_eval_clone_summary_ceiling_and_document(tmp_path):
    """The evaluation's arithmetic on a crafted cache: ceiling is leave-one-out, sims are against
    the held-out centroid, and --doc replaces only the page's Evaluation section."""
    from engine.evaluation import clone

    rng = np.random.default_rng(0)
    speaker = rng.normal(size=256)
    held = {f"h{i}.wav": {"emb": (speaker + 0.3 * rng.normal(size=256)).tolist(),
                          "emb2": (speaker + 0.3 * rng.normal(size=256)).tolist()} for i in range(5)}
    near = {"emb": (speaker + 3.0 * rng.normal(size=256)).tolist(), "emb2": (speaker + 3.0 * rng.normal(size=256)).tolist()}
    rows = {}
    for i in range(2):
        rows[f"clone|en-US|{i}"] = {"target": 0.9, "wer": 0.1, "emb": held["h0.wav"]["emb"], "emb2": held["h0.wav"]["emb2"]}
        rows[f"nearest|en-US|{i}"] = near | {"target": float("nan"), "wer": float("nan")}
        rows[f"default|en-US|{i}"] = {"target": 0.95, "wer": 0.05, "emb": near["emb"], "emb2": near["emb2"]}
    cache = clone.Cache(tmp_path / "c.json")
    cache.data["spk"] = {"rows": rows, "held": held, "set": "held-out", "locale": "en-US", "nearest": "af_x"}
    c1, c2 = clone.ceiling(cache.data["spk"])
    assert 0.85 < c1 < 1.0 and 0.85 < c2 < 1.0
    summary = {(s["locale"], s["system"]): s for s in clone.summarise(cache.data["spk"])}
    assert summary[("en-US", "clone")]["sim"] > 0.9 > 0.5 > summary[("en-US", "nearest")]["sim"]
    doc = tmp_path / "cloning.md"
    doc.write_text("# Voice cloning\n\nUsage by hand.\n\n## Evaluation\n\nold table\n", encoding="utf-8")
    pytest.importorskip("matplotlib")
    clone.write_doc(doc, cache, ["echoic eval clone ..."])
    page = doc.read_text(encoding="utf-8")
    assert page.startswith("# Voice cloning\n\nUsage by hand.\n\n## Evaluation")
    assert "old table" not in page and "| spk (af_x) | held-out | **en-US** |" in page
    assert doc.with_suffix(".png").stat().st_size > 1000
