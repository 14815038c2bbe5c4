"""Segmentation losses of the seed papers, each implemented from its original paper.

``build_loss(name, **params)`` returns a ``torch.nn.Module`` called ``loss(logits, target)`` with raw logits
and a {0, 1} target of shape ``(B, 1, D, H, W)`` (or ``(B, 1, H, W)``); ``available_losses()`` lists the
names; ``LOSSES`` / ``loss_table()`` give the formula, parameters with defaults, source and convention of
each. Tversky convention everywhere: ``alpha`` weights false positives, ``beta`` false negatives. See
docs/losses.md.
"""

from LesionSegLogic.losses.base import BinaryLoss
from LesionSegLogic.losses.registry import (
    LOSSES,
    LossInfo,
    available_losses,
    build_loss,
    loss_info,
    loss_table,
)

__all__ = ["LOSSES", "BinaryLoss", "LossInfo", "available_losses", "build_loss", "loss_info", "loss_table"]
