"""The threshold curve (lesion F1, Dice, sensitivity, precision vs threshold) as an MRML plot chart.

The curve lives in one table node (computed once per review or re-score); the current threshold is a vertical
marker series backed by its own two-row table, so moving the slider touches two numbers only.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import vtk
from vtk.util import numpy_support

from LesionSegLogic.curve_style import (
    CURRENT_MARKER_COLOR,
    CURVE_SERIES_STYLE,
    X_AXIS_TITLE,
    Y_AXIS_TITLE,
)

#: (column, label, metric group, metric key, colour), derived from the one vocabulary
#: (:data:`LesionSegLogic.curve_style.CURVE_SERIES_STYLE`, shared with the web page and the exports).
CURVE_SERIES: tuple[tuple[str, str, str, str, tuple[float, float, float]], ...] = tuple(
    (s.column, s.label, s.group, s.key, s.color) for s in CURVE_SERIES_STYLE)
#: MRML line style of each series, from its SVG dash pattern (solid, dash, dot, dash-dot).
_LINE_STYLES = {"": "LineStyleSolid", "6,3": "LineStyleDash", "2,2": "LineStyleDot", "7,2,2,2": "LineStyleDashDot"}


@dataclass(frozen=True)
class Curve:
    """Threshold curve values; NaN where a metric is undefined."""

    thresholds: np.ndarray
    values: dict[str, np.ndarray]

    @classmethod
    def from_metrics(cls, thresholds: Sequence[float], metrics: Sequence[Mapping[str, Any]]) -> Curve:
        values = {}
        for column, _, group, key, _ in CURVE_SERIES:
            values[column] = np.array(
                [np.nan if (m.get(group) or {}).get(key) is None else float(m[group][key]) for m in metrics]
            )
        return cls(np.asarray(thresholds, dtype=float), values)


def _table(columns: dict[str, np.ndarray]) -> vtk.vtkTable:
    table = vtk.vtkTable()
    for name, values in columns.items():
        array = numpy_support.numpy_to_vtk(np.ascontiguousarray(values, dtype=np.float64), deep=True)
        array.SetName(name)
        table.AddColumn(array)
    return table


class ThresholdCurvePlot:
    """Plot chart "LesionSeg threshold curve" with one series per metric and a current-threshold marker."""

    def __init__(self, scene, name: str = "LesionSeg threshold curve") -> None:
        self.curve_table = scene.AddNewNodeByClass("vtkMRMLTableNode", f"{name} data")
        self.marker_table = scene.AddNewNodeByClass("vtkMRMLTableNode", f"{name} marker")
        self.chart = scene.AddNewNodeByClass("vtkMRMLPlotChartNode", name)
        self.chart.SetTitle("Threshold curve")
        self.chart.SetXAxisTitle(X_AXIS_TITLE)
        self.chart.SetYAxisTitle(Y_AXIS_TITLE)
        self.chart.SetLegendVisibility(True)
        self.chart.SetXAxisRangeAuto(False)
        self.chart.SetXAxisRange(0.0, 1.0)
        self.chart.SetYAxisRangeAuto(False)
        self.chart.SetYAxisRange(0.0, 1.0)
        self.series: dict[str, Any] = {}
        for style in CURVE_SERIES_STYLE:
            series = self._add_series(scene, style.label, self.curve_table, "threshold", style.column, style.color)
            series.SetMarkerStyle(series.MarkerStyleCircle)
            series.SetMarkerSize(4)
            series.SetLineStyle(getattr(series, _LINE_STYLES.get(style.dash, "LineStyleSolid")))
            self.series[style.column] = series
        self.marker = self._add_series(scene, "Current threshold", self.marker_table, "threshold", "value",
                                       CURRENT_MARKER_COLOR)
        self.marker.SetLineStyle(self.marker.LineStyleDash)
        self.marker.SetMarkerStyle(self.marker.MarkerStyleNone)
        self.curve: Curve | None = None
        self.current: float | None = None

    def _add_series(self, scene, label: str, table_node, x: str, y: str, color) -> Any:
        series = scene.AddNewNodeByClass("vtkMRMLPlotSeriesNode", label)
        series.SetAndObserveTableNodeID(table_node.GetID())
        series.SetXColumnName(x)
        series.SetYColumnName(y)
        series.SetPlotType(series.PlotTypeScatter)
        series.SetColor(*color)
        self.chart.AddAndObservePlotSeriesNodeID(series.GetID())
        return series

    def set_curve(self, curve: Curve) -> None:
        self.curve = curve
        self.curve_table.SetAndObserveTable(_table({"threshold": curve.thresholds, **curve.values}))

    def set_current(self, threshold: float) -> None:
        """Move the vertical marker to ``threshold`` (two table values)."""
        if self.current == threshold:
            return
        self.current = float(threshold)
        table = self.marker_table.GetTable()
        if table.GetNumberOfRows() != 2:
            self.marker_table.SetAndObserveTable(_table({"threshold": np.full(2, threshold),
                                                         "value": np.array([0.0, 1.0])}))
        else:
            column = table.GetColumnByName("threshold")
            column.SetValue(0, threshold)
            column.SetValue(1, threshold)
            column.Modified()
            self.marker_table.Modified()
        self.chart.SetAttribute("LesionSeg.threshold", f"{threshold:.6g}")

    def series_values(self, column: str) -> tuple[np.ndarray, np.ndarray]:
        """(x, y) of one series as stored in MRML (used by tests and exports)."""
        series = self.marker if column == "marker" else self.series[column]
        table = series.GetTableNode().GetTable()
        x = numpy_support.vtk_to_numpy(table.GetColumnByName(series.GetXColumnName()))
        y = numpy_support.vtk_to_numpy(table.GetColumnByName(series.GetYColumnName()))
        return x.copy(), y.copy()
