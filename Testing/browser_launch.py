"""Starting the review web app for the browser tests (no test functions here): Chromium, a free port, waiting for
the server, the app with its page open in Chromium (:func:`app_in_chromium`), and the launcher itself — run as a
script, this module serves ``lesionseg app ARGV`` as the command line builds it, with one difference: its only
model is a slow fake model that honours cancel."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from LesionSegWeb.headless import CHROMIUM, CHROMIUM_ARGS, free_port, stop_process

ROOT = Path(__file__).resolve().parents[1]


def ensure_chromium() -> None:
    if not os.path.exists(CHROMIUM):
        subprocess.run([str(ROOT / "scripts" / "install_browser.sh")], check=False, timeout=600)
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium could not be installed")


def wait_for_server(process: subprocess.Popen, port: int, timeout_s: float = 90.0) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"lesionseg app exited with {process.returncode}: {process.stdout.read()}")
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise TimeoutError("lesionseg app did not start listening")


@dataclass(frozen=True)
class ServedPage:
    """The app this module serves (its process and the address it printed, with the per-launch secret) and a
    Chromium page open on it."""

    url: str
    port: int
    process: subprocess.Popen
    page: object  # playwright.sync_api.Page


@contextmanager
def app_in_chromium(case: Path, root: Path, viewport: tuple[int, int], *app_args: str) -> Iterator[ServedPage]:
    """``lesionseg app --case CASE --out ROOT/out APP_ARGS`` served by this module (a free port, run from ROOT)
    and opened in headless Chromium (a profile under ROOT, removed after) at VIEWPORT (width, height), once the
    page shows the case's metrics; the app is stopped when the block ends."""
    from playwright.sync_api import sync_playwright

    from LesionSegWeb.guard import printed_url

    ensure_chromium()
    port = free_port()
    command = [sys.executable, __file__, "--case", str(case), "--port", str(port), "--out", str(root / "out"),
               *app_args]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=root)
    profile = root / "chromium-profile"
    try:
        wait_for_server(process, port)
        url = printed_url(process.stdout)  # the address with the per-launch secret, as the app prints it
        if url is None:
            raise RuntimeError("lesionseg app printed no address")
        with sync_playwright() as pw:
            context = pw.chromium.launch_persistent_context(
                str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
                viewport={"width": viewport[0], "height": viewport[1]})
            try:
                page = context.new_page()
                page.goto(url)
                page.locator("#summary").filter(has_text="t = ").wait_for(timeout=60_000)
                yield ServedPage(url, port, process, page)
            finally:
                context.close()
    finally:
        stop_process(process)
        shutil.rmtree(profile, ignore_errors=True)


#: The slow fake model: this many steps of SLOW_STEP_S seconds (progress after each, cancel checked before each).
SLOW_STEPS, SLOW_STEP_S = 400, 0.1


class SlowModel:
    """A model run that takes SLOW_STEPS × SLOW_STEP_S seconds, reports progress and honours the CancelToken."""

    def __call__(self, request, progress, cancel):
        from LesionSegLib.runner import InferenceResult

        from LesionSegLogic.errors import Cancelled

        for step in range(SLOW_STEPS):
            if cancel is not None and cancel.cancelled:
                raise Cancelled("inference cancelled")
            if progress:
                progress(step / SLOW_STEPS, f"patch {step}/{SLOW_STEPS}")
            time.sleep(SLOW_STEP_S)
        return InferenceResult(request.flair.with_array(np.full(request.flair.shape, 0.9, np.float32)), 0.5,
                               "slow-fake")


def serve(argv: list[str]) -> None:
    """``lesionseg app ARGV`` with the slow fake model as the only model (the launcher of this module's server)."""
    from LesionSegLib.runner import InProcessRunner

    from LesionSegLogic.cli import build_parser
    from LesionSegWeb.app import AppConfig, ReviewWebApp
    from LesionSegWeb.services import ModelInfo, Services

    args = build_parser().parse_args(["app", *argv])
    services = Services(models=lambda: [ModelInfo("slow-fake", 0.5)], runner=InProcessRunner(SlowModel()))
    config = AppConfig(case=args.case, rule=args.rule, port=args.port, out=args.out, demo_dir=args.demo_dir,
                       services=services)
    ReviewWebApp(config).start()


if __name__ == "__main__":
    serve(sys.argv[1:])
