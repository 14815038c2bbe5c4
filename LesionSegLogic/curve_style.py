"""The one vocabulary of the threshold curve: which metrics it draws, their names, colours and dash patterns.

Every face draws the curve from this table — the web page's SVG (``LesionSegWeb.curve``), the desktop panel's
MRML plot chart (``LesionSegLib.plot``), the exported PNG and the static review picture — so a series has the
same name and colour everywhere. The colours are chosen apart from the overlay's TP green / FP red / FN blue
(:data:`LesionSegLogic.review_figure.OVERLAY_COLOURS`), so a curve is never read as a lesion status, and each
series also has its own dash pattern (readable without colour vision).
"""

from __future__ import annotations

from dataclasses import dataclass


def hex_color(color: tuple[float, float, float]) -> str:
    """``#rrggbb`` of an RGB colour with components 0–1."""
    return "#" + "".join(f"{round(255 * c):02x}" for c in color)


@dataclass(frozen=True)
class CurveSeries:
    """One metric of the threshold curve: ``column`` (its key in a curve table), ``label`` (legend text),
    ``group``/``key`` (where it sits in the ``evaluate`` dictionary), ``color`` (RGB 0–1) and ``dash`` (SVG
    ``stroke-dasharray``; empty = solid)."""

    column: str
    label: str
    group: str
    key: str
    color: tuple[float, float, float]
    dash: str = ""

    @property
    def hex(self) -> str:
        return hex_color(self.color)


#: The curve's series, in legend order. Purple, orange, brown and magenta: none of them green, red or blue, and
#: none black (the current-threshold marker is).
CURVE_SERIES_STYLE: tuple[CurveSeries, ...] = (
    CurveSeries("lesion_f1", "Lesion F1", "lesion", "f1", (0.46, 0.16, 0.60)),
    CurveSeries("dice", "Dice", "voxel", "dice", (0.93, 0.52, 0.05), "6,3"),
    CurveSeries("sensitivity", "Lesion sensitivity", "lesion", "sensitivity", (0.55, 0.32, 0.10), "2,2"),
    CurveSeries("precision", "Lesion precision", "lesion", "precision", (0.80, 0.25, 0.60), "7,2,2,2"),
)

#: The current-threshold and recommended-threshold markers (vertical lines).
CURRENT_MARKER_COLOR = (0.0, 0.0, 0.0)
RECOMMENDED_MARKER_COLOR = (0.55, 0.55, 0.55)

#: Axis titles of every drawing of the curve.
X_AXIS_TITLE = "Decision threshold"
Y_AXIS_TITLE = "Metric (0–1)"
