"""Every loss against independent numpy formulas (float64): random, lesion-free and perfect predictions."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from loss_oracles import POOLED, REFERENCE

from LesionSegLogic.losses import available_losses, build_loss


def _cases() -> dict[str, tuple[np.ndarray, np.ndarray]]:
    rng = np.random.default_rng(3)
    shape = (2, 1, 3, 4, 5)
    z = rng.normal(0.0, 2.0, shape)
    y = (rng.random(shape) < 0.2).astype(float)
    y[0, 0, 1, 1, 1] = 1.0  # both samples hold lesion
    y[1, 0, 2, 2, 2] = 1.0
    mixed = y.copy()
    mixed[1] = 0.0  # one lesion-free patch in a batch with lesion
    return {
        "random": (z, y),
        "mixed": (z, mixed),
        "lesion_free": (z, np.zeros(shape)),
        "perfect": (np.where(y > 0, 12.0, -12.0), y),
        "2d": (z[:, :, 0], y[:, :, 0]),
    }


CASES = _cases()


def _value(name: str, z: np.ndarray, y: np.ndarray, **params: object) -> float:
    loss = build_loss(name, **params)
    return float(loss(torch.from_numpy(z), torch.from_numpy(y)))


def test_every_loss_has_a_reference() -> None:
    assert set(available_losses()) == set(REFERENCE)


@pytest.mark.parametrize("case", sorted(CASES))
@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_value_matches_reference(name: str, case: str) -> None:
    z, y = CASES[case]
    poolings = ("batch", "sample") if name in POOLED else (None,)
    for pooling in poolings:
        params = {} if pooling is None else {"pooling": pooling}
        expected = REFERENCE[name](z, y, **params)
        assert _value(name, z, y, **params) == pytest.approx(expected, rel=1e-10, abs=1e-12), pooling


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("focal", {"alpha": 0.75, "gamma": 1.0}),
        ("focal", {"alpha": None, "gamma": 3.0}),
        ("dice", {"squared": True, "smooth": 1e-5}),
        ("generalized_dice", {"weights": "simple"}),
        ("generalized_dice", {"weights": "uniform", "smooth": 0.5}),
        ("tversky", {"alpha": 0.1, "beta": 0.9, "smooth": 0.0}),
        ("focal_tversky", {"gamma": 2.0}),
        ("combo", {"alpha": 0.7, "beta": 0.2, "nonnegative": False}),
        ("dice_ce", {"lambda_dice": 0.3, "lambda_ce": 2.0}),
        ("dice_focal", {"alpha": 0.25, "gamma": 1.5}),
        ("unified_focal", {"lambda_": 0.2, "delta": 0.7, "gamma": 0.3}),
        ("asymmetric_unified_focal", {"lambda_": 0.8, "delta": 0.5, "gamma": 0.1}),
        ("hytver", {"alpha": 0.5, "beta": 0.5, "ce_beta": 0.4, "gamma": 0.3}),
        ("weighted_gradient", {"normalisation": "sum"}),
    ],
)
def test_value_with_non_default_parameters(name: str, params: dict[str, object]) -> None:
    z, y = CASES["random"]
    assert _value(name, z, y, **params) == pytest.approx(REFERENCE[name](z, y, **params), rel=1e-10)


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_perfect_prediction_is_near_the_minimum(name: str) -> None:
    z, y = CASES["perfect"]
    value = _value(name, z, y)
    worse = _value(name, -z, y)  # every voxel wrong
    assert value < worse
    if name != "weighted_gradient":  # its potential has a non-zero minimum (w_fg per lesion voxel)
        assert value == pytest.approx(0.0, abs=2e-3)  # (1 − mTI)^0.5 magnifies 1e-6 to 1e-3


def test_lesion_free_patch_behaviour_as_documented() -> None:
    shape = (1, 1, 4, 4, 4)
    y = torch.zeros(shape, dtype=torch.float64)
    quiet = torch.full(shape, -30.0, dtype=torch.float64)  # predicts nothing
    loud = torch.full(shape, 30.0, dtype=torch.float64)  # predicts lesion everywhere
    for name in ("dice", "tversky", "focal_tversky", "log_cosh_dice", "generalized_dice", "hytver"):
        loss = build_loss(name, pooling="sample")
        assert float(loss(quiet, y)) == pytest.approx(0.0, abs=1e-8), name
        assert float(loss(loud, y)) > 0.1, name  # false positives on a lesion-free patch cost
    # Dice with sample pooling: Σp / (Σp + s)
    assert float(build_loss("dice", smooth=1.0, pooling="sample")(loud, y)) == pytest.approx(64 / 65)
    # weighted gradient: w_bg = N_fg / N = 0 → no loss and no gradient on a lesion-free batch
    z = loud.clone().requires_grad_(True)
    value = build_loss("weighted_gradient")(z, y)
    value.backward()
    assert float(value.detach()) == 0.0
    assert torch.count_nonzero(z.grad) == 0


def test_batch_pooling_lets_a_lesion_free_patch_count_its_false_positives() -> None:
    z, y = CASES["mixed"]
    zt, yt = torch.from_numpy(z.copy()), torch.from_numpy(y)
    zt_more_fp = zt.clone()
    zt_more_fp[1] += 3.0  # more false positives on the lesion-free sample only
    for name in ("dice", "tversky", "generalized_dice"):
        loss = build_loss(name, pooling="batch")
        assert float(loss(zt_more_fp, yt)) > float(loss(zt, yt)), name


def test_float32_input_returns_float32_and_float64_stays_float64() -> None:
    z, y = CASES["random"]
    for name in available_losses():
        loss = build_loss(name)
        assert loss(torch.from_numpy(z), torch.from_numpy(y)).dtype == torch.float64
        assert loss(torch.from_numpy(z).float(), torch.from_numpy(y).float()).dtype == torch.float32
        assert loss(torch.from_numpy(z).float(), torch.from_numpy(y).bool()).dtype == torch.float32


def test_extreme_logits_stay_finite() -> None:
    z, y = CASES["random"]
    huge = torch.from_numpy(np.where(z > 0, 1e4, -1e4)).requires_grad_(True)
    for name in available_losses():
        value = build_loss(name)(huge, torch.from_numpy(y))
        value.backward()
        assert torch.isfinite(value), name
        assert torch.isfinite(huge.grad).all(), name
        huge.grad = None
