# A part of Echoic, the NVDA add-on.

"""Finding, starting and talking to the Echoic daemon (protocol v1, docs/protocol.md).

The protocol itself is the client core every Echoic client shares (`_client`, a byte-identical
copy of the engine's `engine/client/` made by the add-on build): frames, messages, the runtime
folder and file, starting a daemon and the authenticated connection. This module adds only what
is NVDA's: where an installed daemon lives, and `DaemonConnection`, a reader thread that hands
utterance events (dicts, and `AudioFrame`s) to a callback and replies to `request()`.

Errors: `DaemonError` (the core's ClientError, a sentence a user can act on) for every failure.
"""

import json
import os
import queue
import shutil
import tempfile
import threading

from ._client import discovery
from ._client.connection import Connection
from ._client.errors import ClientError as DaemonError, DaemonLost
from ._client.wire import REPLY_TYPES, AudioFrame, FrameError  # noqa: F401 - AudioFrame: the driver's type test

#: Where the Windows installer puts the daemon, relative to %LOCALAPPDATA%.
INSTALLED_EXE = os.path.join("Programs", "Echoic", "echoic-daemon.exe")


def runtimeDir():
	"""The folder of daemon.json: the one lookup every client and the daemon share."""
	return discovery.runtime_dir()


def findDaemon(directory=None):
	"""The live daemon's RuntimeInfo (pid, port, token, protocol, version), or None."""
	return discovery.read_runtime_file(directory)


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
	logPath = os.path.join(tempfile.gettempdir(), "echoic-daemon-nvda.log")
	return discovery.start_daemon(argv, directory, timeout, logPath)


# The connection

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
		port, token = (info["port"], info["token"]) if isinstance(info, dict) else (info.port, info.token)
		self._conn = Connection.open(port, token, clientName, timeout=timeout)
		self.hello = self._conn.hello
		self.sampleRate = self._conn.sample_rate
		self.channels = self._conn.channels
		self._reader = threading.Thread(target=self._read, name="echoic daemon reader", daemon=True)
		self._reader.start()

	@property
	def isAlive(self):
		return self._reader.is_alive() and not self._closing

	def send(self, message):
		self._conn.send(message)

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
		self._conn.close()
		if self._reader is not threading.current_thread():
			self._reader.join(2.0)

	def _read(self):
		reason = "closed"
		try:
			while True:
				item = self._conn.receive()
				if isinstance(item, dict) and (
					item.get("type") in REPLY_TYPES or (item.get("type") == "error" and item.get("id") is None)
				):
					self._replies.put(item)
				else:
					self._onEvent(item)
		except DaemonLost as e:
			reason = str(e)
		except FrameError as e:
			reason = f"protocol error: {e}"
			self._conn.close(1002)
		finally:
			self._replies.put(None)
			if not self._closing:
				self._onClosed(reason, self)
