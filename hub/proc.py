"""Processes that belong to `hub serve` go when it goes, however it goes (SIGKILL included).

The granian worker serving the app and the demo's simulated chargers are children of `hub serve`. Left
behind by a parent that was killed, a worker would keep its ports and go on taking requests and delivering
the outbox beside a restarted hub. On Linux the kernel signals a child when its parent dies
(PR_SET_PDEATHSIG); the child also checks that its parent is still the one it was started by, since the
parent may have died before the request took effect.
"""

from __future__ import annotations

import ctypes
import os
import signal
import socket
import sys

PR_SET_PDEATHSIG = 1
PARENT = "HUB_SERVE_PID"  # set by `hub serve` for its children


def die_with_parent() -> None:
    """In a child of `hub serve`: be terminated when it dies (Linux; elsewhere nothing happens)."""
    expected = os.environ.get(PARENT)
    if not expected or not sys.platform.startswith("linux"):
        return
    libc = ctypes.CDLL(None, use_errno=True)
    libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    if str(os.getppid()) != expected:  # it died before the line above took effect
        os.kill(os.getpid(), signal.SIGTERM)


def check_free(host: str, port: int, what: str) -> None:
    """Fail before anything else runs when another process (a hub left behind, say) holds the port."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((host, port))
        except OSError as exc:
            raise SystemExit(f"hub: cannot listen for {what} on {host}:{port}: {exc.strerror}") from None
