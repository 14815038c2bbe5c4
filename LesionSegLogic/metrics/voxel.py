"""Voxel-wise agreement between a binary prediction and a binary reference.

With ``TP = |P ∩ G|``, ``FP = |P \\ G|``, ``FN = |G \\ P|``, ``TN`` the rest (Hashemi et al. 2018,
Hashemi et al. 2018, §III; Hussein et al. 2023):

* sensitivity (recall) ``TP / (TP + FN)`` — ``None`` when the reference is empty;
* precision (PPV) ``TP / (TP + FP)`` — ``None`` when the prediction is empty;
* specificity ``TN / (TN + FP)`` — ``None`` when there is no negative voxel;
* Dice = F1 ``2TP / (2TP + FP + FN)``; F2 ``5TP / (5TP + 4FN + FP)`` (Hashemi et al. 2018);
  Jaccard ``TP / (TP + FP + FN)`` — all ``None`` when both masks are empty (0/0).

``None`` ("undefined") becomes ``null`` in JSON; aggregations over subjects skip it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or ``None`` when the denominator is 0 (an undefined ratio)."""
    return None if denominator == 0 else float(numerator) / float(denominator)


@dataclass(frozen=True)
class VoxelCounts:
    """Confusion counts of one binary prediction against one binary reference."""

    tp: int
    fp: int
    fn: int
    tn: int

    @classmethod
    def from_masks(cls, prediction: np.ndarray, reference: np.ndarray) -> VoxelCounts:
        prediction = np.asarray(prediction, dtype=bool)
        reference = np.asarray(reference, dtype=bool)
        tp = int(np.count_nonzero(prediction & reference))
        n_pred = int(np.count_nonzero(prediction))
        n_ref = int(np.count_nonzero(reference))
        return cls.from_totals(tp, n_pred, n_ref, prediction.size)

    @classmethod
    def from_totals(cls, tp: int, n_predicted: int, n_reference: int, n_total: int) -> VoxelCounts:
        """Counts from ``|P ∩ G|``, ``|P|``, ``|G|`` and the number of voxels."""
        fp = n_predicted - tp
        fn = n_reference - tp
        return cls(tp=int(tp), fp=int(fp), fn=int(fn), tn=int(n_total - tp - fp - fn))

    def as_dict(self) -> dict[str, int | float | None]:
        """The ``voxel`` block of the ``evaluate`` dictionary."""
        tp, fp, fn, tn = self.tp, self.fp, self.fn, self.tn
        return {
            **asdict(self),
            "sensitivity": ratio(tp, tp + fn),
            "precision": ratio(tp, tp + fp),
            "dice": ratio(2 * tp, 2 * tp + fp + fn),
            "f2": ratio(5 * tp, 5 * tp + 4 * fn + fp),
            "jaccard": ratio(tp, tp + fp + fn),
            "specificity": ratio(tn, tn + fp),
        }


def voxel_metrics(prediction: np.ndarray, reference: np.ndarray) -> dict[str, int | float | None]:
    """The ``voxel`` block of ``evaluate``: counts and the ratios of the module docstring."""
    return VoxelCounts.from_masks(prediction, reference).as_dict()


def average_precision(probability: np.ndarray, reference: np.ndarray) -> float | None:
    """Area under the voxel-wise precision–recall curve ("APR", Hashemi et al. 2018).

    Step-wise (non-interpolated) average precision over every distinct probability value ``τ`` used as the
    threshold ``p ≥ τ``: ``APR = Σ_n (R_n − R_{n−1}) · P_n`` with ``R_0 = 0``, recall ``R`` and precision
    ``P`` at the n-th highest distinct value (the estimator of scikit-learn's ``average_precision_score``; voxels of
    equal probability enter together). ``None`` when the reference is empty (recall undefined).
    """
    probability = np.asarray(probability, dtype=np.float64).ravel()
    reference = np.asarray(reference, dtype=bool).ravel()
    n_positive = int(np.count_nonzero(reference))
    if n_positive == 0:
        return None
    order = np.argsort(-probability, kind="stable")
    p_sorted = probability[order]
    tp_cum = np.cumsum(reference[order], dtype=np.int64)
    # last index of each run of equal probabilities = one threshold
    last = np.flatnonzero(np.r_[p_sorted[1:] != p_sorted[:-1], True])
    tp = tp_cum[last].astype(np.float64)
    predicted = (last + 1).astype(np.float64)
    precision = tp / predicted
    recall = tp / n_positive
    recall_step = np.diff(np.r_[0.0, recall])
    return float(np.sum(recall_step * precision))
