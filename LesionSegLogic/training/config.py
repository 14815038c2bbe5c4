"""The training configuration: one dataclass, serialisable to JSON for the checkpoint and the model card.

Defaults follow Hussein et al. 2023: Adam with learning rate 1e-4 (Adadelta with learning rate 1
for Combo), the learning rate halved after 15 epochs without validation improvement, the best-validation
checkpoint kept, batch size 8, mirroring and 90° rotations; ``randomise="domain"`` adds the MONAI domain
randomisation of :mod:`LesionSegLogic.training.randomise` (issue 12). Cabezas & Diez 2024: one ``seed`` fixes
the initial weights and the order of the batches whatever the loss.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from LesionSegLogic.errors import ConfigError
from LesionSegLogic.jsonfile import json_ready
from LesionSegLogic.training.randomise import RANDOMISATIONS
from LesionSegLogic.zoo.card import MAX_PATCH, MAX_TARGET_SPACING, MIN_TARGET_SPACING

OPTIMISERS = ("adam", "adadelta")


class TrainConfigError(ConfigError, ValueError):
    """A training option out of range (one line naming the option and what is accepted). Also a ``ValueError``,
    which callers caught before it existed."""

SAMPLINGS = ("lesion", "axis")


@dataclass
class TrainConfig:
    """Everything that defines a training run (data, model, loss, optimisation, sampling, logging)."""

    data: str = ""
    out: str = ""
    contrasts: tuple[str, ...] = ("flair", "t2")
    mask_name: str = "lesions"
    target_spacing: tuple[float, float, float] | None = None
    split_fractions: tuple[float, float, float, float] = (0.6, 0.15, 0.15, 0.1)
    architecture: str = "unet3d"
    model_params: dict[str, Any] = field(default_factory=lambda: {"features": [16, 32, 64], "norm": "batch"})
    loss: str = "dice"
    loss_params: dict[str, Any] = field(default_factory=dict)
    lf1_estimator: str | None = None
    lf1_weight: float = 0.2
    optimiser: str = "adam"
    lr: float | None = None
    patience: int = 15
    lr_factor: float = 0.5
    max_epochs: int = 300
    iterations_per_epoch: int = 50
    batch_size: int = 8
    patch_size: tuple[int, int, int] = (48, 48, 48)
    sampling: str = "lesion"
    lesion_share: float = 0.7
    jitter: float = 0.4
    axis_overlap: float = 0.75
    axis: int = 0
    mirror: bool = True
    rotate90: bool = True
    intensity_jitter: float = 0.0
    randomise: str = "none"
    seed: int = 0
    val_every: int = 1
    val_overlap: float = 0.5
    val_patch_batch: int = 4
    amp: bool = True
    device: str = "auto"
    progress: bool = True
    command: str = ""

    def __post_init__(self) -> None:
        self.contrasts = tuple(self.contrasts)
        self.patch_size = tuple(int(p) for p in self.patch_size)  # type: ignore[assignment]
        self.split_fractions = tuple(float(f) for f in self.split_fractions)  # type: ignore[assignment]
        if self.target_spacing is not None:
            self.target_spacing = tuple(float(s) for s in self.target_spacing)  # type: ignore[assignment]
        if self.optimiser not in OPTIMISERS:
            raise TrainConfigError(f"optimiser must be one of {OPTIMISERS}, got {self.optimiser!r}")
        if self.randomise not in RANDOMISATIONS:
            raise TrainConfigError(f"randomise must be one of {', '.join(RANDOMISATIONS)}, got {self.randomise!r}")
        if self.sampling not in SAMPLINGS:
            raise TrainConfigError(f"sampling must be one of {SAMPLINGS}, got {self.sampling!r}")
        if len(self.patch_size) != 3 or not all(1 <= p <= MAX_PATCH for p in self.patch_size):
            raise TrainConfigError(f"patch_size must be three integers in [1, {MAX_PATCH}], got {self.patch_size}")
        if self.target_spacing is not None and (
            len(self.target_spacing) != 3
            or not all(MIN_TARGET_SPACING <= s <= MAX_TARGET_SPACING for s in self.target_spacing)
        ):
            raise TrainConfigError(f"target_spacing must be three numbers in [{MIN_TARGET_SPACING:g}, "
                             f"{MAX_TARGET_SPACING:g}] mm (array order), got {self.target_spacing}")
        if self.lr is not None and not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise TrainConfigError(f"lr (learning rate) must be a positive number, got {self.lr!r}")
        if not 0.0 < self.lr_factor < 1.0:
            raise TrainConfigError(f"lr_factor must be in (0, 1), got {self.lr_factor}")
        if not 0.0 <= self.lesion_share <= 1.0:
            raise TrainConfigError(f"lesion_share must be in [0, 1], got {self.lesion_share}")
        if len(self.split_fractions) != 4 or min(self.split_fractions) < 0 or sum(self.split_fractions) <= 0:
            raise TrainConfigError(f"split_fractions must be 4 non-negative numbers, got {self.split_fractions}")
        if self.batch_size < 1 or self.max_epochs < 1 or self.iterations_per_epoch < 1:
            bad = [k for k in ("batch_size", "max_epochs", "iterations_per_epoch") if getattr(self, k) < 1]
            raise TrainConfigError(f"{', '.join(bad)} must be >= 1")
        if self.patience < 0 or self.val_every < 0 or self.val_patch_batch < 1:
            raise TrainConfigError("patience and val_every (0: no whole-image validation) must be >= 0, "
                             "val_patch_batch >= 1")
        if not self.contrasts:
            raise TrainConfigError("at least one input contrast is needed")

    def check_model(self) -> Any:
        """The network's facts (:func:`LesionSegLogic.models.registry.model_facts`, built on the ``meta`` device)
        after checking, before anything is allocated, that it can take ``patch_size`` (divisible by its
        down-sampling factor) and that one training step fits in memory: weights, gradients and the two Adam
        moments (4 values per parameter) plus every layer's output for ``batch_size`` patches, kept for the
        backward pass and matched by as many gradients (×2). :class:`TrainConfigError` or
        :class:`~LesionSegLogic.memory.InsufficientMemoryError` otherwise."""
        from LesionSegLogic.memory import check_memory
        from LesionSegLogic.models.registry import activation_bytes, model_facts

        params = {"in_channels": len(self.contrasts), **self.model_params}
        facts = model_facts(self.architecture, **params)
        odd = [p for p in self.patch_size if p % facts.divisor]
        if odd:
            raise TrainConfigError(f"patch_size {list(self.patch_size)} must be divisible by {facts.divisor} on every "
                                   f"axis ({self.architecture} down-samples by {facts.divisor})")
        activations = activation_bytes(self.architecture, params, self.patch_size, self.batch_size)
        check_memory(4 * facts.weight_bytes + 2 * activations,
                     f"training {self.architecture} ({facts.parameters:,} parameters, batch {self.batch_size} × "
                     f"{'×'.join(map(str, self.patch_size))})")
        return facts

    @property
    def learning_rate(self) -> float:
        """The initial learning rate: Hussein et al. 2023's 1e-4 for Adam, 1 for Adadelta, unless ``lr`` is set."""
        if self.lr is not None:
            return float(self.lr)
        return 1.0 if self.optimiser == "adadelta" else 1e-4

    def to_dict(self) -> dict[str, Any]:
        """The configuration as plain JSON data, by the one policy of LesionSeg's JSON (tuples → lists;
        :func:`LesionSegLogic.jsonfile.json_ready`)."""
        return dict(json_ready(asdict(self)))

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        names = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - names)
        if unknown:
            raise TrainConfigError(f"unknown training option(s): {', '.join(unknown)}")
        return cls(**d)

    def save(self, path: str | Path) -> None:
        """Write the configuration as JSON atomically (the one writer, :func:`LesionSegLogic.io.write.write_json`)."""
        from LesionSegLogic.io.write import write_json

        write_json(path, self.to_dict(), what="training configuration")
