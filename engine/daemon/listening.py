"""Where the daemon listens: 127.0.0.1 and ::1 on one port, nothing else, and its stop signals."""

from __future__ import annotations

import logging
import signal
import socket
import sys
import threading

from . import DaemonError

log = logging.getLogger("echoic.daemon")


def bind_loopback(requested_port: int) -> list[socket.socket]:
    """Listening sockets on 127.0.0.1 and ::1 sharing one port (port 0: a free one for both).

    proto=IPPROTO_TCP matters: asyncio sets TCP_NODELAY only on sockets that say so, and
    without it a small frame after another waits ~40 ms for the client's delayed ACK."""
    for _ in range(20):
        s4 = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        if sys.platform != "win32":
            s4.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s4.bind(("127.0.0.1", requested_port))
        except OSError as exc:
            s4.close()
            raise DaemonError(f"cannot listen on 127.0.0.1 port {requested_port}: {exc.strerror}; "
                              "'--port 0' picks a free port") from None
        port = s4.getsockname()[1]
        try:
            s6 = socket.socket(socket.AF_INET6, socket.SOCK_STREAM, socket.IPPROTO_TCP)
        except OSError:
            return [s4]  # no IPv6 on this machine
        s6.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        if sys.platform != "win32":
            s6.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s6.bind(("::1", port))
            return [s4, s6]
        except OSError as exc:
            s6.close()
            if requested_port == 0 and exc.errno in (98, 48, 10048):  # EADDRINUSE: try another port
                s4.close()
                continue
            if exc.errno in (98, 48, 10048):
                s4.close()
                raise DaemonError(f"cannot listen on ::1 port {port}: {exc.strerror}") from None
            log.warning("no IPv6 loopback (%s); listening on 127.0.0.1 only", exc.strerror)
            return [s4]
    raise DaemonError("could not find a port free on both 127.0.0.1 and ::1")

def _check_request(self, connection, request):
    """Before the WebSocket exists: refuse web pages, and more connections than we serve."""
    refused = self._check_origin(connection, request)
    if refused is not None:
        return refused
    if len(self._connections) >= MAX_CONNECTIONS or self._unauthenticated >= MAX_UNAUTHENTICATED:
        log.warning("refused a connection: %d open, %d without hello", len(self._connections),
                    self._unauthenticated)
        return connection.respond(http.HTTPStatus.SERVICE_UNAVAILABLE, "Echoic has too many connections\n")
    return None


def install_stop_signals(loop, stop, request_stop) -> list:
    """SIGTERM and SIGINT set `stop` (on the main thread only); returns what to remove later."""
    installed = []
    if threading.current_thread() is not threading.main_thread():
        return installed
    for sig in (signal.SIGTERM, signal.SIGINT):
        try:
            loop.add_signal_handler(sig, stop.set)
            installed.append(sig)
        except (NotImplementedError, RuntimeError):  # Windows event loops
            signal.signal(sig, lambda *_: request_stop())
    return installed


def remove_stop_signals(loop, installed) -> None:
    for sig in installed:
        loop.remove_signal_handler(sig)
