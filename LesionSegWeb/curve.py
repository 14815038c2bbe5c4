"""The threshold curve as an SVG chart for the page: axes with ticks and titles, one path per metric, a legend,
the current and recommended thresholds marked, and the mapping of a click on the chart to a threshold.

The session computes the curve; this only scales it into :class:`CurveFrame`'s plot area. The page draws the
paths, the static axes (:func:`axes_svg`) and the markers (``x = frame.x(threshold)``, evaluated in the
browser from the slider's value), so moving the slider sends no curve data at all. Series names, colours and
dash patterns come from the one vocabulary, :data:`LesionSegLogic.curve_style.CURVE_SERIES_STYLE`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from LesionSegLogic.curve_style import CURVE_SERIES_STYLE, X_AXIS_TITLE, Y_AXIS_TITLE
from LesionSegLogic.errors import InputError

#: Tick values of both axes (threshold 0–1 and metric 0–1).
TICKS: tuple[float, ...] = (0.0, 0.25, 0.5, 0.75, 1.0)
#: Threshold steps a click on the curve snaps to (the slider's step).
CLICK_STEP = 0.01


@dataclass(frozen=True)
class CurveFrame:
    """The plot area (``plot_width`` × ``plot_height`` chart units, its top-left corner at 0, 0: a threshold t is
    at ``x = t * plot_width``) and the margins around it for the tick labels and axis titles; the chart's
    ``viewBox`` starts at (−``left``, −``top``)."""

    plot_width: float = 200.0
    plot_height: float = 100.0
    left: float = 30.0
    right: float = 8.0
    top: float = 6.0
    bottom: float = 28.0

    @property
    def width(self) -> float:
        return self.left + self.plot_width + self.right

    @property
    def height(self) -> float:
        return self.top + self.plot_height + self.bottom

    @property
    def view_box(self) -> str:
        return f"{-self.left:g} {-self.top:g} {self.width:g} {self.height:g}"

    def x(self, threshold: float) -> float:
        """The chart x of a threshold (0 → left edge of the plot area, 1 → right edge)."""
        return float(threshold) * self.plot_width

    def y(self, value: float) -> float:
        """The chart y of a metric value (0 → bottom of the plot area, 1 → top)."""
        return (1.0 - float(value)) * self.plot_height

    def x_expression(self, variable: str) -> str:
        """The JavaScript expression of :meth:`x` for a page variable (markers follow the slider client side)."""
        return f"(Number({variable}) * {self.plot_width:g})"

    def threshold_at(self, fraction: Any) -> float:
        """The threshold under a click at ``fraction`` of the chart's rendered width (0 = its left edge), clamped
        to 0–1 and snapped to :data:`CLICK_STEP`; a value that is not a finite number is refused."""
        if isinstance(fraction, bool) or not isinstance(fraction, int | float) or not math.isfinite(fraction):
            raise InputError(f"a click on the curve must give a finite position, not {fraction!r}")
        threshold = (float(fraction) * self.width - self.left) / self.plot_width
        threshold = min(1.0, max(0.0, threshold))
        return round(round(threshold / CLICK_STEP) * CLICK_STEP, 2)


FRAME = CurveFrame()


def _path(frame: CurveFrame, x: np.ndarray, y: np.ndarray) -> str:
    parts, pen_down = [], False
    for xi, yi in zip(x, y, strict=True):
        if not np.isfinite(yi):
            pen_down = False
            continue
        parts.append(f"{'L' if pen_down else 'M'}{frame.x(xi):.1f},{frame.y(yi):.1f}")
        pen_down = True
    return " ".join(parts)


def curve_paths(curve: Any, frame: CurveFrame = FRAME) -> dict[str, Any]:
    """``{"series": [{label, color, dash, d}]}`` for ``curve`` (a :class:`LesionSegLib.plot.Curve` or ``None``);
    sent when the curve changes (new map, rule), never on a slider move. A metric undefined at every threshold
    (no reference: no sensitivity) is left out of the chart and its legend."""
    if curve is None:
        return {"series": []}
    x = np.asarray(curve.thresholds, dtype=float)
    series = []
    for style in CURVE_SERIES_STYLE:
        y = np.asarray(curve.values.get(style.column, np.full(x.shape, np.nan)), dtype=float)
        if np.isfinite(y).any():
            series.append({"label": style.label, "color": style.hex, "dash": style.dash,
                           "d": _path(frame, x, y)})
    return {"series": series}


def axes_svg(frame: CurveFrame = FRAME) -> str:
    """The static part of the chart: plot-area box, grid lines and ticks at :data:`TICKS` on both axes with
    their labels, and the axis titles."""
    w, h = frame.plot_width, frame.plot_height
    out = [f'<rect x="0" y="0" width="{w:g}" height="{h:g}" fill="#ffffff" stroke="#888" stroke-width="0.6"/>']
    for tick in TICKS:
        x, y = frame.x(tick), frame.y(tick)
        out.append(f'<line x1="{x:g}" x2="{x:g}" y1="0" y2="{h:g}" stroke="#e4e4e4" stroke-width="0.5"/>')
        out.append(f'<line x1="0" x2="{w:g}" y1="{y:g}" y2="{y:g}" stroke="#e4e4e4" stroke-width="0.5"/>')
        out.append(f'<line class="x-tick" x1="{x:g}" x2="{x:g}" y1="{h:g}" y2="{h + 3:g}" stroke="#555" '
                   'stroke-width="0.6"/>')
        out.append(f'<line class="y-tick" x1="-3" x2="0" y1="{y:g}" y2="{y:g}" stroke="#555" stroke-width="0.6"/>')
        out.append(f'<text class="x-tick-label" x="{x:g}" y="{h + 11:g}" font-size="8" '
                   f'text-anchor="middle">{tick:g}</text>')
        out.append(f'<text class="y-tick-label" x="-5" y="{y + 3:g}" font-size="8" '
                   f'text-anchor="end">{tick:g}</text>')
    out.append(f'<text class="axis-title" x="{w / 2:g}" y="{h + frame.bottom - 4:g}" font-size="9" '
               f'text-anchor="middle">{X_AXIS_TITLE}</text>')
    title_x = -frame.left + 8
    out.append(f'<text class="axis-title" x="{title_x:g}" y="{h / 2:g}" font-size="9" text-anchor="middle" '
               f'transform="rotate(-90 {title_x:g} {h / 2:g})">{Y_AXIS_TITLE}</text>')
    return "".join(out)
