"""Architectures: shapes, gradients, parameter counts, registry errors."""

from __future__ import annotations

import pytest
import torch

from LesionSegLogic.errors import ConfigError
from LesionSegLogic.models import available_architectures, build_model, patch_divisor
from LesionSegLogic.models.registry import SEED_ARCHITECTURES, ArchitectureError


def _n_params(model: torch.nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("architecture", "params", "patch"),
    [
        ("unet3d", {"in_channels": 1, "features": (8, 16, 32), "norm": "batch"}, (16, 24, 32)),
        ("unet3d", {"in_channels": 3, "features": (8, 16, 32, 64), "norm": "group"}, (16, 16, 24)),
        ("unet3d", {"in_channels": 2, "features": [8, 16], "norm": "instance"}, (6, 8, 10)),
        ("densenet3d", {"in_channels": 2, "init_features": 8, "growth": 4, "up_features": 4}, (16, 32, 16)),
    ],
)
def test_forward_shape_and_gradient(architecture: str, params: dict, patch: tuple[int, int, int]) -> None:
    torch.manual_seed(0)
    model = build_model(architecture, **params)
    x = torch.randn(2, params["in_channels"], *patch, requires_grad=True)
    y = model(x)
    assert y.shape == (2, 1, *patch)
    assert torch.isfinite(y).all()
    y.mean().backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None for g in grads)
    # the first convolution (deepest from the loss) gets a non-zero gradient
    first = next(p for p in model.parameters() if p.ndim == 5)
    assert first.grad.abs().sum() > 0


def test_seed000_and_seed002_unets() -> None:
    small = build_model("unet3d", features=(16, 32, 64), norm="batch")
    big = build_model("unet3d", features=(32, 64, 128, 256), norm="group")
    assert isinstance(small.encoders[0][1], torch.nn.BatchNorm3d)
    gn = big.encoders[1][1]
    assert isinstance(gn, torch.nn.GroupNorm) and gn.num_channels // gn.num_groups == 8
    assert patch_divisor(small) == 4 and patch_divisor(big) == 8
    # Cabezas & Diez 2024 reports 2,906,913 parameters for its 32/64/128/256 U-Net: ours is the same order of magnitude
    n_big = _n_params(big)
    assert 1.5e6 < n_big < 8e6
    assert _n_params(small) < n_big / 5
    # one-conv blocks are close to the seed's count
    one = build_model("unet3d", features=(32, 64, 128, 256), norm="group", convs_per_block=1)
    assert abs(_n_params(one) - 2_906_913) / 2_906_913 < 0.15


def test_densenet_structure() -> None:
    model = build_model("densenet3d")
    assert patch_divisor(model) == 16
    assert len(model.blocks) == 5 and all(len(b) == 4 for b in model.blocks)
    assert len(model.transitions) == 4
    dropouts = [m for m in model.modules() if isinstance(m, torch.nn.Dropout3d)]
    assert len(dropouts) == 20 and all(d.p == pytest.approx(0.2) for d in dropouts)
    # growth rate 12: each dense layer adds 12 maps
    layer = model.blocks[0][0]
    out = layer(torch.zeros(1, 24, 2, 2, 2))
    assert out.shape[1] == 24 + 12
    assert 1e5 < _n_params(model) < 2e7


def test_bad_patch_and_channels() -> None:
    model = build_model("unet3d", in_channels=2, features=(4, 8, 16))
    with pytest.raises(ValueError, match="divisible by 4"):
        model(torch.zeros(1, 2, 10, 12, 12))
    with pytest.raises(ValueError, match="input channel"):
        model(torch.zeros(1, 1, 8, 8, 8))


def test_registry() -> None:
    assert {"unet3d", "densenet3d"} <= set(available_architectures())
    with pytest.raises(ArchitectureError, match="unknown architecture") as info:
        build_model("resnet")
    assert isinstance(info.value, ConfigError) and "\n" not in str(info.value)
    with pytest.raises(ArchitectureError, match="filters"):
        build_model("unet3d", filters=(1, 2))
    with pytest.raises(ArchitectureError, match="norm"):
        build_model("unet3d", norm="layer")


def test_seed_architectures_build_with_their_norms() -> None:
    counts = {}
    for name, preset in SEED_ARCHITECTURES.items():
        model = build_model(preset.architecture, in_channels=2, **preset.params)
        assert all(p % patch_divisor(model) == 0 for p in preset.patch), name
        kinds = {type(m) for m in model.modules()}
        expected = torch.nn.GroupNorm if preset.params["norm"] == "group" else torch.nn.BatchNorm3d
        assert expected in kinds, name
        counts[name] = _n_params(model)
    assert counts["cabezas2024"] > 10 * counts["hussein2023"]


def test_same_seed_same_weights() -> None:
    torch.manual_seed(7)
    a = build_model("unet3d", features=(4, 8))
    torch.manual_seed(7)
    b = build_model("unet3d", features=(4, 8))
    torch.manual_seed(8)
    c = build_model("unet3d", features=(4, 8))
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)
