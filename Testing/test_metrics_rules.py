"""Hand-built lesion-matching cases for every preset (expected values worked out by hand in the comments)."""

from __future__ import annotations

import numpy as np
import pytest

from LesionSegLogic.errors import InputError
from LesionSegLogic.metrics.evaluate import evaluate
from LesionSegLogic.metrics.rules import ANIMA, HUSSEIN, MatchingRule, get_rule
from LesionSegLogic.threshold.naive import naive_at

SPACING = (1.0, 1.0, 1.0)
RULES = ("hussein", "anima", "any-overlap")


def grid(shape=(5, 5, 40)) -> np.ndarray:
    return np.zeros(shape, dtype=bool)


def lesions(pred: np.ndarray, ref: np.ndarray, rule, spacing=SPACING) -> dict:
    """The lesion block, checked to agree between the vectorised evaluation and the looped oracle."""
    result = evaluate(pred, ref, spacing, rule, surface=False)["lesion"]
    oracle = naive_at(pred.astype(np.float32), 0.5, spacing=spacing, reference=ref, rule=rule).metrics["lesion"]
    assert result == oracle
    return result


@pytest.mark.parametrize("rule", RULES)
def test_split_lesion_counts_once_and_both_pieces_true(rule):
    ref, pred = grid(), grid()
    ref[2, 2, 0:10] = True  # one 10-voxel lesion
    pred[2, 2, 0:4] = pred[2, 2, 6:10] = True  # two 4-voxel pieces inside it: coverage 0.8, nothing outside
    out = lesions(pred, ref, rule)
    assert (out["n_reference"], out["tp_reference"], out["n_predicted"], out["tp_predicted"]) == (1, 1, 2, 2)
    assert out["f1"] == 1.0


@pytest.mark.parametrize("rule", RULES)
def test_one_prediction_merging_two_lesions_detects_both(rule):
    ref, pred = grid(), grid()
    ref[2, 2, 0:10] = ref[2, 2, 11:21] = True  # two lesions, one voxel apart
    pred[2, 2, 0:21] = True  # one prediction over both and the gap: 1/21 outside
    out = lesions(pred, ref, rule)
    assert (out["n_reference"], out["tp_reference"], out["n_predicted"], out["tp_predicted"]) == (2, 2, 1, 1)


def test_prediction_mostly_outside():
    ref, pred = grid(), grid()
    ref[2, 2, 0:10] = True
    pred[2, 2, 7:30] = True  # 3 voxels inside, 20 outside: outside fraction 20/23 = 0.87 > β = 0.7
    hussein = lesions(pred, ref, "hussein")
    # reference: covered 0.3 ≥ 0.25 but its only prediction leaks → missed; prediction: 3/23 < 0.25 → FP
    assert (hussein["tp_reference"], hussein["tp_predicted"]) == (0, 0)
    anima = lesions(pred, ref, "anima")
    # prediction: covered 3/23 = 0.13 > 0.1, and the reference lies 7/10 = 0.7 (not > 0.7) outside it → TP
    assert (anima["tp_reference"], anima["tp_predicted"]) == (0, 1)
    assert lesions(pred, ref, "any-overlap")["tp_reference"] == 1
    pred[:] = False
    pred[2, 2, 7:16] = True  # 3 inside, 6 outside: 6/9 = 0.67 ≤ 0.7 → detected
    assert lesions(pred, ref, "hussein")["tp_reference"] == 1


def test_lesion_at_or_below_min_size_is_removed_from_both_masks():
    ref, pred = grid(), grid()
    ref[2, 2, 0:3] = True  # 3 mm³ at 1 mm: anima keeps lesions strictly larger than 3 mm³
    pred[2, 2, 0:3] = True
    ref[2, 2, 10:14] = True  # 4 mm³: kept
    out = lesions(pred, ref, "anima")
    assert (out["n_reference"], out["n_predicted"], out["fn"]) == (1, 0, 1)
    assert lesions(pred, ref, "hussein")["n_reference"] == 2  # no minimum size
    # 0.75 mm³ voxels: 3 mm³ = 4 voxels → lesions need ≥ 5 voxels
    assert lesions(pred, ref, "anima", spacing=(0.5, 1.0, 1.5))["n_reference"] == 0
    assert lesions(pred, ref, "anima", spacing=(1.0, 1.0, 1.5))["n_reference"] == 2  # 1.5 mm³: need ≥ 3


def test_connectivity_diagonals():
    corner, edge = grid((4, 4, 4)), grid((4, 4, 4))
    corner[0, 0, 0] = corner[1, 1, 1] = True  # touch at a corner
    edge[0, 0, 0] = edge[0, 1, 1] = True  # touch along an edge
    counts = {}
    for connectivity in (6, 18, 26):
        rule = MatchingRule(connectivity=connectivity)
        counts[connectivity] = (
            lesions(corner, corner, rule)["n_reference"],
            lesions(edge, edge, rule)["n_reference"],
        )
    assert counts == {6: (2, 2), 18: (2, 1), 26: (1, 1)}


def test_alpha_inclusive_for_hussein_strict_for_anima():
    ref, pred = grid(), grid()
    ref[2, 2, 0:20] = True
    pred[2, 2, 0:5] = True  # exactly 25 % covered
    assert lesions(pred, ref, "hussein")["tp_reference"] == 1
    strict = MatchingRule(alpha=0.25, alpha_inclusive=False, beta=0.7, gamma=0.65)
    assert lesions(pred, ref, strict)["tp_reference"] == 0
    ref[:] = pred[:] = False
    ref[2, 2, 0:10] = True
    pred[2, 2, 0:1] = pred[2, 2, 5:6] = True  # 1 voxel... two 1-voxel predictions: anima drops them (≤ 3 mm³)
    assert lesions(pred, ref, "anima")["tp_reference"] == 0
    loose = MatchingRule(alpha=0.10, connectivity=6)
    pred[:] = False
    pred[2, 2, 0:1] = True  # exactly 10 %: not > 0.10
    assert lesions(pred, ref, loose)["tp_reference"] == 0
    pred[2, 2, 0:2] = True  # 20 %
    assert lesions(pred, ref, loose)["tp_reference"] == 1


def test_gamma_limits_which_predictions_are_examined():
    ref, pred = grid((5, 5, 60)), grid((5, 5, 60))
    ref[2, 2, 0:20] = True
    pred[2, 2, 0:14] = True  # A: 14 voxels inside, nothing outside
    pred[2, 2, 15:20] = True  # B: 5 inside ... plus a long tail outside
    pred[2, 2, 20:60] = True
    # B = 5 inside + 40 outside (0.89 > β). A covers 14/19 = 0.74 of the overlap ≥ γ 0.65 → B is not examined
    assert lesions(pred, ref, ANIMA)["tp_reference"] == 1
    everything = MatchingRule(alpha=0.1, beta=0.7, gamma=1.0)
    assert lesions(pred, ref, everything)["tp_reference"] == 0
    pred[2, 2, 12:14] = False  # A: 12 voxels (12/17 = 0.71 ≥ 0.65): still enough
    assert lesions(pred, ref, ANIMA)["tp_reference"] == 1
    pred[2, 2, 10:12] = False  # A: 10/15 = 0.67 ≥ 0.65
    assert lesions(pred, ref, ANIMA)["tp_reference"] == 1
    pred[2, 2, 9:10] = False  # A: 9/14 = 0.64 < 0.65 → B is examined and leaks
    assert lesions(pred, ref, ANIMA)["tp_reference"] == 0


@pytest.mark.parametrize("rule", RULES)
def test_empty_cases(rule):
    empty, one = grid(), grid()
    one[2, 2, 0:10] = True
    no_ref = evaluate(one, empty, SPACING, rule)
    assert no_ref["lesion"]["sensitivity"] is None and no_ref["lesion"]["precision"] == 0.0
    assert no_ref["lesion"]["f1"] is None and no_ref["lesion"]["fp"] == 1
    assert no_ref["voxel"]["sensitivity"] is None and no_ref["voxel"]["dice"] == 0.0
    assert no_ref["surface"] == {"hd": None, "hd95": None, "asd": None}
    no_pred = evaluate(empty, one, SPACING, rule)
    assert no_pred["lesion"]["sensitivity"] == 0.0 and no_pred["lesion"]["precision"] is None
    assert no_pred["lesion"]["fn"] == 1 and no_pred["voxel"]["precision"] is None
    both = evaluate(empty, empty, SPACING, rule)
    assert both["lesion"]["f1"] is None and both["voxel"]["dice"] is None and both["voxel"]["jaccard"] is None
    assert both["voxel"]["specificity"] == 1.0
    for case in (no_ref, no_pred, both):
        lesions_block = case["lesion"]
        assert lesions_block["tp_reference"] + lesions_block["fn"] == lesions_block["n_reference"]


def test_rule_validation_and_presets():
    assert get_rule("hussein") is HUSSEIN
    with pytest.raises(InputError, match="unknown matching rule"):
        get_rule("nope")
    with pytest.raises(InputError, match="connectivity"):
        MatchingRule(connectivity=8)
    with pytest.raises(InputError, match="alpha"):
        MatchingRule(alpha=1.5)
    assert ANIMA.min_voxels(1.0) == 4 and HUSSEIN.min_voxels(1.0) == 1
