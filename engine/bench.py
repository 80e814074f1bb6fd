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
    render = engine.runtime.render(ids, engine.conditioner.condition(voice, locale, len(ids)).style, 1.0)
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


LONG_SAMPLES = {
    "en-US": "Reading a long paragraph aloud, the screen reader should start speaking almost at once, "
             "without waiting for the whole sentence to be rendered by the model.",
    "de-DE": "Wenn ein Bildschirmleser einen langen Absatz vorliest, sollte die Sprache sofort beginnen, "
             "ohne dass das Modell zuerst den ganzen Satz berechnen muss.",
    "es-ES": "Cuando un lector de pantalla lee un párrafo largo en voz alta, la voz debería empezar enseguida, "
             "sin esperar a que el modelo termine toda la frase.",
}


def _audio(engine, request: SpeechRequest):
    """(time to first audio, total time, float audio, plan) through Engine.stream."""
    import numpy as np

    started = time.perf_counter()
    first, parts = None, []
    for event in engine.stream(request):
        if isinstance(event, AudioChunk):
            first = first if first is not None else time.perf_counter() - started
            parts.append(np.frombuffer(event.pcm, dtype="<i2"))
        if isinstance(event, Finished):
            total = time.perf_counter() - started
            audio = np.concatenate(parts).astype(np.float32) / 32768 if parts else np.zeros(0, np.float32)
            return first if first is not None else total, total, audio, event.plan
    raise RuntimeError("stream ended without Finished")


def memory_probe(streaming: bool) -> None:
    """Print the resident memory of a fresh engine after it spoke LONG_SAMPLES three times with
    chunked rendering on or off (run in a process of its own by `bench_stream`)."""
    from dataclasses import replace

    from .daemon.server import resident_memory_bytes
    from .synth import Engine, EngineConfig

    config = EngineConfig()
    engine = Engine(replace(config, streaming=replace(config.streaming, enabled=streaming)))
    for _ in range(3):
        for tag, text in LONG_SAMPLES.items():
            engine.synthesize(SpeechRequest(text, locale=tag))
    print(resident_memory_bytes())


def _memory_mib(streaming: bool) -> float:
    import subprocess
    import sys

    code = f"from engine.bench import memory_probe; memory_probe({streaming})"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    return int(out.split()[-1]) / 2**20


def bench_stream(repeats: int = 3, locales: list[str] | None = None, engine=None, memory: bool = True) -> list[dict]:
    """Chunked rendering against whole-segment rendering, alternating on one engine: time to
    first audio, total time and the log-mel distance of the two audios. Calibrates the rows it
    needs first (kept in the calibration directory, like `echoic calibrate`). Prints a table."""
    from dataclasses import replace

    from .synth import Engine, RenderCache
    from .train.spectral import log_mel_distance  # numpy only

    base = engine or Engine()
    base.cache = RenderCache(0)
    rows = []
    for tag in locales or list(LONG_SAMPLES):
        locale = get_locale(tag)
        request = SpeechRequest(LONG_SAMPLES[tag], locale=locale.tag)
        for label, first_words in (("engine default (short first segment)", base.config.first_segment_words),
                                   ("one segment", 1000)):
            on = Engine(replace(base.config, first_segment_words=first_words), runtime=base.runtime)
            off = Engine(replace(on.config, streaming=replace(on.config.streaming, enabled=False)), runtime=base.runtime)
            for e in (on, off):
                e.cache = RenderCache(0)
            _audio(on, request)  # finds the rows it lacks
            started = time.perf_counter()
            calibrated = sum(on.calibrate(voice, (row,)) for voice, row in on.wanted_calibrations())
            calibration_s = time.perf_counter() - started
            results = {"on": [], "off": []}
            for _ in range(repeats):
                for name, e in (("on", on), ("off", off)):
                    results[name].append(_audio(e, request))
            ttfa = {k: statistics.median(r[0] for r in v) for k, v in results.items()}
            total = {k: statistics.median(r[1] for r in v) for k, v in results.items()}
            audio_on, plan_on = results["on"][0][2], results["on"][0][3]
            audio_off = results["off"][0][2]
            rows.append({"case": f"{locale.tag}, {label}", "windows": sum(s.renderer == "kokoro-window" for s in plan_on.segments),
                         "on_ttfa_ms": ttfa["on"] * 1000, "off_ttfa_ms": ttfa["off"] * 1000,
                         "on_total_s": total["on"], "off_total_s": total["off"],
                         "distance": log_mel_distance(audio_on, audio_off) if len(audio_on) == len(audio_off) else float("nan"),
                         "audio_s": len(audio_on) / base.sample_rate, "calibrated_rows": calibrated,
                         "calibration_s": calibration_s})
    print(f"{'case':46} {'win':>3} {'TTFA ms on':>10} {'off':>7} {'ratio':>6} {'total s on':>10} {'off':>6} "
          f"{'log-mel':>7} {'audio s':>7}")
    for r in rows:
        print(f"{r['case']:46} {r['windows']:3d} {r['on_ttfa_ms']:10.0f} {r['off_ttfa_ms']:7.0f} "
              f"{r['on_ttfa_ms'] / r['off_ttfa_ms']:6.2f} {r['on_total_s']:10.2f} {r['off_total_s']:6.2f} "
              f"{r['distance']:7.3f} {r['audio_s']:7.1f}")
    done = [r for r in rows if r["calibrated_rows"]]
    if done:
        print(f"calibrated first: {sum(r['calibrated_rows'] for r in done)} rows in "
              f"{sum(r['calibration_s'] for r in done):.1f} s")
    print(f"providers: {', '.join(base.runtime.providers)}; threads: {base.config.runtime.threads}; "
          f"median of {repeats}, on and off alternating; log-mel: streamed against whole audio")
    if memory:
        off, on = _memory_mib(False), _memory_mib(True)
        print(f"resident memory after {3 * len(LONG_SAMPLES)} long sentences, fresh processes: "
              f"{on:.0f} MiB streaming, {off:.0f} MiB whole ({on - off:+.0f} MiB)")
    return rows
