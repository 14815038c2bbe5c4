"""Summaries and tests of the study tables.

* A cell is ``median (mean ± std)`` of the defined values (Hussein et al. 2023, Tables 1–2); ``std`` is
  the sample standard deviation (``ddof=1``; 0 for one value).
* Paired comparisons use the two-sided Wilcoxon signed-rank test of
  :func:`LesionSegLogic.metrics.cohort.wilcoxon_compare` (as Hussein et al. 2023).
* Several comparisons at once (every pair of losses) are corrected with **Holm's step-down method** (Holm, 1979,
  *Scand. J. Statist.* 6:65–70): sort the m p-values, multiply the i-th smallest by (m − i + 1), keep them
  non-decreasing, cap at 1. It controls the family-wise error rate without assuming independence.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CORRECTION = "Holm (1979) step-down, family-wise error rate"


@dataclass(frozen=True)
class Summary:
    """Median, mean, sample std and count of the defined values (``None`` fields when there are none)."""

    median: float | None
    mean: float | None
    std: float | None
    n: int

    def text(self, digits: int = 3) -> str:
        if self.median is None:
            return "–"
        return f"{self.median:.{digits}f} ({self.mean:.{digits}f} ± {self.std:.{digits}f})"

    def to_json(self) -> dict[str, float | int | None]:
        return {"median": self.median, "mean": self.mean, "std": self.std, "n": self.n}


def summarise(values: Sequence[float | None]) -> Summary:
    kept = np.array([v for v in values if v is not None and not math.isnan(v)], dtype=np.float64)
    if kept.size == 0:
        return Summary(None, None, None, 0)
    std = float(kept.std(ddof=1)) if kept.size > 1 else 0.0
    return Summary(float(np.median(kept)), float(kept.mean()), std, int(kept.size))


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values, in the input order."""
    p = np.asarray(pvalues, dtype=np.float64)
    m = p.size
    if m == 0:
        return []
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, index in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[index]))
        adjusted[index] = running
    return [float(v) for v in adjusted]
