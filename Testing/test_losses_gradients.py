"""Gradients (gradcheck, Cabezas & Diez 2024 eq. 5), limits between losses, and bf16 autocast."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from loss_oracles import weighted_gradient_grad

from LesionSegLogic.losses import available_losses, build_loss


def _inputs(seed: int = 0, shape: tuple[int, ...] = (2, 1, 2, 3, 3)) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    z = (torch.randn(shape, generator=g, dtype=torch.float64) * 1.5).requires_grad_(True)
    y = (torch.rand(shape, generator=g) < 0.3).double()
    y.view(-1)[0] = 1.0
    return z, y


@pytest.mark.parametrize("name", available_losses())
@pytest.mark.parametrize("pooling", ["batch", "sample"])
def test_gradcheck(name: str, pooling: str) -> None:
    z, y = _inputs(1)
    params = {"pooling": pooling} if "pooling" in build_loss(name).hyperparameters() else {}
    loss = build_loss(name, **params)
    assert torch.autograd.gradcheck(lambda t: loss(t, y), (z,), eps=1e-6, atol=1e-7, rtol=1e-5)


@pytest.mark.parametrize("pooling", ["batch", "sample"])
@pytest.mark.parametrize("normalisation", ["mean", "sum"])
def test_weighted_gradient_backward_is_eq5_elementwise(pooling: str, normalisation: str) -> None:
    z, y = _inputs(2, (3, 1, 3, 4, 4))
    with torch.no_grad():
        y[2] = 0.0  # a lesion-free sample: with sample pooling its background gets w_bg = 0
    build_loss("weighted_gradient", pooling=pooling, normalisation=normalisation)(z, y).backward()
    expected = weighted_gradient_grad(z.detach().numpy(), y.numpy(), 2, pooling, normalisation)
    np.testing.assert_allclose(z.grad.numpy(), expected, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("gamma", [0, 1, 2, 3, 5])
def test_weighted_gradient_forward_is_the_potential_of_eq5(gamma: int) -> None:
    """Numerical derivative of the reported value == the hand-written backward, for several γ."""
    z, y = _inputs(3)
    loss = build_loss("weighted_gradient", gamma=gamma)
    assert torch.autograd.gradcheck(lambda t: loss(t, y), (z,), eps=1e-6, atol=1e-8, rtol=1e-6)
    loss(z, y).backward()
    expected = weighted_gradient_grad(z.detach().numpy(), y.numpy(), gamma)
    np.testing.assert_allclose(z.grad.numpy(), expected, rtol=1e-12, atol=1e-15)


def test_weighted_gradient_gamma_one_is_weighted_cross_entropy() -> None:
    z, y = _inputs(4)
    n, n_fg = y.numel(), float(y.sum())
    w_fg, w_bg = (n - n_fg) / n, n_fg / n
    p = torch.sigmoid(z)
    wce = -(w_fg * y * torch.log(p) + w_bg * (1 - y) * torch.log(1 - p)).mean()
    torch.testing.assert_close(build_loss("weighted_gradient", gamma=1)(z, y), wce)


def _value(name: str, z: torch.Tensor, y: torch.Tensor, **params: object) -> float:
    return float(build_loss(name, **params)(z.detach(), y))


@pytest.mark.parametrize("pooling", ["batch", "sample"])
def test_tversky_half_half_is_dice(pooling: str) -> None:
    z, y = _inputs(5)
    for smooth in (0.0, 1e-5, 1.0):
        tv = _value("tversky", z, y, alpha=0.5, beta=0.5, smooth=smooth, pooling=pooling)
        assert tv == pytest.approx(_value("dice", z, y, smooth=2 * smooth, pooling=pooling), rel=1e-12)
    # with no smoothing the scaling of the index does not matter: TI(.5,.5) = 2TP/(2TP+FP+FN)
    assert _value("tversky", z, y, alpha=0.5, beta=0.5, smooth=0.0) == pytest.approx(
        _value("dice", z, y, smooth=0.0), rel=1e-12
    )


def test_focal_gamma_zero_is_weighted_bce_and_bce() -> None:
    z, y = _inputs(6)
    for a in (0.25, 0.5, 0.75):
        assert _value("focal", z, y, alpha=a, gamma=0.0) == pytest.approx(
            _value("weighted_bce", z, y, beta=a), rel=1e-12
        )
    assert _value("focal", z, y, alpha=None, gamma=0.0) == pytest.approx(_value("bce", z, y), rel=1e-12)


def test_hytver_limits() -> None:
    z, y = _inputs(7)
    tv = dict(alpha=0.3, beta=0.7, smooth=1.0)
    assert _value("hytver", z, y, gamma=0.0, **tv) == pytest.approx(_value("tversky", z, y, **tv), rel=1e-12)
    assert _value("hytver", z, y, gamma=1.0, ce_beta=0.7) == pytest.approx(
        _value("weighted_bce", z, y, beta=0.7), rel=1e-12
    )


def test_other_limits() -> None:
    z, y = _inputs(8)
    # focal Tversky with exponent 1 is Tversky; Combo with α = 0 is Dice and with α = 1 is wCE
    assert _value("focal_tversky", z, y, gamma=1.0) == pytest.approx(_value("tversky", z, y), rel=1e-12)
    assert _value("combo", z, y, alpha=0.0) == pytest.approx(_value("dice", z, y), rel=1e-12)
    assert _value("combo", z, y, alpha=1.0, beta=0.3) == pytest.approx(
        _value("weighted_bce", z, y, beta=0.3), rel=1e-12
    )
    # Combo's paper form differs from ours by the constant 1 − α
    assert _value("combo", z, y, alpha=0.4) - _value("combo", z, y, alpha=0.4, nonnegative=False) == pytest.approx(
        0.6, rel=1e-12
    )
    # weighted BCE with β = ½ is half the BCE; log-cosh Dice is ln cosh of Dice
    assert _value("weighted_bce", z, y, beta=0.5) == pytest.approx(_value("bce", z, y) / 2, rel=1e-12)
    assert _value("log_cosh_dice", z, y) == pytest.approx(np.log(np.cosh(_value("dice", z, y))), rel=1e-12)
    # unified focal with λ = 1 / 0 isolates its parts; symmetric and asymmetric differ
    assert _value("unified_focal", z, y) != pytest.approx(_value("asymmetric_unified_focal", z, y))


@pytest.mark.parametrize("name", available_losses())
def test_bf16_autocast_is_finite_and_close_to_fp32(name: str) -> None:
    torch.manual_seed(0)
    conv = torch.nn.Conv3d(1, 1, 3, padding=1)
    x = torch.randn(2, 1, 6, 6, 6)
    y = (x > 1.0).float()
    loss = build_loss(name)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = conv(x)
        value = loss(logits, y)
    assert logits.dtype == torch.bfloat16
    assert value.dtype == torch.float32
    value.backward()
    assert torch.isfinite(value)
    assert all(torch.isfinite(p.grad).all() for p in conv.parameters())
    reference = loss(conv(x).detach(), y)
    assert float(value.detach()) == pytest.approx(float(reference), rel=3e-2, abs=3e-3)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
@pytest.mark.parametrize("name", available_losses())
def test_cuda_autocast_is_finite_and_close_to_fp32(name: str, dtype: torch.dtype) -> None:
    torch.manual_seed(0)
    conv = torch.nn.Conv3d(1, 1, 3, padding=1).cuda()
    x = torch.randn(2, 1, 8, 8, 8, device="cuda")
    y = (x > 1.0).float()
    loss = build_loss(name)
    with torch.autocast("cuda", dtype=dtype):
        logits = conv(x)
        value = loss(logits, y)
    assert logits.dtype == dtype and value.dtype == torch.float32
    value.backward()
    assert torch.isfinite(value) and all(torch.isfinite(p.grad).all() for p in conv.parameters())
    assert float(value.detach()) == pytest.approx(float(loss(conv(x).detach(), y)), rel=3e-2, abs=3e-3)
