"""The live path (``engine.live``): persistent buffers == naive oracle along any threshold sequence, exact
change reports, and the contract that ``engine.at`` results and kept updates are never mutated underneath."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from threshold_cases import assert_same, cases, two_lesion_case

from LesionSegLogic.errors import InputError
from LesionSegLogic.metrics.rules import MatchingRule
from LesionSegLogic.threshold import (
    OVERLAY_FN,
    OVERLAY_FP,
    OVERLAY_TP,
    LiveView,
    StaleLiveViewError,
    ThresholdEngine,
)
from LesionSegLogic.threshold.naive import naive_at


@st.composite
def sequences(draw):
    """A case of ``cases()`` and a threshold walk: small steps, jumps, exact repeats, the grid minimum, 0 and 1."""
    p, ref, rule, spacing, floor, thresholds = draw(cases())
    walk = [draw(st.floats(0.0, 1.0))]
    for _ in range(draw(st.integers(1, 14))):
        kind = draw(st.sampled_from(("step", "step", "jump", "repeat", "special")))
        if kind == "step":
            walk.append(float(np.clip(walk[-1] + draw(st.floats(-0.05, 0.05)), 0.0, 1.0)))
        elif kind == "jump":
            walk.append(draw(st.floats(0.0, 1.0)))
        elif kind == "repeat":
            walk.append(walk[-1])
        else:
            walk.append(draw(st.sampled_from((0.0, 1.0, float(p.min()), *thresholds))))
    return p, ref, rule, spacing, floor, walk


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(sequences(), st.sampled_from(("lesion", "voxel")))
def test_live_path_equals_oracle_along_any_threshold_sequence(case, mode):
    p, ref, rule, spacing, floor, walk = case
    engine = ThresholdEngine(p, spacing, ref, rule, floor=floor, origin=(3.0, -2.0, 1.0))
    live = engine.live(mode)
    previous_mask = np.zeros(p.shape, bool)
    previous_overlay = naive_at(engine.inputs, 1.5, mode=mode).overlay  # empty mask: the initial buffers
    assert np.array_equal(live.mask, previous_mask) and np.array_equal(live.overlay, previous_overlay)
    for t in walk:
        update = live.set(t)
        oracle = naive_at(engine.inputs, t, mode=mode)
        assert_same(update, oracle)
        assert update.metrics == engine.at(t, mode=mode).metrics
        expected = np.flatnonzero((oracle.mask != previous_mask).ravel() | (oracle.overlay != previous_overlay).ravel())
        assert np.array_equal(update.changed, expected)
        if expected.size:
            box = np.zeros(p.shape, bool)
            box[update.bbox] = True
            assert box.ravel()[expected].all()
            assert [(s.start, s.stop) for s in update.bbox] == [
                (int(a.min()), int(a.max()) + 1) for a in np.unravel_index(expected, p.shape)
            ]
        else:
            assert update.bbox is None
        in_forest = t > engine.p_min and t >= engine.floor
        if not in_forest:
            assert update.full
        previous_mask, previous_overlay = oracle.mask, oracle.overlay


def missed_half_case():
    """Lesion 2 of :func:`two_lesion_case` with only half its voxels confident: detected once they enter."""
    p, ref = two_lesion_case()
    p[5:7, 6:8, 8] = 0.05  # lesion 2: four voxels at 0.3, four at 0.05
    return p, ref


def flat_of(block: np.ndarray) -> np.ndarray:
    return np.flatnonzero(block.ravel())


def test_changes_are_exactly_the_voxels_that_moved_or_changed_status():
    p, ref = missed_half_case()
    engine = ThresholdEngine(p, (1.0, 1.0, 1.0), ref, "hussein")
    live = engine.live()
    assert live.set(0.7).metrics["lesion"]["fn"] == 1
    fp_lesion = np.zeros(p.shape, bool)
    fp_lesion[0, 8:10, 0:2] = True
    update = live.set(0.5)  # only the false-positive lesion enters
    assert np.array_equal(update.changed, flat_of(fp_lesion))
    assert update.bbox == (slice(0, 1), slice(8, 10), slice(0, 2)) and not update.full
    assert (live.overlay[fp_lesion] == OVERLAY_FP).all()

    update = live.set(0.25)  # half of lesion 2 enters, which detects it: its other half stops being FN
    lesion2 = np.zeros(p.shape, bool)
    lesion2[5:7, 6:8, 8:10] = True
    entering = lesion2 & (p >= 0.25)
    assert np.array_equal(update.changed, flat_of(lesion2))
    assert (live.overlay[entering] == OVERLAY_TP).all() and (live.overlay[lesion2 & ~entering] == 0).all()
    assert np.array_equal(live.mask, p >= 0.25)

    assert live.set(0.25).changed.size == 0 and live.set(0.26).bbox is None  # same prefix: nothing to write
    update = live.set(0.6)  # back up: lesion 2 leaves (FN again), the FP lesion stays
    assert np.array_equal(update.changed, flat_of(lesion2))
    assert (live.overlay[lesion2] == OVERLAY_FN).all()
    assert_same(update, naive_at(engine.inputs, 0.6))


def test_voxels_whose_value_stays_are_not_reported():
    ref = np.zeros((4, 4, 8), bool)
    ref[1:3, 1:3, 1:3] = True  # one lesion of 8 voxels, detected once half of it is predicted
    p = np.zeros(ref.shape)
    p[1, 1, 1:3] = 0.9  # a true predicted lesion covering a quarter of it: the lesion is missed
    p[1, 1, 3:7], p[2, 1, 3:5] = 0.4, 0.4  # six voxels outside: at 0.3 they join it and make it false
    rule = MatchingRule(connectivity=6, alpha=0.5, alpha_inclusive=True, beta=1.0, gamma=1.0)
    live = ThresholdEngine(p, (1.0, 1.0, 1.0), ref, rule).live()
    update = live.set(0.5)
    assert update.metrics["lesion"]["tp_predicted"] == 1 and update.metrics["lesion"]["fn"] == 1
    assert np.array_equal(live.overlay == OVERLAY_FN, ref) and not (live.overlay == OVERLAY_TP).any()  # FN on top
    update = live.set(0.3)  # the predicted lesion turns FP; its two voxels inside the missed lesion stay FN
    assert update.metrics["lesion"]["fp"] == 1 and update.metrics["lesion"]["fn"] == 1
    assert np.array_equal(live.overlay == OVERLAY_FN, ref) and np.count_nonzero(live.overlay == OVERLAY_FP) == 6
    assert np.array_equal(update.changed, flat_of(p == 0.4))  # the entering voxels only


def test_voxel_mode_rewrites_only_the_entering_slice():
    p, ref = missed_half_case()
    live = ThresholdEngine(p, (1.0, 1.0, 1.0), ref).live("voxel")
    assert np.array_equal(live.overlay == OVERLAY_FN, ref)  # empty mask before the first set
    live.set(0.95)
    update = live.set(0.25)
    assert np.array_equal(update.changed, flat_of((p >= 0.25) & (p < 0.95)))


def test_at_results_and_kept_updates_are_never_mutated():
    p, ref = missed_half_case()
    engine = ThresholdEngine(p, (1.0, 1.0, 1.0), ref)
    kept = engine.at(0.5)
    mask, overlay = kept.mask.copy(), kept.overlay.copy()
    live = engine.live()
    first = live.set(0.5)
    metrics, lesions = first.metrics, first.lesions
    buffers = live.mask, live.overlay
    second = live.set(0.04)
    assert not np.shares_memory(kept.overlay, live.overlay) and not np.shares_memory(kept.mask, live.mask)
    assert np.array_equal(kept.mask, mask) and np.array_equal(kept.overlay, overlay)
    assert first.metrics is metrics and metrics == engine.at(0.5).metrics  # caller's dictionary untouched
    assert lesions == engine.at(0.5).lesions and second.lesions == engine.at(0.04).lesions
    with pytest.raises(StaleLiveViewError):
        _ = first.overlay
    with pytest.raises(StaleLiveViewError):
        _ = first.mask
    assert second.overlay is live.overlay
    assert np.shares_memory(buffers[0], live.mask) and np.shares_memory(buffers[1], live.overlay)  # persistent
    with pytest.raises(ValueError):
        live.overlay[0, 0, 0] = OVERLAY_TP  # read-only views: only the engine writes the buffers
    with pytest.raises(ValueError):
        second.mask[...] = True


def test_outside_the_forest_and_back():
    p, ref = two_lesion_case()
    p = p + np.float32(0.001)  # min(p) > 0
    engine = ThresholdEngine(p, (1.0, 1.0, 1.0), ref, "anima", floor=0.2)
    live = engine.live()
    for t, full in ((0.5, False), (0.05, True), (0.0, True), (0.001, True), (0.5, True), (0.25, False)):
        update = live.set(t)
        assert update.full is full
        assert_same(update, naive_at(engine.inputs, t))


def test_without_reference_and_bad_arguments():
    p, _ = two_lesion_case()
    engine = ThresholdEngine(p, (1.0, 1.0, 1.0))
    for mode in ("lesion", "voxel"):
        live = engine.live(mode)
        for t in (0.7, 0.2, 0.95, 0.0):
            assert_same(live.set(t), naive_at(engine.inputs, t, mode=mode))
    assert isinstance(engine.live(), LiveView)
    with pytest.raises(InputError):
        engine.live("nope")
    with pytest.raises(InputError):
        engine.live().set(float("nan"))


class PublicOnly:
    """An engine seen through its public attributes only: reaching for a private one fails."""

    def __init__(self, engine: ThresholdEngine) -> None:
        self.__dict__["wrapped"] = engine

    def __getattr__(self, name: str):
        if name.startswith("_"):
            raise AttributeError(f"the live view reached for the engine's private {name!r}")
        return getattr(self.__dict__["wrapped"], name)


@pytest.mark.parametrize("mode", ["lesion", "voxel"])
def test_the_live_view_needs_only_the_engines_public_interface(mode):
    p, ref = missed_half_case()
    engine = ThresholdEngine(p, (1.0, 1.0, 1.0), ref, "anima", floor=0.2)
    live = LiveView(PublicOnly(engine), mode)
    for t in (0.5, 0.25, 0.05, 0.95, 0.3, 0.0, 0.3):
        update = live.set(t)
        assert_same(update, engine.at(t, mode=mode))
