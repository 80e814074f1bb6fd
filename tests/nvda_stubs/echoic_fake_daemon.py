"""A scripted Echoic daemon (protocol v1) for driver tests that need exact, known audio.

Each character of text is `MS_PER_CHAR` ms of a tone (divided by the `rate`); each `<mark>` is
reported at the sample where its text ends; frames are `FRAME` samples. It renders faster than
real time and honours cancel, so tests can check the driver's timing against known offsets.
Uses the `websockets` server (a test dependency), never the driver's own client.
"""

from __future__ import annotations

import json
import math
import os
import re
import secrets
import struct
import threading
import time

from websockets.exceptions import ConnectionClosed
from websockets.sync.server import serve

SAMPLE_RATE = 24000
FRAME = 2400
MS_PER_CHAR = 30
RENDER_SECONDS_PER_FRAME = 0.005

LOCALES = [
	{"tag": "en-US", "name": "English (US)", "status": "stable", "default_voice": "af_test"},
	{"tag": "fr-FR", "name": "French", "status": "stable", "default_voice": "ff_test"},
	{"tag": "ja-JP", "name": "Japanese", "status": "stable", "default_voice": "jf_test"},
]
VOICES = [
	{"id": "af_test", "name": "Test A", "gender": "female", "locales": ["en-US", "fr-FR", "ja-JP"]},
	{"id": "ff_test", "name": "Test F", "gender": "female", "locales": ["en-US", "fr-FR", "ja-JP"]},
	{"id": "jf_test", "name": "Test J", "gender": "female", "locales": ["en-US", "fr-FR", "ja-JP"]},
]

_TOKEN = re.compile(r"<mark\s+name=\"([^\"]*)\"\s*/>|<break\s+time=\"(\d+)ms\"\s*/>|<[^>]*>|([^<]+)")


def plan(ssml: str, rate: float) -> tuple[int, list[tuple[str, int]]]:
	"""(total samples, [(mark, sample_offset)]) for an SSML string."""
	samples = 0
	marks = []
	for m in _TOKEN.finditer(ssml):
		mark, brk, text = m.groups()
		if mark is not None:
			marks.append((mark, samples))
		elif brk is not None:
			samples += int(brk) * SAMPLE_RATE // 1000
		elif text:
			chars = len(text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&"))
			samples += int(chars * MS_PER_CHAR * SAMPLE_RATE / 1000 / rate)
	return samples, marks


def tone(start: int, n: int) -> bytes:
	return b"".join(
		struct.pack("<h", int(8000 * math.sin(2 * math.pi * 220 * (start + i) / SAMPLE_RATE))) for i in range(n)
	)


class FakeDaemon:
	def __init__(self, runtime_dir: str):
		self.runtime_dir = runtime_dir
		self.token = secrets.token_hex(32)
		self.received: list[dict] = []
		self._server = serve(self._handle, "127.0.0.1", 0, compression=None)
		self.port = self._server.socket.getsockname()[1]
		self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

	def __enter__(self):
		self._thread.start()
		os.makedirs(self.runtime_dir, exist_ok=True)
		with open(os.path.join(self.runtime_dir, "daemon.json"), "w") as f:
			json.dump({"pid": os.getpid(), "port": self.port, "token": self.token, "protocol": 1, "version": "fake"}, f)
		return self

	def __exit__(self, *exc):
		self._server.shutdown()
		os.unlink(os.path.join(self.runtime_dir, "daemon.json"))

	def speaks(self) -> list[dict]:
		return [m for m in self.received if m.get("type") == "speak"]

	def _handle(self, ws):
		hello = json.loads(ws.recv())
		if hello.get("type") != "hello" or hello.get("token") != self.token:
			ws.close(4401, "bad token")
			return
		ws.send(json.dumps({"type": "hello", "protocol": 1, "version": "fake", "sample_rate": SAMPLE_RATE,
			"channels": 1, "format": "s16le", "capabilities": ["ssml", "marks"]}))
		lock = threading.Lock()
		queue: list[dict] = []
		wake = threading.Condition(lock)
		state = {"cancel": set(), "closed": False, "next": 1}

		def speaker():
			while True:
				with wake:
					while not queue and not state["closed"]:
						wake.wait()
					if state["closed"]:
						return
					msg = queue.pop(0)
					number = state["next"]
					state["next"] += 1
				uid = msg["id"]
				total, marks = plan(msg["ssml"], msg.get("rate") or 1.0)
				try:
					ws.send(json.dumps({"type": "accepted", "id": uid, "utterance": number,
						"locale": msg.get("locale"), "voice": msg.get("voice")}))
					sent = 0
					seq = 0
					cancelled = False
					pending = list(marks)
					while pending and pending[0][1] <= 0:
						ws.send(json.dumps({"type": "index", "id": uid, "mark": pending.pop(0)[0], "sample_offset": 0}))
					while sent < total:
						if uid in state["cancel"]:
							cancelled = True
							break
						n = min(FRAME, total - sent)
						time.sleep(RENDER_SECONDS_PER_FRAME)
						header = struct.pack("<4sIIQIHH", b"EAU1", number, seq, sent, SAMPLE_RATE, 1, 1)
						ws.send(header + tone(sent, n))
						sent += n
						seq += 1
						while pending and pending[0][1] <= sent:
							mark, offset = pending.pop(0)
							ws.send(json.dumps({"type": "index", "id": uid, "mark": mark, "sample_offset": offset}))
					ws.send(json.dumps({"type": "done", "id": uid, "samples": sent, "cancelled": cancelled or uid in state["cancel"],
						"stats": {"time_to_first_audio_ms": 1.0, "real_time_factor": 0.1, "guardrail": {"events": [], "notes": []}}}))
				except ConnectionClosed:
					return

		thread = threading.Thread(target=speaker, daemon=True)
		thread.start()
		try:
			for raw in ws:
				msg = json.loads(raw)
				self.received.append(msg)
				kind = msg.get("type")
				if kind == "speak":
					with wake:
						queue.append(msg)
						wake.notify_all()
				elif kind == "cancel":
					with wake:
						for queued in queue:
							state["cancel"].add(queued["id"])
							ws.send(json.dumps({"type": "done", "id": queued["id"], "samples": 0, "cancelled": True}))
						queue.clear()
						state["cancel"].update(m["id"] for m in self.speaks())
				elif kind == "voices":
					ws.send(json.dumps({"type": "voices", "voices": VOICES}))
				elif kind == "locales":
					ws.send(json.dumps({"type": "locales", "locales": LOCALES}))
				elif kind == "ping":
					ws.send(json.dumps({"type": "pong", "id": msg.get("id")}))
		except ConnectionClosed:
			pass
		finally:
			with wake:
				state["closed"] = True
				wake.notify_all()
