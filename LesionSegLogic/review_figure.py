"""A static picture of a review: FLAIR slices with the lesion-wise TP / FP / FN overlay, and the threshold curve.

This is the non-interactive twin of the review panel (Slicer module, web app): the same
:class:`~LesionSegLogic.threshold.ThresholdEngine` gives the overlay at the chosen threshold and the curves
(lesion F1, voxel Dice, lesion sensitivity and precision vs threshold, styled by
:mod:`LesionSegLogic.curve_style` as in every face) from ``engine.sweep``. Overlay colours are the panel's: TP
green, FP red, FN blue, drawn from the engine's overlay, so the picture follows the overlay rule
(``docs/metrics.md``): every voxel of a missed reference lesion is blue, even where a predicted lesion covers it.
Uses ``matplotlib.figure.Figure`` with the Agg canvas (no pyplot state).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from LesionSegLogic.curve_style import CURRENT_MARKER_COLOR, CURVE_SERIES_STYLE, X_AXIS_TITLE, Y_AXIS_TITLE, hex_color
from LesionSegLogic.image import Image
from LesionSegLogic.montage import _oriented, _plane, _window, save_figure
from LesionSegLogic.threshold import OVERLAY_FN, OVERLAY_FP, OVERLAY_PREDICTED, OVERLAY_TP, ThresholdEngine

#: RGBA colour of each overlay value (TP green, FP red, FN blue, predicted-without-reference yellow).
OVERLAY_COLOURS = {
    OVERLAY_TP: (0.10, 0.85, 0.25, 0.85),
    OVERLAY_FP: (0.95, 0.15, 0.15, 0.85),
    OVERLAY_FN: (0.20, 0.45, 1.00, 0.85),
    OVERLAY_PREDICTED: (1.00, 0.85, 0.10, 0.85),
}

#: The picture's legend line.
LEGEND = "lesion-wise: TP green · FP red · FN blue (a missed lesion stays blue where a prediction covers it)"

def _rgba(overlay: np.ndarray) -> np.ndarray:
    rgba = np.zeros(overlay.shape + (4,), dtype=float)
    for value, colour in OVERLAY_COLOURS.items():
        rgba[overlay == value] = colour
    return rgba


def _axial_slices(flair: Image, overlay: np.ndarray, count: int) -> tuple[int, list[int]]:
    """The axial array axis and ``count`` axial slices to show, spread apart: first the slice with the most
    false-positive and the one with the most false-negative voxels (so every status present is seen), then the
    slices holding the most overlay voxels."""
    axis, _ = _plane(flair, 2, None, None)
    other = tuple(a for a in range(3) if a != axis)
    min_gap = max(3, flair.shape[axis] // (3 * count))
    chosen: list[int] = []

    def take(load: np.ndarray, limit: int) -> None:
        for index in np.argsort(load, kind="stable")[::-1]:
            if load[index] == 0 or len(chosen) >= limit:
                return
            if all(abs(int(index) - c) >= min_gap for c in chosen):
                chosen.append(int(index))
                return

    for status in (OVERLAY_FP, OVERLAY_FN):
        take((overlay == status).sum(axis=other), count)
    total = (overlay > 0).sum(axis=other)
    while len(chosen) < count and len(chosen) < int((total > 0).sum()):
        before = len(chosen)
        take(np.where(np.isin(np.arange(total.size), chosen), 0, total), count)
        if len(chosen) == before:
            break
    if not chosen:
        chosen = [flair.shape[axis] // 2]
    return axis, sorted(chosen)


def render_review(
    flair: Image,
    engine: ThresholdEngine,
    threshold: float,
    path: str | os.PathLike[str],
    *,
    title: str = "",
    slices: int = 3,
    step: float = 0.05,
    dpi: int = 110,
) -> Path:
    """Write the review PNG for ``engine`` at ``threshold`` over ``flair`` (same grid as the engine)."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    result = engine.at(threshold)
    overlay = result.overlay
    axis, indices = _axial_slices(flair, overlay, slices)
    thresholds = np.round(np.arange(0.0, 1.0 + step / 2, step), 6)
    thresholds = thresholds[thresholds >= engine.floor] if engine.floor > 0 else thresholds
    curves = engine.sweep(thresholds) if engine.has_reference else []

    columns = len(indices) + (1 if curves else 0)
    fig = Figure(figsize=(4.0 * columns, 4.6), facecolor="black")
    FigureCanvasAgg(fig)
    lo, hi = _window(flair.array)
    crop = _head_box(flair, axis, lo + 0.25 * (hi - lo))
    for col, index in enumerate(indices):
        ax = fig.add_subplot(1, columns, col + 1)
        grey, aspect = _oriented(flair, np.take(flair.array, index, axis=axis), axis)
        colour, _ = _oriented(flair, np.take(overlay, index, axis=axis), axis)
        grey, colour = grey[crop], colour[crop]
        ax.imshow(grey, cmap="gray", vmin=lo, vmax=hi, aspect=aspect, interpolation="nearest")
        ax.imshow(_rgba(colour), aspect=aspect, interpolation="nearest")
        ax.set_title(f"FLAIR axial {index}", color="white", fontsize=9)
        ax.set_axis_off()
    if curves:
        ax = fig.add_subplot(1, columns, columns)
        _plot_curves(ax, thresholds, curves, threshold)
    fig.suptitle(title or _headline(result.metrics, threshold), color="white", fontsize=10)
    fig.text(0.01, 0.01, LEGEND, color="white", fontsize=8)
    fig.tight_layout(rect=(0, 0.03, 1, 0.95))
    return save_figure(fig, path, dpi=dpi, what="review picture")


def _head_box(flair: Image, axis: int, level: float) -> tuple[slice, slice]:
    """Rows/columns of the displayed axial plane that hold the head (in any slice), with a small margin."""
    projection, _ = _oriented(flair, flair.array.max(axis=axis), axis)
    rows, cols = np.nonzero(projection > level)
    if rows.size == 0:
        return slice(None), slice(None)
    margin = 4
    return (slice(max(rows.min() - margin, 0), rows.max() + margin + 1),
            slice(max(cols.min() - margin, 0), cols.max() + margin + 1))


def plot_curve_series(ax: Any, thresholds: Any, curves: Sequence[dict[str, Any]]) -> None:
    """The threshold curve's series on matplotlib axes, as every face draws them
    (:data:`LesionSegLogic.curve_style.CURVE_SERIES_STYLE`: labels, colours, dash patterns); ``curves`` are the
    metric dictionaries of ``engine.sweep`` at ``thresholds`` (an undefined value is a gap)."""
    for series in CURVE_SERIES_STYLE:
        values = [np.nan if m[series.group][series.key] is None else m[series.group][series.key] for m in curves]
        line = ax.plot(thresholds, values, label=series.label, color=series.hex, linewidth=1.6)[0]
        if series.dash:  # SVG stroke-dasharray "on,off,…" → matplotlib's on/off sequence
            line.set_dashes([float(x) for x in series.dash.split(",")])


def _plot_curves(ax: Any, thresholds: np.ndarray, curves: list[dict[str, Any]], threshold: float) -> None:
    """The curve on a light panel, as the web page and the desktop plot show it (:mod:`LesionSegLogic.curve_style`)."""
    ax.set_facecolor("white")
    plot_curve_series(ax, thresholds, curves)
    ax.axvline(threshold, color=hex_color(CURRENT_MARKER_COLOR), linestyle="--", linewidth=1)
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.02)
    ax.set_xlabel(X_AXIS_TITLE, color="white", fontsize=8)
    ax.set_ylabel(Y_AXIS_TITLE, color="white", fontsize=8)
    ax.tick_params(colors="white", labelsize=7)
    for spine in ax.spines.values():
        spine.set_color("#777777")
    ax.legend(fontsize=7, loc="lower left", facecolor="white", labelcolor="black", edgecolor="#999999")
    ax.set_title("threshold curve", color="white", fontsize=9)


def _headline(metrics: dict[str, Any], threshold: float) -> str:
    lesion, voxel = metrics.get("lesion") or {}, metrics.get("voxel") or {}

    def fmt(value: float | None) -> str:
        return "n/a" if value is None else f"{value:.2f}"

    if not voxel:
        return f"t = {threshold:.2f} · {lesion.get('n_predicted', 0)} predicted lesions"
    return (
        f"t = {threshold:.2f} · lesion F1 {fmt(lesion.get('f1'))} · Dice {fmt(voxel.get('dice'))} · "
        f"TP {lesion.get('tp_reference')} · FP {lesion.get('fp')} · FN {lesion.get('fn')}"
    )
