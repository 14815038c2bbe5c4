"""Reproducible batches: one seed → the same patches, augmentations and order for every loss (Cabezas & Diez 2024).

The stream owns its :class:`numpy.random.Generator`; nothing else draws from it, so the loss, the model or the
optimiser cannot change which batches are seen. Its state is saved in checkpoints so a resumed run continues
with the batches the uninterrupted run would have seen.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from LesionSegLogic.training.augment import augment
from LesionSegLogic.training.config import TrainConfig
from LesionSegLogic.training.data import LoadedCase
from LesionSegLogic.training.sampling import AxisSampler, LesionCentredSampler, extract, pad_to_patch


class BatchStream:
    """Draws augmented training batches ``(x (B, C, *patch), y (B, 1, *patch))`` as numpy arrays."""

    def __init__(
        self,
        cases: Sequence[LoadedCase],
        config: TrainConfig,
        seed: int | Sequence[int],
        augmentation: bool = True,
    ) -> None:
        self.config = config
        self.cases = [pad_to_patch(c, config.patch_size) for c in cases]
        if config.sampling == "axis":
            self.sampler: AxisSampler | LesionCentredSampler = AxisSampler(
                self.cases, config.patch_size, config.axis, config.axis_overlap
            )
        else:
            self.sampler = LesionCentredSampler(
                self.cases, config.patch_size, config.lesion_share, config.jitter
            )
        self.rng = np.random.default_rng(seed)
        self.augmentation = augmentation

    def next_batch(self, batch_size: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        c = self.config
        xs, ys = [], []
        for _ in range(batch_size or c.batch_size):
            spec = self.sampler.draw(self.rng)
            x, y = extract(self.cases[spec.case], spec, c.patch_size)
            if self.augmentation:
                x, y = augment(
                    x, y, self.rng, mirror=c.mirror, rotate90=c.rotate90, intensity_jitter=c.intensity_jitter
                )
            xs.append(x)
            ys.append(y[None])
        return np.stack(xs).astype(np.float32), np.stack(ys).astype(np.float32)

    def state(self) -> dict[str, Any]:
        return {
            "rng": self.rng.bit_generator.state,
            "queue": [int(i) for i in getattr(self.sampler, "_queue", [])],
        }

    def set_state(self, state: dict[str, Any]) -> None:
        self.rng.bit_generator.state = state["rng"]
        if isinstance(self.sampler, AxisSampler):
            self.sampler._queue = list(state.get("queue", []))
