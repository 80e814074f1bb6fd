"""`echoic bench adapters`: what locale adapters cost at run time (docs/adapters.md).

- resident memory of a fresh engine with an adapter for every locale loaded (random test adapters
  of the default rank and targets) against one with none, each in a process of its own after
  speaking the same sentences;
- switch cost: plan + render of one sentence, alternating in one run on one runtime: the base
  split graphs (no adapters loaded: today's runtime), the adapted graphs with no adapter named,
  and the adapted graphs switching to another locale's adapter on every call; plus the planner
  alone with guidance (two planner runs) against without.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from .adapters import DEFAULT_TARGETS

SENTENCE = "Screen readers need speech that starts at once, and never stops short."
SPOKEN = {"en-US": SENTENCE, "fr-FR": "Un lecteur d'écran a besoin d'une voix immédiate.",
          "de-DE": "Ein Bildschirmleser braucht Sprache, die sofort beginnt."}


def write_test_adapters(folder: Path, rank: int = 8) -> list[str]:
    """A random adapter of `rank` on the default targets for every locale, into `folder`."""
    from .adapter_graphs import split_sites, write_random_adapter
    from .locales import LOCALES

    sites = split_sites(DEFAULT_TARGETS)
    for i, loc in enumerate(LOCALES):
        write_random_adapter(folder / f"{loc.tag}.npz", loc.tag, sites, rank=rank, seed=i)
    return [loc.tag for loc in LOCALES]


def memory_probe(with_adapters: bool) -> None:
    """Print the resident memory of a fresh engine (every locale's test adapter loaded, or none)
    after it spoke SPOKEN twice and loaded its window renderer (every session a daemon holds: short
    sentences may or may not have streamed yet), run in a process of its own by `bench_adapters`."""
    from .adapters import AdapterSet, load_adapters
    from .api import SpeechRequest
    from .daemon.server import resident_memory_bytes
    from .synth import Engine

    with tempfile.TemporaryDirectory() as tmp:
        if with_adapters:
            write_test_adapters(Path(tmp))
        engine = Engine(adapters=load_adapters(tmp) if with_adapters else AdapterSet())
        for _ in range(2):
            for tag, text in SPOKEN.items():
                engine.synthesize(SpeechRequest(text, locale=tag))
        engine.runtime.window_renderer()
        print(len(engine.conditioner.adapters), resident_memory_bytes())


def _memory_mib(with_adapters: bool) -> float:
    import subprocess
    import sys

    code = f"from engine.bench_adapters import memory_probe; memory_probe({with_adapters})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return int(out.split()[-1]) / 2**20


def bench_adapters(repeats: int = 5, memory: bool = True, threads: int = 2) -> dict:
    """Print the table and return its figures."""
    from .adapters import load_adapters
    from .conditioning import Conditioner, native_prosody
    from .g2p import G2P
    from .locales import get_locale
    from .model_store import ensure_model, load_vocab
    from .runtime import KokoroRuntime, RuntimeConfig
    from .voices import VoiceLibrary

    vocab = load_vocab()
    locale = get_locale("en-US")
    phonemes = " ".join(p for p in G2P(locale, vocab).words(SENTENCE.split()) if p)
    ids = [vocab[c] for c in phonemes if c in vocab]
    library = VoiceLibrary()
    voice = library.get(locale.default_voice)
    style = voice.style(len(ids))
    config = RuntimeConfig(threads=threads, use_gpu=False)
    result: dict = {"ids": len(ids), "repeats": repeats}
    with tempfile.TemporaryDirectory() as tmp:
        tags = write_test_adapters(Path(tmp))
        started = time.perf_counter()
        adapters = load_adapters(tmp)
        result["load_s"] = time.perf_counter() - started
        result["adapter_mib"] = adapters.nbytes / 2**20
        plain = KokoroRuntime(ensure_model(), config)
        adapted = KokoroRuntime(ensure_model(), config, adapters)
    conditioner = Conditioner(adapters=adapters, native_prosody=native_prosody(library))
    guided = conditioner.condition(voice, get_locale("fr-FR"), len(ids), 0.5)

    fixed = plain.plan(ids, style, 1.0)

    def call(runtime, adapter):
        # The renderer gets the same plan every time: an adapter's own durations would change the
        # work (the frame count), not the cost of switching.
        runtime.plan(ids, style, 1.0, adapter=adapter)
        runtime.render_planned(fixed, style, adapter=adapter)

    cases = {"base graphs (no adapter loaded)": lambda i: call(plain, None),
             "adapted graphs, no adapter": lambda i: call(adapted, None),
             "adapted graphs, switching adapter each call": lambda i: call(adapted, tags[i % len(tags)])}
    planner = {"planner, adapter": lambda i: adapted.plan(ids, style, 1.0, adapter="fr-FR"),
               "planner, adapter + guidance w=0.5": lambda i: adapted.plan(ids, style, 1.0, **guided.planner_options())}
    times: dict[str, list[float]] = {k: [] for k in [*cases, *planner]}
    for fn in [*cases.values(), *planner.values()]:
        fn(0)  # warm up
    for i in range(repeats):
        for name, fn in [*cases.items(), *planner.items()]:
            t = time.perf_counter()
            fn(i)
            times[name].append(time.perf_counter() - t)
    medians = {k: statistics.median(v) for k, v in times.items()}
    result["median_s"] = medians
    base = medians["base graphs (no adapter loaded)"]
    print(f"{len(ids)} phoneme ids, {threads} threads, {repeats} alternated repeats (medians); "
          f"{len(tags)} test adapters of rank 8 on {len(DEFAULT_TARGETS)} modules: "
          f"{result['adapter_mib']:.1f} MiB of weights, loaded in {result['load_s']:.2f} s")
    print("| call | median | vs base graphs |")
    print("|---|---|---|")
    for name in cases:
        print(f"| plan + render, {name} | {medians[name]:.3f} s | {medians[name] / base:.3f} |")
    p = medians["planner, adapter"]
    for name in planner:
        print(f"| {name} | {medians[name]:.3f} s | {medians[name] / p:.3f} (vs planner, adapter) |")
    if memory:
        none, every = _memory_mib(False), _memory_mib(True)
        result["rss_mib"] = {"none": none, "all": every}
        print(f"resident memory of a fresh engine after {2 * len(SPOKEN)} sentences, window renderer loaded: no adapters {none:.0f} MiB, "
              f"all {len(tags)} adapters {every:.0f} MiB ({every - none:+.0f} MiB)")
    return result
