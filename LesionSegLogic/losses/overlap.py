"""Overlap (region) losses: Dice, generalised Dice, Tversky, focal Tversky, log-cosh Dice.

All take ``pooling="batch"`` (default: one score over the whole batch) or ``"sample"`` (one score per patch,
averaged); see :mod:`LesionSegLogic.losses.base`. The Tversky convention of the whole package: ``alpha``
weights FALSE POSITIVES and ``beta`` FALSE NEGATIVES (Salehi et al. 2017 / Hashemi et al. 2018 eq. 2, MONAI).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from LesionSegLogic.errors import ConfigError
from LesionSegLogic.losses.base import (
    BinaryLoss,
    check_nonnegative,
    check_pooling,
    pooled_sum,
    safe_pow,
    soft_counts,
    tversky_index,
)


def soft_dice(p: Tensor, y: Tensor, pooling: str, smooth: float, squared: bool = False) -> Tensor:
    """``(2 Σ p·y + s) / (Σ p + Σ y + s)`` per group (``Σ p² + Σ y²`` in the denominator when ``squared``)."""
    inter = pooled_sum(p * y, pooling)
    if squared:
        denom = pooled_sum(p * p, pooling) + pooled_sum(y * y, pooling)
    else:
        denom = pooled_sum(p, pooling) + pooled_sum(y, pooling)
    return (2.0 * inter + smooth) / (denom + smooth)


def log_cosh(x: Tensor) -> Tensor:
    """``ln cosh x = |x| + softplus(−2|x|) − ln 2``, finite for any ``x``."""
    a = x.abs()
    return a + F.softplus(-2.0 * a) - math.log(2.0)


class DiceLoss(BinaryLoss):
    """Soft Dice loss ``L = 1 − (2 Σ p·y + s) / (Σ p + Σ y + s)``.

    Source: Milletari et al., "V-Net", 3DV 2016 (eq. 1 writes ``Σ p² + Σ y²`` in the denominator:
    ``squared=True``); the linear denominator (default) is Cabezas & Diez 2024 eq. 4, Sudre et al. 2017 and MONAI's
    default.
    Defaults ``smooth = 1`` (added to numerator and denominator, as in Abraham's and Jadon's code),
    ``pooling = "batch"``, ``squared = False``.

    Lesion-free patch (sample pooling): ``L = Σp / (Σp + s)`` — zero only if nothing is predicted, close to 1
    once the predicted mass exceeds ``s``. With MONAI's ``s = 1e-5`` almost any prediction costs ≈ 1.
    Equals MONAI ``DiceLoss(sigmoid=True, smooth_nr=s, smooth_dr=s, batch=pooling=="batch")``.
    """

    name = "dice"
    _params = ("smooth", "pooling", "squared")

    def __init__(self, smooth: float = 1.0, pooling: str = "batch", squared: bool = False) -> None:
        super().__init__()
        self.smooth = check_nonnegative("smooth", smooth)
        self.pooling = check_pooling(pooling)
        self.squared = bool(squared)

    def compute(self, z: Tensor, y: Tensor) -> Tensor:
        return (1.0 - soft_dice(torch.sigmoid(z), y, self.pooling, self.smooth, self.squared)).mean()


_GDL_WEIGHTS = ("square", "simple", "uniform")


class GeneralizedDiceLoss(BinaryLoss):
    """Generalised Dice loss over background and lesion classes (two-class form of Cabezas & Diez 2024 eq. 3):

    ``L = 1 − 2 [w_fg Σ p·y + w_bg Σ (1−p)(1−y)] / [w_fg Σ (p + y) + w_bg Σ (2 − p − y)]``
    ``  = 1 − 2 [(w_fg + w_bg) Σ p·y + w_bg (N − Σ(p + y))] / [(w_fg − w_bg) Σ (p + y) + 2 N w_bg]``.

    Source: Sudre et al., "Generalised Dice overlap ...", DLMIA 2017: class weights ``w_c = 1 / n_c²`` with
    ``n_c`` the number of reference voxels of class c (``weights="square"``, default). ``"simple"`` is
    ``1 / n_c`` (what Cabezas & Diez's released code uses, not their paper); ``"uniform"`` is ``w_c = 1``.
    With a single (lesion) channel the weight cancels and GDL is plain Dice — it needs both classes, as here.

    The weights are computed from the target per pooling group and normalised to sum to 1 (the ratio does not
    change; it keeps ``smooth`` meaningful). An empty class (lesion-free patch or group: ``n_fg = 0``) would
    get an infinite weight; as NiftyNet and MONAI do, it gets the largest finite weight instead, so a
    lesion-free patch is scored by the equally weighted two-class Dice — false positives still cost. Defaults
    ``weights = "square"``, ``smooth = 0`` (the denominator is ≥ min(w)·N > 0), ``pooling = "batch"``. Equals
    MONAI ``GeneralizedDiceLoss`` on the two channels ``(1 − p, p)`` with ``smooth_nr = smooth_dr = 0``.
    """

    name = "generalized_dice"
    _params = ("weights", "smooth", "pooling")

    def __init__(self, weights: str = "square", smooth: float = 0.0, pooling: str = "batch") -> None:
        super().__init__()
        if weights not in _GDL_WEIGHTS:
            raise ConfigError(f"weights must be one of {', '.join(_GDL_WEIGHTS)}; got {weights!r}")
        self.weights = weights
        self.smooth = check_nonnegative("smooth", smooth)
        self.pooling = check_pooling(pooling)

    def class_weights(self, y: Tensor) -> Tensor:
        """``(G, 2)`` weights ``[w_bg, w_fg]`` per group, normalised to sum to 1, infinite ones replaced."""
        n = torch.stack([pooled_sum(1.0 - y, self.pooling), pooled_sum(y, self.pooling)], dim=1)
        if self.weights == "uniform":
            w = torch.ones_like(n)
        else:
            w = 1.0 / (n * n if self.weights == "square" else n)
            empty = torch.isinf(w)
            w = torch.where(empty, torch.zeros_like(w), w)
            w = torch.where(empty, w.amax(dim=1, keepdim=True), w)
        return w / w.sum(dim=1, keepdim=True)

    def compute(self, z: Tensor, y: Tensor) -> Tensor:
        p = torch.sigmoid(z)
        w = self.class_weights(y).detach()
        w_bg, w_fg = w[:, 0], w[:, 1]
        inter = w_fg * pooled_sum(p * y, self.pooling) + w_bg * pooled_sum((1 - p) * (1 - y), self.pooling)
        denom = w_fg * pooled_sum(p + y, self.pooling) + w_bg * pooled_sum(2.0 - p - y, self.pooling)
        return (1.0 - (2.0 * inter + self.smooth) / (denom + self.smooth)).mean()


class TverskyLoss(BinaryLoss):
    """Tversky loss ``L = 1 − TI``, ``TI = (TP + s) / (TP + α·FP + β·FN + s)``.

    Source: Salehi et al., MLMI 2017; Hashemi et al. 2018 eq. 2–3: **α weights false
    positives, β false negatives** (our convention, and MONAI's). Defaults ``alpha = 0.3``, ``beta = 0.7``
    (Hashemi et al. 2018's best; Hussein et al. 2023 writes "α = 0.7" for the same FN weight — its α is our β),
    ``smooth = 1``,
    ``pooling = "batch"``. ``alpha = beta = 0.5`` is the Dice loss; ``alpha = beta = 1`` the Tanimoto/Jaccard
    loss. Lesion-free patch (sample pooling): ``L = α·FP / (α·FP + s)``. Equals MONAI
    ``TverskyLoss(sigmoid=True, alpha, beta, smooth_nr=s, smooth_dr=s, batch=pooling=="batch")``.
    """

    name = "tversky"
    _params: tuple[str, ...] = ("alpha", "beta", "smooth", "pooling")

    def __init__(self, alpha: float = 0.3, beta: float = 0.7, smooth: float = 1.0, pooling: str = "batch") -> None:
        super().__init__()
        self.alpha = check_nonnegative("alpha", alpha)
        self.beta = check_nonnegative("beta", beta)
        self.smooth = check_nonnegative("smooth", smooth)
        self.pooling = check_pooling(pooling)

    def index(self, z: Tensor, y: Tensor) -> Tensor:
        """The Tversky index per pooling group."""
        c = soft_counts(torch.sigmoid(z), y, self.pooling)
        return tversky_index(c, self.alpha, self.beta, self.smooth)

    def compute(self, z: Tensor, y: Tensor) -> Tensor:
        return (1.0 - self.index(z, y)).mean()


class FocalTverskyLoss(TverskyLoss):
    """Focal Tversky loss ``L = (1 − TI)^γ`` (TI as in :class:`TverskyLoss`).

    Source: Abraham & Khan, ISBI 2019. The paper writes the exponent as ``1/γ`` with γ = 4/3; we take the
    exponent itself as ``gamma`` (default 0.75 = 1/(4/3), Hussein's "γ = 0.75", Yeung's form). Abraham's
    α = 0.7 multiplies false negatives: it is our ``beta``. Defaults ``alpha = 0.3`` (FP), ``beta = 0.7``
    (FN),
    ``gamma = 0.75``, ``smooth = 1``, ``pooling = "batch"``. ``gamma = 1`` is the Tversky loss. The gradient
    of ``x^γ`` (γ < 1) is infinite at ``x = 0``; we define it as 0 there (a perfect prediction).
    Lesion-free patch (sample pooling): ``(α·FP / (α·FP + s))^γ``. MONAI has no focal Tversky loss.
    """

    name = "focal_tversky"
    _params = ("alpha", "beta", "gamma", "smooth", "pooling")

    def __init__(
        self,
        alpha: float = 0.3,
        beta: float = 0.7,
        gamma: float = 0.75,
        smooth: float = 1.0,
        pooling: str = "batch",
    ) -> None:
        super().__init__(alpha=alpha, beta=beta, smooth=smooth, pooling=pooling)
        self.gamma = check_nonnegative("gamma", gamma)

    def compute(self, z: Tensor, y: Tensor) -> Tensor:
        return safe_pow(1.0 - self.index(z, y), self.gamma).mean()


class LogCoshDiceLoss(DiceLoss):
    """Log-cosh Dice loss ``L = ln cosh(L_Dice)``, ``L_Dice`` the soft Dice loss of :class:`DiceLoss`.

    Source: Jadon, "A survey of loss functions for semantic segmentation", CIBCB 2020
    (Hussein et al. 2023's "Log-Cosh").
    ``ln cosh`` is evaluated as ``|x| + softplus(−2|x|) − ln 2``. Its gradient is ``tanh(L_Dice)`` times
    Dice's (always weaker: ``tanh(x) < x``); values lie in ``[0, ln cosh 1 ≈ 0.434]``. Defaults as Dice
    (``smooth = 1``, ``pooling = "batch"``). Note: HyTver's released code implements "log-cosh" as a
    voxel-wise regression ``mean ln cosh(y − p)`` — not this loss.
    """

    name = "log_cosh_dice"

    def compute(self, z: Tensor, y: Tensor) -> Tensor:
        dice = 1.0 - soft_dice(torch.sigmoid(z), y, self.pooling, self.smooth, self.squared)
        return log_cosh(dice).mean()
