"""Running voxel counts for the per-epoch log: Dice, sensitivity and precision at 0.5 (Cabezas & Diez 2024 logs these
for training patches and for whole images). Undefined ratios (no positives) are ``None``."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch


@dataclass
class Counts:
    tp: float = 0.0
    fp: float = 0.0
    fn: float = 0.0

    def add_logits(self, logits: torch.Tensor, target: torch.Tensor) -> None:
        pred = logits.detach() > 0  # sigmoid(z) > 0.5
        t = target.detach() > 0.5
        self.tp += float((pred & t).sum())
        self.fp += float((pred & ~t).sum())
        self.fn += float((~pred & t).sum())

    def add_masks(self, pred: np.ndarray, target: np.ndarray) -> None:
        p, t = pred.astype(bool), target.astype(bool)
        self.tp += float((p & t).sum())
        self.fp += float((p & ~t).sum())
        self.fn += float((~p & t).sum())

    @staticmethod
    def _ratio(a: float, b: float) -> float | None:
        return a / b if b > 0 else None

    def summary(self) -> dict[str, float | None]:
        return {
            "dice": self._ratio(2 * self.tp, 2 * self.tp + self.fp + self.fn),
            "sensitivity": self._ratio(self.tp, self.tp + self.fn),
            "precision": self._ratio(self.tp, self.tp + self.fp),
        }
