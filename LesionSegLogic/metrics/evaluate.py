"""The ``evaluate`` dictionary (design contract) for one binary prediction against one reference.

``{"threshold", "rule", "voxel": {tp, fp, fn, tn, sensitivity, precision, dice, f2, jaccard, specificity},
"lesion": {n_reference, n_predicted, tp_reference, tp_predicted, fp, fn, sensitivity, precision, f1},
"surface": {hd, hd95, asd}}`` — distances in mm, undefined ratios ``None`` (``null``); see
:mod:`~LesionSegLogic.metrics.voxel`, :mod:`~LesionSegLogic.metrics.lesion`,
:mod:`~LesionSegLogic.metrics.surface` for the formulas and ``docs/metrics.md`` for the rules.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

import numpy as np

from LesionSegLogic.metrics.lesion import evaluate_lesions
from LesionSegLogic.metrics.rules import MatchingRule, get_rule
from LesionSegLogic.metrics.surface import surface_distances
from LesionSegLogic.metrics.voxel import voxel_metrics


def evaluate(
    prediction: np.ndarray,
    reference: np.ndarray,
    spacing: tuple[float, float, float],
    rule: str | MatchingRule = "hussein",
    *,
    threshold: float | None = None,
    surface: bool = True,
) -> dict[str, Any]:
    """All metrics of ``prediction`` against ``reference`` (both binary, same grid, spacing in z, y, x mm).

    ``surface=False`` leaves ``"surface"`` as ``None`` (not computed).
    """
    rule = get_rule(rule)
    prediction = np.asarray(prediction, dtype=bool)
    reference = np.asarray(reference, dtype=bool)
    if prediction.shape != reference.shape:
        from LesionSegLogic.errors import GeometryError

        raise GeometryError(f"prediction shape {prediction.shape} differs from reference {reference.shape}")
    return {
        "threshold": None if threshold is None else float(threshold),
        "rule": rule.name,
        "rule_parameters": asdict(rule),
        "voxel": voxel_metrics(prediction, reference),
        "lesion": evaluate_lesions(prediction, reference, spacing, rule).counts(),
        "surface": surface_distances(prediction, reference, spacing) if surface else None,
    }
