"""The report's pictures as PNG bytes (matplotlib ``Figure`` + Agg canvas, no pyplot state): the key slices, the
TP/FP/FN picture (:func:`LesionSegLogic.review_figure.render_review`, reused) and the threshold curve.

Colours are the review's (:data:`LesionSegLogic.review_figure.OVERLAY_COLOURS`: TP green, FP red, FN blue, a
prediction without reference yellow); the curve is drawn as every face draws it (:mod:`LesionSegLogic.curve_style`,
:func:`LesionSegLogic.review_figure.plot_curve_series`).
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import numpy as np

from LesionSegLogic.curve_style import (
    CURRENT_MARKER_COLOR,
    RECOMMENDED_MARKER_COLOR,
    X_AXIS_TITLE,
    Y_AXIS_TITLE,
    hex_color,
)
from LesionSegLogic.montage import _oriented, _plane, _window
from LesionSegLogic.report.data import ReportData
from LesionSegLogic.review_figure import _rgba, plot_curve_series, render_review

#: how many key slices the report shows
KEY_SLICES = 3


def _png(figure, dpi: int = 100) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=dpi, facecolor=figure.get_facecolor())
    return buffer.getvalue()


def key_slices(data: ReportData, count: int = KEY_SLICES) -> tuple[int, list[int]]:
    """(axial array axis, the ``count`` axial slices holding the most lesion volume — predicted or reference —
    at least a few slices apart, in order); the middle slice when there is no lesion."""
    axis, _ = _plane(data.flair, 2, None, None)
    other = tuple(a for a in range(3) if a != axis)
    load = (np.asarray(data.overlay) > 0).sum(axis=other)
    gap = max(2, data.flair.shape[axis] // (4 * count))
    chosen: list[int] = []
    for index in np.argsort(load, kind="stable")[::-1]:
        if load[index] == 0 or len(chosen) == count:
            break
        if all(abs(int(index) - c) >= gap for c in chosen):
            chosen.append(int(index))
    return axis, sorted(chosen) or [data.flair.shape[axis] // 2]


def key_slice_pngs(data: ReportData) -> list[tuple[int, int, bytes]]:
    """``(slice index, lesion voxels in it, PNG)`` of each key slice: FLAIR with the TP/FP/FN overlay."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    flair = data.flair
    axis, indices = key_slices(data)
    lo, hi = _window(flair.array)
    out = []
    for index in indices:
        figure = Figure(figsize=(3.6, 3.6), facecolor="black")
        FigureCanvasAgg(figure)
        axes = figure.add_axes((0, 0, 1, 1))
        grey, aspect = _oriented(flair, np.take(flair.array, index, axis=axis), axis)
        colour, _ = _oriented(flair, np.take(data.overlay, index, axis=axis), axis)
        axes.imshow(grey, cmap="gray", vmin=lo, vmax=hi, aspect=aspect, interpolation="nearest")
        axes.imshow(_rgba(colour), aspect=aspect, interpolation="nearest")
        axes.set_axis_off()
        out.append((index, int((np.take(data.overlay, index, axis=axis) > 0).sum()), _png(figure)))
    return out


def review_picture_png(data: ReportData) -> bytes | None:
    """The TP/FP/FN picture of :func:`LesionSegLogic.review_figure.render_review` (``None`` without an engine)."""
    if data.engine is None:
        return None
    with tempfile.TemporaryDirectory(prefix="lesionseg-report-") as folder:
        path = Path(folder) / "review.png"
        render_review(data.flair, data.engine, data.threshold, path, dpi=80)
        return path.read_bytes()


def curve_png(data: ReportData) -> bytes | None:
    """Lesion F1, Dice, lesion sensitivity and precision against the threshold, the report's threshold (dashed) and
    the recommended one (dotted) marked; ``None`` without a reference (no curve)."""
    if not data.curve_metrics:
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(6.4, 3.8), facecolor="white")
    FigureCanvasAgg(figure)
    axes = figure.add_subplot(1, 1, 1)
    plot_curve_series(axes, data.curve_thresholds, data.curve_metrics)
    axes.axvline(data.threshold, color=hex_color(CURRENT_MARKER_COLOR), linestyle="--", linewidth=1,
                 label=f"threshold {data.threshold:.2f}")
    if data.recommended_threshold is not None:
        axes.axvline(data.recommended_threshold, color=hex_color(RECOMMENDED_MARKER_COLOR), linestyle=":",
                     linewidth=1.2, label=f"recommended {data.recommended_threshold:.2f}")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.02)
    axes.set_xlabel(X_AXIS_TITLE)
    axes.set_ylabel(Y_AXIS_TITLE)
    axes.grid(alpha=0.3)
    axes.legend(fontsize=7, loc="lower center", ncol=3)
    figure.tight_layout()
    return _png(figure)
