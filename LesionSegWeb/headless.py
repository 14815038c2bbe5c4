"""How LesionSeg drives its own page from outside (the browser tests, ``scripts/screenshots.py``,
``benchmarks/bench_app.py``): the Debian Chromium and the flags the project's ground rules give it, a free local
port for ``lesionseg app --port``, and stopping the app process afterwards. One definition for the three."""

from __future__ import annotations

import socket
import subprocess

CHROMIUM = "/usr/bin/chromium"
#: headless, no sandbox/GPU/QUIC and no background traffic (first run, networking, component update, sync)
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on at the moment of asking."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen, timeout_s: float = 10.0) -> None:
    """Terminate ``process``; kill it if it has not ended after ``timeout_s`` seconds."""
    process.terminate()
    try:
        process.wait(timeout=timeout_s)
    except subprocess.TimeoutExpired:
        process.kill()
