"""Stand-in for NVDA's nvwave: a WavePlayer that "plays" into memory at real-time pace.

Like WASAPI under NVDA's player: `feed` returns before its audio plays (blocking only while the
buffer is full), `onDone` is called from the player thread once the chunk has played, `sync`
blocks until everything fed has played, `stop` silences at once and drops pending `onDone`s,
`pause` freezes the clock.
"""

import collections
import threading
import time
import typing
from enum import Enum, auto

import config


class AudioPurpose(Enum):
	SPEECH = auto()
	SOUNDS = auto()


class WavePlayer:
	#: Seconds of audio the device buffer holds; feed blocks beyond this.
	BUFFER_SECONDS = 0.4
	#: Clock tick of the player thread, seconds.
	TICK = 0.002
	DEFAULT_DEVICE_KEY = "default"
	instances: list = []
	"""Tests: every player constructed, oldest first."""

	def __init__(
		self,
		channels: int,
		samplesPerSec: int,
		bitsPerSample: int,
		outputDevice: str = DEFAULT_DEVICE_KEY,
		wantDucking: bool = True,
		purpose: AudioPurpose = AudioPurpose.SPEECH,
	):
		self.channels = channels
		self.samplesPerSec = samplesPerSec
		self.bitsPerSample = bitsPerSample
		self.outputDevice = outputDevice
		self.purpose = purpose
		self._bytesPerSec = samplesPerSec * channels * bitsPerSample // 8
		self._cond = threading.Condition()
		self._queue = collections.deque()  # [bytearray remaining, onDone]
		self._paused = False
		self._closed = False
		self._stops = 0
		self.played = bytearray()
		"""Every byte that reached the speaker, in order."""
		self.events = []
		"""(time.monotonic(), what, detail): "feed", "played", "stop", "pause", "idle"."""
		self.firstAudioTime = None
		self._thread = threading.Thread(target=self._run, name="nvwave stand-in player", daemon=True)
		self._thread.start()
		WavePlayer.instances.append(self)

	# The device
	def open(self):
		pass

	def close(self):
		self.stop()

	def _queuedSeconds(self):
		return sum(len(item[0]) for item in self._queue) / self._bytesPerSec

	def feed(self, data, size: typing.Optional[int] = None, onDone: typing.Optional[typing.Callable] = None):
		data = bytes(data if size is None else data[:size])
		with self._cond:
			generation = self._stops
			while self._queuedSeconds() > self.BUFFER_SECONDS and self._stops == generation and not self._closed:
				self._cond.wait(0.05)
			if self._closed:
				return
			self._queue.append([bytearray(data), onDone])
			self.events.append((time.monotonic(), "feed", len(data)))
			self._cond.notify_all()

	def sync(self):
		with self._cond:
			while self._queue and not self._closed:
				self._cond.wait(0.05)

	def idle(self):
		self.sync()
		self.events.append((time.monotonic(), "idle", 0))

	def stop(self):
		with self._cond:
			self._queue.clear()
			self._paused = False
			self._stops += 1
			self.events.append((time.monotonic(), "stop", len(self.played)))
			self._cond.notify_all()

	def pause(self, switch: bool):
		with self._cond:
			self._paused = switch
			self.events.append((time.monotonic(), "pause", int(switch)))
			self._cond.notify_all()

	def setVolume(self, *, all=None, left=None, right=None):
		pass

	def terminate(self):
		with self._cond:
			self._closed = True
			self._queue.clear()
			self._cond.notify_all()

	# The player thread
	def _run(self):
		step = max(2, int(self._bytesPerSec * self.TICK) // 2 * 2)
		nextTick = time.monotonic()
		while True:
			onDone = None
			with self._cond:
				while (not self._queue or self._paused) and not self._closed:
					self._cond.wait(0.05)
					nextTick = time.monotonic()
				if self._closed:
					return
				item = self._queue[0]
				chunk = item[0][:step]
				del item[0][:step]
				if self.firstAudioTime is None and chunk:
					self.firstAudioTime = time.monotonic()
				self.played += chunk
				if not item[0]:
					self._queue.popleft()
					onDone = item[1]
					self.events.append((time.monotonic(), "played", len(self.played)))
					self._cond.notify_all()
			if onDone is not None:
				onDone()
			# Real-time pace from the byte count.
			nextTick += len(chunk) / self._bytesPerSec
			delay = nextTick - time.monotonic()
			if delay > 0:
				time.sleep(delay)
