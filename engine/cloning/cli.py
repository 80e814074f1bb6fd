"""`echoic voice create|list|show|remove`: cloned voices from the command line (docs/cloning.md).

`create` checks the name, then the recording (engine/cloning/recording.py), then fits the pack
(engine/train/clone_fit.py, imported only here and only then: it needs torch, the `train` extra), then
saves it in the store (engine/cloning/store.py), where the engine and a running daemon find it.
The fit writes a checkpoint beside the store every few steps; Ctrl-C leaves it there, and the same
command run again resumes from it (a checkpoint made from another recording, text, locale or step
count is set aside, not resumed).
"""

from __future__ import annotations

import hashlib
import importlib
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

from ..errors import ConfigError, VoiceError
from .store import VoiceMetadata, VoiceStore, now_utc

TRAIN_EXTRA = "pip install 'echoic[train]'"


def _store(args) -> VoiceStore:
    return VoiceStore(Path(args.voice_dir) if getattr(args, "voice_dir", None) else None)


class ProgressBar:
    """One line on stderr redrawn in place on a terminal; a line every tenth of the way elsewhere."""

    def __init__(self, stream=None, width: int = 30):
        self.stream = stream or sys.stderr
        self.width = width
        self.tty = hasattr(self.stream, "isatty") and self.stream.isatty()
        self.started = time.monotonic()
        self.last_tenth = -1

    def __call__(self, step: int, total: int, losses: dict) -> None:
        total = max(int(total), 1)
        done = min(max(int(step), 0), total)
        filled = self.width * done // total
        elapsed = time.monotonic() - self.started
        eta = elapsed / done * (total - done) if done else float("nan")
        shown = " ".join(f"{k} {v:.3g}" for k, v in list(losses.items())[:3])
        line = (f"fitting [{'#' * filled}{'.' * (self.width - filled)}] {done}/{total} "
                f"{elapsed:.0f} s, about {eta:.0f} s left  {shown}")
        if self.tty:
            self.stream.write("\r" + line[:160].ljust(100))
            if done == total:
                self.stream.write("\n")
            self.stream.flush()
        elif 10 * done // total != self.last_tenth:
            self.last_tenth = 10 * done // total
            print(line, file=self.stream, flush=True)


def _fit_module():
    # import_module reads sys.modules first (where tests put a stand-in); `from ..train import clone_fit`
    # would take the package's attribute once anything imported the real module.
    try:
        return importlib.import_module("engine.train.clone_fit")
    except ImportError as exc:  # torch or peft absent, or the training side not in this build
        raise ConfigError(f"fitting a voice needs the train extra ({exc}): {TRAIN_EXTRA}") from exc


def _checkpoint_key(audio_path: Path, text: str | None, locale: str, steps: int | None) -> dict:
    digest = hashlib.sha256(Path(audio_path).read_bytes()).hexdigest()
    return {"audio_sha256": digest, "text": text, "locale": locale, "steps": steps}


def _prepare_checkpoint(path: Path, key: dict) -> bool:
    """Make the checkpoint folder; keep a checkpoint only if it was made for the same input.
    Returns whether a checkpoint will be resumed."""
    path.parent.mkdir(parents=True, exist_ok=True)
    sidecar = path.with_suffix(".json")
    old = None
    if sidecar.exists():
        try:
            old = json.loads(sidecar.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            old = None
    if path.exists() and old != key:
        aside = path.with_suffix(".pt.old")
        path.replace(aside)
        print(f"echoic: the checkpoint {path} was made from other input; moved it to {aside.name}", file=sys.stderr)
    from ..atomic_write import write_atomically

    write_atomically(sidecar, json.dumps(key).encode("utf-8"))
    return path.exists()


def cmd_create(args) -> int:
    from ..locales import get_locale
    from ..voice_packs import gender as pack_gender
    from .recording import load_recording

    store = _store(args)
    store.check_new(args.name)
    locale = get_locale(args.locale).tag
    if args.steps is not None and args.steps < 1:
        raise ConfigError(f"--steps must be at least 1, got {args.steps}")
    text = args.text
    if text is not None and not text.strip():
        raise ConfigError("--text is empty; give the words spoken in the recording, or leave it out")
    recording = load_recording(Path(args.audio), speaker_method="none" if args.skip_speaker_check else "auto")
    print(f"recording: {recording.seconds:.1f} s, {recording.speech_seconds:.1f} s of speech, "
          f"{recording.source_rate} Hz x {recording.channels}, speech at {recording.level_dbfs:.0f} dBFS, "
          f"signal-to-noise about {recording.snr_db:.0f} dB, "
          + (f"one speaker ({recording.speaker_method})" if recording.speaker_method != "none"
             else "speaker check skipped"), file=sys.stderr)
    fit = _fit_module()
    config = fit.FitConfig() if args.steps is None else replace(fit.FitConfig(), steps=args.steps)
    checkpoint = store.checkpoint_path(args.name)
    if _prepare_checkpoint(checkpoint, _checkpoint_key(Path(args.audio), text, locale, args.steps)):
        print(f"resuming from {checkpoint}", file=sys.stderr)
    try:
        result = fit.fit_voice(recording.audio, recording.sample_rate, text, locale, config,
                               checkpoint=checkpoint, progress=ProgressBar())
    except KeyboardInterrupt:
        if checkpoint.exists():
            print(f"\nechoic: interrupted; the fit so far is kept in {checkpoint}. Run the same command again "
                  "to resume; no voice was saved yet.", file=sys.stderr)
        else:
            print("\nechoic: interrupted before the first checkpoint; no voice was saved.", file=sys.stderr)
        return 130
    except getattr(fit, "FitError", ValueError) as exc:  # e.g. a checkpoint the fit refuses: kept, said
        raise ConfigError(f"the fit cannot run: {exc}") from exc
    metadata = VoiceMetadata(
        name=args.name, source_locale=locale, created=now_utc(), reference_seconds=round(recording.speech_seconds, 2),
        losses={k: float(v) for k, v in result.losses.items()}, similarity=float(result.similarity),
        nearest=result.nearest, gender=pack_gender(result.nearest) if result.nearest else "unknown",
        steps=int(result.steps))
    reference = (recording.audio, recording.sample_rate) if args.keep_reference else None
    path = store.save(result.pack, metadata, reference=reference)
    for leftover in (checkpoint, checkpoint.with_suffix(".json")):
        leftover.unlink(missing_ok=True)
    print(f"saved voice {args.name!r} in {path} (similarity {result.similarity:.3f}, started from "
          f"{result.nearest}). Hear it: echoic say --voice {args.name} 'Hello.'")
    return 0


def cmd_list(args) -> int:
    store = _store(args)
    items = store.list()
    if not items:
        print(f"# no voices in {store.directory} yet: echoic voice create NAME --audio REF.wav", file=sys.stderr)
    # name, source locale, seconds of reference speech, similarity reached, created
    for item in items:
        if isinstance(item, VoiceError):
            print(f"echoic: {item}", file=sys.stderr)
            continue
        similarity = f"{item.similarity:.3f}" if item.similarity is not None else "-"
        print(f"{item.name}\t{item.source_locale}\t{item.reference_seconds:.1f} s\t{similarity}\t{item.created}")
    return 0


def cmd_show(args) -> int:
    store = _store(args)
    meta = store.show(args.name)
    print(f"name: {meta.name}")
    print(f"source locale: {meta.source_locale} (other locales speak with their own accent)")
    print(f"created: {meta.created}")
    print(f"reference: {meta.reference_seconds:.1f} s of speech" + (f", kept as {meta.reference}" if meta.reference else ", not kept"))
    print(f"similarity to the reference: {meta.similarity:.3f} (Resemblyzer cosine)" if meta.similarity is not None
          else "similarity to the reference: not measured")
    print(f"started from: {meta.nearest or '-'}; gender: {meta.gender}; steps: {meta.steps if meta.steps is not None else '-'}")
    for name, value in meta.losses.items():
        print(f"loss {name}: {value:.4g}")
    print(f"file: {store.pack_path(meta.name)}")
    return 0


def cmd_remove(args) -> int:
    store = _store(args)
    removed = store.remove(args.name)
    print(f"removed voice {args.name!r} ({', '.join(p.name for p in removed)})")
    try:
        from ..daemon.settings import default_settings_path, read_table

        named = sorted(tag for tag, values in read_table(default_settings_path()).items()
                       if values.get("voice") == args.name)
    except ConfigError:  # an unreadable settings file: the note below is a courtesy, the removal is done
        named = []
    if named:
        print(f"note: the settings of {', '.join(named)} name this voice; those locales speak their default voice "
              f"until you choose another (echoic config set LOCALE voice=...)", file=sys.stderr)
    return 0


def register(commands) -> None:
    voice = commands.add_parser("voice", help="your own voices, cloned from a recording: create, list, show, remove")
    actions = voice.add_subparsers(dest="voice_action", required=True, metavar="ACTION")

    def common(parser):
        parser.add_argument("--voice-dir", help="the voice folder (default: your user data folder's voices, "
                                                "or ECHOIC_VOICE_DIR)")

    create = actions.add_parser("create", help="clone a voice from a recording of one person (needs the train extra)")
    create.add_argument("name", metavar="NAME", help="the new voice's id: letters, digits, _ and -")
    create.add_argument("--audio", required=True, help="the recording: WAV or FLAC, 10 s to 5 min of one speaker")
    create.add_argument("--text", help="the words spoken in the recording (better alignment; optional)")
    create.add_argument("--locale", default="en-US", help="the recording's language (default en-US)")
    create.add_argument("--keep-reference", action="store_true", help="keep a copy of the recording with the voice")
    create.add_argument("--steps", type=int, help="optimisation steps (default: the fit's own)")
    create.add_argument("--skip-speaker-check", action="store_true",
                        help="do not refuse the recording as holding several speakers (the check is a heuristic; "
                             "see docs/cloning.md)")
    common(create)
    create.set_defaults(func=cmd_create)

    list_ = actions.add_parser("list", help="list your voices")
    common(list_)
    list_.set_defaults(func=cmd_list)

    show = actions.add_parser("show", help="a voice's metadata and measured similarity")
    show.add_argument("name", metavar="NAME")
    common(show)
    show.set_defaults(func=cmd_show)

    remove = actions.add_parser("remove", help="delete one of your voices")
    remove.add_argument("name", metavar="NAME")
    common(remove)
    remove.set_defaults(func=cmd_remove)
