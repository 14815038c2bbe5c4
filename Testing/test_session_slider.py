"""The threshold slider policy both faces bind (desktop ctkSliderWidget, web VSlider): live review while a drag
is under way, the whole session synced (hidden prediction segment included) once the value settles."""

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

    def sync_prediction(self) -> None:
        self.calls.append(("sync", None))


def test_a_desktop_drag_updates_live_and_syncs_once_on_release() -> None:
    session = RecordingSession()
    slider = ThresholdSlider(session)
    for value in (0.3, 0.35, 0.4):  # valueIsChanging while the handle moves
        assert slider.drag(value) == f"state@{value}"
        assert slider.dragging
    assert ("sync", None) not in session.calls
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
    assert [c for c in session.calls if c[0] == "sync"] == []
    slider.settle(0.7)
    assert session.calls[-1] == ("sync", None)
    slider.change(0.8)  # after the drag: a keyboard step settles at once
    assert session.calls[-2:] == [("set", 0.8), ("sync", None)]


def test_settle_without_a_value_syncs_the_current_threshold() -> None:
    session = RecordingSession()
    slider = ThresholdSlider(session)
    slider.drag(0.25)
    assert slider.settle() == "state@0.25"
    assert session.calls == [("set", 0.25), ("sync", None)]


def test_without_a_probability_map_the_slider_does_nothing() -> None:
    session = RecordingSession(engine=None)
    slider = ThresholdSlider(session)
    assert slider.drag(0.3) is None and slider.change(0.4) is None and slider.settle(0.5) is None
    assert session.calls == []
    assert not slider.dragging


@pytest.mark.slicer
def test_hidden_prediction_is_stale_during_a_drag_and_current_once_settled() -> None:
    pytest.importorskip("slicer")
    from LesionSegLib.headless import make_scene  # noqa: PLC0415
    from test_session_workflow import make_case, start_session  # noqa: PLC0415

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
