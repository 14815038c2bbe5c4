"""The threshold curve as SVG path data for the page (the session computes the curve; this only scales it).

The page draws the paths inside a ``viewBox`` of :data:`WIDTH` × :data:`HEIGHT` and the current-threshold
marker at ``x = threshold * WIDTH`` itself, so moving the slider sends no curve data at all.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from LesionSegLib.plot import CURVE_SERIES

WIDTH = 200.0
HEIGHT = 100.0


def _path(x: np.ndarray, y: np.ndarray) -> str:
    parts, pen_down = [], False
    for xi, yi in zip(x, y, strict=True):
        if not np.isfinite(yi):
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{xi * WIDTH:.1f},{(1.0 - yi) * HEIGHT:.1f}")
        pen_down = True
    return " ".join(parts)


def _hex(color: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(255 * c):02x}" for c in color)


def curve_paths(curve: Any) -> dict[str, Any]:
    """``{"series": [{label, color, d}]}`` for ``curve`` (a :class:`LesionSegLib.plot.Curve` or ``None``); sent
    when the curve changes (new map, rule), never on a slider move."""
    if curve is None:
        return {"series": []}
    x = np.asarray(curve.thresholds, dtype=float)
    series = []
    for column, label, _, _, color in CURVE_SERIES:
        y = np.asarray(curve.values.get(column, np.full(x.shape, np.nan)), dtype=float)
        if np.isfinite(y).any():
            series.append({"label": label, "color": _hex(color), "d": _path(x, y)})
    return {"series": series}
