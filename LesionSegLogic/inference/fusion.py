"""Fusion weights: how much each window's prediction counts at each voxel of the window.

LesionSeg fuses **probabilities** (the sigmoid of each window's logits), never logits: the fused value at
voxel ``v`` is

    p(v) = Σ_w W_w(v) · σ(z_w(v)) / Σ_w W_w(v),

the sum running over the windows ``w`` that were run and contain ``v`` (TTA predictions are averaged inside
a window first, which is the same as fusing each augmented prediction since every weight below is symmetric
under the flips and 180° rotations used). This is Hussein et al. 2023's "averaged p-maps" (``mean``) and
Hashemi et al. 2018's "weighted average of probabilities" (``bspline``), and it keeps the map a probability for any
weights. Every model card is evaluated with this same rule.

All weights are separable products of 1-D profiles ``w(i)``, ``i = 0 … P−1`` (scaled to a maximum of 1,
except the Gaussian, whose samples are kept as they are so that its floor is MONAI's to the bit):

* ``mean`` — ``w(i) = 1``: uniform averaging (Hussein et al. 2023 and Cabezas & Diez 2024).
* ``gaussian`` — ``w(i) = exp(−(i − (P−1)/2)² / (2σ²))`` with ``σ = P/8`` (nnU-Net's ``tile/8``; MONAI's
  ``sigma_scale = 0.125``); the 3-D product is clamped below at ``1e-3`` exactly as MONAI's
  ``compute_importance_map`` does, so that border voxels are never left with no weight.
* ``hann`` — ``w(i) = sin²(π (i + 1)/(P + 1))``: the Hann window of ``P + 2`` points without its two zero end
  points (TorchIO's ``GridAggregator``), the best of the windows compared by Pielawski & Wählby,
  *Introducing Hann windows for reducing edge-effects in patch-based image segmentation*, PLoS ONE 2020.
* ``bspline`` — Hashemi et al. 2018 (§"Patch prediction fusion"): "the relative weights of soft
  predictions [...] using a second-order spline function at each patch center", i.e. the centred cardinal
  B-spline of degree ``d = 2`` (Unser's β², "second order" counted by degree) stretched over the patch:
  ``w(i) = β^d(t)``, ``t = (d + 1)·((i + ½) − P/2)/P ∈ (−(d+1)/2, (d+1)/2)``, with
  ``β²(t) = ¾ − t²`` for ``|t| ≤ ½``, ``½(|t| − 3/2)²`` for ``½ ≤ |t| < 3/2``. Voxel centres never reach the
  support's end, so every weight is positive. (Counting "order" as degree + 1 gives the linear "tent"; pass
  ``degree=1`` for that reading.)
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from LesionSegLogic.errors import ConfigError

#: every fusion rule (``--fusion``, a card's ``inference.fusion``); the one list
FUSIONS = ("mean", "gaussian", "hann", "bspline")
GAUSSIAN_SIGMA_SCALE = 0.125
GAUSSIAN_FLOOR = 1e-3


def bspline(t: np.ndarray, degree: int) -> np.ndarray:
    """Centred cardinal B-spline ``β^d(t) = Σ_k (−1)^k C(d+1, k) (t + (d+1)/2 − k)_+^d / d!``."""
    t = np.asarray(t, dtype=np.float64)
    out = np.zeros_like(t)
    half = (degree + 1) / 2.0
    for k in range(degree + 2):
        shifted = np.maximum(t + half - k, 0.0)
        out += (-1) ** k * math.comb(degree + 1, k) * (shifted**degree if degree > 0 else (shifted > 0))
    out /= math.factorial(degree)
    out[np.abs(t) >= half] = 0.0
    return np.maximum(out, 0.0)


def profile(name: str, size: int, *, degree: int = 2) -> np.ndarray:
    """The 1-D weight profile of fusion ``name`` over ``size`` voxels (float64, see the module doc)."""
    i = np.arange(size, dtype=np.float64)
    if name == "mean":
        w = np.ones(size)
    elif name == "gaussian":
        sigma = GAUSSIAN_SIGMA_SCALE * size
        w = np.exp(-((i - (size - 1) / 2.0) ** 2) / (2.0 * sigma**2))
    elif name == "hann":
        w = np.sin(np.pi * (i + 1.0) / (size + 1.0)) ** 2
    elif name == "bspline":
        if degree < 1:
            raise ConfigError(f"bspline degree must be >= 1, got {degree}")
        t = (degree + 1) * ((i + 0.5) - size / 2.0) / size
        w = bspline(t, degree)
    else:
        raise ConfigError(f"unknown fusion {name!r}; choose one of {', '.join(FUSIONS)}")
    return w if name == "gaussian" else w / w.max()


def fusion_weights(name: str, patch: Sequence[int], *, degree: int = 2) -> np.ndarray:
    """The 3-D weight map (float32, shape ``patch``): the outer product of the 1-D profiles."""
    z, y, x = (profile(name, int(p), degree=degree) for p in patch)
    weights = z[:, None, None] * y[None, :, None] * x[None, None, :]
    if name == "gaussian":
        weights = np.maximum(weights, max(float(weights.min()), GAUSSIAN_FLOOR))
    return weights.astype(np.float32)
