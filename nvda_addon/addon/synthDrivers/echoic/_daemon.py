# A part of Echoic, the NVDA add-on.

"""Finding, starting and talking to the Echoic daemon (protocol v1, docs/protocol.md).

`findDaemon()` reads the runtime file; `startDaemon()` runs the installed daemon and waits for
its runtime file; `DaemonConnection` is one authenticated WebSocket with a reader thread that
hands utterance events (dicts, and `AudioFrame`s) to a callback and replies to `request()`.

Errors: `DaemonError` (with a sentence a user can act on) for every failure here; transport
errors from `_websocket` are wrapped once, in this module.
"""

import json
import os
import queue
import shutil
import struct
import subprocess
import sys
import tempfile
import threading
import time

from . import _websocket

PROTOCOL = 1
AUDIO_MAGIC = b"EAU1"
AUDIO_HEADER = struct.Struct("<4sIIQIHH")
#: Where the Windows installer puts the daemon, relative to %LOCALAPPDATA%.
INSTALLED_EXE = os.path.join("Programs", "Echoic", "echoic-daemon.exe")


class DaemonError(Exception):
	"""The daemon cannot be found, started, reached or understood."""


class AudioFrame:
	__slots__ = ("utterance", "seq", "sampleOffset", "sampleRate", "pcm")

	def __init__(self, utterance, seq, sampleOffset, sampleRate, pcm):
		self.utterance = utterance
		self.seq = seq
		self.sampleOffset = sampleOffset
		self.sampleRate = sampleRate
		self.pcm = pcm


def parseAudioFrame(data):
	"""The 28-byte little-endian header of protocol v1, then s16le mono PCM."""
	if len(data) < AUDIO_HEADER.size:
		raise DaemonError(f"audio frame of {len(data)} bytes is shorter than its header")
	magic, utterance, seq, offset, rate, channels, fmt = AUDIO_HEADER.unpack_from(data)
	if magic != AUDIO_MAGIC or channels != 1 or fmt != 1:
		raise DaemonError(f"unexpected audio frame header {magic!r} channels={channels} format={fmt}")
	return AudioFrame(utterance, seq, offset, rate, bytes(data[AUDIO_HEADER.size:]))


# Finding the daemon

def runtimeDir():
	"""The folder of daemon.json: ECHOIC_RUNTIME_DIR, else the daemon's own default."""
	override = os.environ.get("ECHOIC_RUNTIME_DIR")
	if override:
		return override
	if sys.platform == "win32":
		base = os.environ.get("LOCALAPPDATA") or os.path.join(os.path.expanduser("~"), "AppData", "Local")
		return os.path.join(base, "echoic")
	base = os.environ.get("XDG_RUNTIME_DIR") or os.path.join(tempfile.gettempdir(), f"runtime-{os.getuid()}")
	return os.path.join(base, "echoic")


def pidAlive(pid):
	if pid <= 0:
		return False
	if sys.platform == "win32":
		import ctypes

		kernel32 = ctypes.windll.kernel32
		handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
		if not handle:
			return False
		try:
			code = ctypes.c_ulong()
			kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
			return code.value == 259  # STILL_ACTIVE
		finally:
			kernel32.CloseHandle(handle)
	try:
		os.kill(pid, 0)
	except ProcessLookupError:
		return False
	except PermissionError:
		return True
	return True


def findDaemon(directory=None):
	"""The live daemon's runtime info {pid, port, token, protocol, version}, or None."""
	path = os.path.join(directory or runtimeDir(), "daemon.json")
	try:
		with open(path, encoding="utf-8") as f:
			info = json.load(f)
		pid, port, token = int(info["pid"]), int(info["port"]), str(info["token"])
	except (OSError, ValueError, KeyError, TypeError):
		return None
	if not pidAlive(pid):
		return None  # stale: left by a daemon that died
	return {"pid": pid, "port": port, "token": token, "protocol": info.get("protocol"), "version": info.get("version", "")}


def daemonCommands(addonDir=None):
	"""Command lines that start a daemon, best first.

	ECHOIC_DAEMON_COMMAND (a JSON list) wins; then the daemon bundled in the add-on
	(bin/echoic-daemon.exe), the installer's one under %LOCALAPPDATA%\\Programs\\Echoic, and
	`echoic serve` from PATH.
	"""
	commands = []
	override = os.environ.get("ECHOIC_DAEMON_COMMAND")
	if override:
		try:
			argv = json.loads(override)
		except ValueError:
			argv = None
		if isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv):
			commands.append(argv)
	candidates = []
	if addonDir:
		candidates.append(os.path.join(addonDir, "bin", "echoic-daemon.exe"))
	localAppData = os.environ.get("LOCALAPPDATA")
	if localAppData:
		candidates.append(os.path.join(localAppData, INSTALLED_EXE))
	for exe in candidates:
		if os.path.isfile(exe):
			commands.append([exe, "serve"])
	onPath = shutil.which("echoic")
	if onPath:
		commands.append([onPath, "serve"])
	return commands


def startDaemon(argv, directory=None, timeout=30.0):
	"""Run `argv` detached and wait until it has written a live runtime file; returns the info."""
	directory = directory or runtimeDir()
	kwargs = {"stdin": subprocess.DEVNULL, "stdout": subprocess.DEVNULL, "close_fds": True}
	logPath = os.path.join(tempfile.gettempdir(), "echoic-daemon-nvda.log")
	try:
		stderr = open(logPath, "ab")
	except OSError:
		stderr = subprocess.DEVNULL
	if sys.platform == "win32":
		kwargs["creationflags"] = subprocess.CREATE_NO_WINDOW | subprocess.CREATE_NEW_PROCESS_GROUP
	else:
		kwargs["start_new_session"] = True
	try:
		process = subprocess.Popen(argv, stderr=stderr, **kwargs)
	except OSError as e:
		raise DaemonError(f"cannot run {argv[0]}: {e}") from e
	finally:
		if stderr is not subprocess.DEVNULL:
			stderr.close()
	deadline = time.monotonic() + timeout
	while time.monotonic() < deadline:
		info = findDaemon(directory)
		if info is not None:
			return info
		code = process.poll()
		if code is not None:
			# Another daemon may have won the race for the per-user lock: use it.
			info = findDaemon(directory)
			if info is not None:
				return info
			raise DaemonError(f"{argv[0]} exited with code {code} before it was ready (see {logPath})")
		time.sleep(0.05)
	raise DaemonError(f"{argv[0]} did not become ready within {timeout:.0f} s (see {logPath})")


# The connection

_REPLY_TYPES = frozenset(("hello", "set", "voices", "locales", "settings", "pong"))


class DaemonConnection:
	"""One authenticated connection. `onEvent(item)` gets, on the reader thread, every
	utterance message (a dict with an `id`) and every AudioFrame, in the daemon's order;
	`onClosed(reason, connection)` once when the connection ends."""

	def __init__(self, info, onEvent, onClosed, clientName="nvda", timeout=5.0):
		self._onEvent = onEvent
		self._onClosed = onClosed
		self._replies = queue.Queue()
		self._requestLock = threading.Lock()
		self._closing = False
		try:
			self._ws = _websocket.WebSocket.connect("127.0.0.1", info["port"], timeout=timeout)
		except _websocket.WebSocketError as e:
			raise DaemonError(f"cannot connect to the daemon on port {info['port']}: {e}") from e
		try:
			self._ws.send_text(json.dumps({"type": "hello", "token": info["token"], "protocol": PROTOCOL, "client": clientName}))
			reply = json.loads(self._ws.recv())
		except _websocket.ConnectionClosed as e:
			self._ws.close()
			raise DaemonError(f"the daemon refused the connection ({e.code} {e.reason})") from e
		except (_websocket.WebSocketError, ValueError) as e:
			self._ws.close()
			raise DaemonError(f"bad hello from the daemon: {e}") from e
		if not isinstance(reply, dict) or reply.get("type") != "hello":
			self._ws.close()
			raise DaemonError(f"expected hello from the daemon, got {reply!r:.200}")
		self._ws.settimeout(None)  # from now on the reader thread waits as long as it takes
		self.hello = reply
		self.sampleRate = int(reply.get("sample_rate", 24000))
		self.channels = int(reply.get("channels", 1))
		self._reader = threading.Thread(target=self._read, name="echoic daemon reader", daemon=True)
		self._reader.start()

	@property
	def isAlive(self):
		return self._reader.is_alive() and not self._closing

	def send(self, message):
		try:
			self._ws.send_text(json.dumps(message))
		except _websocket.WebSocketError as e:
			raise DaemonError(f"lost the daemon: {e}") from e

	def request(self, message, timeout=5.0):
		"""Send a message whose answer has no utterance id (voices, locales, set, ping) and wait for it."""
		with self._requestLock:
			while not self._replies.empty():
				self._replies.get_nowait()
			self.send(message)
			try:
				reply = self._replies.get(timeout=timeout)
			except queue.Empty:
				raise DaemonError(f"no answer to {message.get('type')!r} within {timeout} s") from None
		if reply is None:
			raise DaemonError("the connection closed while waiting for an answer")
		if reply.get("type") == "error":
			raise DaemonError(f"the daemon answered {reply.get('code')}: {reply.get('message')}")
		return reply

	def close(self):
		self._closing = True
		self._ws.close()
		if self._reader is not threading.current_thread():
			self._reader.join(2.0)

	def _read(self):
		reason = "closed"
		try:
			while True:
				data = self._ws.recv()
				if isinstance(data, bytes):
					self._onEvent(parseAudioFrame(data))
					continue
				message = json.loads(data)
				if not isinstance(message, dict):
					continue
				kind = message.get("type")
				if kind in _REPLY_TYPES or (kind == "error" and message.get("id") is None):
					self._replies.put(message)
				else:
					self._onEvent(message)
		except _websocket.ConnectionClosed as e:
			reason = f"{e.code} {e.reason}".strip()
		except (_websocket.WebSocketError, DaemonError, ValueError) as e:
			reason = f"protocol error: {e}"
			self._ws.close(1002)
		finally:
			self._replies.put(None)
			if not self._closing:
				self._onClosed(reason, self)
