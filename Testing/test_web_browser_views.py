"""The page at a laptop's size in a real browser (Chromium through Playwright): slider, summary, lesion table and
curve in sight together at 1280 × 800 and 1600 × 1000 without scrolling, a click on the curve moves the slider,
window/level by drag, the file picker by clicking. The app is the one ``lesionseg app`` builds (served by
browser_launch.app_in_chromium). The default suite runs the 1280 × 800 checks; the 1600 × 1000 size and the picker are
`heavy` (the module's cost is the app's start)."""

from __future__ import annotations

import re

import pytest

pytest.importorskip("slicer")
pytest.importorskip("trame_slicer")
pytest.importorskip("playwright.sync_api")

from browser_launch import app_in_chromium
from page_actions import mouse_stroke, shown_pixels
from web_cases import write_case

from LesionSegWeb.curve import FRAME

pytestmark = [pytest.mark.browser, pytest.mark.slicer]

READING_SET = {"slider": "#threshold-slider", "summary": "#summary", "lesion table": "#lesion-table",
               "curve": "#curve-chart"}


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    root = tmp_path_factory.mktemp("views-browser")
    case = write_case(root / "cases" / "case-a")
    with app_in_chromium(case, root, (1280, 800), "--demo-dir", str(root / "demos")) as app:
        app.page.root = root
        yield app.page


@pytest.mark.parametrize("size", [(1280, 800), pytest.param((1600, 1000), marks=pytest.mark.heavy)])
def test_slider_summary_table_and_curve_are_in_sight_together(page, size) -> None:
    page.set_viewport_size({"width": size[0], "height": size[1]})
    page.wait_for_timeout(300)
    for name, selector in READING_SET.items():
        box = page.locator(selector).first.bounding_box()
        assert box is not None and box["width"] > 40 and box["height"] > 10, name
        assert box["x"] >= 0 and box["y"] >= 0, name
        assert box["x"] + box["width"] <= size[0] and box["y"] + box["height"] <= size[1], (name, box)
    rows = page.get_by_role("button", name=re.compile("Jump to .* lesion"))
    assert rows.count() >= 3 and rows.first.bounding_box()["y"] + 20 < size[1]  # rows of the table, not its head
    assert page.evaluate("() => document.scrollingElement.scrollHeight <= window.innerHeight")  # no page scroll
    panel = ".v-navigation-drawer__content"  # nor does the panel as a whole (only its setup column scrolls)
    assert page.evaluate(f"() => document.querySelector('{panel}').scrollHeight "
                         f"<= document.querySelector('{panel}').clientHeight + 1")
    views = page.locator("img").first.bounding_box()
    assert views["width"] >= 250 and views["x"] + views["width"] <= size[0]  # the slice views keep room


def test_clicking_the_curve_sets_the_threshold(page) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    chart = page.locator("#curve-chart")
    box = chart.bounding_box()
    for wanted in (0.3, 0.62):
        x = box["x"] + box["width"] * (FRAME.left + FRAME.x(wanted)) / FRAME.width
        page.mouse.click(x, box["y"] + box["height"] * 0.4)
        page.locator("#summary").filter(has_text=f"t = {wanted:.2f}").wait_for(timeout=20_000)
        slider = page.get_by_role("slider", name="Decision threshold")
        assert float(slider.get_attribute("aria-valuenow")) == pytest.approx(wanted, abs=0.011)
        marker = float(page.locator("#curve-marker").get_attribute("x1"))
        assert marker == pytest.approx(FRAME.x(wanted), abs=FRAME.plot_width * 0.011)
    assert page.locator("#curve .axis-title").count() == 2 and page.locator("#curve .x-tick-label").count() == 5
    assert page.locator("#curve-legend").inner_text().count("Lesion") >= 2


def test_window_level_drag_changes_the_window(page) -> None:
    page.set_viewport_size({"width": 1280, "height": 800})
    image = page.locator("img").first
    before_src = image.get_attribute("src")
    before = shown_pixels(page, "L")
    page.get_by_role("button", name="Window/level drag").click()
    box = image.bounding_box()
    x, y = box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.5
    mouse_stroke(page, x, y, (8, 5), moves=15, pause_ms=20)
    page.wait_for_function("(old) => document.querySelector('img').getAttribute('src') !== old", arg=before_src,
                           timeout=20_000)
    page.wait_for_timeout(500)
    after = shown_pixels(page, "L")
    assert after.shape == before.shape
    assert abs(after.std() - before.std()) > 3 or abs(after.mean() - before.mean()) > 3  # new window/level
    page.get_by_role("button", name="Navigate views").click()


@pytest.mark.heavy  # the picker's rules are tested in-process (test_web_browse.py); this is the page's wiring
def test_the_file_picker_fills_the_fields_by_clicking(page) -> None:
    page.get_by_text("Browse the allowed folders").click()
    picker = page.locator("#file-picker")
    picker.get_by_role("button", name=re.compile(r"^folder .*case-a$")).click()  # the allowed root: the case folder
    picker.get_by_role("button", name="image flair.nii.gz").click()
    picker.get_by_role("button", name="Use as FLAIR").click()
    page.locator("#message").filter(has_text="FLAIR: flair.nii.gz").wait_for(timeout=20_000)
    picker.get_by_role("button", name="image lesions.nii.gz").click()
    picker.get_by_role("button", name="Use as Reference").click()
    page.locator("#picked-files").filter(has_text="Reference: lesions.nii.gz").wait_for(timeout=20_000)
    assert picker.get_by_role("button", name="Folder up").is_enabled()
    picker.get_by_role("button", name="Folder up").click()  # above the root: the list of roots, no parent folder
    page.locator("#browse-folder").filter(has_text="allowed folders").wait_for(timeout=20_000)
    assert not picker.get_by_role("button", name="Folder up").is_enabled()
    page.get_by_text("Browse the allowed folders").click()
