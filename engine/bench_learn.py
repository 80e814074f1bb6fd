"""`echoic bench learn`: a voice with no calibration, streamed with statistics learnt from its own speech.

Say-all (always): two engines on one runtime, each with an empty calibration directory, speak
the same paragraph sentence by sentence, alternating: learning on (the default: the first long
segment of a grid row renders whole and teaches the row, later ones stream in windows) and
learning off (every long segment of an uncalibrated voice renders whole, as before). Per
sentence: windows, time to first audio, the peak resident memory while it was spoken (VmHWM,
reset before each sentence; Linux) and the log-mel distance of the two audios.

Sources (`--sources`): where a window's generator statistics can come from, as the log-mel
distance of windows (96 frames, 8 of context) to the whole render of the same plan, per voice:
the segment's own (exact), a calibration (six fixed sentences), learnt from one other sentence
of the voice, the voice's statistics at the grid rows one and two rows away, the mean of the
other voices' calibrations, and plain windows (each window its own statistics).

Words (`--words`): a word rendered without the model's pad frames, on statistics learnt from
eight other words of the voice (`bench_word_cut`).

    PYTHONPATH=. python -m engine bench learn [--voice am_michael] [--sources] [--words]

`render_peaks`: the peak memory of one whole render per segment length (docs/reliability.md).
"""

from __future__ import annotations

import tempfile
from dataclasses import replace
from pathlib import Path

import numpy as np

from .api import SpeechRequest
from .daemon.memory import resident_memory_bytes

PARAGRAPH = (
    "The library closes at six on weekdays, but on Saturday it stays open until nine in the evening, "
    "so that students can finish their work before the exams begin.",
    "Please remember to bring your passport and a printed copy of the booking when you come to the "
    "airport tomorrow morning, because the airline will not accept a screenshot.",
    "After the meeting, the committee agreed to review the budget again next Thursday at half past "
    "three, and to publish the minutes on the website as soon as they are approved.",
    "Reading a long paragraph aloud, the screen reader should start speaking almost at once, without "
    "waiting for the whole sentence to be rendered by the model, and it should never stop.",
)
OTHER_SENTENCE = ("en-US", "Open the file menu, choose save as, and type a new name for the document you are editing.")


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def _peak_mib() -> float:
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith("VmHWM"):
                return int(line.split()[1]) / 1024
    return float("nan")


def _speak(engine, request: SpeechRequest) -> tuple[float, float, np.ndarray, object]:
    """(time to first audio, peak resident MiB during the call, float audio, plan)."""
    from .bench import _audio

    measured = _reset_peak()
    first, _, audio, plan = _audio(engine, request)
    return first, _peak_mib() if measured else float("nan"), audio, plan


def bench_say_all(voice: str = "am_michael", locale: str = "en-US", engine=None) -> list[dict]:
    """The say-all part; prints a table and returns its rows."""
    from .synth import Engine
    from .streaming import StreamingConfig
    from .train.spectral import log_mel_distance  # numpy only

    base = engine or Engine()
    engines = {}
    for learn in (True, False):
        directory = Path(tempfile.mkdtemp(prefix="echoic-bench-learn-"))
        # The pad cut off in both: learning is what differs, and "off" renders its segments whole.
        config = replace(base.config, cache_megabytes=0,
                         streaming=replace(base.config.streaming, calibration_dir=directory, learn=learn, cut_pads=False))
        engines[learn] = Engine(config, runtime=base.runtime)
    rows = []
    for k, text in enumerate(PARAGRAPH):
        request = SpeechRequest(text, locale=locale, voice=voice)
        result = {learn: _speak(e, request) for learn, e in engines.items()}
        on, off = result[True], result[False]
        rows.append({"sentence": k + 1, "windows": sum(s.renderer == "kokoro-window" for s in on[3].segments),
                     "segments": len(on[3].segments), "ttfa_on_ms": on[0] * 1000, "ttfa_off_ms": off[0] * 1000,
                     "peak_on_mib": on[1], "peak_off_mib": off[1],
                     "distance": log_mel_distance(on[2], off[2]) if len(on[2]) == len(off[2]) else float("nan"),
                     "audio_s": len(on[2]) / base.sample_rate})
    print(f"say-all with {voice} ({locale}), no calibration: learning from speech on against off (whole renders)")
    print(f"{'sentence':>8} {'segments':>8} {'windows':>7} {'TTFA ms on':>10} {'off':>6} {'ratio':>6} "
          f"{'peak MiB on':>11} {'off':>6} {'log-mel':>7} {'audio s':>7}")
    for r in rows:
        print(f"{r['sentence']:8d} {r['segments']:8d} {r['windows']:7d} {r['ttfa_on_ms']:10.0f} {r['ttfa_off_ms']:6.0f} "
              f"{r['ttfa_on_ms'] / r['ttfa_off_ms']:6.2f} {r['peak_on_mib']:11.0f} {r['peak_off_mib']:6.0f} "
              f"{r['distance']:7.3f} {r['audio_s']:7.1f}")
    print(f"learnt rows: {engines[True].renderer.learned.rows(_key(engines[True], voice, locale))}; "
          f"threads: {base.config.runtime.threads}; peak: the process's resident high-water mark during the "
          f"sentence (both engines share one runtime, so the sessions count in both)")
    return rows


def _key(engine, voice: str, locale: str) -> str:
    from .locales import get_locale

    voice_obj = engine.voice_library.get(voice)
    return engine.conditioner.voice_for(voice_obj, get_locale(locale), None).key


def bench_sources(voices: tuple[str, ...] = ("am_michael", "bf_emma", "jm_kumo", "ff_siwis"), engine=None) -> list[dict]:
    """The sources part; prints a table and returns its rows. Calibrates each voice's rows in
    memory (about 11 s a row on two idle cores; nothing is written)."""
    from .streaming import GRID_ROWS, Statistics, grid_row, pool
    from .synth import Engine
    from .train.spectral import log_mel_distance

    e = engine or Engine()
    runtime = e.runtime
    windows = runtime.window_renderer()
    session = windows.statistics_session()
    locale, text = "en-US", PARAGRAPH[0]
    ids = [i for s in e.plan(SpeechRequest(text, locale=locale)).segments for i in s.token_ids[1:-1]]
    other = [i for s in e.plan(SpeechRequest(OTHER_SENTENCE[1], locale=OTHER_SENTENCE[0])).segments
             for i in s.token_ids[1:-1]]
    row = grid_row(len(ids))
    at = GRID_ROWS.index(row)

    def style_of(voice, r):
        return e.conditioner.condition(voice, None, r + 1).style

    def calibration(voice, r):
        return windows.pool([windows.sentence_statistics(runtime, session, style_of(voice, r), k, e.vocab)
                             for k in range(6)])

    def own(plan, style):
        audio, stats, _ = runtime.render_with_statistics(plan, style)
        return audio, Statistics(stats)

    def windowed(plan, style, stats):
        prepared = windows.prepare(plan, style, stats)
        bounds = list(range(0, plan.frames, 96)) + [plan.frames]
        return np.concatenate([windows.render(prepared, a, b, 8) for a, b in zip(bounds, bounds[1:])])

    calibrated = {}
    for name in voices:
        voice = e.voice_library.get(name)
        calibrated[name] = {r: calibration(voice, r) for r in (GRID_ROWS[at - 2], GRID_ROWS[at - 1], row, GRID_ROWS[at + 1])}
    rows = []
    for name in voices:
        voice = e.voice_library.get(name)
        style = style_of(voice, row)
        plan = runtime.plan(ids, style, 1.0)
        whole, exact = own(plan, style)
        _, learnt = own(runtime.plan(other, style, 1.0), style)
        others = [calibrated[o][row] for o in voices if o != name]
        mean = Statistics({k: np.mean([s[k] for s in others], axis=0).astype(np.float32) for k in others[0]})
        bounds = list(range(0, plan.frames, 96)) + [plan.frames]
        plain = np.concatenate([runtime.render_frames(plan, style, a, b, 8) for a, b in zip(bounds, bounds[1:])])
        result = {"voice": name, "row": row, "exact": windowed(plan, style, exact),
                  "calibration": windowed(plan, style, calibrated[name][row]),
                  "learnt, 1 sentence": windowed(plan, style, pool([(1, learnt)])),
                  "row +1": windowed(plan, style, calibrated[name][GRID_ROWS[at + 1]]),
                  "row -1": windowed(plan, style, calibrated[name][GRID_ROWS[at - 1]]),
                  "row -2": windowed(plan, style, calibrated[name][GRID_ROWS[at - 2]]),
                  "other voices": windowed(plan, style, mean), "plain": plain}
        rows.append({k: (log_mel_distance(v, whole) if isinstance(v, np.ndarray) else v) for k, v in result.items()})
    columns = [k for k in rows[0] if k not in ("voice", "row")]
    print(f"generator statistics for windows of 96 frames (8 context), log-mel distance to the whole render, "
          f"grid row {row} (rows -2..+1: {GRID_ROWS[at - 2]}, {GRID_ROWS[at - 1]}, {GRID_ROWS[at + 1]})")
    print(f"{'voice':12}" + "".join(f" {c:>18}" for c in columns))
    for r in rows:
        print(f"{r['voice']:12}" + "".join(f" {r[c]:18.3f}" for c in columns))
    return rows


TEACH_WORDS = ("Yes", "No", "File", "Edit", "Open", "Close", "Window", "Button")
TEST_WORDS = ("Hello", "Save", "Menu", "Cancel", "Delete", "Desktop")


def bench_word_cut(voices: tuple[str, ...] = ("am_michael", "bf_emma", "jm_kumo"), engine=None) -> list[dict]:
    """A word rendered without the model's pad frames (3 frames of context), fed generator
    statistics learnt from eight other words' whole renders of the same voice, against the whole
    render of the word: could the pad cut (docs/latency.md) run on learnt statistics? Prints the
    log-mel distance for the word's own statistics (exact), the learnt ones and none (plain)."""
    from .streaming import Statistics, pool
    from .synth import Engine
    from .train.spectral import log_mel_distance

    e = engine or Engine()
    runtime, windows = e.runtime, e.runtime.window_renderer()

    def planned(voice, word):
        ids = [i for s in e.plan(SpeechRequest(word)).segments for i in s.token_ids[1:-1]]
        style = e.conditioner.condition(voice, None, len(ids)).style
        return runtime.plan(ids, style, 1.0), style

    rows = []
    for name in voices:
        voice = e.voice_library.get(name)
        taught = []
        for word in TEACH_WORDS:
            plan, style = planned(voice, word)
            taught.append((plan.frames, Statistics(runtime.render_with_statistics(plan, style)[1])))
        learnt = pool(taught)
        for word in TEST_WORDS:
            plan, style = planned(voice, word)
            whole, exact, _ = runtime.render_with_statistics(plan, style)
            d = plan.durations
            start, stop = int(d[0]) - 1, plan.frames - max(0, int(d[-1]) - 2)
            reference = whole[start * 600:stop * 600]
            row = {"voice": name, "word": word, "frames": plan.frames, "cut": stop - start}
            for label, stats in (("exact", Statistics(exact)), ("learnt", learnt)):
                prepared = windows.prepare(plan, style, stats)
                row[label] = log_mel_distance(windows.render(prepared, start, stop, 3), reference)
            row["plain"] = log_mel_distance(runtime.render_frames(plan, style, start, stop, 3), reference)
            rows.append(row)
    print("a word without its pad frames (3 context), log-mel distance to its whole render, by statistics:")
    print(f"{'voice':12} {'word':8} {'frames':>6} {'cut':>4} {'exact':>6} {'learnt':>6} {'plain':>6}")
    for r in rows:
        print(f"{r['voice']:12} {r['word']:8} {r['frames']:6d} {r['cut']:4d} {r['exact']:6.3f} {r['learnt']:6.3f} {r['plain']:6.3f}")
    return rows


def render_peaks(token_counts: tuple[int, ...] = (50, 150, 300), memory_pattern: bool = True) -> list[dict]:
    """Peak resident memory of one whole renderer call per segment length (VmHWM reset before each
    call; Linux), with onnxruntime's memory pattern on or off. Run each setting in a fresh process:

        PYTHONPATH=. python -c "from engine.bench_learn import render_peaks; render_peaks(memory_pattern=False)"
    """
    import onnxruntime as ort

    from .synth import Engine

    plain = ort.SessionOptions

    class Options(plain):
        def __init__(self):
            super().__init__()
            self.enable_mem_pattern = memory_pattern

    ort.SessionOptions = Options  # only for the sessions this process builds from here on
    try:
        engine = Engine()
    finally:
        ort.SessionOptions = plain
    voice = engine.voice_library.get("am_michael")
    text = "ðɪs ɪz ɐ sˈɛntəns ʌv ˈɔːɹdɪnəɹi pɹˈoʊz, ɹˈɛd ɐlˈaʊd. " * 20
    rows = []
    for n in token_counts:
        ids = [engine.vocab[c] for c in text if c in engine.vocab][:n]
        style = voice.style(len(ids))
        plan = engine.runtime.plan(ids, style, 1.0)
        _reset_peak()
        before = resident_memory_bytes() / 2**20
        engine.runtime.render_planned(plan, style)
        rows.append({"tokens": len(ids), "frames": plan.frames, "before_mib": before, "peak_mib": _peak_mib()})
    print(f"one whole render, memory pattern {'on' if memory_pattern else 'off'}:")
    for r in rows:
        print(f"  {r['tokens']:3d} tokens, {r['frames']:4d} frames: peak {r['peak_mib']:.0f} MiB, "
              f"+{r['peak_mib'] - r['before_mib']:.0f} over the {r['before_mib']:.0f} MiB before the call")
    return rows
