"""Lesion-wise detection metrics under an explicit :class:`~LesionSegLogic.metrics.rules.MatchingRule`.

* ``sensitivity`` (SensL) = detected reference lesions / reference lesions — ``None`` without reference lesions;
* ``precision`` (PPVL) = true predicted lesions / predicted lesions — ``None`` with no predicted lesion;
* ``f1`` = ``2 · PPVL · SensL / (PPVL + SensL)`` (Commowick et al. 2018 §11; Hussein et al. 2023 "L-F1") —
  ``None`` when either is undefined, ``0`` when both are 0.

``tp_reference``/``fn`` count reference lesions, ``tp_predicted``/``fp`` predicted ones: with splits
and merges the two TP counts differ, so F1 is the harmonic mean of the two rates, not ``2TP/(2TP+FP+FN)``.
The matching itself (:func:`match_lesions`) works on a sparse overlap table so that the threshold engine and
the mask-based evaluation share it; the naive oracle in :mod:`LesionSegLogic.threshold.naive` re-implements it
with plain per-lesion loops.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import ndimage

from LesionSegLogic.metrics.rules import MatchingRule
from LesionSegLogic.metrics.voxel import ratio


@dataclass(frozen=True)
class LesionComponent:
    """One lesion (a connected component) of the prediction or of the reference, at one threshold."""

    id: int
    kind: str  # "predicted" | "reference"
    n_voxels: int
    volume_mm3: float
    centroid_zyx: tuple[float, float, float]
    centroid_lps: tuple[float, float, float] | None
    max_probability: float | None
    mean_probability: float | None
    status: str | None  # "TP" | "FP" (predicted), "TP" | "FN" (reference), None without a reference
    partners: tuple[int, ...] = field(default_factory=tuple)  # ids of overlapping lesions of the other kind


def label_components(mask: np.ndarray, rule: MatchingRule, voxel_volume: float) -> tuple[np.ndarray, int]:
    """Connected components of ``mask`` under ``rule``, small ones removed, numbered 1..n in raster order.

    A component is kept when it has at least ``rule.min_voxels(voxel_volume)`` voxels.
    """
    labels, n = ndimage.label(np.asarray(mask, dtype=bool), structure=rule.structure())
    if n == 0:
        return labels.astype(np.int32), 0
    sizes = np.bincount(labels.ravel(), minlength=n + 1)
    keep = sizes >= rule.min_voxels(voxel_volume)
    keep[0] = False
    if keep[1:].all():
        return labels.astype(np.int32), n
    new_ids = np.zeros(n + 1, dtype=np.int32)
    new_ids[keep] = np.arange(1, int(keep.sum()) + 1, dtype=np.int32)
    return new_ids[labels], int(keep.sum())


def overlap_pairs(pred_labels: np.ndarray, ref_labels: np.ndarray, n_ref: int) -> tuple[np.ndarray, ...]:
    """Sparse overlap table: 0-based ``(pred_index, ref_index, overlap_voxels)`` for every touching pair."""
    both = (pred_labels > 0) & (ref_labels > 0)
    key = pred_labels[both].astype(np.int64) * (n_ref + 1) + ref_labels[both]
    keys, counts = np.unique(key, return_counts=True)
    return (keys // (n_ref + 1) - 1, keys % (n_ref + 1) - 1, counts.astype(np.int64))


def _one_side(
    sizes: np.ndarray,
    side: np.ndarray,
    other: np.ndarray,
    overlap: np.ndarray,
    other_outside: np.ndarray,
    rule: MatchingRule,
) -> np.ndarray:
    """Detection of every lesion of one mask against the lesions of the other (module docstring of rules)."""
    n = sizes.size
    covered = np.bincount(side, weights=overlap, minlength=n).astype(np.int64)
    with np.errstate(divide="ignore", invalid="ignore"):
        fraction = covered / np.maximum(sizes, 1)
    passes = fraction >= rule.alpha if rule.alpha_inclusive else fraction > rule.alpha
    passes &= covered > 0
    if overlap.size == 0:
        return passes
    out = other_outside[other]
    order = np.lexsort((-out, -overlap, side))
    s_side, s_overlap, s_out = side[order], overlap[order], out[order]
    cum = np.cumsum(s_overlap)
    starts = np.flatnonzero(np.r_[True, s_side[1:] != s_side[:-1]])
    group_start_cum = (cum - s_overlap)[starts]
    run = np.diff(np.r_[starts, s_side.size])
    before = cum - s_overlap - np.repeat(group_start_cum, run)
    examined = before / covered[s_side] < rule.gamma
    leaks = examined & (s_out > rule.beta)
    leaked = np.bincount(s_side[leaks], minlength=n) > 0
    return passes & ~leaked


def match_lesions(
    ref_sizes: np.ndarray,
    pred_sizes: np.ndarray,
    pair_pred: np.ndarray,
    pair_ref: np.ndarray,
    pair_overlap: np.ndarray,
    rule: MatchingRule,
) -> tuple[np.ndarray, np.ndarray]:
    """``(reference_detected, predicted_true)`` boolean arrays from sizes and the sparse overlap table."""
    ref_sizes = np.asarray(ref_sizes, dtype=np.int64)
    pred_sizes = np.asarray(pred_sizes, dtype=np.int64)
    pair_pred = np.asarray(pair_pred, dtype=np.int64)
    pair_ref = np.asarray(pair_ref, dtype=np.int64)
    pair_overlap = np.asarray(pair_overlap, dtype=np.int64)
    ref_inside = np.bincount(pair_ref, weights=pair_overlap, minlength=ref_sizes.size)
    pred_inside = np.bincount(pair_pred, weights=pair_overlap, minlength=pred_sizes.size)
    with np.errstate(divide="ignore", invalid="ignore"):
        ref_outside = (ref_sizes - ref_inside.astype(np.int64)) / ref_sizes
        pred_outside = (pred_sizes - pred_inside.astype(np.int64)) / pred_sizes
    detected = _one_side(ref_sizes, pair_ref, pair_pred, pair_overlap, pred_outside, rule)
    true_pred = _one_side(pred_sizes, pair_pred, pair_ref, pair_overlap, ref_outside, rule)
    return detected, true_pred


def lesion_counts(detected: np.ndarray, true_pred: np.ndarray) -> dict[str, int | float | None]:
    """The ``lesion`` block of ``evaluate`` from the two detection arrays."""
    n_ref, n_pred = int(detected.size), int(true_pred.size)
    tp_ref, tp_pred = int(np.count_nonzero(detected)), int(np.count_nonzero(true_pred))
    sensitivity = ratio(tp_ref, n_ref)
    precision = ratio(tp_pred, n_pred)
    return {
        "n_reference": n_ref,
        "n_predicted": n_pred,
        "tp_reference": tp_ref,
        "tp_predicted": tp_pred,
        "fp": n_pred - tp_pred,
        "fn": n_ref - tp_ref,
        "sensitivity": sensitivity,
        "precision": precision,
        "f1": f1_score(precision, sensitivity),
    }


def f1_score(precision: float | None, sensitivity: float | None) -> float | None:
    """Harmonic mean ``2PS/(P+S)``; ``None`` if either is undefined, 0 when both are 0."""
    if precision is None or sensitivity is None:
        return None
    total = precision + sensitivity
    return 0.0 if total == 0 else 2.0 * precision * sensitivity / total


@dataclass(frozen=True)
class LesionEvaluation:
    """Components of both masks and their matching."""

    pred_labels: np.ndarray
    ref_labels: np.ndarray
    detected: np.ndarray  # (n_reference,) bool
    true_predicted: np.ndarray  # (n_predicted,) bool
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray]  # (pred_index, ref_index, overlap), 0-based

    def counts(self) -> dict[str, int | float | None]:
        return lesion_counts(self.detected, self.true_predicted)


def evaluate_lesions(
    prediction: np.ndarray, reference: np.ndarray, spacing: tuple[float, float, float], rule: MatchingRule
) -> LesionEvaluation:
    """Label both masks under ``rule`` and match their lesions."""
    voxel_volume = float(np.prod(spacing))
    pred_labels, n_pred = label_components(prediction, rule, voxel_volume)
    ref_labels, n_ref = label_components(reference, rule, voxel_volume)
    pair_pred, pair_ref, overlap = overlap_pairs(pred_labels, ref_labels, n_ref)
    pred_sizes = np.bincount(pred_labels.ravel(), minlength=n_pred + 1)[1:]
    ref_sizes = np.bincount(ref_labels.ravel(), minlength=n_ref + 1)[1:]
    detected, true_pred = match_lesions(ref_sizes, pred_sizes, pair_pred, pair_ref, overlap, rule)
    return LesionEvaluation(pred_labels, ref_labels, detected, true_pred, (pair_pred, pair_ref, overlap))


def lesion_metrics(
    prediction: np.ndarray, reference: np.ndarray, spacing: tuple[float, float, float], rule: MatchingRule
) -> dict[str, int | float | None]:
    """The ``lesion`` block of ``evaluate`` for two binary masks."""
    return evaluate_lesions(prediction, reference, spacing, rule).counts()
