"""The fuzz campaign (#15): hypothesis draws batches of hostile and ordinary messages and SSML,
several clients send them at once over real sockets, and after each batch a well-behaved client
must still get exactly the right audio and the daemon's memory must stay within its bound.

CI runs a short campaign (ECHOIC_FUZZ_BATCHES=4, about 2,000 messages, fake engine); the full one:

    ECHOIC_FUZZ_BATCHES=25 PYTHONPATH=. python -m pytest -q tests/test_daemon_fuzz.py   # > 10,000 messages
"""

from __future__ import annotations

import json
import logging
import os
import threading

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

from engine.client import DaemonClient
from engine.daemon import cost
from engine.daemon.memory import resident_memory_bytes, trim
from tests.conftest_daemon import WORD_SAMPLES, FakeEngine, running_daemon

BATCHES = int(os.environ.get("ECHOIC_FUZZ_BATCHES", "4"))
CLIENTS = 4
MEMORY_BOUND = 64 * 2**20
"""Growth of this process's resident memory over the campaign (daemon, clients and pytest)."""

# --- generators -------------------------------------------------------------------------------

words = st.sampled_from(["hello", "world", "one", "two", "Dr.", "3.5", "ça", "日本", "\u200b", "&amp;", "<", ">"])
text = st.lists(words, min_size=0, max_size=12).map(" ".join)
mark_name = st.one_of(st.text(max_size=8), st.just("m" * (cost.MAX_MARK_NAME_CHARS + 1)))


@st.composite
def ssml(draw, depth=0):
    """SSML-like documents: real elements with odd attributes, marks, entities, stray markup,
    DOCTYPEs, deep nesting and over-limit aliases now and then."""
    parts = []
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["text", "mark", "break", "elem", "sub", "sayas", "junk"]))
        if kind == "text":
            parts.append(draw(text))
        elif kind == "mark":
            parts.append(f'<mark name="{draw(mark_name).replace(chr(34), "")}"/>')
        elif kind == "break":
            parts.append(f'<break time="{draw(st.sampled_from(["100ms", "2s", "-1s", "huge", "9999999s"]))}"/>')
        elif kind == "elem" and depth < 3:
            tag = draw(st.sampled_from(["s", "p", "prosody", "lang", "emphasis", "voice", "audio"]))
            attr = draw(st.sampled_from(['', ' rate="150%"', ' pitch="x-high"', ' xml:lang="fr-FR"',
                                         ' volume="-6dB"', ' rate="NaN%"']))
            parts.append(f"<{tag}{attr}>{draw(ssml(depth + 1))}</{tag}>")
        elif kind == "sub":
            alias = draw(st.sampled_from(["World Health Organisation", "", "x" * (cost.MAX_ALIAS_CHARS + 5)]))
            parts.append(f'<sub alias="{alias}">WHO</sub>')
        elif kind == "sayas":
            parts.append(f'<say-as interpret-as="characters">{draw(text)}</say-as>')
        else:
            parts.append(draw(st.sampled_from(["<", "</s>", "<speak>", "&bogus;", "<!-- c -->", "<?pi x?>",
                                               '<!DOCTYPE speak [<!ENTITY a "aaaa">]>', "]]>", "<s" * 40])))
    body = "".join(parts)
    if depth:
        return body
    return draw(st.sampled_from([f"<speak>{body}</speak>", body, f'<?xml version="1.0"?><speak>{body}</speak>']))


ids = st.one_of(st.text(min_size=1, max_size=8), st.integers(), st.none(), st.just(""), st.just("i" * 65),
                st.floats(allow_nan=False), st.lists(st.integers(), max_size=2))
number = st.one_of(st.floats(allow_nan=False), st.integers(-10, 10), st.text(max_size=3), st.none())


@st.composite
def speak(draw):
    good_id = st.text(st.characters(codec="utf-8"), min_size=1, max_size=6)
    message = {"type": "speak", "id": draw(st.one_of(good_id, good_id, good_id, ids))}
    if draw(st.booleans()):
        message["ssml"] = draw(ssml())
    else:
        message["text"] = draw(st.one_of(text, st.just(""), st.just("a" * (cost.MAX_WORD_CHARS + 1))))
    usual = st.floats(0.5, 1.0)
    for name, values in (("rate", st.one_of(usual, number)), ("pitch", st.one_of(usual, number)),
                         ("volume", st.one_of(usual, number)),
                         ("priority", st.sampled_from(["important", "message", "text", "notification", "progress",
                                                       "urgent"])),
                         ("spell", st.one_of(st.booleans(), st.integers(0, 2))),
                         ("locale", st.sampled_from(["en-US", "de", "fr-FR", "tlh", "", "EN_us"])),
                         ("voice", st.sampled_from(["jm_kumo", "jf_alpha", "nobody", "../../etc"])),
                         ("playback", st.sampled_from(["client", "speakers"]))):
        if draw(st.integers(0, 3)) == 0:
            message[name] = draw(values)
    return json.dumps(message)


def deep(n: int) -> str:
    return "[" * n + "]" * n


raw_frames = st.sampled_from([
    "{oops", "[]", "null", '"text"', '{"type": "dance"}', '{"type": 7}', '{"type": "hello", "token": "x", "protocol": 1}',
    '{"type": "ping", "id": NaN}', '{"type": "ping", "id": 1e999}', '{"type": "ping", "id": %s}' % deep(900),
    '{"type": %s}' % deep(900), '{"type": "speak", "id": %s, "text": "hi"}' % deep(900), deep(3000),
    '{"type": "speak", "id": "d", "ssml": "<!DOCTYPE speak><speak>hi</speak>"}',
    '{"type": "speak", "id": "e", "text": "   "}', b"\x00\x01binary",
])

control = st.one_of(
    st.fixed_dictionaries({"type": st.just("ping"), "id": ids}).map(json.dumps),
    st.fixed_dictionaries({"type": st.just("cancel"), "id": st.one_of(ids, st.just("*"))}).map(json.dumps),
    st.sampled_from(['{"type": "pause"}', '{"type": "resume"}', '{"type": "voices"}', '{"type": "locales"}',
                     '{"type": "status"}', '{"type": "settings", "action": "get"}', '{"type": "voices", "locale": 5}']),
    st.fixed_dictionaries({"type": st.just("set"), "rate": number, "locale": st.sampled_from(["de", "xx", None])}
                          ).map(json.dumps),
    st.fixed_dictionaries({"type": st.just("settings"), "action": st.just("set"),
                           "locale": st.sampled_from(["en-GB", "zz"]),
                           "values": st.dictionaries(st.sampled_from(["rate", "voice", "colour"]), number,
                                                     max_size=2)}).map(json.dumps),
)

frame = st.one_of(speak(), speak(), control, raw_frames)


def draw_frames(n: int, batch_seed: int) -> list:
    """`n` frames drawn by hypothesis from `frame` (one small example each: drawing a whole batch
    as one example would overrun hypothesis' buffer and be retried for minutes)."""
    out: list = []

    @seed(batch_seed)
    @settings(max_examples=n, database=None, deadline=None, phases=[Phase.generate],
              suppress_health_check=list(HealthCheck))
    @given(frame)
    def collect(f):
        out.append(f)

    collect()
    while len(out) < n:  # hypothesis may stop early once it has seen enough distinct examples
        out.extend(out[: n - len(out)])
    return out[:n]


# --- the campaign -----------------------------------------------------------------------------


class Failures(logging.Handler):
    def __init__(self):
        super().__init__(logging.ERROR)
        self.records = []

    def emit(self, record):
        self.records.append(record)


@pytest.fixture(scope="module")
def campaign(tmp_path_factory):
    root = tmp_path_factory.mktemp("fuzz")
    failures = Failures()
    logging.getLogger().addHandler(failures)
    with running_daemon(FakeEngine(delay=0), root / "runtime", root / "settings.toml") as server:
        state = {"server": server, "sent": 0, "replies": {}, "failures": failures,
                 "rss_start": None, "rss_max": 0}
        yield state
    logging.getLogger().removeHandler(failures)
    print(f"\nfuzz: {state['sent']} messages from {CLIENTS} clients; replies {state['replies']}; "
          f"resident memory {state['rss_start'] / 2**20:.0f} -> max {state['rss_max'] / 2**20:.0f} MiB")


def _client(server, frames: list, codes: dict, problems: list) -> None:
    with connect(f"ws://127.0.0.1:{server.port}/", max_size=None) as ws:
        ws.send(json.dumps({"type": "hello", "token": server.token, "protocol": 1, "client": "fuzz"}))
        json.loads(ws.recv(10))
        done = threading.Event()

        def read():
            try:
                while True:
                    message = ws.recv(30)
                    if isinstance(message, str):
                        reply = json.loads(message)  # every answer is valid JSON (no NaN)
                        kind = reply.get("code") or reply.get("type")
                        codes[kind] = codes.get(kind, 0) + 1
                        if reply.get("type") == "pong" and reply.get("id") == "end-of-batch":
                            done.set()
            except (ConnectionClosed, TimeoutError) as exc:
                if not done.is_set():
                    problems.append(f"reader stopped: {exc!r}")
                done.set()

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        for f in frames:
            ws.send(f)
        ws.send('{"type": "cancel"}')
        ws.send('{"type": "ping", "id": "end-of-batch"}')
        if not done.wait(60):
            problems.append("no answer to the last ping within 60 s")
        if ws.close_code is not None:
            problems.append(f"closed by the daemon: {ws.close_code} {ws.close_reason}")


@pytest.mark.parametrize("number", range(BATCHES))
def test_fuzzed_batches_leave_the_daemon_serving_correctly(campaign, number):
    batch = [draw_frames(120, 1000 * number + k) for k in range(CLIENTS)]
    server = campaign["server"]
    if campaign["rss_start"] is None:
        trim()
        campaign["rss_start"] = resident_memory_bytes()
    codes: dict = {}
    problems: list = []
    threads = [threading.Thread(target=_client, args=(server, frames, codes, problems)) for frames in batch]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    campaign["sent"] += sum(len(frames) + 2 for frames in batch)
    for code, n in codes.items():
        campaign["replies"][code] = campaign["replies"].get(code, 0) + n
    assert not problems, problems
    assert codes.get("internal", 0) == 0, "an internal error answered a fuzzed message"
    assert not [r for r in campaign["failures"].records if r.exc_info], campaign["failures"].records[:1]
    # A well-behaved client still gets exactly its audio.
    with DaemonClient.connect(server.runtime_dir, name="well-behaved") as good:
        result = good.speak('one <mark name="x"/> two three', ssml=True)
        assert result.samples == 3 * WORD_SAMPLES and result.done["cancelled"] is False
        assert [m["mark"] for m in result.marks] == ["x"]
        status = good.status()
    assert status["clients"] == 1 and status["queued"] == 0
    trim()
    rss = resident_memory_bytes()
    campaign["rss_max"] = max(campaign["rss_max"], rss)
    assert rss - campaign["rss_start"] < MEMORY_BOUND, f"resident memory grew {(rss - campaign['rss_start']) >> 20} MiB"
