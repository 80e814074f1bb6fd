"""MUSHRA listening tests (ITU-R BS.1534-3) anyone can run at home, keyboard and screen reader first.

    echoic listen-test create DIR --set accent|voices|custom   render trials into a new folder
    echoic listen-test serve DIR                               take the test in a browser (loopback)
    echoic listen-test report DIR                              means, 95% intervals, screening, plot

manifest.py (the folder's contents as checked values), create.py (which systems speak what, and
the rendering), results.py (per-listener files, replaced atomically), server.py (the page and
its small JSON API), report.py (statistics). See docs/listening-test.md.
"""

from __future__ import annotations

import signal
import sys
import threading
from pathlib import Path


def cmd_create(args) -> int:
    from ..synth import Engine
    from .create import EngineRenderer, default_locales, plan_test, render_test

    engine = Engine()
    locales = args.locales or default_locales(args.set, engine.voices, args.reference)
    planned = plan_test(args.set, locales, engine.voices, systems=args.systems, reference=args.reference,
                        per_locale=args.sentences)
    manifest = render_test(Path(args.dir), args.set, planned, EngineRenderer(engine), engine.sample_rate,
                           progress=lambda line: print(line, file=sys.stderr))
    stimuli = sum(len(t.stimuli) for t in manifest.trials)
    print(f"made {args.dir}: {len(manifest.trials)} trials, {stimuli} samples; "
          f"take it with: echoic listen-test serve {args.dir}")
    return 0


def cmd_serve(args) -> int:
    from .server import ListeningServer

    server = ListeningServer(Path(args.dir), port=args.port)
    # SIGTERM stops the server cleanly, like Ctrl+C; shutdown() must come from another thread.
    signal.signal(signal.SIGTERM, lambda *_: threading.Thread(target=server.shutdown, daemon=True).start())
    print(f"Listening test {args.dir}: open {server.url}", flush=True)
    print("Press Ctrl+C to stop; ratings are saved as each trial is done.", file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


def cmd_report(args) -> int:
    from .report import write_report

    _, markdown, note = write_report(Path(args.dir))
    print(markdown, end="")
    if note:
        print(f"echoic: {note}", file=sys.stderr)
    return 0


def register(commands) -> None:
    test = commands.add_parser("listen-test", help="MUSHRA listening tests in the browser, keyboard and screen reader first")
    actions = test.add_subparsers(dest="listen_action", required=True, metavar="ACTION")

    create = actions.add_parser("create", help="render a new test into a folder")
    create.add_argument("dir", help="the new test folder (must not exist, or be empty)")
    create.add_argument("--set", required=True, choices=("accent", "voices", "custom"),
                        help="accent: stock vs native voices per locale; voices: every voice of a locale; custom: --systems")
    create.add_argument("--locales", nargs="+", help="locale tags (default: accent: every locale with a native voice, or all with --reference; otherwise en-US)")
    create.add_argument("--systems", nargs="+", help="systems to test: voice ids, voice@strength (accent strength 0..1), or 'system'")
    create.add_argument("--reference", help="the hidden reference: a voice id or 'system' (default: the best native voice)")
    create.add_argument("--sentences", type=int, help="held-out sentences per locale (default: all, 3)")
    create.set_defaults(func=cmd_create)

    serve = actions.add_parser("serve", help="serve the test page on 127.0.0.1 and print its address")
    serve.add_argument("dir")
    serve.add_argument("--port", type=int, default=0, help="TCP port (default: any free port)")
    serve.set_defaults(func=cmd_serve)

    report = actions.add_parser("report", help="write report.md and report.png into the folder and print the table")
    report.add_argument("dir")
    report.set_defaults(func=cmd_report)
