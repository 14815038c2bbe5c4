"""The lesion table in a real browser (Chromium through Playwright, issue 16), at 1280 × 800: sort by volume with a
header click, filter to the missed lesions (FN chip), press N twice — each time the row in focus is highlighted and
scrolled to, and the axial view moves to the lesion and zooms in. A screenshot of the page is kept for a person to
look at (``LESIONSEG_SCREENSHOTS=folder``)."""

from __future__ import annotations

import io
import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("slicer")
pytest.importorskip("trame_slicer")
pytest.importorskip("playwright.sync_api")
Image = pytest.importorskip("PIL.Image")

from browser_launch import app_in_chromium  # noqa: E402
from web_cases import synthetic_case  # noqa: E402

from LesionSegLogic.image import Image as Volume  # noqa: E402
from LesionSegLogic.io import write_image  # noqa: E402

pytestmark = [pytest.mark.browser, pytest.mark.slicer]


def write_wide_cord_case(folder: Path) -> Path:
    """The synthetic case of web_cases on a wider grid (3 mm in plane: 120 × 120 mm, so zooming onto a lesion
    is visible) with a ``phantom.json`` saying it is a cord phantom (regions: spinal cord, its level)."""
    flair, reference, probability = synthetic_case()
    grid = Volume(flair.array, (2.0, 3.0, 3.0), (-60.0, -60.0, -24.0), np.eye(3), "flair")
    folder.mkdir(parents=True, exist_ok=True)
    write_image(grid, folder / "flair.nii.gz")
    write_image(grid.with_array(reference.astype(np.uint8)), folder / "lesions.nii.gz")
    write_image(grid.with_array(probability), folder / "probability.nii.gz")
    (folder / "phantom.json").write_text(json.dumps({"format": "lesionseg-phantom/1", "anatomy": "cord",
                                                     "lesions": []}), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    root = tmp_path_factory.mktemp("browser-table")
    case = write_wide_cord_case(root / "cases" / "cord-wide")
    with app_in_chromium(case, root, (1280, 800)) as app:
        yield app.page


def rows(page) -> list[list[str]]:
    """The cells of the rows the virtual list has in the page (in order)."""
    return page.eval_on_selector_all(
        "#lesion-table .lesion-row", "els => els.map(e => Array.from(e.children).map(c => c.innerText.trim()))")


def axial(page) -> tuple[str, np.ndarray]:
    """The axial view's frame (its img src) and its pixels (RGB)."""
    img = page.locator("img").first
    return img.get_attribute("src") or "", np.asarray(Image.open(io.BytesIO(img.screenshot())).convert("RGB"))


def blue_run(pixels: np.ndarray) -> tuple[int, int]:
    """First and last column of the FN-blue overlay on the view's middle row (the crosshair's row)."""
    row = pixels[pixels.shape[0] // 2].astype(int)
    blue = np.flatnonzero(row[:, 2] - row[:, 0] > 40)
    assert blue.size, "no FN lesion on the middle row of the axial view"
    return int(blue[0]), int(blue[-1])


def test_sort_filter_and_next_fn_in_the_browser(page) -> None:
    page.get_by_role("button", name="Show Spinal cord lesions").wait_for(timeout=60_000)  # regions labelled
    page.get_by_role("columnheader", name="Sort by mm³").click()
    header = page.get_by_role("columnheader", name="Sort by mm³")
    page.wait_for_function("() => document.querySelector('[aria-label=\"Sort by mm³\"]')"
                           ".getAttribute('aria-sort') === 'descending'", timeout=20_000)
    assert header.get_attribute("aria-sort") == "descending"
    volumes = [float(r[3]) for r in rows(page)]
    assert len(volumes) >= 3 and volumes == sorted(volumes, reverse=True)

    page.get_by_role("button", name="Show FN lesions").click()
    page.wait_for_function("() => [...document.querySelectorAll('#lesion-table .lesion-row')]"
                           ".every(r => r.children[2].innerText.trim() === 'FN')", timeout=20_000)
    missed = rows(page)
    assert len(missed) >= 2 and all(r[2] == "FN" for r in missed)

    frame, _ = axial(page)
    folder = os.environ.get("LESIONSEG_SCREENSHOTS")
    if folder:
        page.screenshot(path=str(Path(folder) / "lesion_table_before_1280x800.png"))
    page.locator("#lesion-load").click()  # the page has the keyboard focus (not a text field)
    seen = []
    for expected in missed[:2]:
        page.keyboard.press("n")
        name = f"Jump to reference lesion {expected[0]} (FN)"
        focused = page.get_by_role("button", name=name)
        page.wait_for_function("(n) => document.querySelector(`[aria-label=\"${n}\"]`)?.getAttribute("
                               "'aria-current') === 'true'", arg=name, timeout=20_000)
        assert "bg-amber-lighten-4" in (focused.get_attribute("class") or "")  # highlighted
        page.locator("#message").filter(has_text=f"Reference lesion {expected[0]} at R").wait_for(timeout=20_000)
        page.wait_for_function("(old) => document.querySelector('img').getAttribute('src') !== old",
                               arg=frame, timeout=20_000)
        frame, pixels = axial(page)
        seen.append(pixels)
        # centred and zoomed: the lesion sits in the middle of the view, at the scale of LesionFocus's field
        # (max(40 mm, 4 × its diameter) across the view's narrow side), not at the fitted whole-volume scale
        first, last = blue_run(pixels)
        width = pixels.shape[1]
        assert abs((first + last) / 2 - width / 2) < 0.1 * width
        diameter = (6 * float(expected[3]) / np.pi) ** (1 / 3)
        mm_per_pixel = max(40.0, 4 * diameter) / min(pixels.shape[:2])
        assert 0.6 * diameter <= (last - first + 1) * mm_per_pixel <= 1.6 * diameter
    assert page.locator("[aria-current='true']").count() == 1
    if folder:
        page.screenshot(path=str(Path(folder) / "lesion_table_1280x800.png"))
    assert not np.array_equal(seen[0], seen[1])  # the second FN is elsewhere
