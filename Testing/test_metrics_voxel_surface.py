"""Voxel-wise ratios, APR, surface distances and cohort statistics against hand computations."""

from __future__ import annotations

import numpy as np
import pytest

from LesionSegLogic.metrics.cohort import median_defined, patient_level, wilcoxon_compare
from LesionSegLogic.metrics.surface import surface_distances
from LesionSegLogic.metrics.voxel import average_precision, voxel_metrics


def test_voxel_ratios_from_counts():
    pred = np.zeros((2, 3, 4), bool)
    ref = np.zeros((2, 3, 4), bool)
    pred.flat[[0, 1, 2, 3, 4]] = True
    ref.flat[[3, 4, 5, 6, 7, 8, 9]] = True  # TP 2, FP 3, FN 5, TN 14
    m = voxel_metrics(pred, ref)
    assert (m["tp"], m["fp"], m["fn"], m["tn"]) == (2, 3, 5, 14)
    assert m["sensitivity"] == pytest.approx(2 / 7) and m["precision"] == pytest.approx(2 / 5)
    assert m["dice"] == pytest.approx(4 / 12) and m["jaccard"] == pytest.approx(2 / 10)
    assert m["f2"] == pytest.approx(10 / (10 + 20 + 3)) and m["specificity"] == pytest.approx(14 / 17)


def test_average_precision_brute_force():
    rng = np.random.default_rng(0)
    p = np.round(rng.random(200), 1)  # many ties
    ref = rng.random(200) < 0.3
    expected, last_recall = 0.0, 0.0
    for tau in sorted(set(p.tolist()), reverse=True):
        predicted = p >= tau
        tp = np.sum(predicted & ref)
        recall, precision = tp / ref.sum(), tp / predicted.sum()
        expected += (recall - last_recall) * precision
        last_recall = recall
    assert average_precision(p, ref) == pytest.approx(expected)
    assert average_precision(ref.astype(float), ref) == pytest.approx(1.0)
    assert average_precision(p, np.zeros(200, bool)) is None


def test_surface_distances_between_two_slabs_in_mm():
    a = np.zeros((10, 4, 4), bool)
    b = np.zeros((10, 4, 4), bool)
    a[1] = True
    b[6] = True  # 5 slices apart along z
    out = surface_distances(a, b, (2.0, 0.5, 0.5))
    assert out["hd"] == pytest.approx(10.0) and out["hd95"] == pytest.approx(10.0) and out["asd"] == pytest.approx(10.0)
    same = surface_distances(a, a, (2.0, 0.5, 0.5))
    assert same == {"hd": 0.0, "hd95": 0.0, "asd": 0.0}


def test_surface_distances_asymmetric_shapes():
    a = np.zeros((1, 1, 12), bool)
    b = np.zeros((1, 1, 12), bool)
    a[0, 0, 0:2] = True  # surface voxels 0, 1
    b[0, 0, 0] = True
    out = surface_distances(a, b, (1.0, 1.0, 1.0))
    # d(a→b) = [0, 1], d(b→a) = [0] → hd 1, asd 1/3, hd95 = max(P95([0, 1]), 0) = 0.95
    assert out["hd"] == 1.0 and out["asd"] == pytest.approx(1 / 3) and out["hd95"] == pytest.approx(0.95)


def test_patient_level_and_wilcoxon():
    def block(n_ref, n_pred):
        return {"lesion": {"n_reference": n_ref, "n_predicted": n_pred}}

    level = patient_level([block(2, 1), block(1, 0), block(0, 0), block(0, 3), block(0, 0)])
    assert (level.sensitivity, level.specificity) == (0.5, pytest.approx(2 / 3))
    assert patient_level([block(0, 0)]).sensitivity is None
    a = [0.9, 0.8, 0.85, 0.7, 0.95, 0.9, 0.88, None]
    b = [0.5, 0.6, 0.55, 0.4, 0.65, 0.7, 0.58, 0.1]
    test = wilcoxon_compare(a, b)
    assert test.n == 7 and test.median_difference > 0 and test.pvalue < 0.05
    assert wilcoxon_compare([0.5, 0.5], [0.5, 0.5]).pvalue == 1.0
    assert median_defined([None, 1.0, 3.0]) == 2.0 and median_defined([None]) is None
