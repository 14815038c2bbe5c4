"""Benchmark the web app server's memory over many slider moves (issue 18 item 8): does the server keep
something per update?

    python benchmarks/bench_app_memory.py [--moves 1000] [--warmup 100] [--browser] [--phantom] [--trace 10]

The review web app (``ReviewWebApp``, slice views rendered offscreen: ``views="direct"``, no browser) opens a
phantom brain crop (``--phantom``: the whole 1 mm brain) with a stand-in probability map
(``bench_app.make_case``); the slider is moved ``--moves`` times through the page's binding (the trame state
variable ``threshold``, as the page writes it: steps of 0.01 up and down between 0.30 and 0.70, every other sweep
as a drag with its start/end events). Resident memory (``VmRSS``) is read after ``--warmup`` moves and at the
end; the growth per 1,000 moves is the figure (target < 20 MB). Baseline in the same run: the same moves on a
bare ``ReviewSession`` (no server, no views), so the table shows what the web face adds. Each side runs in its
own process. ``--browser`` adds ``lesionseg app`` (streamed views) driven by Chromium's keyboard on the slider,
the server's RSS read from ``/proc``. ``--trace N`` also prints the N source lines whose traced allocations
grew most (tracemalloc) in the app.
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from bench_app import CHROMIUM_ARGS, case_files, free_port, make_case, rss_mib

FOV_MM = (60.0, 100.0, 100.0)
SIDES = ("session", "app", "browser")


def thresholds(moves: int) -> list[tuple[float, bool]]:
    """(value, dragging) for each move: 0.30 → 0.70 → 0.30 … in steps of 0.01; odd sweeps are drags."""
    values, value, step, sweep = [], 30, 1, 0
    for _ in range(moves):
        value += step
        if not 30 <= value <= 70:
            step, sweep = -step, sweep + 1
            value += 2 * step
        values.append((value / 100, sweep % 2 == 1))
    return values


def run_session(files: dict[str, Path], moves: int, warmup: int) -> dict[str, float]:
    from LesionSegLib.headless import make_scene
    from LesionSegLib.session import ReviewSession

    session = ReviewSession(make_scene().scene)
    session.set_inputs(files["flair"])
    session.set_reference(files["reference"])
    session.load_probability(files["probability"], 0.5)
    return measure(lambda t, _drag: session.set_threshold(t), moves, warmup, None)


def run_app(files: dict[str, Path], moves: int, warmup: int, trace: int) -> dict[str, float]:
    from LesionSegWeb.app import AppConfig, ReviewWebApp
    from LesionSegWeb.services import DemoLibrary, Services

    with tempfile.TemporaryDirectory() as out:
        app = ReviewWebApp(AppConfig(flair=files["flair"], reference=files["reference"],
                                     probability=files["probability"], views="direct", out=Path(out),
                                     services=Services(models=list, demos=DemoLibrary(Path(out), seeds=()))))
        app.server.state.ready()
        state, binding = app.server.state, app.binding
        dragging = [False]

        def move(t: float, drag: bool) -> None:
            if drag and not dragging[0]:
                binding.threshold_start()
            elif not drag and dragging[0]:
                binding.threshold_end(state.threshold)
            dragging[0] = drag
            state.threshold = t
            state.flush()

        return measure(move, moves, warmup, trace)


def run_browser(files: dict[str, Path], moves: int, warmup: int) -> dict[str, float]:
    """``lesionseg app`` (streamed views) driven by Chromium's keyboard on the slider; RSS of the server."""
    from playwright.sync_api import sync_playwright

    from LesionSegWeb.guard import printed_url

    with tempfile.TemporaryDirectory() as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "LesionSegLogic", "app", "--flair", str(files["flair"]), "--reference",
             str(files["reference"]), "--probability", str(files["probability"]), "--port", str(free_port()),
             "--out", out], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            url = printed_url(server.stdout)
            if url is None:
                raise RuntimeError("lesionseg app ended without printing its address")
            with sync_playwright() as pw, tempfile.TemporaryDirectory() as profile:
                context = pw.chromium.launch_persistent_context(
                    profile, executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS, headless=True,
                    viewport={"width": 1500, "height": 950})
                page = context.new_page()
                page.goto(url)
                page.locator("#summary").filter(has_text="t = ").wait_for(timeout=120_000)
                slider = page.get_by_role("slider", name="Decision threshold")
                slider.focus()
                current = [round(float(slider.get_attribute("aria-valuenow")), 2)]

                def move(t: float, _drag: bool) -> None:
                    key = "ArrowRight" if t > current[0] else "ArrowLeft"
                    while abs(current[0] - t) > 1e-9:
                        page.keyboard.press(key)
                        current[0] = round(current[0] + (0.01 if key == "ArrowRight" else -0.01), 2)
                    page.locator("#summary").filter(has_text=f"t = {t:.2f}").wait_for(timeout=30_000)

                return measure(move, moves, warmup, None, pid=server.pid)
        finally:
            server.terminate()
            server.wait(timeout=20)


def measure(move, moves: int, warmup: int, trace: int | None, pid: int | None = None) -> dict[str, float]:
    """RSS of ``pid`` (this process by default) after ``warmup`` moves and after ``moves`` more."""
    pid = pid or os.getpid()
    plan = thresholds(warmup + moves)
    for t, drag in plan[:warmup]:
        move(t, drag)
    gc.collect()
    before = rss_mib(pid)[0]
    if trace:
        tracemalloc.start(12)
        snapshot = tracemalloc.take_snapshot()
    begin = time.perf_counter()
    for t, drag in plan[warmup:]:
        move(t, drag)
    seconds = time.perf_counter() - begin
    gc.collect()
    after, peak = rss_mib(pid)
    if trace:
        top = tracemalloc.take_snapshot().compare_to(snapshot, "traceback")[:trace]
        for stat in top:
            print(f"{stat.size_diff / 1024:9.1f} KiB {stat.count_diff:+7d} blocks", file=sys.stderr)
            for line in stat.traceback.format()[-8:]:
                print("     ", line, file=sys.stderr)
    return {"before": before, "after": after, "peak": peak, "growth": after - before,
            "per_1000": (after - before) * 1000 / moves, "ms_per_move": 1000 * seconds / moves}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--moves", type=int, default=1000)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument("--trace", type=int, default=0, help="print the N largest tracemalloc growths (app)")
    parser.add_argument("--browser", action="store_true",
                        help="also `lesionseg app` with streamed views, driven by Chromium's keyboard")
    parser.add_argument("--phantom", action="store_true", help="the whole 1 mm phantom brain (slow to make)")
    parser.add_argument("--side", choices=SIDES, help=argparse.SUPPRESS)
    parser.add_argument("--case", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.side:
        files = case_files(args.case)
        if args.side == "browser":
            result = run_browser(files, args.moves, args.warmup)
        elif args.side == "session":
            result = run_session(files, args.moves, args.warmup)
        else:
            result = run_app(files, args.moves, args.warmup, args.trace)
        print(json.dumps(result))
        return 0

    with tempfile.TemporaryDirectory() as tmp:
        case = make_case(Path(tmp) / "case", None if args.phantom else FOV_MM)
        load_before = os.getloadavg()
        results = {}
        for side in SIDES if args.browser else SIDES[:2]:
            done = subprocess.run([sys.executable, __file__, "--side", side, "--case", str(case), "--moves",
                                   str(args.moves), "--warmup", str(args.warmup), "--trace", str(args.trace)],
                                  capture_output=True, text=True, check=False)
            if done.returncode != 0:
                print(done.stdout, done.stderr, file=sys.stderr)
                return 1
            if args.trace and side == "app":
                print(done.stderr.strip(), file=sys.stderr)
            results[side] = json.loads(done.stdout.strip().splitlines()[-1])
        load_after = os.getloadavg()
        shape = __import__("nibabel").load(str(case_files(case)["flair"])).shape

    print(f"## Server memory over {args.moves} slider moves (after {args.warmup} warm-up moves)\n")
    kind = "brain" if args.phantom else "crop"
    print(f"case: phantom {kind} {shape}, stand-in probability; load average {load_before[0]:.2f} before, "
          f"{load_after[0]:.2f} after ({os.cpu_count()} CPUs)\n")
    print("| | RSS after warm-up (MiB) | RSS at the end (MiB) | growth (MiB) | growth per 1,000 moves (MiB) "
          "| ms per move |")
    print("|---|---|---|---|---|---|")
    for side, label in zip(SIDES, ("ReviewSession alone (baseline)", "web app, direct views, through the binding",
                                   "`lesionseg app`, streamed views, Chromium keyboard"), strict=True):
        if side not in results:
            continue
        r = results[side]
        print(f"| {label} | {r['before']:.0f} | {r['after']:.0f} | {r['growth']:+.1f} | {r['per_1000']:+.1f} "
              f"| {r['ms_per_move']:.1f} |")
    for side in SIDES[1:]:
        if side in results:
            verdict = "meets" if results[side]["per_1000"] < 20 else "MISSES"
            print(f"\n{side}: growth per 1,000 moves {results[side]['per_1000']:+.1f} MiB, {verdict} the target "
                  "(< 20 MB)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
