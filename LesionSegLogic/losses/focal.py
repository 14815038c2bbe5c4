"""Focal loss (Lin et al., ICCV 2017)."""

from __future__ import annotations

import torch
from torch import Tensor

from LesionSegLogic.losses.base import BinaryLoss, check_fraction, check_nonnegative, log_1mp, log_p


def focal_terms(z: Tensor, y: Tensor, alpha: float | None, gamma: float) -> Tensor:
    """Per-voxel ``−α_t (1 − p_t)^γ ln p_t`` (no reduction), all in log-sigmoid form.

    ``p_t = p`` where ``y = 1`` and ``1 − p`` where ``y = 0``; ``ln p_t`` and ``(1 − p_t)^γ =
    exp(γ ln(1 − p_t))`` are computed from the logits, so the value is finite for any logit.
    """
    zt = torch.where(y > 0.5, z, -z)  # p_t = σ(z_t)
    ce = -log_p(zt)
    term = ce if gamma == 0.0 else torch.exp(gamma * log_1mp(zt)) * ce
    if alpha is not None:
        term = (alpha * y + (1.0 - alpha) * (1.0 - y)) * term
    return term


class FocalLoss(BinaryLoss):
    """Focal loss ``L = −(1/N) Σ_i α_t (1 − p_t)^γ ln p_t``, ``α_t = α`` on lesion voxels, ``1 − α``
    elsewhere.

    Source: Lin et al., "Focal loss for dense object detection", ICCV 2017 (eq. 5). Defaults ``alpha = 0.25``,
    ``gamma = 2`` (Lin's best pair). Cabezas & Diez 2024 trains ``focal1`` (α = 0.25) and ``focal2`` (α = 0.75) with γ =
    2; its eq. 2 prints α on both branches, which we read as Lin's α_t. ``alpha=None`` drops the class weight
    (MONAI ``FocalLoss(alpha=None)``, Lin eq. 4). ``gamma = 0`` gives the weighted BCE with β = α (plain BCE
    when ``alpha=None``). Lesion-free patch: every background voxel costs ``−(1 − α) p^γ ln(1 − p)``. Equals
    MONAI ``FocalLoss(gamma, alpha, use_softmax=False)`` on one sigmoid channel.
    """

    name = "focal"
    _params = ("alpha", "gamma")

    def __init__(self, alpha: float | None = 0.25, gamma: float = 2.0) -> None:
        super().__init__()
        self.alpha = None if alpha is None else check_fraction("alpha", alpha)
        self.gamma = check_nonnegative("gamma", gamma)

    def compute(self, z: Tensor, y: Tensor) -> Tensor:
        return focal_terms(z, y, self.alpha, self.gamma).mean()
