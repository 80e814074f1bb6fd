"""Locale adapters at run time (no torch): the LoRA branches in the int8 graphs, the adapter files,
switching per call, and the conditioning seam's one decision (docs/adapters.md).

Test adapters are random format-1 files (`adapter_graphs.write_random_adapter`, default rank and
targets) in a temporary folder; nothing here needs torch."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine import model_store
from engine.adapter_graphs import add_lora_branches, split_sites, write_random_adapter
from engine.adapters import DEFAULT_TARGETS, AdapterError, AdapterSet, load_adapters, read_adapter
from engine.conditioning import Conditioner, native_prosody
from engine.errors import LocaleError
from engine.guidance import Guidance
from engine.locales import get_locale
from engine.runtime import KokoroRuntime, RuntimeConfig
from engine.voices import VoiceLibrary

pytestmark = pytest.mark.slow

IDS = [50, 83, 54, 156, 57, 135, 16, 43, 102, 56, 156, 68]


@pytest.fixture(scope="module")
def sites():
    return split_sites(DEFAULT_TARGETS)


@pytest.fixture(scope="module")
def folder(tmp_path_factory, sites):
    folder = tmp_path_factory.mktemp("adapters")
    write_random_adapter(folder / "fr-FR.npz", "fr-FR", sites, seed=1)
    write_random_adapter(folder / "de-DE.npz", "de-DE", sites, seed=2, null_style=False, teachers=("ef_dora",))
    return folder


@pytest.fixture(scope="module")
def runtimes(folder):
    model = model_store.ensure_model()
    config = RuntimeConfig(threads=2, use_gpu=False)
    return KokoroRuntime(model, config), KokoroRuntime(model, config, load_adapters(folder))


@pytest.fixture(scope="module")
def voices():
    library = VoiceLibrary()
    return {v: library.get(v).style(len(IDS)) for v in ("af_heart", "jf_alpha")}


def test_default_targets_all_have_an_int8_node(sites):
    assert sorted(sites) == sorted(DEFAULT_TARGETS)
    assert {s.op for s in sites.values()} == {"MatMulInteger", "ConvInteger"}


def same_plan(a, b):
    return (np.array_equal(a.durations, b.durations) and np.array_equal(a.features, b.features)
            and np.array_equal(a.f0, b.f0) and np.array_equal(a.energy, b.energy))


def test_loading_does_not_activate_and_zero_adapters_are_the_base_bit_for_bit(runtimes, voices):
    """The adapted graphs with no adapter named (their zero defaults) are today's split graphs."""
    base, adapted = runtimes
    assert adapted.adapters.locales == ("de-DE", "fr-FR")
    for style in voices.values():
        p0, p1 = base.plan(IDS, style, 1.0), adapted.plan(IDS, style, 1.0)
        assert same_plan(p0, p1)
        a0, a1 = base.render_planned(p0, style), adapted.render_planned(p0, style)
        assert float(np.abs(a0 - a1).max()) <= 0.0


def test_an_adapter_changes_the_plan_and_the_audio(runtimes, voices):
    _, adapted = runtimes
    style = voices["af_heart"]
    base, fr = adapted.plan(IDS, style, 1.0), adapted.plan(IDS, style, 1.0, adapter="fr-FR")
    assert not np.array_equal(base.features, fr.features)  # text encoder adapted
    if np.array_equal(base.durations, fr.durations):
        assert not np.array_equal(base.f0, fr.f0)
    a0, a1 = adapted.render_planned(base, style), adapted.render_planned(base, style, adapter="fr-FR")
    assert a0.shape == a1.shape
    assert float(np.abs(a0 - a1).max()) > 1e-3


def test_switching_per_call_equals_per_locale_runs(runtimes, voices):
    """A sequence mixing locales gives each call exactly what a run of that locale alone gives."""
    _, adapted = runtimes
    style = voices["jf_alpha"]
    alone = {tag: adapted.plan(IDS, style, 1.0, adapter=tag) for tag in ("fr-FR", "de-DE", None)}
    audio = {tag: adapted.render_planned(alone[None], style, adapter=tag) for tag in ("fr-FR", None)}
    for tag in ("de-DE", None, "fr-FR", "de-DE", "fr-FR", None):
        assert same_plan(adapted.plan(IDS, style, 1.0, adapter=tag), alone[tag])
    for tag in ("fr-FR", None, "fr-FR"):
        assert np.array_equal(adapted.render_planned(alone[None], style, adapter=tag), audio[tag])


def test_an_adapter_that_is_not_loaded_is_an_error(runtimes, voices):
    base, adapted = runtimes
    with pytest.raises(AdapterError, match="it-IT"):
        adapted.plan(IDS, voices["af_heart"], 1.0, adapter="it-IT")
    with pytest.raises(AdapterError, match="fr-FR"):
        base.plan(IDS, voices["af_heart"], 1.0, adapter="fr-FR")
    with pytest.raises(AdapterError, match="it-IT"):
        AdapterSet().get("it-IT")
    with pytest.raises(LocaleError):
        Conditioner(adapters=["xx-YY"])


def test_guidance_through_the_runtime(runtimes, voices, folder):
    """w = 1 is the conditional plan, w = 0 the unconditional one (exactly); in between the
    durations lie between the branches' and every curve has 2 steps per frame."""
    _, adapted = runtimes
    style = voices["af_heart"]
    null = read_adapter(folder / "fr-FR.npz").null_style
    cond = adapted.plan(IDS, style, 1.0, adapter="fr-FR")
    uncond_style = style.copy()
    uncond_style[:, 128:] = null
    uncond = adapted.plan(IDS, uncond_style, 1.0, adapter="fr-FR")
    assert same_plan(adapted.plan(IDS, style, 1.0, adapter="fr-FR", guidance=Guidance(null, 1.0)), cond)
    assert same_plan(adapted.plan(IDS, style, 1.0, adapter="fr-FR", guidance=Guidance(null, 0.0)), uncond)
    half = adapted.plan(IDS, style, 1.0, adapter="fr-FR", guidance=Guidance(null, 0.5))
    lo, hi = np.minimum(cond.durations, uncond.durations), np.maximum(cond.durations, uncond.durations)
    assert np.all(half.durations >= lo) and np.all(half.durations <= hi)
    assert half.f0.shape[-1] == half.energy.shape[-1] == 2 * half.frames == 2 * int(half.durations.sum())
    assert np.isfinite(adapted.render_planned(half, style, adapter="fr-FR")).all()


def _rewrite(src, dst, change):
    with np.load(src, allow_pickle=False) as data:
        arrays = {k: np.asarray(data[k]) for k in data.files}
    change(arrays)
    np.savez(dst, **arrays)
    return dst


def test_bad_files_are_refused_naming_file_and_key(folder, tmp_path, runtimes):
    src = folder / "fr-FR.npz"
    key = "decoder.decode.0.norm1.fc.lora_A"

    def meta(arrays, **changes):
        m = json.loads(str(arrays["__meta__"][()]))
        m.update(changes)
        arrays["__meta__"] = np.array(json.dumps(m))

    cases = {
        "unknown key": (lambda a: a.__setitem__("decoder.nothing.lora_A", np.zeros((8, 4), np.float32)), "decoder.nothing"),
        "NaN": (lambda a: a[key].__setitem__((0, 0), np.nan), key),
        "wrong rank": (lambda a: a.__setitem__(key, a[key][:4]), key),
        "another model": (lambda a: meta(a, base_model_sha256="0" * 64), "base_model_sha256"),
        "unknown locale": (lambda a: meta(a, locale="xx-YY"), "xx-YY"),
        "null style": (lambda a: a.__setitem__("null_style", np.zeros(64, np.float32)), "null_style"),
        "teachers": (lambda a: meta(a, training={"data": {"teachers": "ef_dora"}}),
                     "training.data.teachers must be a list of voice ids, not 'ef_dora'"),
        "training data": (lambda a: meta(a, training={"data": ["ef_dora"]}), "training.data must be a JSON object"),
    }
    for why, (change, named) in cases.items():
        bad = _rewrite(src, tmp_path / "fr-FR.npz", change)
        with pytest.raises(AdapterError, match=named) as err:
            read_adapter(bad)
        assert "fr-FR.npz" in str(err.value), why
    (tmp_path / "fr-FR.npz").write_bytes(b"not a zip")
    with pytest.raises(AdapterError, match="fr-FR.npz"):
        read_adapter(tmp_path / "fr-FR.npz")
    # a file named for another locale than its own
    other = tmp_path / "named"
    other.mkdir()
    (other / "it-IT.npz").write_bytes(src.read_bytes())
    with pytest.raises(AdapterError, match="file name"):
        load_adapters(other)
    # consistent A and B of the wrong width for the model's weight: refused when bound to the graphs
    def widen(a):
        k = "predictor.duration_proj.linear_layer"
        a[k + ".lora_A"] = np.zeros((8, 100), np.float32)
    wide = other / "w"
    wide.mkdir()
    _rewrite(src, wide / "fr-FR.npz", widen)
    with pytest.raises(AdapterError, match="duration_proj.linear_layer.lora_A"):
        KokoroRuntime(model_store.ensure_model(), RuntimeConfig(threads=1, use_gpu=False), load_adapters(wide))


def test_an_empty_folder_loads_nothing(tmp_path):
    assert len(load_adapters(tmp_path)) == 0 and len(load_adapters(tmp_path / "missing")) == 0


def test_shipped_adapters_all_load():
    """Whatever ships in engine/adapters/ is valid for this model (none today is fine)."""
    shipped = load_adapters()
    for tag in shipped:
        assert get_locale(tag).tag == tag


def test_conditioning_one_decision(folder):
    """With an adapter the voice keeps its own row and accent_strength is the guidance strength;
    without one, the accent function moves the style as before."""
    library = VoiceLibrary()
    adapters = load_adapters(folder)
    moved = []

    def accent(voice, tag, strength):
        moved.append(tag)
        return library.accented(voice, tag, strength)

    conditioner = Conditioner(accent=accent, adapters=adapters, native_prosody=native_prosody(library))
    voice = library.get("af_heart")
    fr, de, it = (get_locale(t) for t in ("fr-FR", "de-DE", "it-IT"))
    c = conditioner.condition(voice, fr, 20, 0.3)
    assert c.adapter == "fr-FR" and np.array_equal(c.style, voice.style(20)) and moved == []
    assert c.guidance.strength == 0.3 and np.array_equal(c.guidance.unconditional[0], adapters.null_style("fr-FR"))
    assert c.planner_options() == {"adapter": "fr-FR", "guidance": c.guidance}
    assert conditioner.condition(voice, fr, 20, 1.0).guidance is None  # the conditional branch alone
    # de-DE's file has no null style: the native average (no native German pack: every native pack)
    d = conditioner.condition(voice, de, 20, 0.0)
    natives = [library.get(i.id).style(20)[0, 128:] for t in ("en-US", "en-GB", "es-ES", "fr-FR", "it-IT")
               for i in library.native(t)]
    assert np.allclose(d.guidance.unconditional[0], np.mean(natives, axis=0), atol=1e-6)
    assert conditioner.voice_for(voice, fr, 0.3) is voice
    i = conditioner.condition(voice, it, 20, 0.3)
    assert i.adapter is None and i.guidance is None and moved == ["it-IT"] and i.planner_options() == {}
    assert c.digest != conditioner.condition(voice, fr, 20, 0.6).digest
    # the locale's natives speak through the base model, their own row, at any strength
    siwis = library.get("ff_siwis")
    native = conditioner.condition(siwis, fr, 20, 0.3)
    assert conditioner.adapter_for(siwis, fr) is None and conditioner.adapter_for(voice, fr) == "fr-FR"
    assert native.adapter is None and native.guidance is None and np.array_equal(native.style, siwis.style(20))
    # and so does a voice the adapter was taught by (German has no native voice; ef_dora teaches it)
    dora = library.get("ef_dora")
    assert adapters.teachers("de-DE") == {"ef_dora"} and adapters.teachers("fr-FR") == frozenset()
    taught = conditioner.condition(dora, de, 20, 0.3)
    assert conditioner.adapter_for(dora, de) is None and conditioner.adapter_for(voice, de) == "de-DE"
    assert taught.adapter is None and taught.guidance is None and np.array_equal(taught.style, dora.style(20))
    assert conditioner.adapter_for(dora, fr) == "fr-FR"  # a teacher of one locale's adapter only
    assert Conditioner().condition(voice, fr, 20).digest == i.__class__(voice.style(20)).digest


def test_branches_patch_every_albert_repeat(sites):
    """A shared module (ALBERT's layer, 12 nodes) gets a branch on each of its nodes."""
    import onnx

    from engine.graphs import ensure_split_models

    planner, _ = ensure_split_models()
    target = "bert.encoder.albert_layer_groups.0.albert_layers.0.attention.query"
    patched, found = add_lora_branches(planner.read_bytes(), [target])
    model = onnx.load_from_string(patched)
    assert target in found and sum(n.name.endswith("/add") for n in model.graph.node) == 12


def test_the_engine_speaks_a_locale_through_its_adapter(runtimes):
    """An engine on the adapted runtime picks up its adapters at the seam: French goes through
    fr-FR's adapter (at the default strength), English (no adapter) and the French voice's French
    are unchanged; `status` names the adapters loaded."""
    from engine.api import SpeechRequest
    from engine.config import EngineConfig
    from engine.synth import Engine

    base, adapted = runtimes
    config = EngineConfig(cache_megabytes=0)
    plain, with_adapters = Engine(config, runtime=base), Engine(config, runtime=adapted)
    assert with_adapters.conditioner.adapters == {"fr-FR", "de-DE"} and plain.conditioner.adapters == frozenset()
    assert with_adapters.statistics()["adapters"] == ["de-DE", "fr-FR"] and plain.statistics()["adapters"] == []
    english = SpeechRequest("Hello there.", locale="en-US", voice="af_heart")
    a, _ = plain.synthesize(english)
    b, _ = with_adapters.synthesize(english)
    assert np.array_equal(a, b)
    french = SpeechRequest("Bonjour à tous.", locale="fr-FR", voice="af_heart")
    a, plan_a = plain.synthesize(french)
    b, plan_b = with_adapters.synthesize(french)
    assert len(b) > 0 and not (len(a) == len(b) and np.array_equal(a, b))
    assert all(s.renderer.startswith("kokoro") for s in plan_b.segments)
    native = SpeechRequest("Bonjour à tous.", locale="fr-FR", voice="ff_siwis")  # a native: no adapter
    assert np.array_equal(plain.synthesize(native)[0], with_adapters.synthesize(native)[0])


@pytest.fixture(scope="module")
def loud(tmp_path_factory, sites, runtimes):
    """The base runtime and one with a fr-FR test adapter strong enough to tell its audio from the
    base model's well beyond the window renderer's floor (scale 1: about 1 log-mel between whole
    renders with and without it; the default scale 0.02 gives about 0.1, under that floor)."""
    folder = tmp_path_factory.mktemp("loud")
    write_random_adapter(folder / "fr-FR.npz", "fr-FR", sites, seed=3, scale=1.0)
    return runtimes[0], KokoroRuntime(model_store.ensure_model(), RuntimeConfig(threads=2, use_gpu=False),
                                      load_adapters(folder))


def test_an_adapted_segment_renders_in_windows_and_without_its_pad(loud, voices):
    """The adapted graphs keep what the engine's fast paths need: the renderer's statistics and
    pad statistics, the window renderer and the pad cut, each run with the adapter. With no
    adapter named they are the base graphs' outputs bit for bit; with one, a window (on the
    adapter's own statistics) and a cut render come close to the adapted whole render, far
    closer than to the base model's."""
    from engine.streaming import Statistics
    from engine.train.spectral import log_mel_distance

    base, adapted = loud
    style = voices["af_heart"]
    ids = IDS * 4
    plan = adapted.plan(ids, style, 1.0, adapter="fr-FR")
    whole_base = adapted.render_planned(plan, style)
    whole, stats, _ = adapted.render_with_statistics(plan, style, adapter="fr-FR")
    assert np.array_equal(whole, adapted.render_planned(plan, style, adapter="fr-FR"))
    base_audio, base_stats, _ = base.render_with_statistics(plan, style)
    assert np.array_equal(base_audio, whole_base)
    apart = log_mel_distance(whole, whole_base)
    print(f"adapted whole render: log-mel {apart:.3f} from the base render")
    assert apart > 0.5  # the test adapter is audible

    windows, base_windows = adapted.window_renderer(), base.window_renderer()
    assert all(windows._lora) and not any(base_windows._lora)  # LoRA inputs in both adapted window graphs
    lo, hi, context = 24, plan.frames - 24, 16
    generator = Statistics({n: base_stats[n] for n in windows.generator_names})
    no_adapter = windows.render(windows.prepare(plan, style, generator), lo, hi, context)
    assert np.array_equal(no_adapter, base_windows.render(base_windows.prepare(plan, style, generator), lo, hi, context))

    generator = Statistics({n: stats[n] for n in windows.generator_names})
    window = windows.render(windows.prepare(plan, style, generator, adapter="fr-FR"), lo, hi, context)
    span = slice(lo * 600, hi * 600)
    near, far = log_mel_distance(window, whole[span]), log_mel_distance(window, whole_base[span])
    print(f"adapted window: log-mel {near:.3f} to the adapted whole render, {far:.3f} to the base render")
    assert near < 0.45 and far > 2 * near

    pads = adapted.pad_renderer()
    start, stop = 18, plan.frames - 18
    learning, pad_stats = pads.render_learning(plan, style, start, stop, 8, adapter="fr-FR")
    assert np.array_equal(learning, whole)
    cut = pads.render_cut(plan, style, start, stop, 8, pad_stats, adapter="fr-FR")
    span = slice(start * 600, stop * 600)
    near, far = log_mel_distance(cut, whole[span]), log_mel_distance(cut, whole_base[span])
    print(f"adapted pad cut: log-mel {near:.3f} to the adapted whole render, {far:.3f} to the base render")
    assert near < 0.45 and far > 2 * near
    with pytest.raises(AdapterError, match="it-IT"):
        windows.prepare(plan, style, generator, adapter="it-IT")


def test_the_engine_streams_and_cuts_the_pad_of_an_adapted_locale(loud):
    """Through the engine: a long French segment teaches statistics (under the voice and its
    adapter) and the next streams in windows; a word after a word renders without its pad."""
    from engine.api import SpeechRequest
    from engine.config import EngineConfig
    from engine.synth import Engine

    from engine.streaming import StreamingConfig

    # One render teaches enough to stream (the default waits for 320 frames of the voice's speech).
    # The doubling window schedule: paced windows follow what renders cost, and on a machine loaded
    # by the rest of the suite the pace measured in the first windows made the next segment's first
    # window hold all of it (rendered whole, no window: a fast-enough machine streams it).
    streaming = StreamingConfig(learn_pooled_frames=64, paced=False)
    engine = Engine(EngineConfig(cache_megabytes=0, streaming=streaming), runtime=loud[1])
    sentence = "Les lecteurs d'écran ont besoin d'une parole qui commence tout de suite sans attendre la fin."
    engine.synthesize(SpeechRequest(sentence, locale="fr-FR", voice="af_heart"))
    taught = engine.renderer.windows
    _, plan = engine.synthesize(SpeechRequest(sentence, locale="fr-FR", voice="af_heart"))
    # Streamed: the plan has a segment per window, each one a window render.
    assert {s.renderer for s in plan.segments} == {"kokoro-window"}, [s.renderer for s in plan.segments]
    assert engine.renderer.windows - taught == len(plan.segments) >= 2
    assert engine.renderer.learned.rows("af_heart+fr-FR") and not engine.renderer.learned.rows("af_heart")
    assert engine.renderer.take_wanted() == []  # calibration is of the base model: not asked for
    for word in ("Bonjour", "fenêtre"):
        engine.synthesize(SpeechRequest(word, locale="fr-FR", voice="af_heart"))
    assert engine.renderer.pad_cuts >= 1 and engine.renderer.pads.get("af_heart+fr-FR") is not None
