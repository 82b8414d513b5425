"""`hub serve` in a process of its own, as the benchmarks run it."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve(database_url: str, port: int, **env: str) -> subprocess.Popen:
    """The hub on `database_url` (migrated already), listening on `port`, once /health answers.
    `env`: more HUB_* settings; the OCPP server takes any free port unless HUB_OCPP_PORT says otherwise."""
    env = {**os.environ, "HUB_DATABASE_URL": database_url, "HUB_PORT": str(port), "HUB_HOST": "127.0.0.1",
           "HUB_LOG_LEVEL": "WARNING", "HUB_OCPP_PORT": "0", **env}
    proc = subprocess.Popen([sys.executable, "-m", "hub.cli", "serve", "--no-migrate"], env=env, cwd=ROOT)
    deadline = time.time() + 60
    while time.time() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            time.sleep(0.2)
    proc.kill()
    raise RuntimeError("the hub did not start")
