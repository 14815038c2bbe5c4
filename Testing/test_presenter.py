"""The panel's behaviour (``LesionSegLib.presenter``), Qt-free: what is shown and enabled in each state and what
every action does in every state, with the fake session/runner of the widget tests; then once over a real
``ReviewSession`` on slicer-core, so the presenter and the session cannot drift apart."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from LesionSegLib.parameters import MATCHING_RULES, OVERLAY_MODES, ReviewParameters
from LesionSegLib.presenter import (
    CANCELLED,
    NO_DEPENDENCIES,
    NO_MODEL,
    STATUS,
    PanelPresenter,
    PanelState,
    table_row,
)
from LesionSegLib.widget_tests import FakeCard, FakeResult, FakeSession

from LesionSegLogic.errors import InputError, LesionSegError


class Node:
    """A stand-in for an MRML node (the fakes only need an id)."""

    _ids = itertools.count(1)

    def __init__(self, class_name: str, name: str = "") -> None:
        self.class_name, self.name, self.id = class_name, name, f"{class_name}{next(self._ids)}"

    def GetID(self) -> str:  # MRML's name
        return self.id


class Scene:
    def AddNewNodeByClass(self, class_name: str, name: str = "") -> Node:  # MRML's name
        return Node(class_name, name)


class Harness:
    """A presenter with recording fakes; ``views`` holds every published view."""

    def __init__(self) -> None:
        self.scene = Scene()
        self.sessions: list[FakeSession] = []
        self.errors: list[str] = []
        self.exports: list[str] = []
        self.dependencies = True
        self.asked = 0
        self.presenter = PanelPresenter(
            [FakeCard("dice", recommended_threshold=0.35), FakeCard("tversky", "tversky", ("flair", "t2"), 0.2)],
            self.create_session, self.ensure, self.export, self.errors.append)
        self.views = []
        self.reviews = []
        self.presenter.changed.connect(self.views.append)
        self.presenter.review_started.connect(self.reviews.append)

    def create_session(self, parameters: ReviewParameters) -> FakeSession:
        self.sessions.append(FakeSession(self.scene, parameters))
        return self.sessions[-1]

    def ensure(self) -> bool:
        self.asked += 1
        return self.dependencies

    def export(self, session, folder):
        self.exports.append(folder)
        return ["metrics.csv", "mask.nii.gz", "review.seg.nrrd"]

    @property
    def view(self):
        return self.presenter.view()

    def ready(self):
        self.presenter.set_inputs(Node("vtkMRMLScalarVolumeNode", "FLAIR"))
        self.presenter.select_model("dice")

    def start(self):
        self.presenter.apply()
        return self.sessions[-1], self.sessions[-1].runner.jobs[-1]

    def review(self) -> FakeSession:
        self.ready()
        session, job = self.start()
        job.exit_code = 0
        assert self.presenter.poll() is False
        return session


@pytest.fixture
def h() -> Harness:
    return Harness()


def test_before_any_run_everything_is_disabled_and_every_action_is_harmless(h: Harness) -> None:
    view = h.view
    assert view.state is PanelState.IDLE and view.status == STATUS[PanelState.IDLE]
    assert not any((view.apply_enabled, view.load_probability_enabled, view.review_enabled, view.recommended_enabled,
                    view.accept_enabled, view.edit_enabled, view.rescore_prediction_enabled,
                    view.rescore_reference_enabled, view.export_enabled, view.progress_visible))
    presenter = h.presenter
    presenter.apply()
    presenter.cancel()
    assert presenter.poll() is False
    presenter.threshold_dragged(0.3)
    presenter.threshold_settled(0.4)
    presenter.lesion_clicked(0)
    presenter.rescore("prediction")
    presenter.load_probability("probability.nii.gz")
    assert presenter.recommended_threshold() is None
    assert presenter.accept() is None and presenter.edit() is None and presenter.export("/tmp/out") == ()
    for mode, rule in zip(OVERLAY_MODES, MATCHING_RULES, strict=False):
        presenter.set_mode(mode)
        presenter.set_rule(rule)
    assert h.sessions == [] and h.errors == [] and h.asked == 0
    assert presenter.state is PanelState.IDLE


def test_mode_and_rule_chosen_before_a_run_are_used_by_it_and_unknown_values_are_ignored(h: Harness) -> None:
    h.presenter.set_mode("voxel")
    h.presenter.set_rule("anima")
    h.presenter.set_mode("")  # what a combo box that is being refilled reports
    h.presenter.set_rule("no-such-rule")
    session = h.review()
    assert (session.parameters.mode, session.parameters.rule) == ("voxel", "anima")
    h.presenter.set_mode("lesion")
    h.presenter.set_rule("any-overlap")
    h.presenter.set_rule("any-overlap")  # unchanged: not sent again
    assert [c for c in session.calls if c[0] in ("set_mode", "set_rule")] == [
        ("set_mode", "lesion"), ("set_rule", "any-overlap")]


def test_ready_needs_a_model_and_shows_its_card(h: Harness) -> None:
    h.presenter.set_inputs(Node("vtkMRMLScalarVolumeNode"))
    assert h.view.state is PanelState.READY and h.view.status == NO_MODEL and not h.view.apply_enabled
    h.presenter.apply()
    assert h.sessions == [] and h.view.status == NO_MODEL
    h.presenter.select_model("tversky")
    view = h.view
    assert view.apply_enabled and view.load_probability_enabled and view.status == STATUS[PanelState.READY]
    assert view.model_info == "loss: tversky; inputs: flair, t2; recommended threshold: 0.20"


def test_apply_runs_then_cancel_cancels_and_apply_runs_again(h: Harness) -> None:
    h.ready()
    session, job = h.start()
    assert [c[0] for c in session.calls] == ["set_inputs", "inference_request"]
    assert session.calls[-1] == ("inference_request", "dice", "auto")
    view = h.view
    assert view.state is PanelState.RUNNING and view.apply_text == "Cancel" and view.apply_enabled
    assert not view.inputs_enabled and not view.load_probability_enabled and view.progress_visible
    job.fraction, job.lines = 0.42, ["predict 3/7 42%"]
    assert h.presenter.poll() is True
    assert (h.view.progress_percent, h.view.status) == (42, "predict 3/7 42%")
    h.presenter.apply()  # Apply while running = Cancel
    assert job.cancelled and h.view.state is PanelState.CANCELLING
    assert h.view.status == STATUS[PanelState.CANCELLING] and not h.view.apply_enabled
    h.presenter.apply()  # pressing again while cancelling does nothing
    assert len(h.sessions) == 1
    assert h.presenter.poll() is False
    assert h.view.state is PanelState.READY and h.view.status == CANCELLED and h.presenter.session is None
    session2, job2 = h.start()
    assert session2 is not session and not job2.cancelled and h.view.state is PanelState.RUNNING


def test_a_finished_run_opens_the_review_at_the_models_recommended_threshold(h: Harness) -> None:
    session = h.review()
    view = h.view
    assert view.state is PanelState.REVIEWING and h.reviews == [session]
    assert view.review_enabled and view.accept_enabled and view.edit_enabled and view.export_enabled
    assert view.recommended_enabled and view.recommended_text == "Recommended (0.35)"
    assert not view.rescore_prediction_enabled and not view.rescore_reference_enabled
    assert session.names()[-2:] == ["use_result", "set_threshold"]
    assert h.presenter.recommended_threshold() == pytest.approx(0.35)


def test_cancelled_or_failed_run_keeps_the_review_that_was_open(h: Harness) -> None:
    first = h.review()
    _, job = h.start()
    assert h.view.review_enabled  # the open review stays usable while the new run works
    h.presenter.cancel()
    h.presenter.poll()
    assert h.presenter.session is first and h.view.state is PanelState.REVIEWING and h.view.status == CANCELLED
    second, job = h.start()
    second.runner.error = LesionSegError("inference failed: out of memory")
    job.exit_code = 1
    h.presenter.poll()
    assert h.errors == ["inference failed: out of memory"] and h.view.status == "inference failed: out of memory"
    assert h.presenter.session is first


def test_bad_inputs_are_reported_and_nothing_starts(h: Harness) -> None:
    h.ready()

    def broken(parameters):
        session = FakeSession(h.scene, parameters)
        session.set_inputs = lambda *a, **k: (_ for _ in ()).throw(InputError("not a 3-D volume", "flair.nrrd"))
        return session

    h.presenter._create_session = broken
    h.presenter.apply()
    assert h.presenter.job is None and h.view.state is PanelState.READY
    assert h.errors == ["flair.nrrd: not a 3-D volume"]


def test_declined_dependencies_run_and_export_nothing(h: Harness) -> None:
    h.ready()
    h.dependencies = False
    h.presenter.apply()
    assert h.sessions == [] and h.view.status == NO_DEPENDENCIES
    h.dependencies = True
    h.review()
    h.dependencies = False
    assert h.presenter.export("/tmp/out") == () and h.exports == [] and h.view.status == NO_DEPENDENCIES


def test_slider_drags_live_and_settles_with_a_sync(h: Harness) -> None:
    session = h.review()
    session.calls.clear()
    h.presenter.threshold_dragged(0.5)
    h.presenter.threshold_dragged(0.6)
    h.presenter.threshold_settled(0.6)
    assert session.calls == [("set_threshold", 0.5), ("set_threshold", 0.6), ("set_threshold", 0.6),
                             ("sync_prediction",)]


def test_a_loaded_map_has_no_recommended_threshold(h: Harness) -> None:
    h.presenter.set_inputs(Node("vtkMRMLScalarVolumeNode"))
    h.presenter.load_probability("  ")
    assert h.sessions == [] and "probability map file" in h.view.status
    h.presenter.load_probability("/data/probability.nii.gz")
    assert h.sessions[-1].calls[-2] == ("load_probability", "/data/probability.nii.gz")
    view = h.view
    assert view.state is PanelState.REVIEWING and not view.recommended_enabled
    assert view.recommended_text == "Recommended" and h.presenter.recommended_threshold() is None


def test_lesion_click_accept_edit_rescore_export(h: Harness) -> None:
    session = h.review()
    h.presenter.lesion_clicked(1)
    h.presenter.lesion_clicked(7)  # a row that is not there: nothing
    assert [c for c in session.calls if c[0] == "jump_to_lesion"] == [("jump_to_lesion", 2, "reference")]
    h.presenter.rescore("reference")  # nothing accepted yet
    assert "rescore" not in session.names()
    segmentation, source = h.presenter.edit()
    assert segmentation is session.accepted_node and source is session.flair_node
    assert h.view.state is PanelState.ACCEPTED and h.view.rescore_reference_enabled
    assert not h.view.rescore_prediction_enabled  # scoring an edited prediction needs a reference
    h.presenter.edit()
    assert session.names().count("accept") == 1
    h.presenter.rescore("reference")
    assert session.calls[-1] == ("rescore", "reference")
    assert h.presenter.export("") == () and "output folder" in h.view.status
    assert len(h.presenter.export("/tmp/out")) == 3 and h.view.status == "Exported 3 files to /tmp/out"


def test_table_view_rows_map_to_table_node_rows_as_qmrmltablemodel_does() -> None:
    """qMRMLTableModel::mrmlTableRowIndex: without column titles as header, model row 0 shows the names."""
    assert [table_row(r, False) for r in range(3)] == [-1, 0, 1]
    assert [table_row(r, True) for r in range(3)] == [0, 1, 2]


def test_a_reference_picked_during_the_review_rescores_it(h: Harness) -> None:
    session = h.review()
    flair = h.presenter.inputs.flair
    reference = Node("vtkMRMLSegmentationNode")
    h.presenter.set_inputs(flair, reference=reference)
    h.presenter.set_inputs(flair, reference=reference)  # the same pick again: not re-scored
    assert [c for c in session.calls if c[0] == "set_reference"] == [("set_reference", reference)]
    assert h.view.state is PanelState.REVIEWING


def test_session_errors_are_reported_not_raised(h: Harness) -> None:
    session = h.review()

    def fail(*_args):
        raise InputError("no predicted lesion with id 9 at the current threshold")

    session.jump_to_lesion = fail
    session.set_threshold = fail
    h.presenter.lesion_clicked(0)
    h.presenter.threshold_dragged(0.2)
    assert len(h.errors) == 2 and h.view.status.startswith("no predicted lesion")


def test_scene_close_stops_the_run_and_forgets_everything(h: Harness) -> None:
    h.review()
    _, job = h.start()
    h.presenter.scene_closed()
    assert job.cancelled and h.presenter.job is None and h.presenter.session is None
    assert h.view.state is PanelState.IDLE and not h.view.review_enabled
    h.presenter.poll()
    assert h.errors == []


# ---------------------------------------------------------------------------------------------- real session
@pytest.mark.slicer
def test_presenter_drives_a_real_review_session() -> None:
    pytest.importorskip("slicer")
    from LesionSegLib.headless import make_scene
    from LesionSegLib.nodes import add_volume_node
    from LesionSegLib.runner import InferenceResult
    from LesionSegLib.session import ReviewSession
    from LesionSegLib.widget_tests import FakeJob

    from LesionSegLogic.image import Image

    shape = (12, 16, 14)
    zz, yy, xx = np.indices(shape)
    blob = lambda z, y, x: np.exp(-((zz - z) ** 2 + (yy - y) ** 2 + (xx - x) ** 2) / 4.0)  # noqa: E731
    probability = np.clip(blob(4, 5, 5) + 0.6 * blob(8, 11, 9), 0, 1).astype(np.float32)
    reference = (blob(4, 5, 5) > 0.3) | (blob(8, 4, 10) > 0.3)
    flair = Image((100 + 80 * probability).astype(np.float32), (2.0, 1.5, 1.5), (0.0, 0.0, 0.0), np.eye(3), "flair")
    headless = make_scene()

    class Runner:
        def start(self, request, progress=None):
            return FakeJob(exit_code=0)

        def finish(self, job, request):
            return InferenceResult(request.flair.with_array(probability), 0.4, request.model.spec)

    def create_session(parameters):
        return ReviewSession(headless.scene, runner=Runner(), parameters=parameters)

    presenter = PanelPresenter([FakeCard("dice")], create_session, lambda: True, lambda s, f: [], print)
    presenter.set_rule("anima")
    flair_node = add_volume_node(headless.scene, flair, "FLAIR")
    reference_node = add_volume_node(headless.scene, flair.with_array(reference.astype(np.uint8)), "ref", True)
    presenter.set_inputs(flair_node, reference=reference_node)
    presenter.select_model("dice")
    presenter.apply()
    assert presenter.poll() is False
    session = presenter.session
    assert presenter.state is PanelState.REVIEWING and session.parameters.rule == "anima"
    assert session.threshold == pytest.approx(0.4) and presenter.recommended == pytest.approx(0.4)
    presenter.threshold_dragged(0.2)
    presenter.threshold_settled(0.7)
    assert session.threshold == pytest.approx(0.7)
    assert session.metrics["lesion"]["n_reference"] == 2
    presenter.set_mode("voxel")
    assert session.parameters.mode == "voxel" and session.state.mode == "voxel"
    presenter.lesion_clicked(0)
    segmentation, source = presenter.edit()
    assert segmentation.IsA("vtkMRMLSegmentationNode") and source is flair_node
    assert presenter.view().rescore_prediction_enabled
    presenter.rescore("prediction")
    assert presenter.state is PanelState.ACCEPTED


def test_a_map_from_lesionseg_predict_opens_at_the_threshold_its_model_recommended(h: Harness, tmp_path) -> None:
    """The desktop face applies the one threshold policy (LesionSegLogic.defaults): the summary.json beside a
    map from `lesionseg predict` gives the threshold, "Recommended" is enabled, and the status says so."""
    import json

    (tmp_path / "summary.json").write_text(json.dumps(
        {"model": {"name": "dice", "recommended_threshold": 0.8}, "settings": {"threshold": 0.8}}))
    h.presenter.set_inputs(Node("vtkMRMLScalarVolumeNode"))
    h.presenter.load_probability(str(tmp_path / "probability.nii.gz"))
    session = h.sessions[-1]
    assert session.recommended_threshold == pytest.approx(0.8)
    view = h.view
    assert view.recommended_enabled and view.recommended_text == "Recommended (0.80)"
    assert "model dice's recommended threshold" in view.status
    # the same file name without a summary beside it: the fallback, said in words, and no "recommended"
    other = tmp_path / "other"
    other.mkdir()
    h.presenter.load_probability(str(other / "probability.nii.gz"))
    assert h.sessions[-1].recommended_threshold == pytest.approx(0.5)
    assert not h.view.recommended_enabled and "fallback" in h.view.status


def test_a_runs_warnings_are_shown_not_swallowed(h: Harness) -> None:
    h.ready()
    session, job = h.start()
    session.runner.result = FakeResult(details={"warnings": ["image looks like a spinal cord; model is brain"]})
    job.exit_code = 0
    h.presenter.poll()
    assert h.view.state is PanelState.REVIEWING
    assert h.view.status.startswith("Warning:") and "spinal cord" in h.view.status
