"""`echoic bench synth`: Echoic's streaming path against the stock single-call Kokoro path.

The baseline is what a plain Kokoro integration does: phonemize the whole text, one ONNX run,
audio when it returns (and anything past the model's 510-id window silently cut). Both are
measured in the same run, on the same session, so the ratio survives a noisy shared machine.
"""

from __future__ import annotations

import statistics
import time

from .api import AudioChunk, Finished, SpeechRequest
from .g2p import G2P
from .locales import LOCALES, get_locale
from .model_store import MAX_TOKEN_IDS

SAMPLES = {
    "en": "The quick brown fox jumps over the lazy dog. Screen readers need speech that starts at once, and never stops short.",
    "de": "Der schnelle braune Fuchs springt über den faulen Hund. Ein Bildschirmleser braucht Sprache, die sofort beginnt.",
    "es": "El rápido zorro marrón salta sobre el perro perezoso. Un lector de pantalla necesita una voz que empiece enseguida.",
    "fr": "Le renard brun rapide saute par-dessus le chien paresseux. Un lecteur d'écran a besoin d'une voix immédiate.",
    "it": "La rapida volpe marrone salta sopra il cane pigro. Uno screen reader ha bisogno di una voce che parta subito.",
}


def _echoic(engine, request: SpeechRequest) -> tuple[float, float]:
    """(time to first audio, real-time factor) through Engine.stream."""
    started = time.perf_counter()
    first = None
    for event in engine.stream(request):
        if isinstance(event, AudioChunk) and first is None:
            first = time.perf_counter() - started
        if isinstance(event, Finished):
            total = time.perf_counter() - started
            seconds = event.plan.samples / engine.sample_rate
            return first if first is not None else total, total / max(seconds, 1e-9)
    raise RuntimeError("stream ended without Finished")


def _stock(engine, text: str, locale_tag: str) -> tuple[float, float]:
    """(time to first audio, real-time factor) of one ONNX run on the whole text."""
    locale = get_locale(locale_tag)
    voice = engine.voice_library.get(locale.default_voice)
    started = time.perf_counter()
    phonemes = " ".join(p for p in G2P(locale, engine.vocab).words(text.split()) if p)
    ids = [engine.vocab[c] for c in phonemes][:MAX_TOKEN_IDS]
    render = engine.runtime.render(ids, voice.style(len(ids)), 1.0)
    total = time.perf_counter() - started
    return total, total / (len(render.audio) / engine.sample_rate)


def _median(fn, repeats: int) -> tuple[float, float]:
    results = [fn() for _ in range(repeats)]
    return statistics.median(r[0] for r in results), statistics.median(r[1] for r in results)


def bench_synth(repeats: int = 3, locales: list[str] | None = None, engine=None) -> list[dict]:
    """Print a table and return its rows."""
    from .synth import Engine

    from .synth import RenderCache

    engine = engine or Engine()
    engine.stream(SpeechRequest("warm up")).__next__()  # first run pays for allocations
    cache = engine.cache
    engine.cache = RenderCache(0)  # every row below is uncached, like the stock path
    rows = []
    first = [
        ("one character", SpeechRequest("k", spell=True), "k"),
        ("one word", SpeechRequest("Hello"), "Hello"),
        ("one sentence", SpeechRequest("Screen readers need speech that starts at once."),
         "Screen readers need speech that starts at once."),
    ]
    for label, request, text in first:
        e_ttfa, e_rtf = _median(lambda: _echoic(engine, request), repeats)
        s_ttfa, s_rtf = _median(lambda: _stock(engine, text, "en-US"), repeats)
        rows.append({"case": f"{label} (en-US)", "echoic_ttfa_ms": e_ttfa * 1000, "stock_ttfa_ms": s_ttfa * 1000,
                     "echoic_rtf": e_rtf, "stock_rtf": s_rtf})
    engine.cache = cache
    key_echo = SpeechRequest("k", spell=True)
    _echoic(engine, key_echo)  # fills the cache
    e_ttfa, e_rtf = _median(lambda: _echoic(engine, key_echo), repeats)
    s_ttfa, s_rtf = _median(lambda: _stock(engine, "k", "en-US"), repeats)
    rows.append({"case": "one character, cached", "echoic_ttfa_ms": e_ttfa * 1000, "stock_ttfa_ms": s_ttfa * 1000,
                 "echoic_rtf": e_rtf, "stock_rtf": s_rtf})
    engine.cache = RenderCache(0)
    for tag in locales or [loc.tag for loc in LOCALES]:
        locale = get_locale(tag)
        text = SAMPLES[locale.language]
        e_ttfa, e_rtf = _median(lambda: _echoic(engine, SpeechRequest(text, locale=locale.tag)), repeats)
        s_ttfa, s_rtf = _median(lambda: _stock(engine, text, locale.tag), repeats)
        rows.append({"case": f"paragraph ({locale.tag})", "echoic_ttfa_ms": e_ttfa * 1000, "stock_ttfa_ms": s_ttfa * 1000,
                     "echoic_rtf": e_rtf, "stock_rtf": s_rtf})
    engine.cache = cache
    print(f"{'case':28} {'echoic TTFA ms':>15} {'stock TTFA ms':>14} {'ratio':>6} {'echoic RTF':>11} {'stock RTF':>10}")
    for r in rows:
        ratio = r["echoic_ttfa_ms"] / r["stock_ttfa_ms"]
        print(f"{r['case']:28} {r['echoic_ttfa_ms']:15.1f} {r['stock_ttfa_ms']:14.1f} {ratio:6.2f} "
              f"{r['echoic_rtf']:11.2f} {r['stock_rtf']:10.2f}")
    print(f"providers: {', '.join(engine.runtime.providers)}; threads: {engine.config.runtime.threads}; "
          f"median of {repeats}")
    return rows
