"""Calibration of a probability map: the reliability diagram and the expected calibration error (ECE).

Guo et al. 2017 ("On calibration of modern neural networks", ICML), equation 3:

    ECE = Σ_b (n_b / N) · |acc_b − conf_b|

over ``n_bins`` equal-width bins of the predicted probability. Here the prediction is voxel-wise and binary, and
the bins are over the **lesion probability p** of each voxel (the reliability diagram of the lesion class):
``conf_b`` is the mean p of the voxels in bin b and ``acc_b`` the fraction of them that are lesion voxels in the
reference. A calibrated map has ``acc_b ≈ conf_b`` in every bin, so thresholding it at 0.5 is the right call —
the reason recommended thresholds near 0.5 are a sign of a well-trained model (issue 12). (Guo's top-label form,
with confidence max(p, 1 − p), would be dominated by the confident background that is > 99 % of a brain and
would hide how the lesion probabilities are calibrated.)

**Which voxels**: those inside a region mask the caller gives — the zoo uses the foreground mask of the model's
grid image (:func:`LesionSegLogic.preprocessing.foreground_mask`: the head or the body, not the air around it,
where every model predicts 0 and would inflate the well-calibrated bin 0). Voxels of several subjects are pooled
(:func:`reliability` takes a list), so N is the total number of voxels counted. A probability of exactly 1 falls
in the last bin; bins are ``[lower, upper)``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from LesionSegLogic.errors import InputError

#: equal-width bins used by default (Guo et al. 2017 use M = 15; 10 is the usual reliability diagram)
DEFAULT_BINS = 10


@dataclass(frozen=True)
class ReliabilityBin:
    """One bin ``[lower, upper)`` of the reliability diagram; ``confidence``/``accuracy`` are ``None`` when empty."""

    lower: float
    upper: float
    count: int
    confidence: float | None
    accuracy: float | None

    def to_json(self) -> dict[str, float | int | None]:
        return {"lower": self.lower, "upper": self.upper, "count": self.count, "confidence": self.confidence,
                "accuracy": self.accuracy}


@dataclass(frozen=True)
class Reliability:
    """The reliability diagram and its ECE (Guo et al. 2017, eq. 3) over ``n_voxels`` voxels."""

    ece: float | None
    bins: tuple[ReliabilityBin, ...]
    n_voxels: int
    voxels: str

    def to_json(self) -> dict[str, object]:
        return {"ece": self.ece, "n_bins": len(self.bins), "n_voxels": self.n_voxels, "voxels": self.voxels,
                "bins": [b.to_json() for b in self.bins]}


def bin_sums(probability: np.ndarray, reference: np.ndarray, region: np.ndarray | None = None,
             n_bins: int = DEFAULT_BINS) -> np.ndarray:
    """Per bin: (voxel count, Σ p, Σ reference) over the voxels of ``region`` (all when ``None``) — an
    ``(n_bins, 3)`` float64 array that adds up across subjects."""
    p = np.asarray(probability, dtype=np.float64)
    ref = np.asarray(reference)
    if p.shape != ref.shape or (region is not None and np.shape(region) != p.shape):
        raise InputError(f"probability {p.shape}, reference {ref.shape} and region "
                         f"{None if region is None else np.shape(region)} must have the same shape")
    if n_bins < 1:
        raise InputError(f"the number of bins must be at least 1, got {n_bins}")
    if region is not None:
        keep = np.asarray(region, dtype=bool)
        p, ref = p[keep], ref[keep]
    p, ref = p.ravel(), (ref.ravel() > 0).astype(np.float64)
    if p.size and (not np.isfinite(p).all() or p.min() < 0.0 or p.max() > 1.0):
        raise InputError("probabilities must be finite and in [0, 1]")
    index = np.minimum((p * n_bins).astype(np.int64), n_bins - 1)
    return np.stack([np.bincount(index, minlength=n_bins).astype(np.float64),
                     np.bincount(index, weights=p, minlength=n_bins),
                     np.bincount(index, weights=ref, minlength=n_bins)], axis=1)


def from_sums(sums: np.ndarray, voxels: str = "all voxels") -> Reliability:
    """The reliability diagram and ECE from (pooled) :func:`bin_sums`."""
    n_bins = len(sums)
    total = float(sums[:, 0].sum())
    bins, ece = [], 0.0
    for b, (count, sum_p, sum_ref) in enumerate(sums):
        conf = float(sum_p / count) if count > 0 else None
        acc = float(sum_ref / count) if count > 0 else None
        if count > 0:
            ece += (count / total) * abs(acc - conf)  # type: ignore[operator]  # acc and conf are set for every bin with count > 0
        bins.append(ReliabilityBin(b / n_bins, (b + 1) / n_bins, int(count), conf, acc))
    return Reliability(ece if total > 0 else None, tuple(bins), int(total), voxels)


def ece_above(bins: Sequence[dict[str, float | int | None]], lower: float) -> float | None:
    """Guo et al. 2017's ECE over the voxels of the bins starting at ``lower`` or above only (the bins as
    :meth:`Reliability.to_json` writes them): a lesion map's ECE over every voxel is dominated by the background
    bin [0, 0.1), where nearly all voxels sit and are nearly all right; this one says how well the probabilities a
    reader sees (and a threshold acts on) are calibrated. ``None`` when those bins are empty."""
    kept = [b for b in bins if float(b["lower"] or 0.0) >= lower - 1e-12 and b["count"]]
    total = float(sum(int(b["count"] or 0) for b in kept))
    if total == 0:
        return None
    return float(sum(int(b["count"] or 0) / total * abs(float(b["accuracy"] or 0.0) - float(b["confidence"] or 0.0))
                     for b in kept))


def reliability(probabilities: Sequence[np.ndarray], references: Sequence[np.ndarray],
                regions: Sequence[np.ndarray | None] | None = None, *, n_bins: int = DEFAULT_BINS,
                voxels: str = "all voxels") -> Reliability:
    """Pooled reliability diagram and ECE of several subjects' maps (module docstring); ``voxels`` describes the
    region (recorded with the result)."""
    regions = list(regions) if regions is not None else [None] * len(probabilities)
    if not (len(probabilities) == len(references) == len(regions)):
        raise InputError("one reference and one region (or None) per probability map")
    sums = np.zeros((n_bins, 3))
    for p, r, m in zip(probabilities, references, regions, strict=True):
        sums += bin_sums(p, r, m, n_bins)
    return from_sums(sums, voxels)


__all__ = ["DEFAULT_BINS", "Reliability", "ReliabilityBin", "bin_sums", "ece_above", "from_sums", "reliability"]
