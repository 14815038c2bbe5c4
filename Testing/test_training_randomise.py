"""Domain randomisation (MONAI transforms, issue 12): deterministic per seed, every transform changes the patch,
labels stay aligned, and a tiny CPU training with it is reproducible."""

from __future__ import annotations

import pytest
import torch
from training_cases import make_dataset

from LesionSegLogic.training.config import TrainConfig, TrainConfigError
from LesionSegLogic.training.loop import train
from LesionSegLogic.training.randomise import DomainRandomisation, Randomiser, batch_seed

PATCH = (16, 16, 16)
INTENSITY = ("bias", "gamma", "rician", "gaussian", "blur", "thick")


def _batch(seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    y = torch.zeros(2, 1, *PATCH)
    y[:, :, 5:11, 4:12, 6:10] = 1.0
    x = torch.randn(2, 2, *PATCH, generator=g) * 0.3 + 2.0 * y.repeat(1, 2, 1, 1, 1)
    x[:, :, :2] = -2.5  # a background slab at the normalised background value
    return x, y


def test_same_seed_same_batch_other_seed_differs() -> None:
    x, y = _batch()
    randomiser = Randomiser()
    a, b, c = randomiser(x, y, 7), randomiser(x, y, 7), randomiser(x, y, 8)
    assert torch.equal(a[0], b[0]) and torch.equal(a[1], b[1])
    assert not torch.equal(a[0], c[0])
    assert a[0].shape == x.shape and a[1].shape == y.shape and a[0].dtype == torch.float32
    assert batch_seed(3, 1) == batch_seed(3, 1) != batch_seed(3, 2) != batch_seed([3, 1], 2)


@pytest.mark.parametrize("name", INTENSITY)
def test_each_intensity_transform_changes_the_image_not_the_label(name: str) -> None:
    x, y = _batch()
    out_x, out_y = Randomiser(DomainRandomisation().only(name))(x, y, 1)
    assert (out_x - x).abs().mean() > 1e-3, name
    assert torch.equal(out_y, y)


@pytest.mark.parametrize("name", ("affine", "elastic"))
def test_spatial_transforms_move_image_and_label_together(name: str) -> None:
    x, y = _batch()
    x = y.repeat(1, 2, 1, 1, 1)  # the image is the label: they must still agree after the transform
    settings = DomainRandomisation(rotate_deg=20.0, scale=0.2, elastic_magnitude=(200.0, 300.0)).only(name)
    out_x, out_y = Randomiser(settings)(x, y, 3)
    assert not torch.equal(out_y, y)
    assert set(out_y.unique().tolist()) <= {0.0, 1.0}
    moved = out_x[:, :1] > 0.5
    dice = 2 * (moved & (out_y > 0)).sum() / (moved.sum() + (out_y > 0).sum())
    assert dice > 0.9


def test_config_validates_randomise_and_training_is_reproducible(tmp_path) -> None:
    with pytest.raises(TrainConfigError, match="randomise"):
        TrainConfig(randomise="everything")
    data = make_dataset(tmp_path / "data", n=4, shape=(12, 16, 16))
    weights = []
    for run in ("a", "b"):
        cfg = TrainConfig(data=str(data), out=str(tmp_path / run), model_params={"features": [4, 8], "norm": "batch"},
                          patch_size=(8, 8, 8), batch_size=2, iterations_per_epoch=2, max_epochs=1, val_every=0,
                          split_fractions=(0.5, 0.25, 0.0, 0.25), progress=False, device="cpu", randomise="domain")
        weights.append(train(cfg).model.state_dict())
    assert all(torch.equal(weights[0][k], weights[1][k]) for k in weights[0])
