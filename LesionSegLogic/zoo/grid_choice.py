"""Which grid a zoo model runs on, chosen on the threshold-optimisation set (issue 12).

A card with ``target_spacing`` runs on the grid the network was trained on (the predictor resamples a thick-slice
image onto it, and the map back); a card without runs on each image's own grid. Neither is right for every model:
resampling a 3.5 mm cord image onto 2.8 mm slices smears lesions a few voxels long. So both are measured
(``scripts/finalise_zoo.py`` and ``--native-grid``) and, per model, the one with the higher **median voxel-wise F1
at its own recommended threshold on the threshold-optimisation subjects** (the objective that chose the threshold,
Hussein et al. 2023) is kept; a tie keeps the training grid. The held-out test set plays no part in the choice.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from LesionSegLogic.errors import ModelFileError
from LesionSegLogic.zoo.card import ModelCard

TRAINING, NATIVE = "training", "native"


def tune_score(card: ModelCard) -> float:
    """The card's median voxel-wise F1 over its threshold-optimisation subjects at its recommended threshold."""
    curve = (card.validation or {}).get("threshold_curve") or {}
    thresholds, scores = curve.get("thresholds") or [], curve.get("median_voxel_f1") or []
    best = [s for t, s in zip(thresholds, scores, strict=True) if abs(t - card.recommended_threshold) < 1e-9]
    if not best:
        raise ModelFileError(f"card {card.name!r}: no threshold-curve value at {card.recommended_threshold}")
    return float(best[0])


@dataclass(frozen=True)
class GridChoice:
    """The kept card (its ``validation["grid"]`` records the choice) and which grid it runs on."""

    card: ModelCard
    grid: str
    scores: dict[str, float]


def choose_grid(training: ModelCard, native: ModelCard) -> GridChoice:
    """The card of the grid with the higher :func:`tune_score` (ties: ``training``); both cards must describe the
    same weights."""
    if training.weights_sha256 != native.weights_sha256:
        raise ModelFileError(f"{training.name!r}: the two cards describe different weights")
    scores = {TRAINING: tune_score(training), NATIVE: tune_score(native)}
    grid = NATIVE if scores[NATIVE] > scores[TRAINING] else TRAINING
    kept = native if grid == NATIVE else training
    record: dict[str, Any] = {
        "chosen": grid,
        "rule": "the grid with the higher median voxel-wise F1 at its recommended threshold on the "
                "threshold-optimisation subjects (ties: the training grid); the test set plays no part",
        "tune_median_voxel_f1": {k: round(v, 4) for k, v in scores.items()},
        "training_target_spacing": None if training.target_spacing is None else list(training.target_spacing),
    }
    return GridChoice(kept.with_updates(validation={**(kept.validation or {}), "grid": record}), grid, scores)


__all__ = ["NATIVE", "TRAINING", "GridChoice", "choose_grid", "tune_score"]
