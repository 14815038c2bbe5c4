"""Unified focal loss, symmetric and asymmetric (Yeung et al., CMIG 2022).

Two classes are formed from the single sigmoid channel: lesion ``p_fg = σ(z)`` and background
``p_bg = 1 − p_fg = σ(−z)``, with references ``y`` and ``1 − y``. Per class c (per pooling group):

* modified Tversky index ``mTI_c = (TP_c + ε) / (TP_c + δ·FN_c + (1 − δ)·FP_c + ε)`` — **δ on false
  negatives**, so in our Tversky convention ``alpha = 1 − δ`` (FP) and ``beta = δ`` (FN). For the background
  class ``TP_bg = TN``, ``FN_bg = FP``, ``FP_bg = FN`` of the lesion class.
* focal Tversky ``(1 − mTI_c)^(1−γ)`` — symmetric: on both classes; asymmetric: only on the lesion class (the
  background keeps ``1 − mTI_bg``); averaged over the two classes.
* focal cross-entropy, per voxel, summed over the two classes and averaged over voxels:
  symmetric ``(1 − δ)(1 − p_bg)^γ (−ln p_bg)·(1 − y) + δ (1 − p_fg)^γ (−ln p_fg)·y``;
  asymmetric drops the modulating factor of the lesion class: ``... + δ (−ln p_fg)·y``.
* ``L = λ·L_focal + (1 − λ)·L_focal_Tversky``.

Defaults ``lambda_ = 0.5``, ``delta = 0.6``, ``gamma = 0.5`` (the paper's recommended setting),
``smooth = 1e-7`` (the reference code's ε), ``pooling = "batch"``.
"""

from __future__ import annotations

import torch
from torch import Tensor

from LesionSegLogic.losses.base import (
    BinaryLoss,
    check_fraction,
    check_nonnegative,
    check_pooling,
    log_1mp,
    log_p,
    safe_pow,
    soft_counts,
)


class UnifiedFocalLoss(BinaryLoss):
    """Symmetric unified focal loss ``L_sUF = λ·L_msF + (1 − λ)·L_msFT`` (Yeung et al. 2022, section 3).

    See the module docstring for the terms. λ weights the focal cross-entropy: ``lambda_ = 1`` is the
    (modified symmetric) focal loss, ``lambda_ = 0`` the focal Tversky part. Differences elsewhere:
    the reference code ``mlyg/unified-focal-loss`` multiplies ``weight`` with the focal Tversky term instead
    (identical at the default 0.5), works on two softmax channels, channels-last and indexes 2-D only;
    MONAI's ``AsymmetricUnifiedFocalLoss`` averages the focal CE over both channels (half the paper's value;
    tested) and in older releases applied no sigmoid and raised on lesion-free patches. Lesion-free patch: the
    lesion mTI is ``ε/(… + ε)`` → its Tversky term is ≈ 1 as soon as anything is predicted (0 if nothing is),
    and background voxels pay the focal CE.
    """

    name = "unified_focal"
    asymmetric = False
    _params = ("lambda_", "delta", "gamma", "smooth", "pooling")

    def __init__(
        self,
        lambda_: float = 0.5,
        delta: float = 0.6,
        gamma: float = 0.5,
        smooth: float = 1e-7,
        pooling: str = "batch",
    ) -> None:
        super().__init__()
        self.lambda_ = check_fraction("lambda_", lambda_)
        self.delta = check_fraction("delta", delta)
        self.gamma = check_fraction("gamma", gamma)
        self.smooth = check_nonnegative("smooth", smooth)
        self.pooling = check_pooling(pooling)

    def focal_part(self, z: Tensor, y: Tensor) -> Tensor:
        """The (a)symmetric modified focal cross-entropy, averaged over voxels."""
        d, g = self.delta, self.gamma
        ce_fg = -log_p(z)  # −ln p_fg
        ce_bg = -log_1mp(z)  # −ln p_bg
        bg = (1.0 - d) * torch.exp(g * log_p(z)) * ce_bg * (1.0 - y)  # (1 − p_bg)^γ = p_fg^γ
        fg_mod = torch.ones_like(z) if self.asymmetric else torch.exp(g * log_1mp(z))  # (1 − p_fg)^γ
        fg = d * fg_mod * ce_fg * y
        return (bg + fg).mean()

    def tversky_part(self, z: Tensor, y: Tensor) -> Tensor:
        """The (a)symmetric modified focal Tversky loss, averaged over the two classes and the groups."""
        c = soft_counts(torch.sigmoid(z), y, self.pooling)
        d, eps = self.delta, self.smooth
        mti_fg = (c.tp + eps) / (c.tp + d * c.fn + (1.0 - d) * c.fp + eps)
        mti_bg = (c.tn + eps) / (c.tn + d * c.fp + (1.0 - d) * c.fn + eps)
        fg = safe_pow(1.0 - mti_fg, 1.0 - self.gamma)
        bg = (1.0 - mti_bg) if self.asymmetric else safe_pow(1.0 - mti_bg, 1.0 - self.gamma)
        return (0.5 * (fg + bg)).mean()

    def compute(self, z: Tensor, y: Tensor) -> Tensor:
        return self.lambda_ * self.focal_part(z, y) + (1.0 - self.lambda_) * self.tversky_part(z, y)


class AsymmetricUnifiedFocalLoss(UnifiedFocalLoss):
    """Asymmetric unified focal loss ``L_aUF = λ·L_maF + (1 − λ)·L_maFT`` (Yeung et al. 2022, section 3).

    Background is suppressed and the lesion class enhanced: the focal modulation ``(1 − p)^γ`` acts only on
    background voxels in the CE part, and the focal exponent ``1 − γ`` only on the lesion class in the Tversky
    part (module docstring). Defaults λ = 0.5, δ = 0.6, γ = 0.5. MONAI's ``AsymmetricUnifiedFocalLoss`` (δ 0.7
    default) averages the CE over both channels, giving half of our (the paper's) CE term.
    """

    name = "asymmetric_unified_focal"
    asymmetric = True
