"""Compound losses: Combo (Taghanaki), Dice + CE (Cabezas & Diez 2024 "mixed"), Dice + focal, HyTver
(Perera et al. 2025).

Lesion-wise F1 as a loss term (Kamraoui et al. 2021: ``Dice loss + 0.2 · (1 − LF1̂)`` with a frozen CNN
estimating lesion-wise F1) is not a closed-form loss: it is assembled in training
(``LesionSegLogic.training``) from :class:`~LesionSegLogic.losses.overlap.DiceLoss` and the estimator.
"""

from __future__ import annotations

import torch
from torch import Tensor

from LesionSegLogic.losses.base import (
    BinaryLoss,
    check_fraction,
    check_nonnegative,
    check_pooling,
    soft_counts,
    tversky_index,
)
from LesionSegLogic.losses.crossentropy import weighted_ce
from LesionSegLogic.losses.focal import focal_terms
from LesionSegLogic.losses.overlap import soft_dice


class ComboLoss(BinaryLoss):
    """Combo loss ``L = α·wCE(β) + (1 − α)·(1 − DSC)``.

    ``wCE(β) = −(1/N) Σ_i [β y_i ln p_i + (1 − β)(1 − y_i) ln(1 − p_i)]`` and
    ``DSC = (2 Σ p·y + s) / (Σ p + Σ y + s)``.

    Source: Taghanaki et al., "Combo loss", CMIG 2019, eq. 3, which writes ``α·wCE − (1 − α)·DSC`` (it can be
    negative). We return ``α·wCE + (1 − α)(1 − DSC)`` — the paper's value plus the constant ``1 − α``: same
    gradient, same optimum, and ≥ 0; ``nonnegative=False`` returns the paper's value. The paper's wCE bracket
    is followed (β on the lesion term, 1 − β on background); the released ``asgsaeid/ComboLoss`` code weights
    the background term by β(1 − β). Defaults ``alpha = 0.5``, ``beta = 0.5`` (the released code's
    ``ce_d_w``/``ce_w``; the paper tunes them per data set), ``smooth = 1`` (the code's), ``pooling =
    "batch"``. Lesion-free patch: the CE term punishes every false positive; the Dice term as in ``dice``.
    """

    name = "combo"
    _params = ("alpha", "beta", "smooth", "pooling", "nonnegative")

    def __init__(
        self,
        alpha: float = 0.5,
        beta: float = 0.5,
        smooth: float = 1.0,
        pooling: str = "batch",
        nonnegative: bool = True,
    ) -> None:
        super().__init__()
        self.alpha = check_fraction("alpha", alpha)
        self.beta = check_fraction("beta", beta)
        self.smooth = check_nonnegative("smooth", smooth)
        self.pooling = check_pooling(pooling)
        self.nonnegative = bool(nonnegative)

    def compute(self, z: Tensor, y: Tensor) -> Tensor:
        dsc = soft_dice(torch.sigmoid(z), y, self.pooling, self.smooth).mean()
        dice_term = 1.0 - dsc if self.nonnegative else -dsc
        return self.alpha * weighted_ce(z, y, self.beta) + (1.0 - self.alpha) * dice_term


class DiceCELoss(BinaryLoss):
    """``L = λ_dice · L_Dice + λ_ce · BCE`` (Cabezas & Diez 2024's "mixed": Dice and cross-entropy with equal weights).

    ``L_Dice`` as :class:`~LesionSegLogic.losses.overlap.DiceLoss` (linear denominator), BCE the mean voxel
    cross-entropy. Defaults ``lambda_dice = lambda_ce = 1``, ``smooth = 1``, ``pooling = "batch"``. Equals
    MONAI ``DiceCELoss(sigmoid=True, smooth_nr=s, smooth_dr=s, batch=pooling=="batch")`` (same λ defaults).
    Lesion-free patch: the CE term punishes every false positive; the Dice term as in ``dice``.
    """

    name = "dice_ce"
    _params = ("lambda_dice", "lambda_ce", "smooth", "pooling")

    def __init__(
        self, lambda_dice: float = 1.0, lambda_ce: float = 1.0, smooth: float = 1.0, pooling: str = "batch"
    ) -> None:
        super().__init__()
        self.lambda_dice = check_nonnegative("lambda_dice", lambda_dice)
        self.lambda_ce = check_nonnegative("lambda_ce", lambda_ce)
        self.smooth = check_nonnegative("smooth", smooth)
        self.pooling = check_pooling(pooling)

    def compute(self, z: Tensor, y: Tensor) -> Tensor:
        dice = (1.0 - soft_dice(torch.sigmoid(z), y, self.pooling, self.smooth)).mean()
        return self.lambda_dice * dice + self.lambda_ce * 2.0 * weighted_ce(z, y, 0.5)


class DiceFocalLoss(BinaryLoss):
    """``L = λ_dice · L_Dice + λ_focal · L_focal`` (HyTver's "FocalDice" baseline; MONAI ``DiceFocalLoss``).

    ``L_focal`` is Lin's focal loss (:class:`~LesionSegLogic.losses.focal.FocalLoss`). Defaults
    ``lambda_dice = lambda_focal = 1``, ``alpha = None`` (no class weight, MONAI's default), ``gamma = 2``,
    ``smooth = 1``, ``pooling = "batch"``. Lesion-free patch: the focal term punishes false positives
    (weighted
    by ``p^γ``); the Dice term as in ``dice``.
    """

    name = "dice_focal"
    _params = ("lambda_dice", "lambda_focal", "alpha", "gamma", "smooth", "pooling")

    def __init__(
        self,
        lambda_dice: float = 1.0,
        lambda_focal: float = 1.0,
        alpha: float | None = None,
        gamma: float = 2.0,
        smooth: float = 1.0,
        pooling: str = "batch",
    ) -> None:
        super().__init__()
        self.lambda_dice = check_nonnegative("lambda_dice", lambda_dice)
        self.lambda_focal = check_nonnegative("lambda_focal", lambda_focal)
        self.alpha = None if alpha is None else check_fraction("alpha", alpha)
        self.gamma = check_nonnegative("gamma", gamma)
        self.smooth = check_nonnegative("smooth", smooth)
        self.pooling = check_pooling(pooling)

    def compute(self, z: Tensor, y: Tensor) -> Tensor:
        dice = (1.0 - soft_dice(torch.sigmoid(z), y, self.pooling, self.smooth)).mean()
        return self.lambda_dice * dice + self.lambda_focal * focal_terms(z, y, self.alpha, self.gamma).mean()


class HyTverLoss(BinaryLoss):
    """HyTver ``L = γ·wCE(β_ce) + (1 − γ)·(1 − TI)``, ``TI = (TP + s) / (TP + α·FP + β·FN + s)``.

    Source: Perera et al. 2025, "HyTver", section II-A, with Combo's weighted cross-entropy
    ``wCE(β_ce) = −(1/N) Σ [β_ce y ln p + (1 − β_ce)(1 − y) ln(1 − p)]`` (the paper's printed bracket
    ``β(y − log p)`` is garbled; it cites Combo for it). Convention mapping: the paper's TI puts its α on
    false negatives and 1 − α on false positives — so paper α ↦ our ``beta`` (FN) and 1 − α ↦ our ``alpha``
    (FP); the paper's CE β ↦ ``ce_beta``; the paper's γ ↦ ``gamma``.

    The paper states no values; defaults are those of the authors' released code (``hyTver`` in
    ``CoactSeg/code/utils/losses.py``): CE lesion weight 0.7, Tversky FN weight 0.7 / FP 0.3, γ = 0.5,
    smooth 1 → ``alpha = 0.3``, ``beta = 0.7``, ``ce_beta = 0.7``, ``gamma = 0.5``, ``smooth = 1``. Where that
    code differs from the paper (and we follow the paper): it clips p and y to [0.001, 0.999], returns ``γ·CE
    − (1 − γ)·TI`` (negative), and the call site swaps prediction and target, so its TI weights FP 0.7 and FN
    0.3. ``gamma = 0`` is the Tversky loss; ``gamma = 1`` the weighted CE.
    """

    name = "hytver"
    _params = ("alpha", "beta", "ce_beta", "gamma", "smooth", "pooling")

    def __init__(
        self,
        alpha: float = 0.3,
        beta: float = 0.7,
        ce_beta: float = 0.7,
        gamma: float = 0.5,
        smooth: float = 1.0,
        pooling: str = "batch",
    ) -> None:
        super().__init__()
        self.alpha = check_nonnegative("alpha", alpha)
        self.beta = check_nonnegative("beta", beta)
        self.ce_beta = check_fraction("ce_beta", ce_beta)
        self.gamma = check_fraction("gamma", gamma)
        self.smooth = check_nonnegative("smooth", smooth)
        self.pooling = check_pooling(pooling)

    def compute(self, z: Tensor, y: Tensor) -> Tensor:
        c = soft_counts(torch.sigmoid(z), y, self.pooling)
        tversky = (1.0 - tversky_index(c, self.alpha, self.beta, self.smooth)).mean()
        return self.gamma * weighted_ce(z, y, self.ce_beta) + (1.0 - self.gamma) * tversky
