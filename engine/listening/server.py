"""`echoic listen-test serve`: the test page on loopback, behind a random token in the URL.

    GET  /<token>/                  the page (page/index.html, app.js, app.css)
    GET  /<token>/api/test?listener=NAME   that listener's trials, in their own blinded order
    GET  /<token>/audio/<hex>.wav   a stimulus named in the manifest
    POST /<token>/api/rate          {"listener", "trial", "ratings": {file: 0..100}} -> saved

Like the daemon, it binds to 127.0.0.1 only and refuses a request carrying an Origin header that
is not the page's own, so another web page open in the browser cannot read the test or post
ratings; the Host header must be the loopback address too (DNS rebinding). A wrong token gets a
page that says so. Nothing is fetched from elsewhere; nothing leaves the machine.
"""

from __future__ import annotations

import hmac
import json
import secrets
import string
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

from ..errors import ConfigError
from ..locales import get_locale
from .manifest import Manifest, listener_order, load_manifest
from .results import ResultFileError, ResultStore, check_listener

MAX_BODY = 64 * 1024
LABELS = string.ascii_uppercase
_STATIC = {"app.js": "text/javascript; charset=utf-8", "app.css": "text/css; charset=utf-8"}
_SECURITY = {
    "Content-Security-Policy": "default-src 'self'; media-src 'self'; object-src 'none'; base-uri 'none'; "
                               "frame-ancestors 'none'; form-action 'self'",
    "Referrer-Policy": "no-referrer",  # the token is in the URL
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def _page(name: str) -> bytes:
    return resources.files(__package__).joinpath("page", name).read_bytes()


def error_page(title: str, message: str) -> bytes:
    """A small, accessible page for errors a person meets in the browser."""
    from html import escape

    return (f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)} - Echoic listening test</title>'
            f'</head><body><main><h1>{escape(title)}</h1><p role="alert">{escape(message)}</p></main></body></html>').encode("utf-8")


def listener_view(manifest: Manifest, store: ResultStore, listener: str) -> dict:
    """What the page may know: sentences, opaque file names and letters; never a system's name."""
    results = store.load(listener)
    trials = []
    for number, (trial, stimuli) in enumerate(listener_order(manifest, listener), 1):
        trials.append({
            "id": trial.id,
            "number": number,
            "language": get_locale(trial.locale).language,
            "sentence": trial.sentence,
            "reference": trial.reference,
            "samples": [{"file": s.file, "label": LABELS[i]} for i, s in enumerate(stimuli)],
            "saved": results.ratings.get(trial.id),
        })
    return {"listener": listener, "total": len(trials), "trials": trials}


class ListeningServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, folder: Path, port: int = 0, token: str | None = None):
        self.folder = Path(folder)
        self.manifest = load_manifest(self.folder)
        self.store = ResultStore(self.folder, self.manifest)
        self.audio = {s.file for t in self.manifest.trials for s in t.stimuli} | {t.reference for t in self.manifest.trials}
        self.token = token or secrets.token_urlsafe(24)
        try:
            super().__init__(("127.0.0.1", port), _Handler)
        except OSError as exc:
            raise ConfigError(f"cannot listen on 127.0.0.1 port {port}: {exc}") from exc

    @property
    def port(self) -> int:
        return self.server_address[1]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/{self.token}/"

    def own_hosts(self) -> tuple[str, ...]:
        return (f"127.0.0.1:{self.port}", f"localhost:{self.port}")


class _Handler(BaseHTTPRequestHandler):
    server: ListeningServer
    server_version = "echoic-listen-test"
    sys_version = ""

    def log_message(self, format, *args):  # noqa: A002 - the base class's name
        pass  # the CLI prints the URL; request logs would only repeat the token

    # --- replies ------------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in _SECURITY.items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, value: dict) -> None:
        self._send(status, json.dumps(value, ensure_ascii=False).encode("utf-8"), "application/json; charset=utf-8")

    def _html_error(self, status: int, title: str, message: str) -> None:
        self._send(status, error_page(title, message), "text/html; charset=utf-8")

    # --- who is asking ------------------------------------------------------------------------
    def _route(self) -> str | None:
        """The path after the token, or None once a refusal has been sent."""
        if self.headers.get("Host", "") not in self.server.own_hosts():
            self._html_error(HTTPStatus.FORBIDDEN, "Wrong address", "This test answers only at 127.0.0.1 or localhost.")
            return None
        origin = self.headers.get("Origin")
        if origin is not None and origin not in {f"http://{h}" for h in self.server.own_hosts()}:
            self._json(HTTPStatus.FORBIDDEN, {"error": f"requests from {origin} are refused; open the test's own address"})
            return None
        path = urlsplit(self.path).path
        token, _, rest = path.lstrip("/").partition("/")
        if not hmac.compare_digest(token.encode("utf-8", "replace"), self.server.token.encode("utf-8")):
            self._html_error(HTTPStatus.NOT_FOUND, "Wrong test address",
                             "This address does not open the test: its secret part is wrong or missing. "
                             "Copy the whole address that `echoic listen-test serve` printed.")
            return None
        if not path.startswith(f"/{token}/"):
            self.send_response(HTTPStatus.MOVED_PERMANENTLY)
            self.send_header("Location", f"/{token}/")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return None
        return rest

    # --- methods ------------------------------------------------------------------------------
    def do_GET(self):  # noqa: N802 - http.server's naming
        rest = self._route()
        if rest is None:
            return
        if rest in ("", "index.html"):
            self._send(HTTPStatus.OK, _page("index.html"), "text/html; charset=utf-8")
        elif rest.startswith("static/") and rest[7:] in _STATIC:
            self._send(HTTPStatus.OK, _page(rest[7:]), _STATIC[rest[7:]])
        elif rest in self.server.audio:
            self._send(HTTPStatus.OK, (self.server.folder / rest).read_bytes(), "audio/wav")
        elif rest == "api/test":
            query = parse_qs(urlsplit(self.path).query)
            try:
                listener = check_listener((query.get("listener") or [""])[0])
                self._json(HTTPStatus.OK, listener_view(self.server.manifest, self.server.store, listener))
            except ConfigError as exc:
                self._json(HTTPStatus.CONFLICT if isinstance(exc, ResultFileError) else HTTPStatus.BAD_REQUEST,
                           {"error": str(exc)})
        else:
            self._html_error(HTTPStatus.NOT_FOUND, "Not found", f"This test has no page {rest!r}.")

    do_HEAD = do_GET

    def do_POST(self):  # noqa: N802
        rest = self._route()
        if rest is None:
            return
        if rest != "api/rate":
            self._json(HTTPStatus.NOT_FOUND, {"error": f"nothing to post to at {rest!r}"})
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._json(HTTPStatus.LENGTH_REQUIRED, {"error": "Content-Length is required"})
            return
        if not 0 < length <= MAX_BODY:
            self._json(HTTPStatus.REQUEST_ENTITY_TOO_LARGE, {"error": f"a rating is at most {MAX_BODY} bytes"})
            return
        try:
            body = json.loads(self.rfile.read(length))
            if not isinstance(body, dict):
                raise ConfigError("the body must be a JSON object")
            listener = check_listener(body.get("listener"))
            results = self.server.store.save(listener, str(body.get("trial")), body.get("ratings"))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            self._json(HTTPStatus.BAD_REQUEST, {"error": f"the body is not JSON: {exc}"})
        except ConfigError as exc:
            self._json(HTTPStatus.CONFLICT if isinstance(exc, ResultFileError) else HTTPStatus.BAD_REQUEST,
                       {"error": str(exc)})
        except OSError as exc:
            self._json(HTTPStatus.INTERNAL_SERVER_ERROR, {"error": f"the rating could not be saved: {exc}"})
        else:
            self._json(HTTPStatus.OK, {"saved": len(results.ratings), "total": len(self.server.manifest.trials)})
