"""Stand-in for NVDA's queueHandler: queueFunction runs the call on a helper thread (NVDA: main thread)."""

import threading

eventQueue = object()
queued = []
"""Tests: every (queue, func, args, kwargs) that was queued."""


def queueFunction(queue, func, *args, **kwargs):
	queued.append((queue, func, args, kwargs))
	threading.Thread(target=func, args=args, kwargs=kwargs, daemon=True).start()
