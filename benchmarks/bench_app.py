"""Benchmark the review web app as a user meets it: ``lesionseg app`` start time, slider-change-to-new-frame
latency in a real browser (Chromium via Playwright, keyboard steps on the "Decision threshold" slider), and
the server's memory. Baselines measured in the same run: the bare CLI start (``lesionseg --help``) for the
start time, and the session's own ``set_threshold`` (no server, no browser) for the latency.

    python benchmarks/bench_app.py [--phantom | --case DIR] [--moves 20] [--screenshot docs/web_screenshot.png]

By default the case is a phantom brain crop (seed 0) with a model-free stand-in probability map
(the reference lesions blurred, with noise), written to a temporary folder.
"""

from __future__ import annotations

import argparse
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def make_case(folder: Path, fov_mm: tuple[float, float, float] | None) -> Path:
    from scipy import ndimage

    from LesionSegLogic.io import write_image
    from LesionSegLogic.phantom import generate_case

    case = generate_case(0, fov_mm=fov_mm) if fov_mm else generate_case(0)
    lesions = case.lesions.array > 0
    rng = np.random.default_rng(0)
    blurred = ndimage.gaussian_filter(lesions.astype(np.float32), 1.2)
    noise = ndimage.gaussian_filter(rng.random(lesions.shape).astype(np.float32), 2.0)
    probability = np.clip(blurred / max(blurred.max(), 1e-6) * rng.uniform(0.5, 1.0) + 0.6 * (noise - 0.45), 0, 1)
    folder.mkdir(parents=True, exist_ok=True)
    write_image(case.flair, folder / "flair.nii.gz")
    write_image(case.lesions, folder / "lesions.nii.gz")
    write_image(case.flair.with_array(probability.astype(np.float32)), folder / "probability.nii.gz")
    return folder


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def rss_mib(pid: int) -> tuple[float, float]:
    """(current, peak) resident memory of ``pid`` in MiB, from /proc."""
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) / 1024
    return values.get("VmRSS", float("nan")), values.get("VmHWM", float("nan"))


def cli_help_seconds() -> float:
    start = time.perf_counter()
    subprocess.run([sys.executable, "-m", "LesionSegLogic", "--help"], capture_output=True, check=True)
    return time.perf_counter() - start


def session_latency(case: Path, thresholds: list[float]) -> float:
    """Median seconds of ``ReviewSession.set_threshold`` alone (same case, same thresholds)."""
    from LesionSegLib.headless import make_scene
    from LesionSegLib.session import ReviewSession

    session = ReviewSession(make_scene().scene)
    session.set_inputs(case / "flair.nii.gz")
    session.set_reference(case / "lesions.nii.gz")
    session.load_probability(case / "probability.nii.gz", 0.5)
    times = []
    for t in thresholds:
        start = time.perf_counter()
        session.set_threshold(t)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def browser_run(url: str, moves: int, screenshot: Path | None) -> tuple[list[float], float]:
    """(per-move latencies in s, seconds until the first frame) for keyboard moves of the slider."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1500, "height": 950})
        page = context.new_page()
        start = time.perf_counter()
        page.goto(url)
        page.wait_for_function("() => { const i = document.querySelector('img'); return i && i.src; }",
                               timeout=120_000)
        page.locator("#summary").filter(has_text="t = ").wait_for(timeout=120_000)
        first_frame = time.perf_counter() - start
        slider = page.get_by_role("slider", name="Decision threshold")
        slider.focus()
        latencies = []
        for i in range(moves):
            old = page.locator("img").first.get_attribute("src")
            target = float(slider.get_attribute("aria-valuenow")) + (0.01 if i < moves // 2 else -0.01)
            begin = time.perf_counter()
            page.keyboard.press("ArrowRight" if i < moves // 2 else "ArrowLeft")
            page.wait_for_function(
                "([old, t]) => document.querySelector('img').getAttribute('src') !== old"
                " && document.querySelector('#summary').innerText.startsWith(t)",
                arg=[old, f"t = {target:.2f}"], timeout=30_000)
            latencies.append(time.perf_counter() - begin)
        if screenshot is not None:
            for _ in range(12):
                page.keyboard.press("ArrowLeft")
            page.wait_for_timeout(1500)
            page.get_by_role("button", name=re.compile("Jump to reference lesion")).first.click()
            page.wait_for_timeout(2500)
            page.evaluate("document.querySelector('#threshold-slider').scrollIntoView({block: 'start'})")
            page.wait_for_timeout(500)
            page.screenshot(path=str(screenshot))
        context.close()
    return latencies, first_frame


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--case", type=Path, help="case folder with flair, lesions and probability")
    source.add_argument("--phantom", action="store_true", help="the whole 1 mm phantom brain (slow to make)")
    parser.add_argument("--moves", type=int, default=20)
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        case = args.case or make_case(Path(tmp) / "case", None if args.phantom else (90.0, 150.0, 150.0))
        port = free_port()
        begin = time.perf_counter()
        server = subprocess.Popen(
            [sys.executable, "-m", "LesionSegLogic", "app", "--case", str(case), "--port", str(port),
             "--out", str(Path(tmp) / "out")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            while True:
                if server.poll() is not None:
                    print(server.stdout.read())
                    return 1
                with socket.socket() as sock:
                    if sock.connect_ex(("127.0.0.1", port)) == 0:
                        break
                time.sleep(0.05)
            listening = time.perf_counter() - begin
            latencies, first_frame = browser_run(f"http://127.0.0.1:{port}/", args.moves, args.screenshot)
            rss, peak = rss_mib(server.pid)
        finally:
            server.terminate()
            server.wait(timeout=20)
        shape = __import__("nibabel").load(str(case / "flair.nii.gz")).shape
        baseline_start = cli_help_seconds()
        thresholds = [0.5 + 0.01 * (i if i < args.moves // 2 else args.moves - i) for i in range(1, args.moves + 1)]
        baseline_latency = session_latency(case, thresholds)

    median = statistics.median(latencies)
    rows = [
        ("server start → listening (s)", listening, baseline_start, "`lesionseg --help`"),
        ("page load → first frame (s)", first_frame, None, ""),
        (f"slider key → new frame + metrics, median of {len(latencies)} (ms)", 1000 * median,
         1000 * baseline_latency, "session.set_threshold alone"),
        ("slider key → new frame, max (ms)", 1000 * max(latencies), None, ""),
        ("server memory RSS / peak (MiB)", rss, None, f"peak {peak:.0f}"),
    ]
    print(f"case: {case} grid {shape} (x, y, z); machine: {__import__('os').cpu_count()} CPUs")
    print(f"| {'measure':<62} | {'value':>9} | {'baseline':>9} | {'ratio':>6} | baseline is")
    print(f"|{'-' * 64}|{'-' * 11}|{'-' * 11}|{'-' * 8}|---")
    for name, value, base, what in rows:
        ratio = f"{value / base:6.1f}" if base else "      "
        base_text = f"{base:9.2f}" if base else " " * 9
        print(f"| {name:<62} | {value:9.2f} | {base_text} | {ratio} | {what}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
