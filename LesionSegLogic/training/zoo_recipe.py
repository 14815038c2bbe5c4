"""The zoo v2 recipe (issue 12): which models are trained on which data set, with which loss and inputs.

One list (:data:`LOSSES`) holds every seed loss of the zoo with its parameters and optimiser; the four sets pick
from it by name, so ``scripts/train_zoo.py`` (CPU), ``scripts/zoo_device.py`` (GPU) and the hand-off agree:

* ``brain`` — FLAIR + T2, all 13 losses (same seed, same initial weights, same batches: Cabezas & Diez 2024);
* ``brain_flair`` — FLAIR only, three losses (weighted gradient, Combo, HyTver), the brain data's FLAIR channel;
* ``cord`` — T2-w cervical cord, the seven losses of Hussein et al. 2023 (BCE, Dice, Combo, GDL, log-cosh Dice,
  Tversky, focal Tversky);
* ``longitudinal`` — baseline FLAIR, follow-up FLAIR and their difference (Kamraoui et al. 2021; the difference is
  computed as the predictor computes it), HyTver and Dice + LF1 (Kamraoui's lesion-wise F1 estimator), reference
  ``new_lesions``.

Architecture: Hussein et al. 2023's U-Net (16/32/64 filters, batch norm) on 48³ patches (cord: 64×64×16, the
sagittal slab is 16 slices thick) — :data:`LesionSegLogic.models.registry.SEED_ARCHITECTURES`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from LesionSegLogic.errors import ConfigError


@dataclass(frozen=True)
class LossRecipe:
    """A zoo loss: zoo name, loss name, parameters (paper defaults where empty) and optimiser."""

    name: str
    loss: str
    params: dict[str, Any] = field(default_factory=dict)
    optimiser: str = "adam"
    lf1: bool = False  #: Dice + 0.2·(1 − LF1̂) with Kamraoui's frozen estimator


#: Every seed loss of the zoo. Tversky β = 0.7 on false negatives is Hashemi's best; Combo is trained with
#: Adadelta (learning rate 1) as in Hussein et al. 2023.
LOSSES: tuple[LossRecipe, ...] = (
    LossRecipe("dice_ce", "dice_ce"),
    LossRecipe("dice", "dice"),
    LossRecipe("bce", "bce"),
    LossRecipe("generalized_dice", "generalized_dice"),
    LossRecipe("tversky", "tversky", {"alpha": 0.3, "beta": 0.7}),
    LossRecipe("focal_tversky", "focal_tversky"),
    LossRecipe("dice_lf1", "dice", lf1=True),
    LossRecipe("weighted_gradient", "weighted_gradient"),
    LossRecipe("hytver", "hytver"),
    LossRecipe("unified_focal", "unified_focal"),
    LossRecipe("combo", "combo", optimiser="adadelta"),
    LossRecipe("focal", "focal"),
    LossRecipe("log_cosh_dice", "log_cosh_dice"),
)
_BY_NAME = {r.name: r for r in LOSSES}


@dataclass(frozen=True)
class ZooSet:
    """One of the four model sets: its data set (folder of ``scripts/zoo_data.py``), the packed channels it reads
    (by image stem), the card inputs, anatomy, task, patch and losses."""

    name: str
    data: str
    channels: tuple[str, ...]
    inputs: tuple[str, ...]
    anatomy: str
    task: str  #: the card's task word (``LesionSegLogic.zoo.card.TASK_REFERENCES``)
    mask: str
    patch: tuple[int, int, int]
    losses: tuple[str, ...]

    def recipes(self) -> list[LossRecipe]:
        return [_BY_NAME[name] for name in self.losses]


BRAIN_PATCH = (48, 48, 48)
CORD_PATCH = (64, 64, 16)

SETS: dict[str, ZooSet] = {
    s.name: s
    for s in (
        ZooSet("brain", "brain", ("flair", "t2"), ("flair", "t2"), "brain", "lesions", "lesions", BRAIN_PATCH,
               tuple(r.name for r in LOSSES)),
        ZooSet("brain_flair", "brain", ("flair",), ("flair",), "brain", "lesions", "lesions", BRAIN_PATCH,
               ("weighted_gradient", "combo", "hytver")),
        ZooSet("cord", "cord", ("t2",), ("t2",), "cord", "lesions", "lesions", CORD_PATCH,
               ("bce", "dice", "combo", "generalized_dice", "log_cosh_dice", "tversky", "focal_tversky")),
        ZooSet("longitudinal", "longitudinal", ("baseline_flair", "flair"), ("baseline_flair", "flair", "difference"),
               "brain", "new_lesions", "new_lesions", BRAIN_PATCH, ("hytver", "dice_lf1")),
    )
}


@dataclass
class Recipe:
    """The shared optimisation recipe of zoo v2."""

    features: tuple[int, ...] = (16, 32, 64)
    norm: str = "batch"
    batch_size: int = 8
    adam_lr: float = 1e-3
    adadelta_lr: float = 1.0
    lesion_share: float = 0.7
    jitter: float = 0.4
    seed: int = 0
    randomise: str = "domain"
    validation_share: float = 0.15  #: the last pool cases (by name) are the validation subjects
    val_every: int = 100  #: iterations between validation-loss checks (the best-validation weights are kept)
    curve_every: int = 25  #: iterations between points of the recorded loss curve

    def learning_rate(self, optimiser: str) -> float:
        return self.adadelta_lr if optimiser == "adadelta" else self.adam_lr


def zoo_set(name: str) -> ZooSet:
    try:
        return SETS[name]
    except KeyError:
        raise ConfigError(f"unknown zoo set {name!r}; known: {', '.join(SETS)}") from None
