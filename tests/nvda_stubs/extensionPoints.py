"""Stand-in for NVDA's extensionPoints: Action and Decider with register/unregister."""

import threading


class _Handlers:
	def __init__(self):
		self._handlers = []
		self._lock = threading.Lock()

	def register(self, handler):
		with self._lock:
			if handler not in self._handlers:
				self._handlers.append(handler)

	def unregister(self, handler):
		with self._lock:
			if handler in self._handlers:
				self._handlers.remove(handler)
				return True
		return False

	def handlers(self):
		with self._lock:
			return list(self._handlers)


class Action(_Handlers):
	"""Handlers are called with the keyword arguments given to notify; errors are logged, not raised."""

	def notify(self, **kwargs):
		from logHandler import log

		for handler in self.handlers():
			try:
				handler(**kwargs)
			except Exception:
				log.exception(f"Error running handler {handler!r} for {self!r}")


class Decider(_Handlers):
	def decide(self, **kwargs):
		return all(handler(**kwargs) for handler in self.handlers())
