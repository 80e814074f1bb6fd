"""The client core's stdlib WebSocket against the websockets library, on the same daemon process
(the real Server with the fake engine): median ping round trip over 200 pings, and the time to
receive 50 s of audio. The measured reason (or its absence) for one transport in every client.

    PYTHONPATH=. python tests/bench_client_transport.py
"""
import json, statistics, subprocess, sys, tempfile, time
from pathlib import Path
from tests.test_daemon_process import start, wait_ready
from engine.client import DaemonClient, wire
from websockets.sync.client import connect

runtime = Path(tempfile.mkdtemp()) / "rt"
proc = start(runtime)
info = wait_ready(proc, runtime)
TEXT = "word " * 1000  # 50 s of fake audio at 24 kHz

def core():
    c = DaemonClient.connect(info=info)
    pings = []
    for _ in range(200):
        t = time.perf_counter(); c.ping(); pings.append(time.perf_counter() - t)
    t = time.perf_counter(); r = c.speak(TEXT, timeout=300); audio = time.perf_counter() - t
    c.close()
    return statistics.median(pings) * 1e3, audio, r.samples

def lib():
    ws = connect(f"ws://127.0.0.1:{info.port}/", max_size=2**22).__enter__()  # websockets 17 warns unless entered
    ws.send(json.dumps(wire.hello(info.token, "lib"))); ws.recv()
    pings = []
    for i in range(200):
        t = time.perf_counter(); ws.send(json.dumps({"type": "ping", "id": str(i)})); ws.recv(); pings.append(time.perf_counter() - t)
    t = time.perf_counter(); ws.send(json.dumps(wire.speak("u", TEXT))); samples = 0
    while True:
        m = ws.recv()
        if isinstance(m, bytes): samples += len(wire.parse_audio_frame(m).pcm) // 2
        elif json.loads(m)["type"] == "done": break
    audio = time.perf_counter() - t
    ws.close()
    return statistics.median(pings) * 1e3, audio, samples

try:
    for round_ in range(3):
        for name, fn in (("core (stdlib)", core), ("websockets", lib)):
            ping, audio, samples = fn()
            print(f"{name:14s} ping median {ping:.3f} ms; {samples} samples ({samples/24000:.0f} s audio) in {audio:.3f} s", flush=True)
finally:
    proc.terminate(); proc.wait(15)
