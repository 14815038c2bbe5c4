"""What the browser tests do to and read from the review page (no test functions here): a mouse stroke and the
axial view's pixels as the browser shows them."""

from __future__ import annotations

import io

import numpy as np


def mouse_stroke(page, x: float, y: float, step: tuple[float, float], moves: int, pause_ms: float) -> None:
    """Press the mouse at page pixel ``(x, y)``, move ``moves`` times by ``step`` pixels (pausing ``pause_ms``
    after each move, so the page sees every move), release."""
    page.mouse.move(x, y)
    page.mouse.down()
    for i in range(1, moves + 1):
        page.mouse.move(x + step[0] * i, y + step[1] * i)
        page.wait_for_timeout(pause_ms)
    page.mouse.up()


def shown_pixels(page, mode: str = "RGB") -> np.ndarray:
    """The page's first image (the axial view) as the browser shows it, a screenshot in PIL ``mode`` (``"RGB"``:
    int ``(h, w, 3)``; ``"L"``: float grey ``(h, w)``)."""
    from PIL import Image as PILImage

    picture = PILImage.open(io.BytesIO(page.locator("img").first.screenshot())).convert(mode)
    return np.asarray(picture, dtype=int if mode == "RGB" else float)
