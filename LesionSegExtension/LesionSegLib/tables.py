"""Metrics and per-lesion tables as ``vtkMRMLTableNode`` (shown in Slicer's table views and the web app).

The metrics table is long-format (``group``, ``metric``, ``value``) so that any metric the engine adds
shows up without a code change; undefined ratios (the engine's ``None``) become NaN.
The lesion table has one row per lesion (:data:`LESION_TABLE_COLUMNS`): ``id``, ``kind`` (predicted/reference),
``status`` (TP/FP/FN), ``volume_mm3``, centroid ``R``, ``A``, ``S`` (mm, RAS), ``max_probability``,
``mean_probability`` (over the lesion's voxels), ``region`` (:mod:`LesionSegLogic.regions`; empty until the
session has a region atlas), ``slice`` (the axial array index ``z`` of the centroid) and, for cord inputs only,
:data:`CORD_LEVEL_COLUMN` (mm below the top of the image).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import vtk
from vtk.util import numpy_support

from LesionSegLogic.metrics.lesion import LesionComponent

METRIC_GROUPS: tuple[str, ...] = ("voxel", "lesion", "surface")
LESION_TABLE_COLUMNS: tuple[str, ...] = ("id", "kind", "status", "volume_mm3", "R", "A", "S", "max_probability",
                                         "mean_probability", "region", "slice")
#: the column added for cord inputs (mm below the top of the image)
CORD_LEVEL_COLUMN = "cord_level_mm"
#: (kind, id) → region, from :func:`LesionSegLogic.regions.regions_by_row`
RegionLookup = Mapping[tuple[str, int], str]


@dataclass(frozen=True)
class LesionRow:
    """One lesion as the session shows it; ``centroid_ras`` in mm. ``slice_index``: the array ``z`` index (axial
    slice) of the centroid, −1 when unknown; ``region``: "" until a region atlas labelled it."""

    id: int
    kind: str  # "predicted" | "reference"
    status: str
    volume_mm3: float
    centroid_ras: tuple[float, float, float]
    max_probability: float
    mean_probability: float = math.nan
    region: str = ""
    slice_index: int = -1
    cord_level_mm: float | None = None  #: cord inputs only (``None`` for a brain: no NaN, rows compare equal)

    @property
    def key(self) -> tuple[str, int]:
        """What names a lesion in the review: ``(kind, id)`` (ids are per kind)."""
        return (self.kind, int(self.id))

    @property
    def diameter_mm(self) -> float:
        """Diameter of the sphere of the lesion's volume (how far to zoom in on it)."""
        return float((6.0 * max(self.volume_mm3, 0.0) / math.pi) ** (1.0 / 3.0))


def lesion_rows(lesions: Iterable[LesionComponent], regions: RegionLookup | None = None,
                cord_top_mm: float | None = None) -> list[LesionRow]:
    """The engine's lesion rows (:class:`~LesionSegLogic.metrics.lesion.LesionComponent`, physical LPS centroids)
    as :class:`LesionRow` with RAS centroids. ``regions``: each lesion's region by ``(kind, id)``; ``cord_top_mm``:
    cord inputs, the S (mm) of the image's top (see ``RegionAtlas``)."""
    regions = regions or {}
    top = None if cord_top_mm is None else float(cord_top_mm)
    out = []
    for row in lesions:
        x, y, z = row.centroid_lps  # type: ignore[misc]
        maximum = math.nan if row.max_probability is None else float(row.max_probability)
        mean = math.nan if row.mean_probability is None else float(row.mean_probability)
        out.append(LesionRow(int(row.id), row.kind, row.status or "", float(row.volume_mm3),
                             (-float(x), -float(y), float(z)), maximum, mean, regions.get((row.kind, row.id), ""),
                             int(round(row.centroid_zyx[0])), None if top is None else top - float(z)))
    return out


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def _string_column(name: str, values: Sequence[str]) -> vtk.vtkStringArray:
    column = vtk.vtkStringArray()
    column.SetName(name)
    column.SetNumberOfValues(len(values))
    for i, value in enumerate(values):
        column.SetValue(i, value)
    return column


def _number_column(name: str, values: Sequence[float], dtype=np.float64) -> vtk.vtkDataArray:
    column = numpy_support.numpy_to_vtk(np.asarray(values, dtype=dtype), deep=True)
    column.SetName(name)
    return column


def _replace(table_node, columns: Sequence[vtk.vtkAbstractArray]) -> None:
    table = vtk.vtkTable()
    for column in columns:
        table.AddColumn(column)
    table_node.SetAndObserveTable(table)
    table_node.SetUseColumnTitleAsColumnHeader(True)
    table_node.SetLocked(True)


def metrics_items(metrics: Mapping[str, Any]) -> list[tuple[str, str, float]]:
    """``(group, metric, value)`` rows of an ``evaluate`` dictionary (threshold and rule first)."""
    items: list[tuple[str, str, float]] = [("threshold", "threshold", _number(metrics.get("threshold")))]
    for group in METRIC_GROUPS:
        for name, value in (metrics.get(group) or {}).items():
            items.append((group, str(name), _number(value)))
    return items


def write_metrics_table(table_node, metrics: Mapping[str, Any]) -> None:
    """Fill ``table_node`` with the metrics (rule recorded as a node attribute)."""
    items = metrics_items(metrics)
    table = table_node.GetTable()
    keys = [(g, m) for g, m, _ in items]
    if table is not None and table.GetNumberOfRows() == len(items) and _metric_keys(table) == keys:
        column = table.GetColumnByName("value")  # the same rows (every slider move): rewrite the numbers only
        numpy_support.vtk_to_numpy(column)[:] = [v for _, _, v in items]
        column.Modified()
        table.Modified()
    else:
        _replace(
            table_node,
            [
                _string_column("group", [g for g, _ in keys]),
                _string_column("metric", [m for _, m in keys]),
                _number_column("value", [v for _, _, v in items]),
            ],
        )
    table_node.SetAttribute("LesionSeg.rule", str(metrics.get("rule", "")))


def _metric_keys(table) -> list[tuple[str, str]] | None:
    groups, names, values = (table.GetColumnByName(c) for c in ("group", "metric", "value"))
    if groups is None or names is None or values is None or values.GetDataType() != vtk.VTK_DOUBLE:
        return None
    return [(groups.GetValue(i), names.GetValue(i)) for i in range(table.GetNumberOfRows())]


def read_metrics_table(table_node) -> dict[str, dict[str, float]]:
    """The inverse of :func:`write_metrics_table` (values as floats, NaN for undefined)."""
    table = table_node.GetTable()
    out: dict[str, dict[str, float]] = {}
    groups, names, values = (table.GetColumnByName(c) for c in ("group", "metric", "value"))
    for row in range(table.GetNumberOfRows()):
        out.setdefault(groups.GetValue(row), {})[names.GetValue(row)] = values.GetValue(row)
    return out


def write_lesion_table(table_node, rows: Sequence[LesionRow]) -> None:
    """Fill ``table_node`` with one row per lesion (``cord_level_mm`` only for cord inputs)."""
    centroids = np.array([r.centroid_ras for r in rows], dtype=float).reshape(-1, 3)
    levels = [r.cord_level_mm for r in rows]
    cord = [_number_column(CORD_LEVEL_COLUMN, [math.nan if v is None else v for v in levels])] \
        if any(v is not None for v in levels) else []
    _replace(
        table_node,
        [
            _number_column("id", [r.id for r in rows], np.int32),
            _string_column("kind", [r.kind for r in rows]),
            _string_column("status", [r.status for r in rows]),
            _number_column("volume_mm3", [r.volume_mm3 for r in rows]),
            _number_column("R", centroids[:, 0]),
            _number_column("A", centroids[:, 1]),
            _number_column("S", centroids[:, 2]),
            _number_column("max_probability", [r.max_probability for r in rows]),
            _number_column("mean_probability", [r.mean_probability for r in rows]),
            _string_column("region", [r.region for r in rows]),
            _number_column("slice", [r.slice_index for r in rows], np.int32),
            *cord,
        ],
    )
    for name, unit in (("volume_mm3", "mm3"), ("R", "mm"), ("A", "mm"), ("S", "mm"), (CORD_LEVEL_COLUMN, "mm")):
        if table_node.GetTable().GetColumnByName(name) is not None:
            table_node.SetColumnUnitLabel(name, unit)


def table_column(table_node, name: str) -> list:
    """Values of one column (numbers as floats/ints, strings as str)."""
    column = table_node.GetTable().GetColumnByName(name)
    if column is None:
        raise KeyError(name)
    return [column.GetValue(i) for i in range(column.GetNumberOfValues())]
