"""The web page's saved reviews, notes and report in-process (no browser): Save review → change everything → Open
review gives back threshold, rule, mode, accepted outline and notes; a review naming a file outside the allowed
folders is refused unread; Export report writes the HTML."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("slicer")
pytest.importorskip("trame_slicer")

from LesionSegLib.saved_review import numbered
from LesionSegLib.segmentation import merged_mask
from view_pixels import rendered_rgb
from web_apps import FakeModel, case_folders, fake_model_app, set_state
from web_cases import synthetic_case, write_case

from LesionSegLogic.review_file import REVIEW_FILE

pytestmark = pytest.mark.slicer


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    return case_folders(tmp_path_factory.mktemp("web-review"))


@pytest.fixture(scope="module")
def model() -> FakeModel:
    return FakeModel()


@pytest.fixture(scope="module")
def web(folders, model):
    """The state tests' app (web_apps.fake_model_app): a case folder, a fake model."""
    return fake_model_app(folders, model)


def snapshot(app) -> dict:
    s, session = app.server.state, app.session
    return {"threshold": session.threshold, "rule": s.rule, "mode": s.mode, "summary": s.summary,
            "lesions": [(r["kind"], r["status"], r["volume"]) for r in s.lesions], "accepted": s.accepted}


def test_save_then_open_gives_the_review_back_with_its_notes(web, folders) -> None:
    state, folders_ = web.server.state, web.binding.folders
    web.binding.open_case(str(folders["case"]))
    set_state(web, rule="any-overlap")
    set_state(web, mode="voxel", threshold=0.33)
    web.binding.accept()
    missed = next(r for r in state.lesions if r["status"] == "FN")
    web.binding.lesion_table.open(missed["id"], missed["kind"])
    folders_.set_note(state.lesion_focus, "confirmed <b>")
    assert state.lesion_notes == {missed["key"]: "confirmed <b>"} and state.notes_count == 1
    before = snapshot(web)
    assert folders_.save(), state.message
    saved = Path(state.saved_review)
    assert saved.parent == Path(state.export_dir) and (saved / REVIEW_FILE).is_file()

    set_state(web, rule="hussein")
    set_state(web, mode="lesion", threshold=0.71)
    assert web.binding.open_case(str(folders["case"])), state.message  # again: no accepted outline, no notes
    assert state.accepted == "" and state.notes_count == 0 and snapshot(web) != before

    set_state(web, path_review=str(saved))
    assert folders_.open(), state.message
    assert snapshot(web) == before
    assert "Opened the saved review" in state.message and "1 notes" in state.message
    assert state.lesion_notes == {missed["key"]: "confirmed <b>"}
    session = web.session
    assert merged_mask(session.accepted_node, session.flair_node, session.scene).any()


def test_a_saved_review_naming_a_file_outside_the_allowed_folders_is_refused_unread(web, folders, tmp_path) -> None:
    state = web.server.state
    web.binding.open_case(str(folders["case"]))
    assert web.binding.folders.save()
    saved = Path(state.saved_review)
    outside = write_case(tmp_path / "elsewhere")
    document = json.loads((saved / REVIEW_FILE).read_text())
    document["files"]["flair"]["path"] = str(outside / "flair.nii.gz")
    (saved / REVIEW_FILE).write_text(json.dumps(document))
    set_state(web, threshold=0.6)
    before = snapshot(web)
    assert not web.binding.folders.open(str(saved))
    assert state.message_kind == "error" and "outside the folders this app may read" in state.message
    assert snapshot(web) == before
    assert not web.binding.folders.open(str(tmp_path))  # the folder itself is not allowed either
    assert "outside" in state.message


def test_export_report_writes_a_new_html_file_each_time(web, folders) -> None:
    state = web.server.state
    web.binding.open_case(str(folders["case"]))
    assert web.binding.folders.export_report(), state.message
    first = Path(state.report_file)
    assert web.binding.folders.export_report()
    second = Path(state.report_file)
    assert first != second and first.name.startswith("report-") and second.suffix == ".html"
    text = second.read_text(encoding="utf-8")
    assert all(f'<section id="{s}">' in text for s in ("summary", "lesions", "provenance"))
    assert numbered(first.parent, "report", ".html") not in (first, second)


def test_a_note_for_a_lesion_that_is_not_there_is_refused(web, folders) -> None:
    web.binding.open_case(str(folders["case"]))
    web.binding.folders.set_note("predicted:9999", "artefact")
    assert web.server.state.message_kind == "error" and "no predicted lesion 9999" in web.server.state.message


# ---------------------------------------------------------------------------------------------- side by side
def centre_colour(view) -> np.ndarray:
    """The mean RGB of the 4 × 4 pixels at the centre of a slice view rendered at 240 × 240."""
    view.render_window().SetSize(240, 240)
    view.interactor().InvokeEvent("WindowResizeEvent")
    pixels = rendered_rgb(view)[::-1]
    return pixels[118:122, 118:122].reshape(-1, 3).mean(axis=0)


def test_two_maps_side_by_side_with_their_own_sliders_and_linked_views(web, folders) -> None:
    from LesionSegLib.segmentation import segment_mask

    from LesionSegLogic.io import read_image, write_image
    from LesionSegLogic.threshold import ThresholdEngine
    from LesionSegWeb.compare import COMPARE_VIEW, MAIN_AXIAL_VIEW, SESSION_NAME

    state, compare, scene = web.server.state, web.binding.compare, web.session.scene
    assert web.binding.open_case(str(folders["case"])), state.message
    a_map = read_image(folders["case"] / "probability.nii.gz", role="probability")
    write_image(a_map.with_array(a_map.array ** 2), folders["case"] / "probability_b.nii.gz")  # a sharper "loss"
    volumes_before = scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode")
    set_state(web, threshold=0.3)
    assert compare.start(str(folders["case"] / "probability_b.nii.gz")), state.message
    b = compare.session
    assert state.comparing and b.flair_node is web.session.flair_node  # the same image node, not a copy
    assert scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode") == volumes_before + 1  # only map B is new
    set_state(web, threshold_b=0.12)
    assert b.threshold == pytest.approx(0.12) and web.session.threshold == pytest.approx(0.3)  # B alone moved
    set_state(web, threshold=0.55)
    assert web.session.threshold == pytest.approx(0.55) and b.threshold == pytest.approx(0.12)  # A alone moved
    engine = ThresholdEngine(a_map.array ** 2, a_map.spacing, reference=web.session.reference,
                             rule=web.session.parameters.rule)
    rows = {row["key"]: row for row in state.compare_rows}
    expected_b = engine.at(0.12).metrics
    assert rows["lesion.fn"]["b"] == str(expected_b["lesion"]["fn"])
    assert rows["lesion.fn"]["a"] == str(web.session.metrics["lesion"]["fn"])
    # B's overlay only in B's view, A's everywhere else
    compare_id = scene.GetSingletonNode(COMPARE_VIEW, "vtkMRMLSliceNode").GetID()
    b_display = b.review.node.GetDisplayNode()
    a_display = web.session.review.node.GetDisplayNode()
    assert [b_display.GetNthViewNodeID(i) for i in range(b_display.GetNumberOfViewNodeIDs())] == [compare_id]
    a_views = [a_display.GetNthViewNodeID(i) for i in range(a_display.GetNumberOfViewNodeIDs())]
    assert compare_id not in a_views and a_views
    assert segment_mask(b.review.node, b.review.segment_ids[1], b.flair_node, scene).sum() == \
        (engine.at(0.12, mode=b.parameters.mode).overlay == 1).sum()
    # on screen: the same lesion at the same threshold has the same colour in both views (B over the FLAIR too)
    set_state(web, threshold_b=web.session.threshold)
    missed = next(r for r in web.session.lesions if r.status == "FN")
    web.binding.jump(missed.id, missed.kind)
    left_colour, right_colour = (centre_colour(web.slicer_app.view_manager.get_view(tag))
                                 for tag in (MAIN_AXIAL_VIEW, COMPARE_VIEW))
    assert right_colour[2] > 200 and np.allclose(left_colour, right_colour, atol=2)
    # the axial views are linked
    left = scene.GetSingletonNode(MAIN_AXIAL_VIEW, "vtkMRMLSliceNode")
    right = scene.GetSingletonNode(COMPARE_VIEW, "vtkMRMLSliceNode")
    left.SetSliceOffset(left.GetSliceOffset() + 4.0)
    assert right.GetSliceOffset() == pytest.approx(left.GetSliceOffset())
    right.SetFieldOfView(50.0, 50.0, 1.0)
    assert left.GetFieldOfView()[0] == pytest.approx(50.0)
    compare.stop()
    assert not state.comparing and scene.GetNumberOfNodesByClass("vtkMRMLScalarVolumeNode") == volumes_before
    assert not any((scene.GetNthNode(i).GetName() or "").startswith(SESSION_NAME + " ")
                   for i in range(scene.GetNumberOfNodes()))
    assert a_display.GetNumberOfViewNodeIDs() == 0  # A in every view again


def test_compare_refuses_a_map_outside_the_allowed_folders_or_on_another_grid(web, folders, tmp_path) -> None:
    from LesionSegLogic.image import Image
    from LesionSegLogic.io import write_image

    state, compare = web.server.state, web.binding.compare
    assert web.binding.open_case(str(folders["case"]))
    outside = write_case(tmp_path / "other") / "probability.nii.gz"
    assert not compare.start(str(outside)) and "outside the folders" in state.message and not state.comparing
    flair, _, probability = synthetic_case()
    small = Image(probability[:, :, :20].copy(), flair.spacing, flair.origin, flair.direction, "small")
    write_image(small, folders["case"] / "probability_small.nii.gz")
    assert not compare.start(str(folders["case"] / "probability_small.nii.gz"))
    assert "grid" in state.message and not state.comparing


def test_a_model_run_becomes_map_b_and_map_a_stays(web, folders, model) -> None:
    import asyncio

    state, compare = web.server.state, web.binding.compare
    assert web.binding.open_case(str(folders["case"]))
    set_state(web, threshold=0.62)
    before = (web.session.threshold, state.summary, web.session.probability)
    assert asyncio.run(compare.run_model()) is False and "choose the model for map B" in state.message
    set_state(web, compare_model="fake-model")
    model.release.set()  # the fake model returns at once
    assert asyncio.run(compare.run_model()), state.message
    b = compare.session
    assert state.comparing and state.compare_name == "fake-model" and not state.compare_running
    assert b.threshold == pytest.approx(0.4)  # the model's recommended threshold
    assert np.array_equal(b.probability.array, synthetic_case()[2])
    assert (web.session.threshold, state.summary, web.session.probability) == before  # map A untouched
    set_state(web, compare_model="no-such-model")  # refused by the one validator, the choice stays
    assert state.compare_model == "fake-model" and state.message_kind == "error"
    compare.stop()


def test_a_review_saved_in_the_page_opens_in_the_desktop_panel(web, folders) -> None:
    """One format for both faces: the page saves, the desktop presenter (over its own scene) reopens."""
    from LesionSegLib.headless import make_scene
    from LesionSegLib.presenter import PanelPresenter
    from LesionSegLib.session import ReviewSession
    from LesionSegLib.widget_tests import FakeCard

    state = web.server.state
    assert web.binding.open_case(str(folders["case"]))
    set_state(web, threshold=0.44)
    row = next(r for r in state.lesions if r["kind"] == "reference")
    web.binding.lesion_table.open(row["id"], row["kind"])
    web.binding.folders.set_note(state.lesion_focus, "new")
    assert web.binding.folders.save()
    scene = make_scene().scene
    panel = PanelPresenter([FakeCard("dice")], lambda parameters: ReviewSession(scene, parameters=parameters),
                           lambda: True, lambda s, f: [], print)
    assert panel.open_review(state.saved_review), panel.view().status
    assert panel.session.threshold == pytest.approx(0.44) and panel.notes.by_key == web.binding.folders.notes.by_key
    assert panel.session.metrics["lesion"] == web.session.metrics["lesion"]
