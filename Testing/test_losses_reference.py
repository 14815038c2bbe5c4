"""The independent loss formulas of :mod:`loss_oracles` against values worked out by hand."""

from __future__ import annotations

import numpy as np
from loss_oracles import bce, dice, focal, generalized_dice, tversky, weighted_gradient_grad

# --- the references themselves against values worked out by hand --------------------------------------------
# Four voxels, logits (0, 0, ln 3, −ln 3) → p = (1/2, 1/2, 3/4, 1/4); target y = (1, 0, 1, 0).
_Z = np.log(np.array([1.0, 1.0, 3.0, 1 / 3])).reshape(1, 1, 1, 2, 2)
_Y = np.array([1.0, 0.0, 1.0, 0.0]).reshape(1, 1, 1, 2, 2)


def test_reference_bce_by_hand() -> None:
    # −¼ [ln ½ + ln ½ + ln ¾ + ln ¾]
    assert np.isclose(bce(_Z, _Y), -(2 * np.log(0.5) + 2 * np.log(0.75)) / 4)


def test_reference_dice_and_tversky_by_hand() -> None:
    # Σpy = 5/4, Σp = 2, Σy = 2, FP = ¾, FN = ¾ → Dice = 1 − 2.5/4; TI = 1.25 / (1.25 + .3·.75 + .7·.75)
    assert np.isclose(dice(_Z, _Y, smooth=0.0), 1 - 2.5 / 4)
    assert np.isclose(tversky(_Z, _Y, 0.3, 0.7, smooth=0.0), 1 - 1.25 / (1.25 + 0.75))
    assert np.isclose(tversky(_Z, _Y, 0.1, 0.9, smooth=1.0), 1 - 2.25 / (2.25 + 0.1 * 0.75 + 0.9 * 0.75))


def test_reference_focal_by_hand() -> None:
    # p_t = (½, ½, ¾, ¾); α_t = (.25, .75, .25, .75); γ = 2
    terms = [0.25 * 0.25 * -np.log(0.5), 0.75 * 0.25 * -np.log(0.5)]
    terms += [0.25 * 0.0625 * -np.log(0.75), 0.75 * 0.0625 * -np.log(0.75)]
    assert np.isclose(focal(_Z, _Y, 0.25, 2.0), np.mean(terms))


def test_reference_generalized_dice_by_hand() -> None:
    # n_fg = n_bg = 2 → equal weights: two-class Dice = (2·1.25 + 2·1.25) / (4 + 4) → GDL = 1 − 5/8
    assert np.isclose(generalized_dice(_Z, _Y), 1 - 5 / 8)


def test_reference_weighted_gradient_by_hand() -> None:
    # w_fg = w_bg = ½; grad = (−½·¼, ½·¼, −½·(1/16), ½·(1/16)) / 4
    expected = np.array([-0.125, 0.125, -0.03125, 0.03125]).reshape(_Z.shape) / 4
    assert np.allclose(weighted_gradient_grad(_Z, _Y), expected)
