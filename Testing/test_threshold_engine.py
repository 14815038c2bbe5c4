"""ThresholdEngine == naive oracle (property tests), geometry, lazy outputs, errors, sweeps and the CLIs."""

from __future__ import annotations

import json
from collections.abc import Iterator

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from scipy import ndimage
from threshold_cases import assert_same, cases, two_lesion_case

from LesionSegLogic.errors import GeometryError, InputError, MaskError, NonFiniteError, ProbabilityRangeError
from LesionSegLogic.image import Image
from LesionSegLogic.metrics.evaluate import evaluate
from LesionSegLogic.metrics.rules import PRESETS
from LesionSegLogic.threshold import OVERLAY_FN, OVERLAY_FP, OVERLAY_PREDICTED, OVERLAY_TP, ThresholdEngine
from LesionSegLogic.threshold.forest import MergeForest
from LesionSegLogic.threshold.naive import naive_at
from LesionSegLogic.threshold.sweep import best_threshold, sweep_cohort, threshold_grid
from LesionSegLogic.threshold.synthetic import synthetic_probability


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases())
def test_engine_equals_naive_oracle(case):
    p, ref, rule, spacing, floor, thresholds = case
    engine = ThresholdEngine(p, spacing, ref, rule, floor=floor, origin=(3.0, -2.0, 1.0))
    for t in thresholds:
        for mode in ("lesion", "voxel"):
            fast, slow = engine.at(t, mode=mode), naive_at(engine.inputs, t, mode=mode)
            assert_same(fast, slow)
        lesions = fast.metrics["lesion"]
        if ref is not None:
            assert lesions["tp_reference"] + lesions["fn"] == lesions["n_reference"]
            assert lesions["tp_predicted"] + lesions["fp"] == lesions["n_predicted"]
            assert fast.metrics["lesion"] == evaluate(fast.mask, ref, spacing, rule, surface=False)["lesion"]


@settings(max_examples=25, deadline=None)
@given(st.integers(0, 2**31 - 1), st.sampled_from(sorted(PRESETS)), st.integers(0, 2))
def test_metrics_invariant_under_axis_flips(seed, rule, axis):
    rng = np.random.default_rng(seed)
    shape = (6, 7, 8)
    pred = ndimage.gaussian_filter(rng.random(shape), 1.0) > 0.5
    ref = ndimage.gaussian_filter(rng.random(shape), 1.0) > 0.5
    a = evaluate(pred, ref, (1.0, 1.5, 2.0), rule)
    b = evaluate(np.flip(pred, axis), np.flip(ref, axis), (1.0, 1.5, 2.0), rule)
    assert a["voxel"] == b["voxel"] and a["lesion"] == b["lesion"]
    for key in ("hd", "hd95", "asd"):
        assert (a["surface"][key] is None) == (b["surface"][key] is None)
        if a["surface"][key] is not None:
            assert a["surface"][key] == pytest.approx(b["surface"][key])


def test_overlay_modes_and_rows():
    p, ref = two_lesion_case()
    image = Image(p, spacing=(2.0, 1.0, 1.0), origin=(10.0, 20.0, 30.0), name="prob")
    engine = ThresholdEngine(image, reference=ref, rule="hussein")
    result = engine.at(0.5)
    assert result.metrics["lesion"] == {**result.metrics["lesion"], "n_reference": 2, "tp_reference": 1, "fp": 1}
    assert np.count_nonzero(result.overlay == OVERLAY_TP) == 8
    assert np.count_nonzero(result.overlay == OVERLAY_FP) == 4
    assert np.count_nonzero(result.overlay == OVERLAY_FN) == 8
    predicted = result.predicted()
    assert [r.max_probability for r in predicted] == pytest.approx([0.9, 0.6])  # by decreasing confidence
    first = predicted[0]
    assert first.status == "TP" and first.partners == (1,) and first.volume_mm3 == 16.0
    assert first.centroid_zyx == (2.5, 2.5, 2.5)
    # physical LPS = origin + direction @ (spacing_xyz * (i, j, k)) with i = x index
    assert first.centroid_lps == pytest.approx((10.0 + 2.5, 20.0 + 2.5, 30.0 + 2 * 2.5))
    missed = result.reference()[1]
    assert missed.status == "FN" and missed.partners == () and missed.max_probability == pytest.approx(0.3)
    voxel = engine.at(0.5, mode="voxel").overlay
    assert np.count_nonzero(voxel == OVERLAY_TP) == 8 and np.count_nonzero(voxel == OVERLAY_FN) == 8
    assert result.metrics["surface"] is None
    assert result.compute_surface()["hd"] > 0 and result.metrics["surface"] is not None
    assert engine.at(0.5, surface=True).metrics["surface"] == result.metrics["surface"]


def test_without_reference_marks_predicted_lesions():
    p, _ = two_lesion_case()
    result = ThresholdEngine(p, (1.0, 1.0, 1.0)).at(0.5)
    assert result.metrics["lesion"]["n_predicted"] == 2 and "sensitivity" not in result.metrics["lesion"]
    assert set(np.unique(result.overlay)) == {0, OVERLAY_PREDICTED}
    assert all(row.status is None for row in result.lesions)


def test_thresholds_below_floor_whole_grid_and_sweep_match_oracle():
    p, ref = two_lesion_case()
    p = p + np.float32(0.001)  # min(p) > 0
    engine = ThresholdEngine(p, (1.0, 1.0, 1.0), ref, "anima", floor=0.2)
    for t in (0.0, 0.001, 0.05, 0.2, 0.25, 0.95, 1.0):
        assert_same(engine.at(t), naive_at(engine.inputs, t))
    curve = engine.sweep(threshold_grid(0.1))
    assert [c["threshold"] for c in curve] == pytest.approx(list(np.linspace(0, 1, 11)))
    assert curve[0]["lesion"]["n_predicted"] == 1  # everything is one lesion at t = 0
    assert curve == [naive_at(engine.inputs, t).metrics for t in threshold_grid(0.1)]


def test_sweep_picks_best_median_threshold():
    rng = np.random.default_rng(4)
    engines = []
    for seed in range(3):
        ref = ndimage.gaussian_filter(rng.random((12, 16, 16)), 1.2) > 0.56
        engines.append(ThresholdEngine(synthetic_probability(ref, seed=seed), reference=ref))
    result = sweep_cohort(engines, threshold_grid(0.05), "voxel-f1")
    dice = result.median["voxel.dice"]
    defined = [d for d in dice if d is not None]
    assert result.best_value == max(defined)
    assert dice[result.thresholds.index(result.best_threshold)] == result.best_value
    assert best_threshold([0.3, 0.5, 0.6], [1.0, 1.0, 0.2]) == (0.5, 1.0)
    assert best_threshold([0.4, 0.6], [1.0, 1.0]) == (0.4, 1.0)
    with pytest.raises(InputError):
        sweep_cohort([ThresholdEngine(np.zeros((2, 2, 2)))], [0.5])


def test_synthetic_map_is_deterministic_and_a_probability():
    ref = np.zeros((10, 12, 12), bool)
    ref[3:6, 4:8, 4:8] = True
    a = synthetic_probability(ref, (1.0, 1.0, 1.0), seed=7)
    assert np.array_equal(a, synthetic_probability(ref, (1.0, 1.0, 1.0), seed=7))
    assert not np.array_equal(a, synthetic_probability(ref, (1.0, 1.0, 1.0), seed=8))
    assert a.dtype == np.float32 and a.min() >= 0 and a.max() <= 1
    assert a[ref].mean() > a[~ref].mean()


def test_bad_inputs_raise_typed_errors():
    p = np.full((3, 3, 3), 0.5)
    with pytest.raises(NonFiniteError):
        ThresholdEngine(np.full((3, 3, 3), np.nan))
    with pytest.raises(ProbabilityRangeError, match=r"\[0, 1\]"):
        ThresholdEngine(p * 3)
    with pytest.raises(GeometryError):
        ThresholdEngine(p, reference=np.zeros((3, 3, 4), bool))
    with pytest.raises(MaskError):
        ThresholdEngine(p, reference=np.full((3, 3, 3), 2))
    with pytest.raises(GeometryError):
        ThresholdEngine(Image(p, name="a.nii"), reference=Image(np.zeros((3, 3, 3)), spacing=(2, 1, 1), name="b"))
    with pytest.raises(InputError):
        ThresholdEngine(p, rule="nope")
    with pytest.raises(InputError):
        ThresholdEngine(p).at(float("nan"))


def test_cli_evaluate_and_sweep(tmp_path, capsys):
    from LesionSegLogic.cli import main
    from LesionSegLogic.io import write_image

    p, ref = two_lesion_case()
    prob_path, ref_path = tmp_path / "prob.nii.gz", tmp_path / "ref.nii.gz"
    write_image(Image(p, spacing=(2.0, 1.0, 1.0)), prob_path, dtype=np.float32)
    write_image(Image(ref.astype(np.uint8), spacing=(2.0, 1.0, 1.0)), ref_path, dtype=np.uint8)
    out = tmp_path / "eval.json"
    assert main(["evaluate", "--prob", str(prob_path), "--ref", str(ref_path), "--threshold", "0.5",
                 "--rule", "hussein", "--json", str(out)]) == 0  # explicit: the defaults live elsewhere
    data = json.loads(out.read_text())
    engine = ThresholdEngine(p, (2.0, 1.0, 1.0), ref).at(0.5, surface=True).metrics
    for block in ("voxel", "lesion", "surface"):
        assert data[block] == pytest.approx(engine[block])
    assert data["threshold"] == 0.5 and data["rule"] == "hussein"
    capsys.readouterr()  # evaluate's table (stdout) when the JSON goes to a file
    assert main(["sweep", "--prob", str(prob_path), "--ref", str(ref_path), "--step", "0.1", "--json", "-"]) == 0
    sweep = json.loads(capsys.readouterr().out)
    assert len(sweep["thresholds"]) == 11 and sweep["best_threshold"] is not None
    other = tmp_path / "other.nii.gz"
    write_image(Image(ref.astype(np.uint8), spacing=(1.0, 1.0, 1.0)), other, dtype=np.uint8)
    assert main(["evaluate", "--prob", str(prob_path), "--ref", str(other)]) == 2
    assert "is not on the grid" in capsys.readouterr().err


def _random_forests(
    rng: np.random.Generator, trials: int, sizes: tuple[int, int]
) -> Iterator[tuple[int, np.ndarray, MergeForest, np.ndarray]]:
    """``(trial, p, forest, rooted parents)`` of random smoothed maps (edge lengths in ``sizes``; every third one
    rounded to 2 decimals for ties), random connectivity and floor."""
    from LesionSegLogic.threshold.engine import _rooted_parents
    from LesionSegLogic.threshold.forest import build_forest

    for trial in range(trials):
        shape = tuple(int(v) for v in rng.integers(*sizes, 3))
        p = ndimage.gaussian_filter(rng.random(shape), rng.uniform(0, 2))
        if trial % 3 == 0:
            p = np.round(p, 2)  # ties
        structure = ndimage.generate_binary_structure(3, int(rng.integers(1, 4)))
        forest = build_forest(p, float(np.quantile(p, rng.uniform(0, 0.9))), structure)
        parent = _rooted_parents(forest)
        yield trial, p, forest, parent


def test_prefix_components_by_pointer_jumping_equal_the_forest_components():
    """The engine's components of a rank prefix (rooted forest, pointer jumping) are the connected components of
    the merge forest's edges active in that prefix (``MergeForest.components``), for every prefix length."""
    from LesionSegLogic.threshold.engine import _prefix_components

    rng = np.random.default_rng(7)
    for _, _, forest, parent in _random_forests(rng, 60, sizes=(1, 10)):
        for k in range(forest.flat.size + 1):
            n_expected, expected = forest.components(k)
            n_got, got = _prefix_components(parent, k)
            assert n_got == n_expected and got.shape == (k,)
            assert len(set(zip(expected.tolist(), got.tolist(), strict=True))) == n_expected  # the same partition


def test_components_grown_from_a_shorter_prefix_equal_those_computed_afresh():
    """What a slider move down in t does (``state_at(t, previous=...)``): the labels and tops grown from any shorter
    prefix are exactly those of the whole-prefix pointer jumping, and the engine's states agree."""
    from LesionSegLogic.threshold.engine import _grown_components, _prefix_tops

    rng = np.random.default_rng(11)
    for trial, p, forest, parent in _random_forests(rng, 40, sizes=(2, 12)):
        n = forest.flat.size
        for _ in range(12):
            k0, k1 = sorted(int(v) for v in rng.integers(1, n + 1, 2))
            labels0, roots0 = _prefix_tops(parent, k0)
            grown, roots = _grown_components(parent, labels0, roots0, k1)
            fresh, fresh_roots = _prefix_tops(parent, k1)
            assert np.array_equal(grown, fresh) and np.array_equal(roots, fresh_roots), (trial, p.shape, k0, k1)
    ref = rng.random(p.shape) > 0.7
    engine = ThresholdEngine(p, (1.0, 1.0, 1.0), ref, "anima")
    for t0, t1 in ((0.9, 0.2), (0.6, 0.55), (0.5, 0.5)):
        grown_state = engine.state_at(t1, previous=engine.state_at(t0))
        assert engine.metrics_of(grown_state, t1) == engine.metrics_of(engine.state_at(t1), t1)
        assert np.array_equal(grown_state.labels, engine.state_at(t1).labels)


def test_prepare_does_the_pass_below_the_floor_ahead_and_at_hands_it_out_once():
    """``prepare`` (what a face runs in a worker thread) gives exactly the oracle's result, only below the floor,
    for the mode asked, and ``at`` uses it once (a second ``at`` computes again: independent volumes)."""
    p, ref = two_lesion_case()
    p = p + np.float32(0.001)
    engine = ThresholdEngine(p, (1.0, 1.0, 1.0), ref, "anima", floor=0.2)
    assert not engine.prepare(0.5) and not engine.is_prepared(0.5)  # above the floor: the forest serves it
    assert not engine.needs_full_pass(0.0005) and engine.needs_full_pass(0.05)  # below min(p): the whole grid
    assert engine.prepare(0.05, mode="voxel") and engine.is_prepared(0.05, "voxel")
    assert not engine.is_prepared(0.05, "lesion") and not engine.is_prepared(0.06, "voxel")
    first = engine.at(0.05, mode="voxel")
    assert not engine.is_prepared(0.05, "voxel")  # handed out
    assert_same(first, naive_at(engine.inputs, 0.05, mode="voxel"))
    second = engine.at(0.05, mode="voxel")
    assert_same(second, first) and second.mask is not first.mask
    live = engine.live("lesion")  # the slider's path takes the prepared result too
    engine.prepare(0.1)
    update, oracle = live.set(0.1), naive_at(engine.inputs, 0.1)
    assert not engine.is_prepared(0.1) and update.full and update.metrics == oracle.metrics
    assert np.array_equal(live.overlay, oracle.overlay) and np.array_equal(live.mask, oracle.mask)
    with pytest.raises(InputError):
        engine.prepare(0.1, mode="outline")
