"""Choosing the decision threshold over a validation cohort (Hussein et al. 2023, §2.4).

Each subject's curve comes from its :class:`ThresholdEngine` (voxel and lesion metrics at every threshold;
default grid 0, 0.05, …, 1). The cohort curve is the per-threshold **median** over subjects of the defined
values (subjects where the metric is ``None`` — e.g. lesion F1 without reference lesions — are skipped). The
best threshold maximises the median objective, ``voxel-f1`` (Dice, the paper's choice) or ``lesion-f1``; ties
go to the threshold closest to the conventional 0.5, then to the lower one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from LesionSegLogic.errors import InputError
from LesionSegLogic.metrics.cohort import median_defined
from LesionSegLogic.threshold.engine import ThresholdEngine

OBJECTIVES = {"voxel-f1": ("voxel", "dice"), "lesion-f1": ("lesion", "f1")}
#: metrics summarised in the median curve: (block, key)
CURVE_METRICS = (
    ("voxel", "dice"),
    ("voxel", "sensitivity"),
    ("voxel", "precision"),
    ("voxel", "f2"),
    ("lesion", "f1"),
    ("lesion", "sensitivity"),
    ("lesion", "precision"),
)


def threshold_grid(step: float = 0.05) -> np.ndarray:
    """``0, step, 2·step, …, 1`` (1 included), rounded to 10 decimals so 0.05·k prints as typed."""
    if not (0 < step <= 1):
        raise InputError(f"step must lie in (0, 1], got {step}")
    n = int(np.floor(1.0 / step + 1e-9))
    grid = np.round(np.arange(n + 1) * step, 10)
    return grid if grid[-1] == 1.0 else np.r_[grid, 1.0]


@dataclass(frozen=True)
class CohortSweep:
    """Per-subject curves, the median curve and the chosen threshold."""

    thresholds: list[float]
    objective: str
    subjects: list[str]
    curves: list[list[dict[str, Any]]]  # [subject][threshold] → evaluate dictionary (no surface)
    median: dict[str, list[float | None]] = field(default_factory=dict)  # "voxel.dice" → per threshold
    best_threshold: float | None = None
    best_value: float | None = None

    def to_json(self) -> dict[str, Any]:
        def compact(metrics: dict[str, Any]) -> dict[str, Any]:
            return {"threshold": metrics["threshold"], "voxel": metrics["voxel"], "lesion": metrics["lesion"]}

        return {
            "objective": self.objective,
            "thresholds": self.thresholds,
            "best_threshold": self.best_threshold,
            "best_value": self.best_value,
            "median": self.median,
            "subjects": [
                {"name": name, "curve": [compact(m) for m in curve]}
                for name, curve in zip(self.subjects, self.curves, strict=True)
            ],
        }


def best_threshold(thresholds: Sequence[float], values: Sequence[float | None]) -> tuple[float | None, float | None]:
    """Argmax of ``values`` (``None`` skipped); ties → closest to 0.5, then lower."""
    candidates = [(v, t) for t, v in zip(thresholds, values, strict=True) if v is not None]
    if not candidates:
        return None, None
    top = max(v for v, _ in candidates)
    t = min((t for v, t in candidates if v == top), key=lambda t: (abs(t - 0.5), t))
    return float(t), float(top)


def sweep_cohort(
    engines: Iterable[ThresholdEngine],
    thresholds: Sequence[float] | None = None,
    objective: str = "voxel-f1",
    names: Sequence[str] | None = None,
) -> CohortSweep:
    """Sweep every subject's engine over ``thresholds`` and pick the best median ``objective``."""
    if objective not in OBJECTIVES:
        raise InputError(f"objective must be one of {sorted(OBJECTIVES)}, got {objective!r}")
    grid = [float(t) for t in (threshold_grid() if thresholds is None else thresholds)]
    curves = []
    for engine in engines:
        if not engine.has_reference:
            raise InputError("every subject of a sweep needs a reference mask")
        curves.append(engine.sweep(grid))
    if not curves:
        raise InputError("a sweep needs at least one subject")
    median = {
        f"{block}.{key}": [median_defined([c[i][block][key] for c in curves]) for i in range(len(grid))]
        for block, key in CURVE_METRICS
    }
    block, key = OBJECTIVES[objective]
    best, value = best_threshold(grid, median[f"{block}.{key}"])
    subject_names = list(names) if names is not None else [f"subject {i + 1}" for i in range(len(curves))]
    return CohortSweep(grid, objective, subject_names, curves, median, best, value)
