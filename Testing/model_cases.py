"""Tiny untrained models saved as zoo model folders (no test functions here), for the tests of everything around a
model: the predictor, its outputs (NIfTI, BIDS, DICOM), its refusals. Their maps are not meant to be good."""

from __future__ import annotations

from pathlib import Path

import torch

from LesionSegLogic.models import build_model
from LesionSegLogic.zoo import ModelCard, save_model


def save_tiny_model(folder: Path, name: str, inputs: tuple[str, ...]) -> Path:
    """A 2-level 3-D U-Net (4 and 8 features, patch 16³, weights drawn from seed 0, recommended threshold 0.4)
    taking ``inputs``, saved as the model folder ``folder/name``; returns that folder."""
    params = {"in_channels": len(inputs), "features": [4, 8], "norm": "batch"}
    card = ModelCard(name=name, architecture="unet3d", architecture_params=params, inputs=inputs,
                     patch_size=(16, 16, 16), loss="dice", recommended_threshold=0.4)
    with torch.random.fork_rng():  # the seed stays local: the session's random state is left as it was
        torch.manual_seed(0)
        model = build_model("unet3d", **params)
    save_model(model, card, folder / name)
    return folder / name
