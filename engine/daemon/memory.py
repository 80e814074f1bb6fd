"""The daemon's memory as the operating system sees it, and handing freed memory back to it.

CPython frees a large request's objects, but glibc keeps the pages in its heaps and per-thread
arenas, so resident memory stays at the peak of the largest request ever served (#15: 0.6 GiB
after ordinary speech, 2.85 GiB after a few hostile inputs, never returning). Two remedies, both
no-ops where glibc is absent (macOS, Windows, musl):

- `limit_arenas()`: at most two malloc arenas (mallopt M_ARENA_MAX), so the synthesis thread,
  the event loop and onnxruntime's threads do not each keep a heap of their own;
- `trim()`: malloc_trim(0) after a large utterance and when the daemon falls idle, which returns
  the free pages at the top and in the middle of every heap.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import sys

_M_ARENA_MAX = -8
_libc = None


def _glibc():
    global _libc
    if _libc is None:
        _libc = False
        if sys.platform.startswith("linux"):
            try:
                libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
                libc.malloc_trim.argtypes = [ctypes.c_size_t]
                libc.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
                _libc = libc
            except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
                pass
    return _libc or None


def limit_arenas(arenas: int = 2) -> bool:
    """Cap glibc's malloc arenas for threads created from now on (MALLOC_ARENA_MAX in the
    environment wins: the user asked for it)."""
    libc = _glibc()
    if libc is None or "MALLOC_ARENA_MAX" in os.environ:
        return False
    return bool(libc.mallopt(_M_ARENA_MAX, arenas))


def trim() -> bool:
    """Return free heap pages to the operating system; True if any were."""
    libc = _glibc()
    return bool(libc.malloc_trim(0)) if libc is not None else False


def resident_memory_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, AttributeError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * (1 if sys.platform == "darwin" else 1024)
