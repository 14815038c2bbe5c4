"""What a review report shows, gathered from a threshold engine at one threshold (no drawing, no HTML here).

Lesion load and region counts are counted from the lesion rows at the report's threshold: predicted lesions (the
segmentation under review) and, with a reference, reference lesions. Centroids are RAS mm (the one coordinate
convention of every table LesionSeg writes).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from LesionSegLogic.image import Image
from LesionSegLogic.lesion_notes import lesion_identity

#: the order lesions are listed in: what a reader must see first (missed, then false, then found)
STATUS_ORDER: dict[str, int] = {"FN": 0, "FP": 1, "TP": 2, "": 3}
#: the curve's thresholds (step) in the report
CURVE_STEP = 0.05


@dataclass(frozen=True)
class ReportLesion:
    """One row of the report's lesion table."""

    kind: str
    status: str
    voxels: int
    volume_mm3: float
    centroid_ras: tuple[float, float, float]
    max_probability: float | None
    mean_probability: float | None
    region: str | None = None
    note: str = ""


@dataclass(frozen=True)
class ReportData:
    """Everything the HTML report shows (see :func:`LesionSegLogic.report.html.render_html`)."""

    title: str
    flair: Image
    overlay: np.ndarray
    threshold: float
    rule: str
    mode: str
    metrics: dict[str, Any]
    lesions: tuple[ReportLesion, ...]
    curve_thresholds: tuple[float, ...]
    curve_metrics: tuple[dict[str, Any], ...]
    provenance: dict[str, Any]
    model_name: str = ""
    recommended_threshold: float | None = None
    #: how regions were found (:attr:`LesionSegLogic.regions.RegionAtlas.method`); ``None``: not computed
    regions_method: str | None = None
    accepted_name: str | None = None
    #: the engine the report was made from (the TP/FP/FN picture reuses :func:`LesionSegLogic.review_figure`)
    engine: Any = field(default=None, repr=False, compare=False)

    def load(self, kind: str) -> tuple[int, float]:
        """(lesion count, total volume mm³) of the lesions of ``kind`` (``predicted`` or ``reference``)."""
        rows = [row for row in self.lesions if row.kind == kind]
        return len(rows), float(sum(row.volume_mm3 for row in rows))

    def region_counts(self, kind: str) -> dict[str, tuple[int, float]]:
        """region → (count, volume mm³) of the lesions of ``kind`` (empty when regions were not computed)."""
        if self.regions_method is None:
            return {}
        counts: Counter[str] = Counter()
        volumes: Counter[str] = Counter()
        for row in self.lesions:
            if row.kind == kind and row.region:
                counts[row.region] += 1
                volumes[row.region] += row.volume_mm3  # type: ignore[assignment]  # volumes holds floats (mm³)
        return {region: (counts[region], float(volumes[region])) for region in counts}


def _optional(value: Any) -> float | None:
    return None if value is None or (isinstance(value, float) and np.isnan(value)) else float(value)


def report_data(flair: Image, engine: Any, threshold: float, *, provenance: Mapping[str, Any], mode: str = "lesion",
                notes: Mapping[str, str] | None = None, regions: Mapping[tuple[str, int], str] | None = None,
                regions_method: str | None = None, title: str = "", model_name: str = "",
                recommended_threshold: float | None = None, accepted_name: str | None = None) -> ReportData:
    """The report of ``engine`` (a :class:`LesionSegLogic.threshold.ThresholdEngine` on ``flair``'s grid) at
    ``threshold``. ``notes``: lesion key → note (:mod:`LesionSegLogic.lesion_notes`); ``regions``: ``(kind, id)``
    → region (:func:`LesionSegLogic.regions.regions_by_row`) with ``regions_method`` saying how."""
    result = engine.at(float(threshold), mode=mode)
    voxel = flair.voxel_volume
    rows = []
    for row in result.lesions:
        x, y, z = row.centroid_lps if row.centroid_lps is not None else flair.index_to_physical(
            np.asarray(row.centroid_zyx, float))[0]
        ras = (-float(x), -float(y), float(z))
        key = lesion_identity(row.kind, ras, row.volume_mm3, voxel).key
        rows.append(ReportLesion(row.kind, row.status or "", int(row.n_voxels), float(row.volume_mm3), ras,
                                 _optional(row.max_probability), _optional(row.mean_probability),
                                 None if regions is None else regions.get((row.kind, int(row.id))),
                                 (notes or {}).get(key, "")))
    rows.sort(key=lambda r: (STATUS_ORDER.get(r.status, 3), r.kind != "reference", -r.volume_mm3))
    floor = float(getattr(engine, "floor", 0.0) or 0.0)
    thresholds = [t for t in np.round(np.arange(CURVE_STEP, 1.0, CURVE_STEP), 6) if t >= floor]
    curves = engine.sweep(thresholds) if getattr(engine, "has_reference", False) else []
    return ReportData(title=title or "LesionSeg review", flair=flair, overlay=np.asarray(result.overlay),
                      threshold=float(threshold), rule=str(result.metrics.get("rule") or engine.rule.name), mode=mode,
                      metrics=dict(result.metrics), lesions=tuple(rows), curve_thresholds=tuple(thresholds),
                      curve_metrics=tuple(curves), provenance=dict(provenance), model_name=model_name,
                      recommended_threshold=recommended_threshold,
                      regions_method=None if regions is None else regions_method,
                      accepted_name=accepted_name, engine=engine)


