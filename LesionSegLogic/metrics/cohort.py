"""Cohort-level statistics: patient-level detection (Hussein et al. 2023) and paired model comparison.

* Patient-level sensitivity = subjects with reference lesions in which at least one lesion is predicted /
  subjects with reference lesions; patient-level specificity = subjects without reference lesions in which no
  lesion is predicted / subjects without reference lesions (Hussein et al. 2023, "P-sensitivity",
  "P-specificity"). Lesions are counted after the matching rule's size filter. ``None`` when the cohort has no
  subject of the kind.
* Two models' per-subject metrics are compared with the two-sided Wilcoxon signed-rank test
  (``scipy.stats.wilcoxon``, as Hussein et al.); subjects where either value is undefined (``None``) are left
  out; when every paired difference is zero there is no evidence of a difference and ``pvalue`` is 1.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from LesionSegLogic.errors import InputError
from LesionSegLogic.metrics.voxel import ratio


@dataclass(frozen=True)
class PatientLevel:
    """Patient-level detection over a cohort."""

    sensitivity: float | None
    specificity: float | None
    n_positive: int  # subjects with reference lesions
    n_negative: int  # subjects without
    true_positive: int
    true_negative: int


def patient_level(results: Sequence[Mapping[str, Any]]) -> PatientLevel:
    """Patient-level sensitivity/specificity from ``evaluate`` dictionaries (their ``lesion`` blocks)."""
    positive = [r["lesion"]["n_reference"] > 0 for r in results]
    predicted = [r["lesion"]["n_predicted"] > 0 for r in results]
    tp = sum(p and q for p, q in zip(positive, predicted, strict=True))
    tn = sum(not p and not q for p, q in zip(positive, predicted, strict=True))
    n_pos = sum(positive)
    n_neg = len(positive) - n_pos
    return PatientLevel(ratio(tp, n_pos), ratio(tn, n_neg), n_pos, n_neg, tp, tn)


@dataclass(frozen=True)
class WilcoxonResult:
    """Paired comparison of two models' per-subject values (a − b)."""

    statistic: float
    pvalue: float
    n: int  # pairs used
    median_difference: float | None


def wilcoxon_compare(a: Sequence[float | None], b: Sequence[float | None]) -> WilcoxonResult:
    """Two-sided Wilcoxon signed-rank test of paired per-subject values ``a`` vs ``b``."""
    from scipy import stats

    if len(a) != len(b):
        raise InputError(f"paired values differ in length: {len(a)} vs {len(b)}")
    pairs = [(x, y) for x, y in zip(a, b, strict=True) if x is not None and y is not None]
    if not pairs:
        return WilcoxonResult(0.0, 1.0, 0, None)
    diff = np.array([x - y for x, y in pairs], dtype=np.float64)
    median = float(np.median(diff))
    if np.all(diff == 0):
        return WilcoxonResult(0.0, 1.0, len(pairs), median)
    test = stats.wilcoxon(diff, alternative="two-sided")
    return WilcoxonResult(float(test.statistic), float(test.pvalue), len(pairs), median)


def median_defined(values: Sequence[float | None]) -> float | None:
    """Median of the defined values (``None`` and NaN skipped); ``None`` if none is defined."""
    kept = [v for v in values if v is not None and not math.isnan(v)]
    return float(np.median(kept)) if kept else None
