"""Benchmark the review web app as a user meets it: ``lesionseg app`` start time, slider latency in a real
browser (Chromium via Playwright) — keyboard steps and MOUSE DRAGS of the "Decision threshold" slider — browser
long tasks, and the server's memory. Baselines measured in the same run: the bare CLI start (``lesionseg
--help``) for the start time, and the session's own ``set_threshold`` (no server, no browser) for the latency.

    python benchmarks/bench_app.py [--phantom | --case DIR] [--moves 20] [--screenshot docs/web_screenshot.png]

``--case DIR`` takes a case folder (``flair``, ``lesions``, ``probability``) or the folder ``lesionseg demo OUT``
wrote (``OUT/case`` + ``OUT/prediction/probability.nii.gz``, the full-size demo case). By default the case is a
phantom brain crop (seed 0) with a model-free stand-in probability map (the reference lesions blurred, with
noise), written to a temporary folder.

Mouse drags (60 Hz moves, ``page.mouse`` down/move/up on the slider track): in-page observers time-stamp each
new value the slider shows (client side), each summary line the server sends (``t = …``) and each new axial
image (``src`` of the streamed ``<img>``). For each new slider value, *move → frame* is the time from the move to
the first new axial frame after the server showed that value (or a newer one: values are coalesced); *settle*
is the time from the last move to the first frame after the final value; long tasks come from a
``PerformanceObserver('longtask')``.
"""

from __future__ import annotations

import argparse
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from LesionSegWeb.headless import CHROMIUM, CHROMIUM_ARGS, free_port, stop_process

ROOT = Path(__file__).resolve().parents[1]


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


def session_latency(files: dict[str, Path], thresholds: list[float], start: float) -> float:
    """Median seconds of ``ReviewSession.set_threshold`` alone (same case, same thresholds from the same start,
    the app's rule)."""
    from LesionSegLib.headless import make_scene
    from LesionSegLib.session import ReviewSession

    session = ReviewSession(make_scene().scene)
    session.set_inputs(files["flair"])
    session.set_reference(files["reference"])
    session.load_probability(files["probability"], start)
    times = []
    for t in thresholds:
        start = time.perf_counter()
        session.set_threshold(t)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


PROBE_JS = """() => {
  const probe = {values: [], summaries: [], frames: [], longtasks: []};
  window.__probe = probe;
  const img = document.querySelector('img');
  new MutationObserver(() => probe.frames.push(performance.now()))
    .observe(img, {attributes: true, attributeFilter: ['src']});
  const summary = document.querySelector('#summary');
  new MutationObserver(() => {
    const m = summary.innerText.match(/t = ([0-9.]+)/);
    if (m) probe.summaries.push([performance.now(), parseFloat(m[1])]);
  }).observe(summary, {childList: true, characterData: true, subtree: true});
  const value = document.querySelector('#threshold-value');
  new MutationObserver(() => probe.values.push([performance.now(), parseFloat(value.innerText)]))
    .observe(value, {childList: true, characterData: true, subtree: true});
  new PerformanceObserver((list) => list.getEntries().forEach(
    (e) => probe.longtasks.push([e.startTime, e.duration]))).observe({type: 'longtask'});
}"""


@dataclass
class DragResult:
    """Times (ms) of one mouse drag from ``start`` to ``end`` (threshold values)."""

    start: float
    end: float
    move_to_frame: list[float]
    settle: float
    longest_task: float
    values: int  #: new values the slider showed (client side)
    summaries: int  #: summary lines the server sent
    frames: int  #: new axial frames


def _after(times: list[float], t: float) -> float | None:
    return next((x for x in times if x >= t), None)


def analyse_drag(probe: dict, start: float, end: float, stop_ms: float) -> DragResult:
    """Per-value move → frame latencies from the in-page probe (see the module docstring)."""
    rising = end > start
    frames = sorted(probe["frames"])
    latencies = []
    for moved, value in probe["values"]:
        shown = next((t for t, v in probe["summaries"] if t >= moved and (v >= value if rising else v <= value)),
                     None)
        frame = None if shown is None else _after(frames, shown)
        if frame is not None:
            latencies.append(frame - moved)
    final = probe["values"][-1][1] if probe["values"] else end
    shown = next((t for t, v in probe["summaries"] if t >= stop_ms - 5000 and abs(v - final) < 1e-9), None)
    frame = None if shown is None else _after(frames, shown)
    settle = float("nan") if frame is None else max(0.0, frame - stop_ms)
    longest = max((d for _, d in probe["longtasks"]), default=0.0)
    return DragResult(start, end, latencies, settle, longest, len(probe["values"]), len(probe["summaries"]),
                      len(frames))


def mouse_drag(page, start: float, end: float, seconds: float = 1.5, hz: float = 60.0) -> DragResult:
    """Drag the slider's thumb from ``start`` to ``end`` with the mouse at ``hz`` moves per second, hold, release."""
    track = page.locator("#threshold-row .v-slider-track").bounding_box()
    y = track["y"] + track["height"] / 2

    def x_of(value: float) -> float:
        return track["x"] + value * track["width"]

    slider = page.get_by_role("slider", name="Decision threshold")
    current = float(slider.get_attribute("aria-valuenow"))
    page.mouse.move(x_of(current), y)
    page.mouse.down()
    page.wait_for_timeout(300)
    page.mouse.move(x_of(start), y, steps=5)
    page.wait_for_timeout(3000)  # the server catches up with the start value
    page.evaluate("() => { const p = window.__probe; p.values = []; p.summaries = []; p.frames = [];"
                  " p.longtasks = []; }")
    steps = max(2, int(seconds * hz))
    period = 1.0 / hz
    begin = time.perf_counter()
    for i in range(1, steps + 1):
        page.mouse.move(x_of(start + (end - start) * i / steps), y)
        delay = begin + i * period - time.perf_counter()
        if delay > 0:
            time.sleep(delay)
    stop_ms = page.evaluate("() => performance.now()")
    page.wait_for_timeout(2500)
    page.mouse.up()
    page.wait_for_timeout(1500)
    return analyse_drag(page.evaluate("() => window.__probe"), start, end, stop_ms)


#: a keyboard step whose metrics arrived but no new axial frame within this long drew none (nothing it changed is in
#: the axial slice); it counts among the steps, not among the frame latencies
NO_FRAME_AFTER_MS = 3_000


def seconds_to_first_frame(page, url: str, summary: str) -> float:
    """Open ``url`` in ``page``; seconds until the slice image has a source and the summary reads ``summary``."""
    start = time.perf_counter()
    page.goto(url)
    page.wait_for_function("() => { const i = document.querySelector('img'); return i && i.src; }",
                           timeout=120_000)
    page.locator("#summary").filter(has_text=summary).wait_for(timeout=120_000)
    return time.perf_counter() - start


def browser_run(url: str, moves: int, screenshot: Path | None,
                ) -> tuple[list[float], list[float], float, list[DragResult], float, str]:
    """(keyboard step latencies in s and their thresholds, seconds until the first frame, the mouse drags,
    seconds until the first frame of a page opened at t = 0.30, the lesion table's heading there)."""
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
        context = pw.chromium.launch_persistent_context(
            profile, executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1500, "height": 950})
        page = context.new_page()
        first_frame = seconds_to_first_frame(page, url, "t = ")
        slider = page.get_by_role("slider", name="Decision threshold")
        slider.focus()
        latencies, targets = [], []
        for i in range(moves):
            old = page.locator("img").first.get_attribute("src")
            target = round(float(slider.get_attribute("aria-valuenow")) + (0.01 if i < moves // 2 else -0.01), 2)
            begin = time.perf_counter()
            page.keyboard.press("ArrowRight" if i < moves // 2 else "ArrowLeft")
            page.locator("#summary").filter(has_text=f"t = {target:.2f}").wait_for(timeout=30_000)
            targets.append(target)
            try:  # a step that changes no voxel in the axial slice draws no new frame (the render gate)
                page.wait_for_function("(old) => document.querySelector('img').getAttribute('src') !== old",
                                       arg=old, timeout=NO_FRAME_AFTER_MS)
            except PlaywrightTimeout:
                continue
            latencies.append(time.perf_counter() - begin)
        page.evaluate(PROBE_JS)
        drags = [mouse_drag(page, 0.6, 0.3), mouse_drag(page, 0.3, 0.7), mouse_drag(page, 0.3, 0.3)]
        lesions_at_low = page.get_by_role("heading", name=re.compile("Lesions")).inner_text()
        second = context.new_page()  # a page opened while the review rests at t = 0.30 (many lesion rows)
        first_frame_low = seconds_to_first_frame(second, url, "t = 0.30")
        second.close()
        if screenshot is not None:
            track = page.locator("#threshold-row .v-slider-track").bounding_box()
            page.mouse.click(track["x"] + 0.5 * track["width"], track["y"] + track["height"] / 2)  # t = 0.50
            page.locator("#summary").filter(has_text="t = 0.50").wait_for(timeout=30_000)
            page.wait_for_timeout(2500)
            page.evaluate("document.querySelector('#threshold-row').scrollIntoView({block: 'start'})")
            page.wait_for_timeout(500)
            page.screenshot(path=str(screenshot))
        context.close()
    return latencies, targets, first_frame, drags, first_frame_low, lesions_at_low


def case_files(folder: Path) -> dict[str, Path]:
    """flair, lesions and probability of a case folder, or of a ``lesionseg demo`` output folder."""
    if (folder / "case" / "flair.nii.gz").is_file():
        return {"flair": folder / "case" / "flair.nii.gz", "reference": folder / "case" / "lesions.nii.gz",
                "probability": folder / "prediction" / "probability.nii.gz"}
    return {"flair": folder / "flair.nii.gz", "reference": folder / "lesions.nii.gz",
            "probability": folder / "probability.nii.gz"}


def drag_values(drags: list[DragResult]) -> list[float]:
    """The 0.01 slider values the drags passed through, in order (the baseline replays them)."""
    out: list[float] = []
    for drag in drags:
        n = round(abs(drag.end - drag.start) / 0.01)
        sign = 1 if drag.end >= drag.start else -1
        out += [round(drag.start + sign * 0.01 * i, 2) for i in range(n + 1)]
    return out


def print_table(rows: list[tuple[str, float, float | None, str]]) -> None:
    print(f"| {'measure':<64} | {'value':>9} | {'baseline':>9} | {'ratio':>6} | baseline is")
    print(f"|{'-' * 66}|{'-' * 11}|{'-' * 11}|{'-' * 8}|---")
    for name, value, base, what in rows:
        ratio = f"{value / base:6.1f}" if base else "      "
        base_text = f"{base:9.2f}" if base else " " * 9
        print(f"| {name:<64} | {value:9.2f} | {base_text} | {ratio} | {what}")


def percentile(values: list[float], q: float) -> float:
    return float(np.percentile(values, q)) if values else float("nan")


def main() -> int:
    from LesionSegWeb.guard import printed_url

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--case", type=Path, help="case folder (flair, lesions, probability) or a demo output")
    source.add_argument("--phantom", action="store_true", help="the whole 1 mm phantom brain (slow to make)")
    parser.add_argument("--moves", type=int, default=20)
    parser.add_argument("--screenshot", type=Path)
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        case = args.case or make_case(Path(tmp) / "case", None if args.phantom else (90.0, 150.0, 150.0))
        files = case_files(case)
        port = free_port()
        begin = time.perf_counter()
        load_before = os.getloadavg()
        server = subprocess.Popen(
            [sys.executable, "-m", "LesionSegLogic", "app", "--flair", str(files["flair"]),
             "--reference", str(files["reference"]), "--probability", str(files["probability"]),
             "--port", str(port), "--out", str(Path(tmp) / "out")],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
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
            url = printed_url(server.stdout)  # the page's address with the per-launch secret
            if url is None:
                return 1
            latencies, targets, first_frame, drags, first_frame_low, lesions_at_low = browser_run(
                url, args.moves, args.screenshot)
            rss, peak = rss_mib(server.pid)
        finally:
            stop_process(server, timeout_s=20)
        load_after = os.getloadavg()
        shape = __import__("nibabel").load(str(files["flair"])).shape
        baseline_start = cli_help_seconds()
        baseline_latency = session_latency(files, targets, round(targets[0] - 0.01, 2))
        values = drag_values(drags)
        baseline_drag = session_latency(files, values[1:], values[0])

    median = statistics.median(latencies or [np.nan])
    moving = [x for d in drags if d.start != d.end for x in d.move_to_frame]
    rows = [
        ("server start → listening (s)", listening, baseline_start, "`lesionseg --help`"),
        ("page load → first frame (s)", first_frame, None, ""),
        ("page load at t = 0.30 → first frame (s)", first_frame_low, None, lesions_at_low),
        (f"slider key → new frame + metrics, median of {len(latencies)} (ms)", 1000 * median,
         1000 * baseline_latency, f"session.set_threshold alone; {len(targets) - len(latencies)} of {len(targets)} "
         "steps drew no new axial frame"),
        ("slider key → new frame, max (ms)", 1000 * max(latencies or [np.nan]), None, ""),
        (f"mouse drag move → new axial frame, median of {len(moving)} (ms)", statistics.median(moving or [np.nan]),
         1000 * baseline_drag, "session.set_threshold alone"),
        ("mouse drag move → new axial frame, p95 (ms)", percentile(moving, 95), None, ""),
    ]
    for drag in drags:
        label = f"{drag.start:.2f} → {drag.end:.2f}" if drag.start != drag.end else f"held at {drag.end:.2f}"
        if drag.start != drag.end:
            rows.append((f"drag {label}: mouse stops → final frame (ms)", drag.settle, None, ""))
        rows.append((f"drag {label}: longest browser task (ms)", drag.longest_task, None, ""))
        if drag.start != drag.end:
            rows.append((f"drag {label}: values shown / summaries / axial frames", drag.values, None,
                         f"{drag.summaries} summaries, {drag.frames} frames"))
    rows.append(("server memory RSS / peak (MiB)", rss, None, f"peak {peak:.0f}"))
    print(f"case: {case} grid {shape} (x, y, z); machine: {os.cpu_count()} CPUs; load average (1, 5, 15 min) "
          f"before {load_before[0]:.2f} {load_before[1]:.2f} {load_before[2]:.2f}, "
          f"after {load_after[0]:.2f} {load_after[1]:.2f} {load_after[2]:.2f}")
    print_table(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
