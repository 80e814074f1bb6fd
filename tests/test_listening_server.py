"""The listening-test server over real HTTP: token, Origin and Host checks, saving, bad input."""

from __future__ import annotations

import http.client
import json
import threading
from pathlib import Path

import pytest

from engine.errors import ConfigError
from engine.listening.results import ResultStore
from engine.listening.server import ListeningServer
from tests.test_listening_create import make_sine_test


@pytest.fixture
def served(tmp_path):
    folder = tmp_path / "test"
    make_sine_test(folder, locales=("en-US", "fr-FR"))
    server = ListeningServer(folder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()
    thread.join(5)


def request(server, method, path, body=None, headers=None):
    connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    connection.request(method, path, body=data, headers=headers or {})
    reply = connection.getresponse()
    payload = reply.read()
    connection.close()
    return reply.status, dict(reply.getheaders()), payload


def view(server, listener):
    status, _, payload = request(server, "GET", f"/{server.token}/api/test?listener={listener}")
    assert status == 200, payload
    return json.loads(payload)


def full_ratings(trial, score=70):
    return {s["file"]: score for s in trial["samples"]}


def test_the_page_its_files_and_audio_are_served_behind_the_token(served):
    status, headers, page = request(served, "GET", f"/{served.token}/")
    assert status == 200 and b"<h1" in page and b'lang="en"' in page
    assert headers["Referrer-Policy"] == "no-referrer"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    for name in ("static/app.js", "static/app.css"):
        assert request(served, "GET", f"/{served.token}/{name}")[0] == 200
    trial = view(served, "ana")["trials"][0]
    status, headers, wav = request(served, "GET", f"/{served.token}/{trial['samples'][0]['file']}")
    assert status == 200 and wav[:4] == b"RIFF" and headers["Content-Type"] == "audio/wav"
    assert request(served, "GET", f"/{served.token}")[0] == 301


def test_the_page_never_learns_which_system_made_a_sample(served):
    payload = json.dumps(view(served, "ana"))
    for name in ("jm_kumo", "jf_nezumi", "jf_alpha", "system", "anchor", "reference_system", "role"):
        assert name not in payload
    labels = [s["label"] for s in view(served, "ana")["trials"][0]["samples"]]
    assert labels == ["A", "B", "C", "D", "E"]


def test_a_wrong_token_gets_a_clear_page_and_nothing_else(served):
    status, _, page = request(served, "GET", "/not-the-token/")
    assert status == 404 and b"Wrong test address" in page and b"echoic listen-test serve" in page
    trial = view(served, "ana")["trials"][0]
    status, _, _ = request(served, "GET", f"/wrong/{trial['samples'][0]['file']}")
    assert status == 404
    status, _, _ = request(served, "POST", "/wrong/api/rate", {"listener": "ana", "trial": trial["id"],
                                                                "ratings": full_ratings(trial)})
    assert status == 404
    assert not list((served.folder / "results").iterdir())


def test_another_origin_or_host_is_refused_and_the_own_origin_accepted(served):
    trial = view(served, "ana")["trials"][0]
    body = {"listener": "ana", "trial": trial["id"], "ratings": full_ratings(trial)}
    path = f"/{served.token}/api/rate"
    status, _, payload = request(served, "POST", path, body, {"Origin": "http://evil.example"})
    assert status == 403 and b"refused" in payload
    status, _, _ = request(served, "GET", f"/{served.token}/", headers={"Host": f"evil.example:{served.port}"})
    assert status == 403
    assert not list((served.folder / "results").iterdir())
    status, _, payload = request(served, "POST", path, body, {"Origin": f"http://127.0.0.1:{served.port}"})
    assert status == 200 and json.loads(payload) == {"saved": 1, "total": 4}


def test_ratings_are_saved_per_listener_and_resume(served):
    for listener, score in (("ana", 80), ("ben", 30)):
        for trial in view(served, listener)["trials"][:2]:
            status, _, payload = request(served, "POST", f"/{served.token}/api/rate",
                                         {"listener": listener, "trial": trial["id"], "ratings": full_ratings(trial, score)})
            assert status == 200, payload
    files = sorted(p.name for p in (served.folder / "results").iterdir())
    assert files == ["ana.json", "ben.json"]
    again = view(served, "ana")["trials"]
    assert [t["saved"] is not None for t in again] == [True, True, False, False]
    assert set(again[0]["saved"].values()) == {80}
    stored = ResultStore(served.folder, served.manifest).load("ben")
    assert len(stored.ratings) == 2 and {v for r in stored.ratings.values() for v in r.values()} == {30}


@pytest.mark.parametrize("body, message", [
    ({"listener": "ana", "trial": "en-US-1", "ratings": {}}, b"exactly its 5 samples"),
    ({"listener": "../etc", "trial": "en-US-1", "ratings": {}}, b"listener name"),
    ({"listener": "ana", "trial": "nope", "ratings": {}}, b"no trial"),
    (b"{not json", b"not JSON"),
    ([1, 2], b"JSON object"),
])
def test_bad_ratings_are_refused_with_a_reason(served, body, message):
    data = body if isinstance(body, (bytes, dict)) else json.dumps(body).encode()
    status, _, payload = request(served, "POST", f"/{served.token}/api/rate", data,
                                 {"Content-Type": "application/json"})
    assert status == 400 and message in payload, payload
    assert not list((served.folder / "results").iterdir())


def test_out_of_range_scores_are_refused(served):
    trial = view(served, "ana")["trials"][0]
    for bad in (101, -1, 50.5, True, "70"):
        ratings = full_ratings(trial)
        ratings[trial["samples"][0]["file"]] = bad
        status, _, payload = request(served, "POST", f"/{served.token}/api/rate",
                                     {"listener": "ana", "trial": trial["id"], "ratings": ratings})
        assert status == 400 and b"integer 0..100" in payload


def test_a_tampered_result_file_is_refused_and_left_as_it_is(served):
    trials = view(served, "ana")["trials"]
    request(served, "POST", f"/{served.token}/api/rate",
            {"listener": "ana", "trial": trials[0]["id"], "ratings": full_ratings(trials[0], 60)})
    path = served.folder / "results" / "ana.json"
    tampered = path.read_text().replace("60", "99")
    path.write_text(tampered)
    status, _, payload = request(served, "POST", f"/{served.token}/api/rate",
                                 {"listener": "ana", "trial": trials[1]["id"], "ratings": full_ratings(trials[1])})
    assert status == 409 and b"changed by hand or damaged" in payload
    assert path.read_text() == tampered
    status, _, payload = request(served, "GET", f"/{served.token}/api/test?listener=ana")
    assert status == 409 and b"ana.json" in payload
    # Another listener is not affected.
    status, _, _ = request(served, "POST", f"/{served.token}/api/rate",
                           {"listener": "ben", "trial": trials[1]["id"], "ratings": full_ratings(trials[1])})
    assert status == 200


def test_a_save_replaces_the_whole_file_atomically(served, monkeypatch):
    trials = view(served, "ana")["trials"]
    request(served, "POST", f"/{served.token}/api/rate",
            {"listener": "ana", "trial": trials[0]["id"], "ratings": full_ratings(trials[0], 60)})
    path = served.folder / "results" / "ana.json"
    before = path.read_bytes()
    import engine.atomic_write as atomic

    def crash(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(atomic.os, "replace", crash)
    status, _, payload = request(served, "POST", f"/{served.token}/api/rate",
                                 {"listener": "ana", "trial": trials[1]["id"], "ratings": full_ratings(trials[1])})
    assert status == 500 and b"disk full" in payload
    assert path.read_bytes() == before
    assert sorted(p.name for p in path.parent.iterdir()) == ["ana.json"]  # no temporary file left


def test_serving_a_bad_folder_fails_before_listening(tmp_path):
    with pytest.raises(ConfigError, match="is not a folder"):
        ListeningServer(tmp_path / "missing")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text("{")
    with pytest.raises(ConfigError, match="cannot be read as JSON"):
        ListeningServer(tmp_path / "bad")


def test_the_serve_command_prints_the_url_and_stops_cleanly_on_sigterm(tmp_path):
    import os
    import signal
    import subprocess
    import sys
    import urllib.request

    folder = tmp_path / "test"
    make_sine_test(folder)
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    process = subprocess.Popen([sys.executable, "-m", "engine.cli", "listen-test", "serve", str(folder)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        line = process.stdout.readline()
        assert line.startswith(f"Listening test {folder}: open http://127.0.0.1:")
        url = line.split("open ", 1)[1].strip()
        with urllib.request.urlopen(url, timeout=10) as reply:
            assert reply.status == 200 and b"Echoic listening test" in reply.read()
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_the_serve_command_explains_a_missing_folder(tmp_path, capsys):
    from engine.cli import main

    assert main(["listen-test", "serve", str(tmp_path / "nowhere")]) == 2
    assert "is not a folder" in capsys.readouterr().err
