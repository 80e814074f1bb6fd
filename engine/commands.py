"""The engine's own `echoic` commands: say, synth, voices, locales, bench synth."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


from .api import AudioChunk, SpeechRequest
from .audio import write_wav
from .errors import AudioDeviceError, ConfigError, TextError
from .listening import register as register_listening_test


def _voice_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--locale", help="locale tag, e.g. en-US, en-GB, de-DE, es-US (see `echoic locales`)")
    parser.add_argument("--voice", help="voice id (see `echoic voices`)")
    parser.add_argument("--rate", type=float, help="speaking-rate multiplier, 0.25..6 (default 1)")
    parser.add_argument("--pitch", type=float, help="pitch multiplier, 0.5..2 (default 1)")
    parser.add_argument("--volume", type=float, help="volume, 0..1 (default 1)")
    parser.add_argument("--spell", action="store_true", help="read character by character")


def _request(args, text: str, ssml: bool) -> SpeechRequest:
    return SpeechRequest(text=text, ssml=ssml, locale=args.locale, voice=args.voice, rate=args.rate,
                         pitch=args.pitch, volume=args.volume, spell=args.spell)


def _engine():
    from .synth import Engine

    return Engine()


def cmd_say(args) -> int:
    request = _request(args, args.text, args.ssml)
    from .daemon.commands import speak_via_daemon

    if speak_via_daemon(request.text, ssml=request.ssml, locale=request.locale, voice=request.voice,
                        rate=request.rate, pitch=request.pitch, volume=request.volume, spell=request.spell):
        return 0
    from .playback import open_output

    engine = _engine()
    try:
        stream = open_output(engine.sample_rate)
    except AudioDeviceError as exc:
        raise AudioDeviceError(f"{exc}; write a file instead: echoic synth --text '...' --out speech.wav") from exc
    try:
        for event in engine.stream(request):
            if isinstance(event, AudioChunk):
                stream.write(event.pcm)
    finally:
        stream.stop()
        stream.close()
    return 0


def cmd_synth(args) -> int:
    if args.text_file:
        try:
            text = Path(args.text_file).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise TextError(f"cannot read {args.text_file}: {exc}") from exc
    else:
        text = args.ssml if args.ssml is not None else args.text
    request = _request(args, text, args.ssml is not None)
    engine = _engine()
    audio, plan = engine.synthesize(request)
    out = Path(args.out)
    if not out.parent.is_dir():
        raise ConfigError(f"output folder {out.parent} does not exist")
    write_wav(out, audio, engine.sample_rate)
    if args.plan_json == "-":
        print(plan.to_json(indent=2))
    elif args.plan_json:
        Path(args.plan_json).write_text(plan.to_json(indent=2), encoding="utf-8")
    events = plan.report.events
    print(f"wrote {out}: {len(audio) / engine.sample_rate:.2f} s, {len(plan.words)} words, "
          f"{len(plan.segments)} segments, {len(events)} guardrail events", file=sys.stderr)
    return 0


def cmd_voices(args) -> int:
    from .voices import VoiceLibrary
    from .locales import get_locale

    library = VoiceLibrary()
    locale = get_locale(args.locale).tag if args.locale else None
    # id, name, gender, native locale, measured grade; with --locale, "native" marks its native voices.
    for info in library.list(locale):
        mark = ("\tnative" if info.is_native(locale) else "") if locale else ""
        print(f"{info.id}\t{info.name}\t{info.gender}\t{info.native_locale or '-'}\t{info.grade or '-'}{mark}")
    for problem in library.problems:
        print(f"echoic: skipped voice: {problem}", file=sys.stderr)
    return 0


def cmd_locales(args) -> int:
    from .locales import LOCALES

    for loc in LOCALES:
        print(f"{loc.tag}\t{loc.display_name}\t{loc.default_voice}\t{loc.status}")
    return 0


def cmd_bench_synth(args) -> int:
    from .bench import bench_synth

    bench_synth(repeats=args.repeats, locales=args.locales)
    return 0


def cmd_bench_stream(args) -> int:
    from .bench import bench_stream

    bench_stream(repeats=args.repeats, locales=args.locales, memory=not args.no_memory)
    return 0


def cmd_bench_learn(args) -> int:
    from .bench_learn import bench_say_all, bench_sources, bench_word_cut

    bench_say_all(voice=args.voice, locale=args.locale)
    if args.sources:
        bench_sources()
    if args.words:
        bench_word_cut()
    return 0


def cmd_bench_adapters(args) -> int:
    from .bench_adapters import bench_adapters

    bench_adapters(repeats=args.repeats, memory=not args.no_memory, threads=args.threads)
    return 0


def cmd_bench_latency(args) -> int:
    import json
    from pathlib import Path

    from .bench_latency import bench_latency

    result = bench_latency(repeats=args.repeats, threads=args.threads, plot=Path(args.plot) if args.plot else None)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1), encoding="utf-8")
    return 0


def cmd_calibrate(args) -> int:
    import time

    from .locales import LOCALES
    from .streaming import GRID_ROWS

    engine = _engine()
    voices = args.voice or sorted({loc.default_voice for loc in LOCALES})
    rows = tuple(args.rows) if args.rows else None
    for voice in voices:
        started = time.perf_counter()
        done = engine.calibrate(voice, rows)
        print(f"{voice}: calibrated {done} row(s) in {time.perf_counter() - started:.1f} s "
              f"(grid {GRID_ROWS[0]}..{GRID_ROWS[-1]}; rows done before are kept)")
    return 0


TRAININGS: tuple[str, ...] = ("data", "adapter_training")
"""Modules under engine.train with `register(trainings)`, each adding a sub-parser to `echoic train`
(they import no torch at registration)."""


def register(commands, bench) -> None:
    say = commands.add_parser("say", help="speak text aloud (through the daemon when one runs)")
    say.add_argument("text")
    say.add_argument("--ssml", action="store_true", help="the text is SSML")
    _voice_options(say)
    say.set_defaults(func=cmd_say)

    synth = commands.add_parser("synth", help="write speech to a WAV file, and its plan as JSON")
    source = synth.add_mutually_exclusive_group(required=True)
    source.add_argument("--text")
    source.add_argument("--text-file")
    source.add_argument("--ssml")
    synth.add_argument("--out", required=True, help="the WAV file to write (24 kHz, 16-bit mono)")
    synth.add_argument("--plan-json", help="write the plan here ('-' prints it)")
    _voice_options(synth)
    synth.set_defaults(func=cmd_synth)

    voices = commands.add_parser("voices", help="list voices")
    voices.add_argument("--locale")
    voices.set_defaults(func=cmd_voices)

    from .cloning.cli import register as register_voice_commands

    register_voice_commands(commands)

    locales = commands.add_parser("locales", help="list locales and how each sounds today")
    locales.set_defaults(func=cmd_locales)

    calibrate = commands.add_parser(
        "calibrate", help="calibrate voices for chunked rendering (long segments then start speaking sooner)")
    calibrate.add_argument("--voice", action="append", help="voice id (repeatable; default: every locale's default voice)")
    calibrate.add_argument("--rows", type=int, nargs="*", help="grid rows only (default: every row a segment can use)")
    calibrate.set_defaults(func=cmd_calibrate)

    evaluate = commands.add_parser("eval", help="quality evaluations that print a table (slow; see docs/)")
    evals = evaluate.add_subparsers(dest="evaluation", required=True, metavar="WHAT")
    from .evaluation import register as register_evaluations

    register_evaluations(evals)

    register_listening_test(commands)

    import importlib
    import importlib.util

    # The frozen daemon (installer/) ships without the training side, so it has no `train` command.
    if importlib.util.find_spec("engine.train") is not None:
        train = commands.add_parser("train", help="build locale-adapter training data and train adapters (see docs/training-data.md)")
        trainings = train.add_subparsers(dest="training", required=True, metavar="WHAT")
        for name in TRAININGS:
            importlib.import_module(f"engine.train.{name}").register(trainings)

    bench_stream = bench.add_parser("stream", help="chunked rendering against whole-segment rendering (long sentences)")
    bench_stream.add_argument("--repeats", type=int, default=3)
    bench_stream.add_argument("--locales", nargs="*", help="locales to measure (default: en-US de-DE es-ES)")
    bench_stream.add_argument("--no-memory", action="store_true", help="skip the resident-memory comparison (two processes)")
    bench_stream.set_defaults(func=cmd_bench_stream)

    bench_learn = bench.add_parser("learn", help="an uncalibrated voice streaming with statistics learnt from its own speech")
    bench_learn.add_argument("--voice", default="am_michael")
    bench_learn.add_argument("--locale", default="en-US")
    bench_learn.add_argument("--sources", action="store_true",
                             help="also compare where window statistics can come from (calibrates four voices in memory)")
    bench_learn.add_argument("--words", action="store_true",
                             help="also render words without their pad frames on statistics learnt from other words")
    bench_learn.set_defaults(func=cmd_bench_learn)

    bench_latency = bench.add_parser("latency", help="first audio through the daemon vs eSpeak NG, Piper and stock Kokoro")
    bench_latency.add_argument("--repeats", type=int, default=5)
    bench_latency.add_argument("--threads", type=int, default=2)
    bench_latency.add_argument("--plot", help="write a PNG plot here (needs matplotlib)")
    bench_latency.add_argument("--json", help="write the measurements here as JSON")
    bench_latency.set_defaults(func=cmd_bench_latency)

    bench_adapters = bench.add_parser("adapters", help="locale adapters: resident memory with all loaded, switch cost")
    bench_adapters.add_argument("--repeats", type=int, default=5)
    bench_adapters.add_argument("--threads", type=int, default=2)
    bench_adapters.add_argument("--no-memory", action="store_true", help="skip the resident-memory comparison (two processes)")
    bench_adapters.set_defaults(func=cmd_bench_adapters)

    bench_synth = bench.add_parser("synth", help="time to first audio and real-time factor vs the stock single call")
    bench_synth.add_argument("--repeats", type=int, default=3)
    bench_synth.add_argument("--locales", nargs="*", help="locales to measure (default: all)")
    bench_synth.set_defaults(func=cmd_bench_synth)
