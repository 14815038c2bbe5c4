"""What every loss shares: input checks, float32 maths under autocast, soft counts and batch/sample pooling.

Every loss in :mod:`LesionSegLogic.losses` is a :class:`BinaryLoss`: it is called ``loss(logits, target)``
with raw logits ``z`` (no sigmoid applied) and a {0, 1} target of the same shape ``(B, 1, D, H, W)`` (or ``(B,
1, H, W)``) and returns a scalar. Probabilities are ``p = σ(z)``; logarithms are taken in the stable
log-sigmoid form ``ln p = −softplus(−z)``, ``ln(1 − p) = −softplus(z)``, so no loss ever evaluates ``log(0)``.

Precision: half-precision logits (``float16``/``bfloat16``, e.g. from ``torch.autocast``) are promoted to
``float32`` and the loss runs with autocast disabled, so every sum is accumulated in ``float32`` (``float64``
inputs stay ``float64``, which the tests use). The returned scalar is ``float32`` or ``float64``.

Pooling (overlap losses only). Soft counts ``TP = Σ p·y``, ``FP = Σ p·(1 − y)``, ``FN = Σ (1 − p)·y`` are
summed either over the whole batch (``pooling="batch"``, one overlap score per batch, the nnU-Net "batch
Dice") or per sample (``pooling="sample"``, one score per patch, then averaged; MONAI's default
``batch=False``). With batch pooling a lesion-free patch contributes its false positives to the batch's FP;
with sample pooling a lesion-free patch has ``TP = FN = 0`` and its score is decided by the smoothing constant
alone (each loss's docstring says what that gives). Voxel-wise losses (cross-entropy, focal) average over
every voxel of the batch and have no pooling option.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from LesionSegLogic.errors import ConfigError, DimensionError, MaskError

Pooling = Literal["batch", "sample"]
POOLINGS: tuple[str, ...] = ("batch", "sample")


def check_pooling(pooling: str) -> str:
    """``pooling`` itself, or a :class:`ConfigError` naming the accepted values."""
    if pooling not in POOLINGS:
        raise ConfigError(f"pooling must be one of {', '.join(POOLINGS)}; got {pooling!r}")
    return pooling


def check_fraction(name: str, value: float, *, low: float = 0.0, high: float = 1.0) -> float:
    """``value`` as a float in ``[low, high]``, or a :class:`ConfigError`."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a number in [{low}, {high}]; got {value!r}") from None
    if not low <= value <= high:
        raise ConfigError(f"{name} must be in [{low}, {high}]; got {value}")
    return value


def check_nonnegative(name: str, value: float) -> float:
    """``value`` as a finite float ``>= 0``, or a :class:`ConfigError`."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{name} must be a non-negative number; got {value!r}") from None
    if not (value >= 0.0 and value < float("inf")):
        raise ConfigError(f"{name} must be a finite number >= 0; got {value}")
    return value


def prepare(logits: Tensor, target: Tensor) -> tuple[Tensor, Tensor]:
    """Checked ``(z, y)``: logits promoted to at least float32, the target cast to the same dtype.

    Raises :class:`DimensionError` for wrong shapes and :class:`MaskError` for a target that is not {0, 1}.
    """
    if not isinstance(logits, Tensor) or not isinstance(target, Tensor):
        raise DimensionError("loss(logits, target) takes two torch tensors")
    if logits.ndim not in (4, 5) or logits.shape[1] != 1:
        raise DimensionError(f"logits must have shape (B, 1, D, H, W) or (B, 1, H, W); got {tuple(logits.shape)}")
    if target.shape != logits.shape:
        raise DimensionError(f"target shape {tuple(target.shape)} differs from logits shape {tuple(logits.shape)}")
    if not logits.is_floating_point():
        raise DimensionError(f"logits must be floating point; got {logits.dtype}")
    z = logits.float() if logits.dtype in (torch.float16, torch.bfloat16) else logits
    y = target.to(dtype=z.dtype)
    if bool(((y != 0) & (y != 1)).any()):
        raise MaskError("target must contain only 0 and 1")
    return z, y


def pooled_sum(x: Tensor, pooling: str) -> Tensor:
    """Σ over every voxel of the batch (shape ``(1,)``) or per sample (shape ``(B,)``)."""
    if pooling == "batch":
        return x.sum().reshape(1)
    return x.flatten(1).sum(dim=1)


@dataclass(frozen=True)
class SoftCounts:
    """Soft confusion counts per pooling group: ``tp = Σ p·y``, ``fp = Σ p·(1−y)``, ``fn = Σ (1−p)·y``,
    ``tn = Σ (1−p)·(1−y)``; each of shape ``(G,)`` with ``G = 1`` (batch) or ``B`` (sample)."""

    tp: Tensor
    fp: Tensor
    fn: Tensor
    tn: Tensor


def soft_counts(p: Tensor, y: Tensor, pooling: str) -> SoftCounts:
    """The soft TP/FP/FN/TN of probabilities ``p`` against the {0, 1} target ``y``."""
    tp = pooled_sum(p * y, pooling)
    fp = pooled_sum(p * (1 - y), pooling)
    fn = pooled_sum((1 - p) * y, pooling)
    tn = pooled_sum((1 - p) * (1 - y), pooling)
    return SoftCounts(tp=tp, fp=fp, fn=fn, tn=tn)


def log_p(z: Tensor) -> Tensor:
    """``ln σ(z) = −softplus(−z)``, stable for any ``z`` (softplus is linear beyond |z| = 20: error < e^−20).

    ``F.logsigmoid`` gives the same values but is two orders of magnitude slower on small CPU tensors.
    """
    return -F.softplus(-z)


def log_1mp(z: Tensor) -> Tensor:
    """``ln(1 − σ(z)) = ln σ(−z) = −softplus(z)``, stable for any ``z``."""
    return -F.softplus(z)


def tversky_index(c: SoftCounts, alpha: float, beta: float, smooth: float) -> Tensor:
    """``TI = (TP + s) / (TP + α·FP + β·FN + s)`` per group (α on false positives, β on false negatives)."""
    return (c.tp + smooth) / (c.tp + alpha * c.fp + beta * c.fn + smooth)


def safe_pow(x: Tensor, exponent: float) -> Tensor:
    """``x ** exponent`` for ``x >= 0`` whose gradient is 0 (not inf/NaN) at ``x = 0`` when ``exponent <
    1``."""
    if exponent == 0.0:
        return torch.ones_like(x)
    if exponent >= 1.0:
        return x.clamp_min(0.0) ** exponent
    tiny = torch.finfo(x.dtype).tiny
    return torch.where(x > tiny, x.clamp_min(tiny) ** exponent, torch.zeros_like(x))


class BinaryLoss(nn.Module):
    """Base class: ``forward(logits, target)`` checks the inputs, leaves autocast, and calls :meth:`compute`.

    Subclasses implement ``compute(z, y)`` on float32/float64 tensors of shape ``(B, 1, ...)``.
    """

    #: Registry name of the loss (set by each subclass).
    name: str = ""

    def forward(self, logits: Tensor, target: Tensor) -> Tensor:
        z, y = prepare(logits, target)
        with torch.autocast(device_type=z.device.type, enabled=False):
            return self.compute(z, y)

    def compute(self, z: Tensor, y: Tensor) -> Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.hyperparameters().items())

    def hyperparameters(self) -> dict[str, object]:
        """The constructor arguments of this instance (for logs and model cards)."""
        return {k: getattr(self, k) for k in self._params}

    _params: Sequence[str] = ()
