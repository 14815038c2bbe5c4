"""After training: pick the decision threshold and measure the model on held-out subjects (Hussein et al. 2023).

* ``predict_cases`` reconstructs whole-volume probability maps with
  :func:`LesionSegLogic.inference.predict_volume` (the same path as ``lesionseg predict``).
* ``choose_threshold`` sweeps 0.05 … 0.95 by 0.05 on the threshold-optimisation subjects and keeps the
  threshold with the highest **median voxel-wise F1** (Hussein et al. 2023, section 2.4); ties go to the
  threshold nearest 0.5. Subjects without lesions (undefined F1) are left out of the median.
* ``evaluate_cases`` gives the evaluate dictionary (:class:`LesionSegLogic.threshold.ThresholdEngine`) of
  every test subject at a threshold and their means.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import nn

from LesionSegLogic.training.data import LoadedCase

OBJECTIVE = "median voxel-wise F1 (Dice) over the threshold-optimisation subjects (Hussein et al. 2023)"


@dataclass
class ThresholdChoice:
    threshold: float
    objective: str
    thresholds: list[float] = field(default_factory=list)
    median_f1: list[float | None] = field(default_factory=list)


def predict_cases(
    model: nn.Module,
    cases: Sequence[LoadedCase],
    patch_size: Sequence[int],
    *,
    overlap: float = 0.5,
    fusion: str = "gaussian",
    device: str = "cpu",
    batch_size: int | None = None,
) -> list[np.ndarray]:
    """Probability maps (z, y, x) of the cases on their training grid."""
    from LesionSegLogic.inference import predict_volume

    model.eval()
    with torch.no_grad():
        return [
            np.asarray(
                predict_volume(
                    model,
                    c.image,
                    patch_size=tuple(patch_size),
                    overlap=overlap,
                    fusion=fusion,
                    device=device,
                    batch_size=batch_size,
                ),
                dtype=np.float32,
            )
            for c in cases
        ]


def voxel_f1_curve(
    probability: np.ndarray, reference: np.ndarray, thresholds: Sequence[float]
) -> list[float | None]:
    """Voxel-wise F1 (= Dice) of ``probability >= t`` for each threshold; ``None`` when undefined."""
    ref = reference.astype(bool)
    p_ref = probability[ref]
    p_bg = probability[~ref]
    out: list[float | None] = []
    for t in thresholds:
        tp = float((p_ref >= t).sum())
        fn = float(ref.sum()) - tp
        fp = float((p_bg >= t).sum())
        denom = 2 * tp + fp + fn
        out.append(2 * tp / denom if denom > 0 and ref.any() else None)
    return out


def choose_threshold(
    probabilities: Sequence[np.ndarray], references: Sequence[np.ndarray], step: float = 0.05
) -> ThresholdChoice:
    """Hussein et al. 2023's rule: the threshold maximising the median voxel-wise F1 over the subjects."""
    thresholds = [round(float(t), 4) for t in np.arange(step, 1.0 - 1e-9, step)]
    curves = np.array(
        [
            [np.nan if v is None else v for v in voxel_f1_curve(p, r, thresholds)]
            for p, r in zip(probabilities, references, strict=True)
        ],
        dtype=float,
    )
    if curves.size == 0 or np.isnan(curves).all():
        return ThresholdChoice(0.5, OBJECTIVE + " — undefined (no lesions): 0.5 kept", thresholds, [])
    median = np.nanmedian(curves, axis=0)
    best = np.nanmax(median)
    candidates = [t for t, m in zip(thresholds, median, strict=True) if m >= best - 1e-12]
    chosen = min(candidates, key=lambda t: (abs(t - 0.5), t))
    return ThresholdChoice(
        float(chosen), OBJECTIVE, thresholds, [None if np.isnan(m) else float(m) for m in median]
    )


def _mean(values: list[Any]) -> float | None:
    vals = [float(v) for v in values if v is not None]
    return float(np.mean(vals)) if vals else None


SUMMARY_KEYS = (
    ("voxel", "dice"),
    ("voxel", "sensitivity"),
    ("voxel", "precision"),
    ("lesion", "f1"),
    ("lesion", "sensitivity"),
    ("lesion", "precision"),
)


def evaluate_cases(
    probabilities: Sequence[np.ndarray], cases: Sequence[LoadedCase], threshold: float, rule: str = "anima"
) -> dict[str, Any]:
    """Per-subject evaluate dictionaries at ``threshold`` and the mean of the main metrics."""
    from LesionSegLogic.threshold import ThresholdEngine

    per_case = []
    for p, c in zip(probabilities, cases, strict=True):
        engine = ThresholdEngine(p, c.spacing, reference=c.mask, rule=rule)
        m = engine.at(threshold).metrics
        per_case.append({"case": c.name, "voxel": m["voxel"], "lesion": m["lesion"]})
    summary = {f"{a}_{b}": _mean([pc[a].get(b) for pc in per_case]) for a, b in SUMMARY_KEYS}
    return {
        "threshold": threshold,
        "rule": rule,
        "n_subjects": len(per_case),
        "mean": summary,
        "subjects": per_case,
    }
