"""The threshold curve's SVG (LesionSegWeb.curve): paths land where the values are, both axes have ticks and
titles, a click maps back to the threshold under it, and the colours are the one vocabulary's, apart from the
overlay's TP/FP/FN colours."""

from __future__ import annotations

import re

import numpy as np
import pytest

pytest.importorskip("vtk")

from LesionSegLib.plot import CURVE_SERIES, Curve, ThresholdCurvePlot

from LesionSegLogic.curve_style import CURVE_SERIES_STYLE, X_AXIS_TITLE, Y_AXIS_TITLE
from LesionSegLogic.errors import InputError
from LesionSegLogic.review_figure import OVERLAY_COLOURS
from LesionSegLogic.threshold import OVERLAY_FN, OVERLAY_FP, OVERLAY_TP
from LesionSegWeb.curve import FRAME, TICKS, CurveFrame, axes_svg, curve_paths


def _points(d: str) -> list[tuple[str, float, float]]:
    return [(cmd, float(x), float(y)) for cmd, x, y in re.findall(r"([ML])(-?[\d.]+),(-?[\d.]+)", d)]


def test_each_path_point_is_its_threshold_and_value_in_the_plot_area() -> None:
    thresholds = np.linspace(0.0, 1.0, 11)
    values = {s.column: np.linspace(0.0, 1.0, 11) ** (i + 1) for i, s in enumerate(CURVE_SERIES_STYLE)}
    values["dice"][3] = np.nan  # undefined there: the pen lifts
    paths = curve_paths(Curve(thresholds, values))["series"]
    assert [p["label"] for p in paths] == [s.label for s in CURVE_SERIES_STYLE]
    for path, style in zip(paths, CURVE_SERIES_STYLE, strict=True):
        points = _points(path["d"])
        defined = np.isfinite(values[style.column])
        assert len(points) == defined.sum()
        for (_, x, y), t, v in zip(points, thresholds[defined], values[style.column][defined], strict=True):
            assert x == pytest.approx(FRAME.x(t), abs=0.06) and y == pytest.approx(FRAME.y(v), abs=0.06)
            assert 0 <= x <= FRAME.plot_width and 0 <= y <= FRAME.plot_height
    dice = _points(paths[1]["d"])
    assert [cmd for cmd, _, _ in dice].count("M") == 2  # a new sub-path after the gap


def test_a_metric_undefined_everywhere_is_left_out_and_no_curve_gives_no_series() -> None:
    thresholds = np.linspace(0, 1, 5)
    values = {s.column: np.full(5, np.nan) for s in CURVE_SERIES_STYLE}
    values["dice"] = np.linspace(1, 0, 5)
    assert [p["label"] for p in curve_paths(Curve(thresholds, values))["series"]] == ["Dice"]
    assert curve_paths(None) == {"series": []}


def test_both_axes_have_ticks_labels_and_titles() -> None:
    svg = axes_svg(FRAME)
    x_labels = [float(t) for t in re.findall(r'class="x-tick-label"[^>]*>([\d.]+)<', svg)]
    y_labels = [float(t) for t in re.findall(r'class="y-tick-label"[^>]*>([\d.]+)<', svg)]
    assert x_labels == list(TICKS) == y_labels and x_labels[0] == 0 and x_labels[-1] == 1
    x_ticks = [float(x) for x in re.findall(r'class="x-tick" x1="([\d.-]+)"', svg)]
    y_ticks = [float(y) for y in re.findall(r'class="y-tick"[^>]* y1="([\d.-]+)"', svg)]
    assert x_ticks == pytest.approx([FRAME.x(t) for t in TICKS])
    assert y_ticks == pytest.approx([FRAME.y(t) for t in TICKS])
    assert X_AXIS_TITLE in svg and Y_AXIS_TITLE in svg


@pytest.mark.parametrize("frame", [FRAME, CurveFrame(plot_width=300, left=50, right=20)])
def test_a_click_maps_back_to_the_threshold_under_it(frame) -> None:
    for threshold in (0.0, 0.13, 0.5, 0.87, 1.0):
        fraction = (frame.left + frame.x(threshold)) / frame.width  # where it is drawn, in the rendered chart
        assert frame.threshold_at(fraction) == pytest.approx(threshold)
    assert frame.threshold_at(0.0) == 0.0 and frame.threshold_at(1.0) == 1.0  # the margins clamp
    assert frame.threshold_at(0.5) == round(frame.threshold_at(0.5), 2)


@pytest.mark.parametrize("bad", [float("nan"), float("inf"), "0.5", None, True, [0.5]])
def test_a_click_that_is_not_a_finite_position_is_refused(bad) -> None:
    with pytest.raises(InputError):
        FRAME.threshold_at(bad)


def test_curve_colours_are_one_vocabulary_apart_from_the_overlay_colours() -> None:
    assert [(s.column, s.label, s.color) for s in CURVE_SERIES_STYLE] == [(c[0], c[1], c[4]) for c in CURVE_SERIES]
    overlay = np.array([OVERLAY_COLOURS[v][:3] for v in (OVERLAY_TP, OVERLAY_FP, OVERLAY_FN)])
    for style in CURVE_SERIES_STYLE:
        # far from every lesion-status colour (TP green, FP red, FN blue)
        distance = np.abs(overlay - np.array(style.color)).sum(axis=1)
        assert distance.min() > 0.45, style.label
    assert len({s.hex for s in CURVE_SERIES_STYLE}) == len({s.dash for s in CURVE_SERIES_STYLE}) == 4


def test_the_desktop_plot_uses_the_same_series_titles_and_legend() -> None:
    slicer = pytest.importorskip("slicer")
    plot = ThresholdCurvePlot(slicer.vtkMRMLScene())
    assert plot.chart.GetXAxisTitle() == X_AXIS_TITLE and plot.chart.GetYAxisTitle() == Y_AXIS_TITLE
    assert plot.chart.GetLegendVisibility()
    for style in CURVE_SERIES_STYLE:
        series = plot.series[style.column]
        assert series.GetName() == style.label
        assert series.GetColor() == pytest.approx(style.color)
    assert len({plot.series[s.column].GetLineStyle() for s in CURVE_SERIES_STYLE}) == len(CURVE_SERIES_STYLE)
