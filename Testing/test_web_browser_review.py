"""Saved reviews, the report and two maps side by side in a real browser (Chromium through Playwright), driven as a
person would: keyboard on the sliders, clicks on rows, buttons and fields. The app is ``lesionseg app --case`` as
served by browser_launch.py. Screenshots go to the test's folder (``SCREENSHOTS`` to keep them)."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

pytest.importorskip("slicer")
pytest.importorskip("trame_slicer")
pytest.importorskip("playwright.sync_api")

from browser_launch import app_in_chromium
from web_cases import write_case

from LesionSegLogic.io import read_image, write_image

pytestmark = [pytest.mark.browser, pytest.mark.slicer]
WAIT = 30_000


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    """One app and one Chromium page for the module's three flows (they run in order on the same page)."""
    root = tmp_path_factory.mktemp("browser-review")
    case = write_case(root / "cases" / "case-a")
    first = read_image(case / "probability.nii.gz", role="probability")
    write_image(first.with_array(first.array ** 2), case / "probability_b.nii.gz")  # map B: a sharper map
    with app_in_chromium(case, root, (1600, 1000)) as app:
        yield {"page": app.page, "root": root, "case": case}


@pytest.fixture(scope="module")
def page(served):
    return served["page"]


def shot(page, served, name: str) -> Path:
    folder = Path(os.environ.get("SCREENSHOTS") or served["root"])
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.png"
    page.screenshot(path=str(path))
    return path


def text(page, selector: str) -> str:
    return page.locator(selector).inner_text()


def press(page, slider: str, key: str, times: int) -> None:
    page.get_by_role("slider", name=slider).focus()
    for _ in range(times):
        page.keyboard.press(key)


def test_save_a_review_with_a_note_and_reopen_it(page, served) -> None:
    start = float(page.get_by_role("slider", name="Decision threshold").get_attribute("aria-valuenow"))
    target = f"{start - 0.07:.2f}"
    press(page, "Decision threshold", "ArrowLeft", 7)
    page.locator("#summary").filter(has_text=f"t = {target}").wait_for(timeout=WAIT)
    row = page.get_by_role("button", name=re.compile(r"Jump to reference lesion \d+ \(FN\)")).first
    row.click()
    page.locator("#lesion-note").wait_for(state="visible", timeout=WAIT)
    page.get_by_role("button", name="Note: artefact").click()
    page.locator("#lesion-note-text").filter(has_text="artefact").wait_for(timeout=WAIT)
    saved_summary = text(page, "#summary")
    page.get_by_role("button", name="Save review").click()
    page.locator("#saved-review").filter(has_text="saved-review-001").wait_for(timeout=WAIT)
    folder = text(page, "#saved-review").removeprefix("Saved: ").strip()
    assert (Path(folder) / "review.json").is_file()

    press(page, "Decision threshold", "ArrowRight", 20)
    page.wait_for_function("(old) => document.querySelector('#summary').innerText !== old", arg=saved_summary,
                           timeout=WAIT)
    page.get_by_label("Saved review folder").fill(folder)
    page.get_by_role("button", name="Open saved review").click()
    page.locator("#message").filter(has_text="Opened the saved review").wait_for(timeout=WAIT)
    page.wait_for_function("(s) => document.querySelector('#summary').innerText === s", arg=saved_summary,
                           timeout=WAIT)
    assert "1 notes" in text(page, "#message")
    assert page.get_by_role("slider", name="Decision threshold").get_attribute("aria-valuenow") == target
    row = page.get_by_role("button", name=re.compile(r"Jump to reference lesion \d+ \(FN\)")).first
    assert "✎" in row.inner_text()  # the table marks the noted lesion
    row.click()
    page.locator("#lesion-note-text").filter(has_text="artefact").wait_for(timeout=WAIT)
    shot(page, served, "saved_review_reopened")


def test_export_the_report_and_open_it(page, served) -> None:
    page.get_by_role("button", name="Export report").click()
    page.locator("#report-file").filter(has_text="report-001.html").wait_for(timeout=WAIT)
    path = Path(text(page, "#report-file").removeprefix("Report: ").strip())
    report = page.context.new_page()
    try:
        report.goto(path.as_uri())
        ids = report.eval_on_selector_all("section", "nodes => nodes.map(n => n.id)")
        assert ids == ["summary", "load", "key-slices", "review-picture", "curve", "lesions", "provenance"]
        images = report.eval_on_selector_all("img", "nodes => nodes.map(n => [n.src.slice(0, 22), n.naturalWidth])")
        assert len(images) >= 5 and all(src == "data:image/png;base64," and width > 0 for src, width in images)
        assert "artefact" in report.locator("#lesions").inner_text()
        assert "flair.nii.gz" in report.locator("#provenance").inner_text()
        report.set_viewport_size({"width": 1200, "height": 1000})
        report.screenshot(path=str(Path(os.environ.get("SCREENSHOTS") or served["root"]) / "report.png"),
                          full_page=True)
    finally:
        report.close()


def test_two_maps_side_by_side_with_independent_sliders(page, served) -> None:
    page.get_by_label("Second probability map").fill(str(served["case"] / "probability_b.nii.gz"))
    page.get_by_role("button", name="Compare side by side").click()
    page.locator("#compare-panel").wait_for(state="visible", timeout=WAIT)
    page.locator("#compare-summary-b").filter(has_text="t = ").wait_for(timeout=WAIT)
    page.wait_for_function("() => document.querySelectorAll('img').length >= 2", timeout=WAIT)
    a_value, b_value = text(page, "#threshold-value"), text(page, "#threshold-b-value")
    press(page, "Map B threshold", "ArrowLeft", 25)
    page.wait_for_function("(v) => document.querySelector('#threshold-b-value').innerText !== v", arg=b_value,
                           timeout=WAIT)
    page.locator("#compare-summary-b").filter(has_text=f"t = {float(b_value) - 0.25:.2f}").wait_for(timeout=WAIT)
    assert text(page, "#threshold-value") == a_value  # A did not move
    b_now = text(page, "#threshold-b-value")
    press(page, "Decision threshold", "ArrowRight", 10)
    page.locator("#summary").filter(has_text=f"t = {float(a_value) + 0.10:.2f}").wait_for(timeout=WAIT)
    assert text(page, "#threshold-b-value") == b_now  # B did not move
    rows = page.locator("#compare-table tbody tr")
    assert rows.count() >= 8
    fn = page.locator("#compare-table tbody tr", has_text="Missed lesions (FN)").locator("td")
    assert fn.count() == 3 and fn.nth(1).inner_text().isdigit() and fn.nth(2).inner_text().isdigit()
    shot(page, served, "side_by_side")
    page.get_by_role("button", name="Stop comparing").click()
    page.locator("#compare-panel").wait_for(state="hidden", timeout=WAIT)
