"""The web app in a real browser (Chromium through Playwright): the app is started as ``lesionseg app`` builds it
(same ``AppConfig`` from the same command line), with one difference: its model list is a slow fake model that
honours cancel (``browser_launch.py`` run as a script, :func:`browser_launch.app_in_chromium`). The page
is driven with the keyboard and the mouse — slider, metrics text, overlay frames, lesion rows, run + cancel,
accept, failed opens, demo, bad paths, export.
"""

from __future__ import annotations

import re
import time

import numpy as np
import pytest

pytest.importorskip("slicer")
pytest.importorskip("trame_slicer")
pytest.importorskip("playwright.sync_api")

from browser_launch import app_in_chromium
from page_actions import mouse_stroke, shown_pixels
from web_cases import write_case

pytestmark = [pytest.mark.browser, pytest.mark.slicer]


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser")
    case = write_case(root / "cases" / "case-a")
    write_case(root / "demos" / "demo-a")
    with app_in_chromium(case, root, (1500, 950), "--demo-dir", str(root / "demos")) as app:
        assert f":{app.port}/?token=" in app.url  # the address with the per-launch secret, as the app prints it
        yield {"url": app.url, "root": root, "process": app.process, "page": app.page}


@pytest.fixture(scope="module")
def page(served):
    return served["page"]


def summary(page) -> str:
    return page.locator("#summary").inner_text()


def axial_frame(page) -> str:
    """The src of the image the axial view streams (changes with every new frame)."""
    return page.locator("img").first.get_attribute("src") or ""


def test_the_app_refuses_requests_without_its_secret_or_from_another_origin(served) -> None:
    """The running app is guarded (issue 18 item 1; the attacks themselves: test_web_security.py)."""
    import urllib.error
    import urllib.request

    base = served["url"].split("?")[0]
    for url, headers in ((base, {}), (served["url"], {"Origin": "http://evil.example"})):
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(urllib.request.Request(url, headers=headers), timeout=30)
        assert refused.value.code == 403


def test_a_page_from_another_origin_cannot_open_the_websocket(page, served) -> None:
    """A real Chromium page served from http://evil.example (even knowing the secret) is refused; the same
    script from the app's own page connects."""
    ws_url = served["url"].replace("http://", "ws://").replace("/?token=", "/ws?token=")
    script = """(url) => new Promise((done) => { const ws = new WebSocket(url);
        ws.onopen = () => { ws.close(); done("open"); }; ws.onerror = () => done("refused"); })"""
    evil = page.context.new_page()
    try:
        evil.route("http://evil.example/**", lambda route: route.fulfill(body="<html><body>hi</body></html>",
                                                                       content_type="text/html"))
        evil.goto("http://evil.example/")
        assert evil.evaluate(script, ws_url) == "refused"
    finally:
        evil.close()
    assert page.evaluate(script, ws_url) == "open"


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
    from LesionSegLogic.defaults import DEFAULT_RULE

    select = page.get_by_role("combobox", name="Matching rule")
    assert select.input_value() == DEFAULT_RULE
    other = "hussein" if DEFAULT_RULE == "anima" else "anima"
    before = summary(page)
    select.select_option(other)
    page.locator("#message").filter(has_text=f"Matching rule: {other}").wait_for(timeout=20_000)
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


MESSAGE_LOG_JS = """() => {
  window.__messages = [];
  const box = document.querySelector('#message');
  new MutationObserver(() => window.__messages.push([performance.now(), box.innerText]))
    .observe(box, {childList: true, characterData: true, subtree: true});
}"""


def progress_percent(page) -> float:
    return float(page.get_by_role("progressbar", name="Inference progress").get_attribute("aria-valuenow") or 0)


def drag_slider(page, by: float) -> None:
    """Drag the threshold slider's thumb with the mouse by ``by`` (a fraction of the track), in small moves."""
    track = page.locator("#threshold-row .v-slider-track").bounding_box()
    value = float(page.get_by_role("slider", name="Decision threshold").get_attribute("aria-valuenow"))
    x, y = track["x"] + value * track["width"], track["y"] + track["height"] / 2
    mouse_stroke(page, x, y, (by * track["width"] / 10, 0.0), moves=10, pause_ms=16)


def changed_pixels(a: np.ndarray, b: np.ndarray) -> int:
    return int(np.count_nonzero(np.abs(a - b).max(axis=-1) > 40))


def steady_axial(page, timeout_s: float = 30.0) -> np.ndarray:
    """The axial view once it stops changing (two looks 0.5 s apart agree): late frames have landed."""
    deadline = time.monotonic() + timeout_s
    last = shown_pixels(page)
    while time.monotonic() < deadline:
        page.wait_for_timeout(500)
        now = shown_pixels(page)
        if changed_pixels(now, last) == 0:
            return now
        last = now
    return last


def wait_for_axial(page, condition, timeout_s: float = 30.0) -> bool:
    """Whether the axial view comes to meet ``condition(pixels)`` within ``timeout_s``."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if condition(shown_pixels(page)):
            return True
        page.wait_for_timeout(250)
    return False


def test_cancel_from_the_page_stops_the_run_and_keeps_the_review(page, served) -> None:
    """Issue 15 item 2: the page answers while a model runs (slider, Cancel); Cancel stops the run at once and
    the review is the one from before the run."""
    out_before = sorted(p.name for p in (served["root"] / "out").glob("*")) if (served["root"] / "out").exists() \
        else []
    page.get_by_role("button", name="Run model").click()
    page.wait_for_function("() => { const b = document.querySelector('[aria-label=\"Inference progress\"]');"
                           " return b && Number(b.getAttribute('aria-valuenow')) >= 5; }", timeout=60_000)
    before = summary(page)
    drag_slider(page, -0.1)  # the slider keeps working during the run: a new summary comes back
    threshold = page.get_by_role("slider", name="Decision threshold").get_attribute("aria-valuenow")
    page.locator("#summary").filter(has_text=f"t = {float(threshold):.2f}").wait_for(timeout=10_000)
    during = summary(page)
    assert during != before
    assert page.locator("#message").inner_text().startswith("Running")
    assert progress_percent(page) < 100
    page.evaluate(MESSAGE_LOG_JS)  # every message text with its time: "Cancelling…" may show only briefly
    clicked = page.evaluate("() => performance.now()")
    page.get_by_role("button", name="Cancel inference").click()
    page.locator("#message").filter(has_text="cancelled").wait_for(timeout=5_000)
    log = page.evaluate("() => window.__messages")
    cancelling = next(t for t, text in log if "Cancelling…" in text)
    ended = next(t for t, text in log if "cancelled" in text)
    assert cancelling - clicked < 1_000 and ended - clicked < 2_000, log
    assert page.get_by_role("button", name="Run model").is_enabled()
    assert summary(page) == during
    assert page.get_by_role("slider", name="Decision threshold").get_attribute("aria-valuenow") == threshold
    after = sorted(p.name for p in (served["root"] / "out").glob("*")) if (served["root"] / "out").exists() else []
    assert after == out_before  # nothing written


def test_accept_shows_an_outline_that_stays_while_the_review_follows(page) -> None:
    """Issue 15 item 3: accept at t1, move to t2: the summary follows t2, the accepted outline stays t1, the
    toggle hides it (the axial frame changes each time)."""
    slider = page.get_by_role("slider", name="Decision threshold")
    t1 = float(slider.get_attribute("aria-valuenow"))
    page.get_by_role("button", name="Accept prediction").click()
    page.locator("#accepted").filter(has_text=f"t={t1:.2f}").wait_for(timeout=20_000)
    page.get_by_role("button", name=re.compile("Jump to predicted lesion")).first.click()  # a slice it covers
    page.locator("#message").filter(has_text=re.compile("Predicted lesion \\d+ at R")).wait_for(timeout=20_000)
    slider.focus()
    for _ in range(15):
        page.keyboard.press("ArrowRight")
    page.locator("#summary").filter(has_text=f"t = {t1 + 0.15:.2f}").wait_for(timeout=20_000)
    assert f"t={t1:.2f}" in page.locator("#accepted").inner_text()
    shown = steady_axial(page)
    page.get_by_role("checkbox", name="Show accepted outline").uncheck()
    assert wait_for_axial(page, lambda pixels: changed_pixels(pixels, shown) > 20)  # the outline went away …
    hidden = steady_axial(page)
    page.get_by_role("checkbox", name="Show accepted outline").check()
    assert wait_for_axial(page, lambda pixels: changed_pixels(pixels, shown) <= 5)  # … and comes back
    assert changed_pixels(hidden, shown) > 20


def test_brush_and_undo_on_the_accepted_segmentation_then_rescore(page) -> None:
    """trame-slicer's segment editor in the page: a brush stroke with the mouse on the axial view changes the
    accepted segmentation (Undo becomes possible, Re-score counts the painted voxels), Undo takes it back."""
    group = page.get_by_role("group", name="Edit tool")
    group.get_by_role("button", name="Brush tool").click()
    box = page.locator("img").first.bounding_box()
    x, y = box["x"] + box["width"] * 0.25, box["y"] + box["height"] * 0.3  # away from the lesions
    mouse_stroke(page, x, y, (4, 2), moves=15, pause_ms=30)
    undo = page.get_by_role("button", name="Undo edit")
    page.wait_for_function("() => !document.querySelector('[aria-label=\"Undo edit\"]').disabled",
                           timeout=20_000)
    group.get_by_role("button", name="None tool").click()
    before = summary(page)
    page.get_by_role("button", name="Re-score accepted segmentation").click()
    page.locator("#message").filter(has_text="Re-scored").wait_for(timeout=20_000)
    page.wait_for_function("(old) => document.querySelector('#summary').innerText !== old", arg=before,
                           timeout=20_000)
    painted = summary(page)
    undo.click()
    page.locator("#message").filter(has_text="Undid the last edit").wait_for(timeout=20_000)
    page.get_by_role("button", name="Re-score accepted segmentation").click()
    page.wait_for_function("(old) => document.querySelector('#summary').innerText !== old", arg=painted,
                           timeout=20_000)
    assert false_positives(painted) == false_positives(summary(page)) + 1  # the stroke was one new FP lesion


def false_positives(text: str) -> int:
    return int(re.search(r"FP (\d+)", text).group(1))


def test_a_failed_open_names_the_file_and_keeps_the_review(page, served) -> None:
    """Issue 15 item 7: a good FLAIR with a corrupt probability map: the message names the file; the open case,
    its summary and threshold stay."""
    case = served["root"] / "cases" / "case-a"
    (case / "corrupt.nii.gz").write_bytes(b"\x1f\x8b this is not a volume")
    before, case_name = summary(page), page.locator("#case-name").inner_text()
    threshold = page.get_by_role("slider", name="Decision threshold").get_attribute("aria-valuenow")
    page.get_by_text("Open a case or files").click()
    page.get_by_label("FLAIR file").fill(str(case / "flair.nii.gz"))
    page.get_by_label("Probability map (optional)").fill(str(case / "corrupt.nii.gz"))
    page.get_by_role("button", name="Open files").click()
    page.locator("#message").filter(has_text="corrupt.nii.gz").wait_for(timeout=20_000)
    assert summary(page) == before and page.locator("#case-name").inner_text() == case_name
    assert page.get_by_role("slider", name="Decision threshold").get_attribute("aria-valuenow") == threshold
    page.get_by_label("Probability map (optional)").fill("")
    page.get_by_text("Open a case or files").click()  # fold the panel again


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
