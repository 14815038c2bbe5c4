"""Saved reviews (issue 16): save → reopen gives the same threshold, rule, mode, edits, notes and metrics, on real
MRML (slicer-core); a changed input is refused with one line naming it and the open review stays."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

slicer = pytest.importorskip("slicer")

from LesionSegLib.headless import make_scene  # noqa: E402
from LesionSegLib.parameters import ModelChoice, ReviewParameters  # noqa: E402
from LesionSegLib.runner import InferenceResult, InProcessRunner  # noqa: E402
from LesionSegLib.saved_review import lesion_keys, open_review, save_review  # noqa: E402
from LesionSegLib.segmentation import merged_mask  # noqa: E402
from LesionSegLib.session import ReviewSession  # noqa: E402
from web_cases import synthetic_case, write_case  # noqa: E402

from LesionSegLogic.errors import FileMissingError, OutputError  # noqa: E402
from LesionSegLogic.io import write_image  # noqa: E402
from LesionSegLogic.lesion_notes import lesion_key, parse_key  # noqa: E402
from LesionSegLogic.provenance import file_sha256  # noqa: E402
from LesionSegLogic.review_file import REVIEW_FORMAT_VERSION, ReviewFileError, read_review  # noqa: E402

pytestmark = pytest.mark.slicer


def new_session(parameters: ReviewParameters | None = None, runner=None) -> ReviewSession:
    return ReviewSession(make_scene().scene, parameters=parameters, runner=runner)


def opened(case: Path, **parameters) -> ReviewSession:
    session = new_session(ReviewParameters(**parameters))
    session.set_inputs(str(case / "flair.nii.gz"))
    session.set_reference(str(case / "lesions.nii.gz"))
    session.load_probability(str(case / "probability.nii.gz"), 0.4)
    return session


def same_review(a: ReviewSession, b: ReviewSession) -> None:
    assert b.threshold == a.threshold
    assert (b.parameters.rule, b.parameters.mode) == (a.parameters.rule, a.parameters.mode)
    assert b.metrics["lesion"] == a.metrics["lesion"] and b.metrics["voxel"] == a.metrics["voxel"]
    assert [(r.kind, r.status, r.volume_mm3) for r in b.lesions] == [(r.kind, r.status, r.volume_mm3)
                                                                      for r in a.lesions]
    assert np.array_equal(b.state.overlay, a.state.overlay)


def test_a_review_from_files_reopens_exactly_with_edits_and_notes(tmp_path) -> None:
    case = write_case(tmp_path / "case")
    before = {p.name: file_sha256(p) for p in case.iterdir()}
    session = opened(case, rule="any-overlap", mode="voxel")
    session.set_threshold(0.37)
    accepted = session.accept("my edit")
    edited = merged_mask(accepted, session.flair_node, session.scene)
    edited[2:5, 2:6, 2:6] = True  # an edit the threshold never gives
    session.accept_mask(edited, "my edit")
    reference_lesion = next(r for r in session.lesions if r.kind == "reference")
    key = lesion_key(reference_lesion.kind, reference_lesion.centroid_ras, reference_lesion.volume_mm3,
                     session.flair.voxel_volume)
    notes = {key: "confirmed", "predicted:R1.0,A2.0,S3.0:5": "artefact  "}
    saved = save_review(session, tmp_path / "saved", notes=notes)

    document = json.loads(saved.read_text())
    assert document["format_version"] == REVIEW_FORMAT_VERSION
    assert document["threshold"] == 0.37 and document["rule"] == "any-overlap" and document["mode"] == "voxel"
    assert document["files"]["flair"] == {"path": str((case / "flair.nii.gz").resolve()),
                                          "sha256": before["flair.nii.gz"], "stored": False}
    assert document["files"]["probability"]["stored"] is False  # read from a file: referenced, not copied
    assert document["accepted"]["file"]["path"] == "accepted.nii.gz"
    assert {n["note"] for n in document["notes"]} == {"confirmed", "artefact"}
    assert {i["role"] for i in document["provenance"]["inputs"]} >= {"flair", "reference", "probability"}
    assert {p.name: file_sha256(p) for p in case.iterdir()} == before  # inputs untouched

    again = new_session()
    review = open_review(again, tmp_path / "saved")
    same_review(session, again)
    assert again.accepted_node.GetName() == "my edit"
    assert np.array_equal(merged_mask(again.accepted_node, again.flair_node, again.scene), edited)
    assert review.notes == {key: "confirmed", "predicted:R1.0,A2.0,S3.0:5": "artefact"}
    assert key in lesion_keys(again)  # the note finds its lesion again by identity


def test_a_model_run_in_memory_is_stored_in_the_folder(tmp_path) -> None:
    flair, reference, probability = synthetic_case()
    runner = InProcessRunner(lambda request, progress, cancel: InferenceResult(
        request.flair.with_array(probability), 0.45, "fake-model"))
    session = new_session(runner=runner)
    session.set_inputs(flair)
    session.set_reference(flair.with_array(reference.astype(np.uint8)))
    session.run_inference(ModelChoice("fake-model"))
    session.set_threshold(0.52)
    saved = save_review(session, tmp_path / "saved")
    document = json.loads(saved.read_text())
    assert {role: f["stored"] for role, f in document["files"].items()} == {
        "flair": True, "reference": True, "probability": True}
    assert document["model"]["name"] == "fake-model"
    with pytest.raises(OutputError, match="a saved review is there already"):
        save_review(session, tmp_path / "saved")
    again = new_session()
    open_review(again, tmp_path / "saved")
    same_review(session, again)
    assert again.model_name == "fake-model" and again.recommended_threshold == 0.45


def test_a_changed_input_is_refused_by_name_and_the_open_review_stays(tmp_path) -> None:
    case = write_case(tmp_path / "case")
    session = opened(case)
    session.set_threshold(0.3)
    save_review(session, tmp_path / "saved")
    other = opened(case)
    other.set_threshold(0.6)
    original = (case / "flair.nii.gz").read_bytes()
    flair, _, _ = synthetic_case(seed=9)
    write_image(flair, case / "flair.nii.gz")  # the scan changed on disk
    with pytest.raises(ReviewFileError) as refused:
        open_review(other, tmp_path / "saved")
    message = str(refused.value)
    assert "\n" not in message and str((case / "flair.nii.gz").resolve()) in message and "changed" in message
    assert other.threshold == 0.6  # nothing of the open review changed
    (case / "flair.nii.gz").write_bytes(original)
    (case / "probability.nii.gz").unlink()
    with pytest.raises(FileMissingError, match="probability.nii.gz"):
        read_review(tmp_path / "saved", check=True)


def test_a_tampered_review_json_is_one_clear_line(tmp_path) -> None:
    case = write_case(tmp_path / "case")
    session = opened(case)
    saved = save_review(session, tmp_path / "saved")
    document = json.loads(saved.read_text())
    for change, words in (({"format_version": 99}, "version 99"), ({"threshold": 3}, "outside"),
                          ({"files": {"t2": document["files"]["flair"]}}, "must hold a flair"),
                          ({"accepted": {"name": "x", "file": {"path": "../../etc/passwd", "sha256": "0" * 64,
                                                               "stored": True}}}, "outside the review folder")):
        saved.write_text(json.dumps({**document, **change}))
        with pytest.raises(ReviewFileError, match=words):
            read_review(tmp_path / "saved")


def test_lesion_keys_are_stable_identities_not_indices(tmp_path) -> None:
    session = opened(write_case(tmp_path / "case"))
    reference_keys = [k for k in lesion_keys(session.set_threshold(0.2) and session) if k.startswith("reference")]
    again = [k for k in lesion_keys(session.set_threshold(0.7) and session) if k.startswith("reference")]
    assert sorted(reference_keys) == sorted(again) and len(again) == 4  # the reference does not move
    identity = parse_key(reference_keys[0])
    assert identity.key == reference_keys[0] and identity.voxels > 0
    assert lesion_key("predicted", (-0.04, 0.0, 1.26), 10.0, 2.0) == "predicted:R0.0,A0.0,S1.3:5"


def test_the_desktop_presenter_saves_reopens_and_reports(tmp_path) -> None:
    """The desktop face's Save review / Open review / Export report / notes, through the Qt-free presenter over a
    real session (the widget only forwards its buttons to these)."""
    from LesionSegLib.presenter import PanelPresenter, PanelState
    from LesionSegLib.widget_tests import FakeCard

    case = write_case(tmp_path / "case")
    scene = make_scene().scene

    def presenter() -> PanelPresenter:
        return PanelPresenter([FakeCard("dice")], lambda parameters: ReviewSession(scene, parameters=parameters),
                              lambda: True, lambda s, f: [], print)

    first = presenter()
    first.set_inputs(str(case / "flair.nii.gz"), reference=str(case / "lesions.nii.gz"))
    first.set_rule("hussein")
    first.load_probability(str(case / "probability.nii.gz"))
    first.threshold_settled(0.33)
    row = next(i for i, r in enumerate(first.session.lesions) if r.status == "FN")
    first.note_lesion(row, "confirmed")
    assert len(first.notes) == 1 and "Note on reference lesion" in first.view().status
    folder = first.save_review(str(tmp_path / "out"))
    assert folder is not None and folder.name == "saved-review-001" and (folder / "review.json").is_file()
    report = first.export_report(str(tmp_path / "out"))
    assert report is not None and "confirmed" in report.read_text(encoding="utf-8")

    second = presenter()
    assert second.open_review(str(folder))
    assert second.state is PanelState.REVIEWING and second.session.threshold == 0.33
    assert second.parameters.rule == "hussein" and second.session.parameters.rule == "hussein"
    assert second.notes.by_key == first.notes.by_key and "1 notes" in second.view().status
    same_review(first.session, second.session)
    assert not second.open_review(str(tmp_path / "nowhere")) and "saved review not found" in second.view().status
    assert second.session.threshold == 0.33  # a failed open keeps the review
