"""The web app in a real browser (Chromium through Playwright): ``lesionseg app`` is started as a user would,
then the page is driven with the keyboard and the mouse — slider, metrics text, overlay frames, lesion rows,
demo, bad paths, export."""

from __future__ import annotations

import os
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("slicer")
pytest.importorskip("trame_slicer")
playwright_api = pytest.importorskip("playwright.sync_api")

from test_web_state import write_case  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slicer]

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update", "--disable-sync"]


def ensure_chromium() -> None:
    if not os.path.exists(CHROMIUM):
        subprocess.run([str(ROOT / "scripts" / "install_browser.sh")], check=False, timeout=600)
    if not os.path.exists(CHROMIUM):
        pytest.skip("chromium could not be installed")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    ensure_chromium()
    root = tmp_path_factory.mktemp("browser")
    case = write_case(root / "cases" / "case-a")
    write_case(root / "demos" / "demo-a")
    port = free_port()
    command = [sys.executable, "-m", "LesionSegLogic", "app", "--case", str(case), "--port", str(port),
               "--demo-dir", str(root / "demos"), "--out", str(root / "out")]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, cwd=root)
    try:
        wait_for_server(process, port)
        yield {"url": f"http://127.0.0.1:{port}/", "root": root, "process": process}
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


@pytest.fixture(scope="module")
def page(served):
    with playwright_api.sync_playwright() as pw:
        profile = served["root"] / "chromium-profile"
        context = pw.chromium.launch_persistent_context(
            str(profile), executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
            viewport={"width": 1500, "height": 950})
        page = context.new_page()
        page.goto(served["url"])
        page.locator("#summary").filter(has_text="t = ").wait_for(timeout=60_000)
        yield page
        context.close()
        shutil.rmtree(profile, ignore_errors=True)


def summary(page) -> str:
    return page.locator("#summary").inner_text()


def axial_frame(page) -> str:
    """The src of the image the axial view streams (changes with every new frame)."""
    return page.locator("img").first.get_attribute("src") or ""


def test_page_opens_the_case_with_its_metrics(page) -> None:
    assert re.match(r"t = 0\.\d\d · TP \d+ · FP \d+ · FN \d+", summary(page))
    assert "case-a" in page.locator("#case-name").inner_text()
    assert page.get_by_role("button", name=re.compile("Jump to .* lesion")).count() >= 3
    assert page.locator("#curve-marker").count() == 1


def test_keyboard_moves_the_threshold_metrics_and_overlay(page) -> None:
    slider = page.get_by_role("slider", name="Decision threshold")
    slider.focus()
    before_text, before_frame = summary(page), axial_frame(page)
    start = float(slider.get_attribute("aria-valuenow"))
    for _ in range(20):
        page.keyboard.press("ArrowRight")
    page.wait_for_function("(t) => document.querySelector('#summary').innerText.startsWith(t)",
                           arg=f"t = {start + 0.2:.2f}", timeout=20_000)
    page.wait_for_function("(old) => document.querySelector('img').getAttribute('src') !== old",
                           arg=before_frame, timeout=20_000)
    assert summary(page) != before_text
    marker = page.locator("#curve-marker")
    assert float(marker.get_attribute("x1")) == pytest.approx(200 * (start + 0.2), abs=0.5)


def test_matching_rule_select_and_overlay_mode_toggle(page) -> None:
    slider = page.get_by_role("slider", name="Decision threshold")
    slider.focus()
    page.keyboard.press("Home")
    for _ in range(30):  # t = 0.30: hussein and anima disagree on this case there (test_web_state)
        page.keyboard.press("ArrowRight")
    page.locator("#summary").filter(has_text="t = 0.30").wait_for(timeout=20_000)
    select = page.get_by_role("combobox", name="Matching rule")
    assert select.input_value() == "hussein"
    before = summary(page)
    select.select_option("anima")
    page.locator("#message").filter(has_text="Matching rule: anima").wait_for(timeout=20_000)
    page.wait_for_function("(old) => document.querySelector('#summary').innerText !== old", arg=before,
                           timeout=20_000)
    before_frame = axial_frame(page)
    toggle = page.get_by_role("group", name="Overlay mode")
    toggle.get_by_role("button", name="Voxel-wise overlay").click()
    page.locator("#message").filter(has_text="Overlay mode: voxel-wise").wait_for(timeout=20_000)
    page.wait_for_function("(old) => document.querySelector('img').getAttribute('src') !== old",
                           arg=before_frame, timeout=20_000)
    toggle.get_by_role("button", name="Lesion-wise overlay").click()
    page.locator("#message").filter(has_text="Overlay mode: lesion-wise").wait_for(timeout=20_000)


def test_clicking_a_lesion_row_jumps_the_views(page) -> None:
    before = axial_frame(page)
    row = page.get_by_role("button", name=re.compile("Jump to reference lesion")).last
    row.click()
    page.locator("#message").filter(has_text=re.compile("Reference lesion \\d+ at R")).wait_for(timeout=20_000)
    page.wait_for_function("(old) => document.querySelector('img').getAttribute('src') !== old",
                           arg=before, timeout=20_000)


def test_a_path_outside_the_allowed_folders_is_refused_in_the_panel(page) -> None:
    page.get_by_text("Open a case or files").click()
    page.get_by_label("FLAIR file").fill("/etc/hostname")
    page.get_by_role("button", name="Open files").click()
    page.locator("#message").filter(has_text="outside the folders").wait_for(timeout=20_000)
    assert "case-a" in page.locator("#case-name").inner_text()  # nothing changed, server alive


def test_demo_loads_from_the_panel(page) -> None:
    page.get_by_role("button", name="Load demo phantom").click()
    page.locator("#case-name").filter(has_text="demo-a").wait_for(timeout=30_000)
    page.locator("#summary").filter(has_text="t = 0.50").wait_for(timeout=20_000)


def test_export_writes_the_review(page, served) -> None:
    page.get_by_role("button", name="Export review").click()
    page.locator("#exported").filter(has_text="review-001").wait_for(timeout=30_000)
    folder = served["root"] / "out" / "review-001"
    assert (folder / "lesionseg_metrics.json").is_file()
    assert (folder / "lesionseg_prediction.seg.nrrd").is_file()
    assert served["process"].poll() is None
