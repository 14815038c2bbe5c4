"""The overlay rule in the arrays (docs/metrics.md, "The overlay rule"): in lesion mode every voxel of a missed
(FN) reference lesion shows FN, whatever predicted component covers it; predicted components show TP/FP everywhere
else; detected reference lesions are not drawn. Checked in ``engine.at``, the live buffers and the naive oracle."""

from __future__ import annotations

import numpy as np
import pytest
from overlay_cases import constructed_case
from scipy import ndimage

from LesionSegLogic.metrics.lesion import label_components
from LesionSegLogic.metrics.rules import PRESETS
from LesionSegLogic.threshold import OVERLAY_FN, OVERLAY_FP, OVERLAY_TP, ThresholdEngine
from LesionSegLogic.threshold.naive import naive_at

RULES = ("hussein", "anima")
THRESHOLDS = (0.2, 0.35, 0.5, 0.65, 0.8)


def random_case(seed: int, shape: tuple[int, int, int] = (12, 28, 28)) -> tuple[np.ndarray, np.ndarray]:
    """Reference blobs and a probability map of blurred, shifted, rescaled copies plus some false blobs."""
    rng = np.random.default_rng(seed)
    reference = np.zeros(shape, bool)
    probability = np.zeros(shape)
    zz, yy, xx = np.indices(shape)
    for _ in range(rng.integers(4, 9)):
        centre = rng.uniform((2, 3, 3), np.array(shape) - (2, 3, 3))
        radius = rng.uniform(1.2, 3.5)
        blob = (zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2 <= radius**2
        reference |= blob
        shifted = centre + rng.normal(0, 1.5, 3)
        spread = radius * rng.uniform(0.6, 2.5)  # small: partly covered; large: leaks far outside
        d2 = (zz - shifted[0]) ** 2 + (yy - shifted[1]) ** 2 + (xx - shifted[2]) ** 2
        probability = np.maximum(probability, rng.uniform(0.3, 1.0) * np.exp(-d2 / (2 * spread**2)))
    for _ in range(rng.integers(0, 4)):
        centre = rng.uniform(0, shape)
        d2 = (zz - centre[0]) ** 2 + (yy - centre[1]) ** 2 + (xx - centre[2]) ** 2
        probability = np.maximum(probability, rng.uniform(0.3, 0.9) * np.exp(-d2 / 8.0))
    probability = ndimage.gaussian_filter(probability + 0.05 * rng.random(shape), 0.5)
    return np.clip(probability, 0, 1), reference


def check_rule(overlay: np.ndarray, result, reference: np.ndarray, rule: str) -> int:
    """Assert the rule on one lesion-mode overlay; returns how many FN-lesion voxels a predicted lesion covers."""
    ref_labels, _ = label_components(reference, PRESETS[rule], 1.0)
    missed = np.zeros(ref_labels.max() + 1, bool)
    for row in result.reference():
        assert row.n_voxels == np.count_nonzero(ref_labels == row.id)
        missed[row.id] = row.status == "FN"
    fn_voxels = missed[ref_labels]
    assert (overlay[fn_voxels] == OVERLAY_FN).all()  # 100 % of every missed lesion
    assert not (overlay[~fn_voxels] == OVERLAY_FN).any()
    pred_labels, n_pred = label_components(result.mask, PRESETS[rule], 1.0)
    centroids = np.array(ndimage.center_of_mass(np.ones(pred_labels.shape), pred_labels, range(1, n_pred + 1)))
    status = np.zeros(n_pred + 1, np.uint8)
    for row in result.predicted():  # a row's component: the one at its centroid
        label = 1 + int(np.argmin(np.abs(centroids - row.centroid_zyx).sum(axis=1)))
        assert np.allclose(centroids[label - 1], row.centroid_zyx) and status[label] == 0
        status[label] = OVERLAY_TP if row.status == "TP" else OVERLAY_FP
    expected = np.where(fn_voxels, OVERLAY_FN, status[pred_labels])
    assert np.array_equal(overlay, expected)  # elsewhere: the covering component's status, or 0
    return int(np.count_nonzero(fn_voxels & (pred_labels > 0)))


@pytest.mark.parametrize("rule", RULES)
def test_every_missed_lesion_is_wholly_fn_in_engine_live_and_oracle(rule: str) -> None:
    covered_fn = 0
    for seed in range(6):
        probability, reference = random_case(seed)
        engine = ThresholdEngine(probability, (1.0, 1.0, 1.0), reference, rule)
        live = engine.live("lesion")
        order = np.random.default_rng(seed).permutation(len(THRESHOLDS))
        for t in (THRESHOLDS[i] for i in order):
            result = engine.at(t)
            covered_fn += check_rule(result.overlay, result, reference, rule)
            assert np.array_equal(live.set(t).overlay, result.overlay)
            assert np.array_equal(naive_at(engine.inputs, t).overlay, result.overlay)
    assert covered_fn > 0  # the cases exercise the rule: some missed lesions are covered by predicted ones


def test_constructed_covered_missed_lesions_show_fn() -> None:
    probability, reference, lesions = constructed_case()
    engine = ThresholdEngine(probability, (1.0, 1.0, 1.0), reference, "anima")
    result = engine.at(0.5)
    status = {row.id: row.status for row in result.reference()}
    assert list(status.values()) == ["TP", "FN", "FN", "FN"]  # A, B, C, D in raster order
    assert sorted(row.status for row in result.predicted()) == ["FP", "TP", "TP"]
    overlay = result.overlay
    for name in "BCD":
        assert (overlay[lesions[name]] == OVERLAY_FN).all(), name
        assert (probability[lesions[name]] > 0.5).any(), name  # each missed lesion is (partly) predicted
    assert (overlay[lesions["A"]] == OVERLAY_TP).all()
    outside = (probability > 0.5) & ~reference
    assert set(np.unique(overlay[outside])) == {OVERLAY_TP, OVERLAY_FP}
    live = engine.live()
    live.set(0.95)
    assert np.array_equal(live.set(0.5).overlay, overlay)
    assert np.array_equal(naive_at(engine.inputs, 0.5).overlay, overlay)
    voxel = engine.at(0.5, mode="voxel").overlay  # voxel mode is unchanged: a partition of the raw masks
    assert np.array_equal(voxel == OVERLAY_TP, (probability > 0.5) & reference)
    assert np.array_equal(voxel == OVERLAY_FN, (probability <= 0.5) & reference)
