"""Screenshots of the review web page for the docs: ``docs/screenshots/review_1600x1000.png`` and
``review_1280x800.png``, taken in Chromium (Playwright, the project's browser flags: DEVELOPERS.md) after a demo
run with the threshold slider moved off the model's recommended value and the 3-D lesion view on.

    python scripts/screenshots.py                       # runs `lesionseg demo` into demo_output/ first if needed
    python scripts/screenshots.py --demo /tmp/demo --threshold 0.6

The app is started as ``make app`` starts it (the demo's FLAIR, T2, reference and probability map, rule anima).
Each picture is saved as a palette PNG of at most :data:`MAX_BYTES` (the docs stay small); the script fails if
one would be larger.
"""

from __future__ import annotations

import argparse
import io
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from LesionSegWeb.guard import URL_LINE
from LesionSegWeb.headless import CHROMIUM, CHROMIUM_ARGS, free_port, stop_process

ROOT = Path(__file__).resolve().parents[1]
SIZES: tuple[tuple[int, int], ...] = ((1600, 1000), (1280, 800))
MAX_BYTES = 300 * 1024


@dataclass(frozen=True)
class Shot:
    """One picture: the page size and where it was written (with its size in bytes)."""

    width: int
    height: int
    path: Path
    size: int


def demo_case(demo: Path) -> Path:
    """``demo`` with the outputs of ``lesionseg demo`` (phantom + prediction), made now if missing."""
    if not (demo / "prediction" / "probability.nii.gz").is_file():
        print(f"running `lesionseg demo {demo}` (phantom + the recommended model, a few minutes on a CPU)…",
              flush=True)
        subprocess.run([sys.executable, "-m", "LesionSegLogic", "demo", str(demo)], check=True, cwd=ROOT)
    return demo


def start_app(demo: Path, out: Path) -> tuple[subprocess.Popen, str]:
    """``lesionseg app`` on the demo (as ``make app``), and the address it printed (with its secret)."""
    case, prediction = demo / "case", demo / "prediction"
    command = [sys.executable, "-m", "LesionSegLogic", "app", "--flair", str(case / "flair.nii.gz"),
               "--t2", str(case / "t2.nii.gz"), "--reference", str(case / "lesions.nii.gz"),
               "--probability", str(prediction / "probability.nii.gz"), "--rule", "anima",
               "--port", str(free_port()), "--out", str(out)]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=ROOT)
    deadline = time.monotonic() + 180
    for line in process.stdout:  # type: ignore[union-attr]
        if line.startswith(URL_LINE):
            return process, line[len(URL_LINE):].strip()
        if time.monotonic() > deadline:
            break
    process.kill()
    raise RuntimeError("lesionseg app did not print its address")


def _palette(rgb: np.ndarray, greys: int, colours: int) -> Any:
    """A palette image of ``greys`` evenly spaced greys (the slice views) and ``colours`` colours adapted to the
    saturated pixels (overlay, curves, buttons), so neither the MRI nor the curve colours are crushed."""
    from PIL import Image

    saturated = rgb[(rgb.max(axis=-1).astype(int) - rgb.min(axis=-1)) > 24]
    palette = [int(v) for g in np.linspace(0, 255, greys) for v in (g, g, g)]
    if saturated.size:
        adapted = Image.fromarray(saturated.reshape(1, -1, 3)).quantize(colours, method=Image.Quantize.FASTOCTREE)
        palette += adapted.getpalette()[: 3 * colours]
    palette += [0] * (768 - len(palette))
    image = Image.new("P", (1, 1))
    image.putpalette(palette[:768])
    return image


def small_png(png: bytes, limit: int = MAX_BYTES) -> bytes:
    """``png`` as a palette PNG of at most ``limit`` bytes: greys for the views plus colours for the rest, fewer
    of each if needed."""
    from PIL import Image

    image = Image.open(io.BytesIO(png)).convert("RGB")
    rgb = np.asarray(image)
    for greys, colours in ((128, 128), (96, 96), (64, 64)):
        buffer = io.BytesIO()
        image.quantize(palette=_palette(rgb, greys, colours), dither=Image.Dither.NONE).save(buffer, "PNG",
                                                                                               optimize=True)
        if buffer.tell() <= limit:
            return buffer.getvalue()
    raise RuntimeError(f"a screenshot stays over {limit} bytes even with 128 colours")


def _settle(page, threshold: float) -> None:
    """Move the slider with the keyboard to ``threshold`` (as a person would) and wait for the review to follow."""
    slider = page.get_by_role("slider", name="Decision threshold")
    slider.focus()
    current = float(slider.get_attribute("aria-valuenow"))
    steps = round((threshold - current) / 0.01)
    key = "ArrowRight" if steps > 0 else "ArrowLeft"
    for _ in range(abs(steps)):
        page.keyboard.press(key)
    page.locator("#summary").filter(has_text=f"t = {threshold:.2f}").wait_for(timeout=120_000)


def _steady_frames(page, timeout_s: float = 20.0) -> None:
    """Wait until no view image changed for a second."""
    deadline, last, since = time.monotonic() + timeout_s, None, time.monotonic()
    while time.monotonic() < deadline:
        sources = page.evaluate("() => Array.from(document.querySelectorAll('img')).map(i => i.src.length + i.src)")
        if sources != last:
            last, since = sources, time.monotonic()
        elif time.monotonic() - since > 1.0:
            return
        page.wait_for_timeout(200)


def take(url: str, out_dir: Path, threshold: float, profile: Path) -> list[Shot]:
    from playwright.sync_api import sync_playwright

    shots = []
    with sync_playwright() as pw:
        context = pw.chromium.launch_persistent_context(str(profile), executable_path=CHROMIUM,
                                                        args=CHROMIUM_ARGS, headless=True)
        page = context.new_page()
        for width, height in SIZES:
            page.set_viewport_size({"width": width, "height": height})
            page.goto(url if not shots else url.split("?")[0])  # the cookie holds the secret after the first
            page.locator("#summary").filter(has_text="t = ").wait_for(timeout=180_000)
            _settle(page, threshold)
            three_d = page.get_by_role("button", name="Lesions in 3D")
            if three_d.count() and three_d.get_attribute("aria-pressed") != "true":
                three_d.click()  # the lesions as surfaces coloured by status, beside the slices
                page.wait_for_function("() => document.querySelectorAll('img').length >= 4", timeout=60_000)
            _steady_frames(page)
            path = out_dir / f"review_{width}x{height}.png"
            data = small_png(page.screenshot())
            path.write_bytes(data)
            shots.append(Shot(width, height, path, len(data)))
        context.close()
    return shots


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", type=Path, default=ROOT / "demo_output",
                        help="folder of `lesionseg demo` outputs (made if missing; default demo_output)")
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "screenshots", help="where the PNGs go")
    parser.add_argument("--threshold", type=float, default=0.6, help="where the slider is moved to (default 0.6)")
    args = parser.parse_args(argv)
    if not os.path.exists(CHROMIUM):
        subprocess.run([str(ROOT / "scripts" / "install_browser.sh")], check=True)
    demo = demo_case(args.demo.resolve())
    args.out.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="lesionseg-screenshots-"))
    process, url = start_app(demo, work / "exports")
    try:
        shots = take(url, args.out, args.threshold, work / "chromium-profile")
    finally:
        stop_process(process)
        shutil.rmtree(work, ignore_errors=True)
    for shot in shots:
        print(f"{shot.path.relative_to(ROOT) if shot.path.is_relative_to(ROOT) else shot.path}: "
              f"{shot.width}×{shot.height}, {shot.size / 1024:.0f} KiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
