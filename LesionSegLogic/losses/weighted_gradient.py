"""Weighted-gradient loss (Cabezas & Diez, Sensors 2024, eq. 5), defined through its gradient.

The loss is specified by its derivative with respect to each logit ``z_i`` (``p_i = σ(z_i)``):

``∂L/∂z_i = c · [ w_bg (1 − y_i) p_i^γ − w_fg y_i (1 − p_i)^γ ]``,
``w_fg = N_bg / N``, ``w_bg = N_fg / N``, γ = 2,

(eq. 5 gives the magnitudes ``α(1 − ŷ)^γ`` for lesion and ``(1 − α)ŷ^γ`` for background voxels with
``α = N_bg/N``; the signs follow from descent: lesion logits go up, background logits go down). γ = 1 is the
class-weighted cross-entropy gradient ``w_t (p − y)``.

Normalisation ``c``: ``"mean"`` (default) divides by the number of voxels in the batch, so the gradient
magnitude does not grow with patch or batch size, like a mean-reduced CE; ``"sum"`` (``c = 1``) is what the
authors' released code does (``marianocabezas/rethinking_dsc``, ``criterions.py``). The voxel counts are taken
over the whole batch (``pooling="batch"``, as in that code) or per sample (``"sample"``).

Forward value: for integer γ the gradient field is conservative with a closed-form potential (weights held
fixed, they depend on the target only), and forward returns ``c · Σ_i Φ_i`` with ``Φ_i = −w_fg [ln p +
Σ_{k=1}^{γ−1} C(γ−1, k)(−1)^k p^k / k]`` for lesion voxels and ``Φ_i = −w_bg [ln(1−p) + Σ_{k=1}^{γ−1} C(γ−1,
k)(−1)^k (1−p)^k / k]`` for background voxels (γ = 2: ``w_fg(p − ln p)`` and ``w_bg(1 − p − ln(1 − p))``; γ =
1: the weighted CE; γ = 0: ``∓w z``). So the reported value is a true loss whose autograd gradient equals eq.
5 (``torch.autograd.gradcheck`` verifies it) — not an unrelated number for logging. It decreases as the fit
improves but has no fixed minimum of 0.

Lesion-free batch (batch pooling) or patch (sample pooling): ``N_fg = 0`` so ``w_bg = 0`` — **false positives
are neither counted nor penalised there** (zero gradient). That is the paper's definition: train it on
patches sampled to contain lesion.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from LesionSegLogic.errors import ConfigError
from LesionSegLogic.losses.base import BinaryLoss, check_pooling, log_1mp, log_p

_NORMALISATIONS = ("mean", "sum")


def _series(u: Tensor, log_u: Tensor, gamma: int) -> Tensor:
    """``ln u + Σ_{k=1}^{γ−1} C(γ−1, k)(−1)^k u^k / k`` (its z-derivative gives the ``(1 − u)^γ`` factor)."""
    out = log_u
    for k in range(1, gamma):
        out = out + (math.comb(gamma - 1, k) * (-1) ** k / k) * u**k
    return out


def potential(z: Tensor, y: Tensor, w_fg: Tensor, w_bg: Tensor, gamma: int) -> Tensor:
    """Per-voxel ``Φ_i`` whose derivative in ``z_i`` is ``w_bg(1−y)p^γ − w_fg·y(1−p)^γ``."""
    if gamma == 0:
        return (w_bg * (1.0 - y) - w_fg * y) * z
    p = torch.sigmoid(z)
    fg = -w_fg * _series(p, log_p(z), gamma)
    bg = -w_bg * _series(1.0 - p, log_1mp(z), gamma)
    return y * fg + (1.0 - y) * bg


def eq5_gradient(z: Tensor, y: Tensor, w_fg: Tensor, w_bg: Tensor, gamma: int) -> Tensor:
    """Cabezas & Diez 2024 eq. 5 (signed): ``w_bg (1 − y) p^γ − w_fg y (1 − p)^γ`` per voxel, in log-sigmoid form."""
    p_g = torch.exp(gamma * log_p(z))
    q_g = torch.exp(gamma * log_1mp(z))
    return w_bg * (1.0 - y) * p_g - w_fg * y * q_g


class _WeightedGradient(torch.autograd.Function):
    """Forward: ``scale · Σ Φ``; backward: exactly ``scale · eq5_gradient``."""

    @staticmethod
    def forward(
        ctx: Any, z: Tensor, y: Tensor, w_fg: Tensor, w_bg: Tensor, gamma: int, scale: float
    ) -> Tensor:
        ctx.save_for_backward(z, y, w_fg, w_bg)
        ctx.gamma = gamma
        ctx.scale = scale
        return potential(z, y, w_fg, w_bg, gamma).sum() * scale

    @staticmethod
    def backward(ctx: Any, grad_output: Tensor) -> tuple[Tensor | None, ...]:
        z, y, w_fg, w_bg = ctx.saved_tensors
        grad = eq5_gradient(z, y, w_fg, w_bg, ctx.gamma) * (ctx.scale * grad_output)
        return grad, None, None, None, None, None


class WeightedGradientLoss(BinaryLoss):
    """Weighted-gradient loss of Cabezas & Diez 2024 (eq. 5, "new"); see the module docstring.

    ``∂L/∂z = c·[w_bg(1 − y)p^γ − w_fg·y(1 − p)^γ]``, ``w_fg = N_bg/N``, ``w_bg = N_fg/N``. Defaults ``gamma =
    2`` (integer ≥ 0), ``normalisation = "mean"`` (c = 1/N_batch; ``"sum"``: c = 1 as in the authors' code),
    ``pooling = "batch"``. The forward value is the exact potential of that gradient. Lesion-free batch/patch:
    zero loss and zero gradient (``w_bg = 0``).
    """

    name = "weighted_gradient"
    _params = ("gamma", "normalisation", "pooling")

    def __init__(self, gamma: int = 2, normalisation: str = "mean", pooling: str = "batch") -> None:
        super().__init__()
        if isinstance(gamma, bool) or int(gamma) != gamma or gamma < 0:
            raise ConfigError(f"gamma must be a non-negative integer; got {gamma!r}")
        if normalisation not in _NORMALISATIONS:
            raise ConfigError(f"normalisation must be one of {', '.join(_NORMALISATIONS)}; got {normalisation!r}")
        self.gamma = int(gamma)
        self.normalisation = normalisation
        self.pooling = check_pooling(pooling)

    def class_weights(self, y: Tensor) -> tuple[Tensor, Tensor]:
        """``(w_fg, w_bg)`` broadcastable to ``y``: ``N_bg/N`` and ``N_fg/N`` per pooling group."""
        if self.pooling == "batch":
            n_fg = y.sum()
            n = float(y.numel())
        else:
            n_fg = y.flatten(1).sum(dim=1).reshape((-1,) + (1,) * (y.ndim - 1))
            n = float(y[0].numel())
        return (n - n_fg) / n, n_fg / n

    def compute(self, z: Tensor, y: Tensor) -> Tensor:
        w_fg, w_bg = self.class_weights(y)
        scale = 1.0 / y.numel() if self.normalisation == "mean" else 1.0
        return _WeightedGradient.apply(z, y, w_fg, w_bg, self.gamma, scale)
