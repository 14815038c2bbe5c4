"""Agreement with MONAI (test-only dependency) where the definitions coincide, on random inputs."""

from __future__ import annotations

import pytest
import torch

from LesionSegLogic.losses import build_loss

monai_losses = pytest.importorskip("monai.losses")


def _inputs(seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    z = torch.randn((3, 1, 4, 5, 6), generator=g, dtype=torch.float64) * 2.0
    y = (torch.rand((3, 1, 4, 5, 6), generator=g) < 0.15).double()
    y[2] = 0.0  # one lesion-free patch
    return z, y


SEEDS = (0, 1, 2)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("pooling", ["batch", "sample"])
def test_dice_matches_monai(seed: int, pooling: str) -> None:
    z, y = _inputs(seed)
    ours = build_loss("dice", smooth=1e-5, pooling=pooling)(z, y)
    theirs = monai_losses.DiceLoss(sigmoid=True, smooth_nr=1e-5, smooth_dr=1e-5, batch=pooling == "batch")(z, y)
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_squared_dice_matches_monai_squared_pred(seed: int) -> None:
    z, y = _inputs(seed)
    ours = build_loss("dice", smooth=1.0, squared=True)(z, y)
    theirs = monai_losses.DiceLoss(sigmoid=True, squared_pred=True, smooth_nr=1.0, smooth_dr=1.0, batch=True)(z, y)
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("pooling", ["batch", "sample"])
@pytest.mark.parametrize(("alpha", "beta"), [(0.3, 0.7), (0.7, 0.3), (0.5, 0.5)])
def test_tversky_matches_monai(seed: int, pooling: str, alpha: float, beta: float) -> None:
    z, y = _inputs(seed)
    ours = build_loss("tversky", alpha=alpha, beta=beta, smooth=1e-5, pooling=pooling)(z, y)
    theirs = monai_losses.TverskyLoss(
        sigmoid=True, alpha=alpha, beta=beta, smooth_nr=1e-5, smooth_dr=1e-5, batch=pooling == "batch"
    )(z, y)
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize(("alpha", "gamma"), [(0.25, 2.0), (0.75, 2.0), (None, 2.0), (0.25, 0.5)])
def test_focal_matches_monai(seed: int, alpha: float | None, gamma: float) -> None:
    z, y = _inputs(seed)
    ours = build_loss("focal", alpha=alpha, gamma=gamma)(z, y)
    theirs = monai_losses.FocalLoss(gamma=gamma, alpha=alpha, use_softmax=False)(z, y)
    # MONAI returns float32 once alpha is given (its alpha tensor); compare at float32 precision
    torch.testing.assert_close(ours, theirs.double(), rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("pooling", ["batch", "sample"])
@pytest.mark.parametrize(("weights", "w_type"), [("square", "square"), ("simple", "simple"), ("uniform", "uniform")])
def test_generalized_dice_matches_monai_two_channel_form(seed: int, pooling: str, weights: str, w_type: str) -> None:
    z, y = _inputs(seed)
    p = torch.sigmoid(z)
    two_p = torch.cat([1 - p, p], dim=1)
    two_y = torch.cat([1 - y, y], dim=1)
    ours = build_loss("generalized_dice", weights=weights, pooling=pooling)(z, y)
    theirs = monai_losses.GeneralizedDiceLoss(w_type=w_type, smooth_nr=0.0, smooth_dr=0.0, batch=pooling == "batch")(
        two_p, two_y
    )
    torch.testing.assert_close(ours, theirs, rtol=1e-7, atol=1e-9)  # MONAI rounds its weights to float32


def test_single_channel_generalized_dice_collapses_to_dice_in_monai() -> None:
    """Why GDL needs both classes: with one channel MONAI's weights cancel and it is plain Dice."""
    z, y = _inputs(5)
    one = monai_losses.GeneralizedDiceLoss(sigmoid=True, smooth_nr=0.0, smooth_dr=0.0, batch=True)(z, y)
    torch.testing.assert_close(one, build_loss("dice", smooth=0.0)(z, y), rtol=1e-10, atol=1e-12)
    assert abs(float(one) - float(build_loss("generalized_dice")(z, y))) > 1e-3


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("pooling", ["batch", "sample"])
def test_dice_ce_matches_monai(seed: int, pooling: str) -> None:
    z, y = _inputs(seed)
    ours = build_loss("dice_ce", smooth=1e-5, pooling=pooling, lambda_dice=0.6, lambda_ce=1.3)(z, y)
    theirs = monai_losses.DiceCELoss(
        sigmoid=True, smooth_nr=1e-5, smooth_dr=1e-5, batch=pooling == "batch", lambda_dice=0.6, lambda_ce=1.3
    )(z, y)
    torch.testing.assert_close(ours, theirs, rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("seed", SEEDS)
def test_dice_focal_matches_monai(seed: int) -> None:
    z, y = _inputs(seed)
    ours = build_loss("dice_focal", smooth=1e-5, alpha=0.25, gamma=2.0)(z, y)
    theirs = monai_losses.DiceFocalLoss(
        sigmoid=True, smooth_nr=1e-5, smooth_dr=1e-5, batch=True, gamma=2.0, alpha=0.25
    )(z, y)
    torch.testing.assert_close(ours, theirs.double(), rtol=1e-6, atol=1e-9)


def test_asymmetric_focal_tversky_part_matches_monai() -> None:
    """The lesion/background Tversky part of the asymmetric unified focal loss equals MONAI's (sample pooling)."""
    from monai.losses.unified_focal_loss import AsymmetricFocalTverskyLoss

    from LesionSegLogic.losses.unified_focal import AsymmetricUnifiedFocalLoss

    z, y = _inputs(7)
    y[2, 0, 0, 0, 0] = 1.0  # MONAI clamps p to [ε, 1−ε]; keep every patch with lesion so ε does not matter
    ours = AsymmetricUnifiedFocalLoss(delta=0.7, gamma=0.5, pooling="sample").tversky_part(z, y)
    p = torch.sigmoid(z)
    theirs = AsymmetricFocalTverskyLoss(delta=0.7, gamma=0.5)(
        torch.cat([1 - p, p], dim=1), torch.cat([1 - y, y], dim=1)
    )
    torch.testing.assert_close(ours, theirs, rtol=1e-5, atol=1e-7)


def test_monai_asymmetric_focal_ce_is_half_of_yeungs() -> None:
    """Documented discrepancy: MONAI averages the focal CE over both channels, Yeung sums them per voxel."""
    from monai.losses.unified_focal_loss import AsymmetricFocalLoss

    from LesionSegLogic.losses.unified_focal import AsymmetricUnifiedFocalLoss

    z, y = _inputs(8)
    ours = AsymmetricUnifiedFocalLoss(delta=0.7, gamma=0.5).focal_part(z, y)
    p = torch.sigmoid(z)
    theirs = AsymmetricFocalLoss(delta=0.7, gamma=0.5)(torch.cat([1 - p, p], dim=1), torch.cat([1 - y, y], dim=1))
    torch.testing.assert_close(ours, 2 * theirs, rtol=1e-6, atol=1e-9)
