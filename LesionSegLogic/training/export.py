"""Turn a finished training run into a model folder (``card.json`` + ``model.safetensors``).

The card's numbers are computed here: the recommended threshold on the threshold-optimisation subjects
(:func:`~LesionSegLogic.training.finalise.choose_threshold`) and the held-out metrics at 0.5 and at that
threshold (:func:`~LesionSegLogic.training.finalise.evaluate_cases`). Nothing is typed in.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from torch import nn

from LesionSegLogic.training.config import TrainConfig
from LesionSegLogic.training.data import LoadedCase
from LesionSegLogic.training.finalise import choose_threshold, evaluate_cases, predict_cases


def measure(
    model: nn.Module,
    config: TrainConfig,
    threshold_cases: Sequence[LoadedCase],
    test_cases: Sequence[LoadedCase],
    *,
    overlap: float = 0.5,
    fusion: str = "gaussian",
    device: str = "cpu",
    rule: str = "anima",
) -> dict[str, Any]:
    """Recommended threshold + held-out metrics at 0.5 and at the recommended threshold."""
    p_thr = predict_cases(
        model, threshold_cases, config.patch_size, overlap=overlap, fusion=fusion, device=device
    )
    choice = choose_threshold(p_thr, [c.mask for c in threshold_cases])
    p_test = predict_cases(
        model, test_cases, config.patch_size, overlap=overlap, fusion=fusion, device=device
    )
    at_half = evaluate_cases(p_test, test_cases, 0.5, rule)
    at_rec = evaluate_cases(p_test, test_cases, choice.threshold, rule)
    return {
        "recommended_threshold": choice.threshold,
        "threshold_objective": choice.objective,
        "threshold_curve": {"thresholds": choice.thresholds, "median_voxel_f1": choice.median_f1},
        "at_0.5": at_half,
        "at_recommended": at_rec,
        "subjects": {"threshold": [c.name for c in threshold_cases], "test": [c.name for c in test_cases]},
    }


def write_model(
    folder: str | Path,
    name: str,
    model: nn.Module,
    config: TrainConfig,
    measured: dict[str, Any],
    training: dict[str, Any],
    command: str,
    note: str | None = None,
) -> Path:
    """Write ``folder/model.safetensors`` and a validated ``folder/card.json``; returns the card path."""
    from LesionSegLogic.zoo.card import CARD_FILE, WEIGHTS_FILE, ModelCard
    from LesionSegLogic.zoo.weights import save_weights

    folder = Path(folder)
    sha = save_weights(model.state_dict(), folder / WEIGHTS_FILE)
    validation = {k: measured[k] for k in ("at_0.5", "at_recommended", "threshold_curve", "subjects")}
    extra: dict[str, Any] = {} if note is None else {"note": note}
    card = ModelCard(
        name=name,
        architecture=config.architecture,
        architecture_params={"in_channels": len(config.contrasts), **config.model_params},
        inputs=tuple(config.contrasts),
        patch_size=tuple(config.patch_size),  # type: ignore[arg-type]
        recommended_threshold=float(measured["recommended_threshold"]),
        loss=config.loss if not config.lf1_estimator else f"{config.loss}+lf1",
        loss_params=dict(config.loss_params)
        if not config.lf1_estimator
        else {"base": config.loss, "base_params": dict(config.loss_params), "lf1_weight": config.lf1_weight},
        target_spacing=config.target_spacing,
        normalisation={"method": "zscore-foreground"},
        threshold_objective=measured["threshold_objective"],
        validation=validation,
        training=training,
        weights_file=WEIGHTS_FILE,
        weights_sha256=sha,
        command=command,
        **extra,
    )
    return card.validate(folder / CARD_FILE).to_json(folder / CARD_FILE)
