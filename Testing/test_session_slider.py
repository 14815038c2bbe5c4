"""The threshold slider policy both faces bind (desktop ctkSliderWidget, web VSlider): live review while a drag
is under way (``preview_threshold``: no lesion rows or lesion table), the whole session synced (lesion table and
hidden prediction segment included) once the value settles — equal to a direct ``set_threshold``."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from LesionSegLib.slider import ThresholdSlider


class RecordingSession:
    """Records what the slider asks of the session."""

    def __init__(self, engine: Any = "engine") -> None:
        self.engine = engine
        self.state: Any = None
        self.calls: list[tuple[str, float | None]] = []

    def set_threshold(self, threshold: float, force: bool = False) -> str:
        self.calls.append(("set", threshold))
        self.state = f"state@{threshold}"
        return self.state

    def preview_threshold(self, threshold: float) -> str:
        self.calls.append(("preview", threshold))
        self.state = f"state@{threshold}"
        return self.state

    def sync_prediction(self) -> None:
        self.calls.append(("sync", None))


def test_a_desktop_drag_updates_live_and_syncs_once_on_release() -> None:
    session = RecordingSession()
    slider = ThresholdSlider(session)
    for value in (0.3, 0.35, 0.4):  # valueIsChanging while the handle moves
        assert slider.drag(value) == f"state@{value}"
        assert slider.dragging
    assert session.calls == [("preview", v) for v in (0.3, 0.35, 0.4)]  # live only: no rows, no table
    assert slider.settle(0.4) == "state@0.4"  # valueChanged on release
    assert not slider.dragging
    assert session.calls[-2:] == [("set", 0.4), ("sync", None)]
    assert session.calls.count(("sync", None)) == 1


def test_a_web_drag_between_start_and_end_syncs_only_at_the_end() -> None:
    session = RecordingSession()
    slider = ThresholdSlider(session)
    slider.start()
    for value in (0.5, 0.6, 0.7):
        slider.change(value)
    assert session.calls == [("preview", v) for v in (0.5, 0.6, 0.7)]
    slider.settle(0.7)
    assert session.calls[-1] == ("sync", None)
    slider.change(0.8)  # after the drag: a keyboard step settles at once
    assert session.calls[-2:] == [("set", 0.8), ("sync", None)]


def test_settle_without_a_value_syncs_the_current_threshold() -> None:
    session = RecordingSession()
    slider = ThresholdSlider(session)
    slider.drag(0.25)
    assert slider.settle() == "state@0.25"
    assert session.calls == [("preview", 0.25), ("sync", None)]


def test_without_a_probability_map_the_slider_does_nothing() -> None:
    session = RecordingSession(engine=None)
    slider = ThresholdSlider(session)
    assert slider.drag(0.3) is None and slider.change(0.4) is None and slider.settle(0.5) is None
    assert session.calls == []
    assert not slider.dragging


@pytest.mark.slicer
def test_hidden_prediction_is_stale_during_a_drag_and_current_once_settled() -> None:
    pytest.importorskip("slicer")
    from LesionSegLib.headless import make_scene
    from session_cases import make_case, start_session

    session, _ = start_session(make_scene(), make_case())
    slider = ThresholdSlider(session)
    before = session.prediction.labels
    for value in (0.2, 0.3, 0.75):
        state = slider.drag(value)
        assert np.array_equal(session.review.labels, state.overlay)  # the visible overlay is live
    assert not np.array_equal(before, state.mask)  # the drag changed the prediction...
    assert np.array_equal(session.prediction.labels, before)  # ...which waits for the release
    slider.settle(0.75)
    assert np.array_equal(session.prediction.labels.astype(bool), session.state.mask)


def changed_box(before: np.ndarray, after: np.ndarray) -> tuple[slice, ...] | None:
    zyx = np.nonzero(before != after)
    return None if zyx[0].size == 0 else tuple(slice(int(a.min()), int(a.max()) + 1) for a in zyx)


@pytest.mark.slicer
@pytest.mark.parametrize("seed", [0, 1])
def test_a_random_drag_keeps_segments_and_tables_equal_to_the_engine(seed: int) -> None:
    """Up and down, small steps and jumps, thresholds outside the engine's forest, overlay mode and matching rule
    switched mid-way: after every step the review labelmap (read back through MRML) is ``engine.at(t, mode)``'s
    overlay, ``changed_bbox`` is exactly the box of the labels that changed, the tables hold the engine's numbers,
    and after ``sync_prediction`` the prediction segment is the engine's mask."""
    pytest.importorskip("slicer")
    from LesionSegLib.headless import make_scene
    from LesionSegLib.segmentation import segment_mask
    from LesionSegLib.tables import read_metrics_table, table_column
    from session_cases import make_case, review_labels, start_session

    from LesionSegLogic.threshold import ThresholdEngine

    app = make_scene()
    case = make_case()
    session, flair_node = start_session(app, case)
    rng = np.random.default_rng(seed)
    t = 0.45
    engines, fulls = {}, []
    for step in range(24):
        kind = rng.choice(["step", "step", "step", "jump", "special"])
        t = float(np.clip(t + rng.uniform(-0.06, 0.06), 0, 1)) if kind == "step" else (
            float(rng.uniform(0, 1)) if kind == "jump" else float(rng.choice([0.0, 0.005, 1.0, 0.45])))
        if step == 8:
            session.set_mode("voxel")
            assert session.state.full  # the other mode's live view: the labelmap is rewritten whole
        if step == 16:
            session.set_rule("anima" if session.parameters.rule != "anima" else "hussein")
            assert session.state.full  # a new engine
        before = session.review.labels
        state = session.set_threshold(t)
        fulls.append(state.full)
        rule, mode = session.parameters.rule, session.parameters.mode
        if rule not in engines:
            engines[rule] = ThresholdEngine(session.flair.with_array(case[2]), reference=case[1], rule=rule)
        expected = engines[rule].at(t, mode=mode)
        labels = review_labels(session, flair_node, app.scene)
        assert np.array_equal(labels, expected.overlay), (step, t, mode, rule)
        box = changed_box(before, labels)
        if state.full:
            assert box is None or state.changed_bbox == tuple(slice(0, n) for n in labels.shape)
        else:
            assert state.changed_bbox == box, (step, t)
        assert np.array_equal(state.overlay, expected.overlay) and np.array_equal(state.mask, expected.mask)
        table = read_metrics_table(session.metrics_table)
        for group in ("voxel", "lesion"):
            for key, value in expected.metrics[group].items():
                assert np.isnan(table[group][key]) if value is None else table[group][key] == pytest.approx(value)
        assert table_column(session.lesion_table, "status") == [r.status or "" for r in expected.lesions]
        assert state.metrics == expected.metrics
        if step % 3 == 0:
            session.sync_prediction()
            prediction_id = session.prediction.segment_ids[1]
            mask = segment_mask(session.prediction.node, prediction_id, flair_node, app.scene)
            assert np.array_equal(mask, expected.mask), (step, t)
    assert session.parameters.mode == "voxel"
    assert fulls.count(False) >= 10  # slider moves write only what changed


@pytest.mark.slicer
def test_a_state_read_after_later_moves_is_never_stale() -> None:
    pytest.importorskip("slicer")
    from LesionSegLib.headless import make_scene
    from session_cases import make_case, start_session

    session, _ = start_session(make_scene(), make_case())
    early = session.set_threshold(0.2)
    copied = early.overlay  # read while current: a copy of the live buffer
    later = session.set_threshold(0.7)
    assert not np.array_equal(copied, later.overlay)
    assert np.array_equal(early.overlay, session.engine.at(0.2).overlay)
    unread = session.set_threshold(0.3)
    session.set_threshold(0.6)
    session.set_mode("voxel")
    current = session.set_threshold(0.65)
    assert np.array_equal(unread.mask, session.engine.at(0.3).mask)  # read after the buffers moved on
    assert np.array_equal(unread.overlay, session.engine.at(0.3, mode="lesion").overlay)
    assert unread.result.metrics == unread.metrics
    assert session.set_threshold(0.65) is current  # the same threshold again: nothing to do
    again = session.set_threshold(0.65, force=True)  # forced: the live step finds no voxel to change
    assert again.changed_bbox is None and not again.full
    assert np.array_equal(again.overlay, session.engine.at(0.65, mode="voxel").overlay)


@pytest.mark.slicer
def test_without_a_reference_the_prediction_follows_the_live_mask() -> None:
    pytest.importorskip("slicer")
    from LesionSegLib.headless import make_scene
    from LesionSegLib.nodes import add_volume_node
    from LesionSegLib.session import ReviewSession
    from session_cases import make_case

    app = make_scene()
    flair, _, probability = make_case()
    session = ReviewSession(app.scene)
    session.set_inputs(add_volume_node(app.scene, flair, "FLAIR"))
    session.load_probability(flair.with_array(probability), recommended_threshold=0.5)
    for t in (0.3, 0.35, 0.9, 0.0, 0.6, 0.59):
        before = session.prediction.labels
        state = session.set_threshold(t)
        assert np.array_equal(session.prediction.labels, probability.astype(np.float64) >= t)  # in double
        assert state.overlay is None
        if not state.full:
            assert state.changed_bbox == changed_box(before, session.prediction.labels)


def table_contents(table_node) -> dict[str, list]:
    from LesionSegLib.tables import LESION_TABLE_COLUMNS, table_column

    return {name: table_column(table_node, name) for name in LESION_TABLE_COLUMNS}


@pytest.mark.slicer
@pytest.mark.parametrize("path", [(0.5, 0.3, 0.08, 0.06, 0.2), (0.44, 0.04, 0.03, 0.7, 0.05)])
def test_a_drag_then_settle_gives_what_a_direct_set_threshold_gives(path: tuple[float, ...]) -> None:
    """The drag defers the lesion rows and table (``preview_threshold``); once settled, every table, the review
    labelmap and the prediction segment equal those of a second session moved straight to the final value. At the
    low thresholds of the path the noise of the map makes dozens of predicted lesions."""
    pytest.importorskip("slicer")
    from LesionSegLib.headless import make_scene
    from LesionSegLib.tables import lesion_rows, read_metrics_table
    from session_cases import make_case, start_session

    case = make_case()
    dragged, _ = start_session(make_scene(), case)
    direct, _ = start_session(make_scene(), case)
    slider = ThresholdSlider(dragged)
    before = table_contents(dragged.lesion_table)
    slider.start()
    for value in path:
        state = slider.change(value)
        assert not dragged.lesion_table_current
        assert table_contents(dragged.lesion_table) == before  # the table waits for the release...
        expected = dragged.engine.at(value).lesions  # ...while the rows stay exact when read
        assert state.lesions == tuple(lesion_rows(expected))
    assert max(len(dragged.engine.at(v).predicted()) for v in path) >= 20  # many lesions on the way
    slider.settle()
    direct.set_threshold(path[-1])
    direct.sync_prediction()
    assert dragged.lesion_table_current
    assert table_contents(dragged.lesion_table) == table_contents(direct.lesion_table)
    assert table_contents(dragged.lesion_table) != before
    assert read_metrics_table(dragged.metrics_table) == read_metrics_table(direct.metrics_table)
    assert np.array_equal(dragged.review.labels, direct.review.labels)
    assert np.array_equal(dragged.prediction.labels, direct.prediction.labels)
    assert dragged.state.lesions == direct.state.lesions and dragged.state.metrics == direct.state.metrics


@pytest.mark.slicer
def test_the_session_and_the_desktop_status_say_what_the_engine_bounded() -> None:
    """A map whose candidates exceed the engine's cap gets a raised floor; the session passes the engine's note on
    and the presenter's status shows it (with the measured cost once a threshold below the floor was shown)."""
    pytest.importorskip("slicer")
    from LesionSegLib.headless import make_scene
    from LesionSegLib.presenter import PanelPresenter
    from LesionSegLib.session import ReviewSession
    from LesionSegLib.widget_tests import FakeCard
    from session_cases import make_case, start_session

    from LesionSegLogic.threshold import ThresholdEngine

    flair, reference, probability = make_case()
    capped = lambda p, spacing, reference=None, rule="hussein": ThresholdEngine(  # noqa: E731
        p, spacing, reference=reference, rule=rule, max_candidates=probability.size // 4)
    bounded = ReviewSession(make_scene().scene, engine_factory=capped)
    bounded.set_inputs(flair)
    bounded.set_reference(flair.with_array(reference.astype(np.uint8)))
    bounded.load_probability(flair.with_array(probability), recommended_threshold=0.5)
    floor = bounded.engine.floor
    assert floor > 0.01 and f"below {floor:.2f}" in bounded.bound_note
    below = bounded.set_threshold(floor / 2)  # below the floor: exact (a whole-volume pass), timed
    assert "the last one took" in bounded.bound_note
    exact = ThresholdEngine(flair.with_array(probability), reference=reference, rule=bounded.parameters.rule)
    assert below.metrics == exact.at(floor / 2).metrics
    presenter = PanelPresenter([FakeCard("dice")], lambda parameters: bounded, lambda: True, lambda s, f: [], print)
    presenter._show(bounded, 0.5)
    assert presenter.view().bound_note == bounded.bound_note and bounded.bound_note in presenter.view().status
    plain, _ = start_session(make_scene(), (flair, reference, probability))
    assert plain.bound_note is None
