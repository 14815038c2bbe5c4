"""The full review workflow on real MRML (slicer-core): case → nodes → inference (fake runner) → slider →
segments/tables/plot hold the engine's numbers → accept/edit → re-score → export and read back."""

from __future__ import annotations

import csv
import json
import math

import numpy as np
import pytest

slicer = pytest.importorskip("slicer")

from LesionSegLib.export import export_review  # noqa: E402
from LesionSegLib.headless import make_scene  # noqa: E402
from LesionSegLib.nodes import add_volume_node  # noqa: E402
from LesionSegLib.plot import CURVE_SERIES  # noqa: E402
from LesionSegLib.runner import InferenceResult, InProcessRunner  # noqa: E402
from LesionSegLib.segmentation import import_mask, segment_mask  # noqa: E402
from LesionSegLib.session import ReviewSession  # noqa: E402
from LesionSegLib.tables import read_metrics_table, table_column  # noqa: E402
from LesionSegLib.views import RecordingViewController, SliceViewJumper  # noqa: E402
from session_cases import engine_factory, make_case, review_labels, start_session  # noqa: E402

from LesionSegLogic.errors import FileMissingError, InputError, OutputError  # noqa: E402
from LesionSegLogic.image import Image  # noqa: E402
from LesionSegLogic.io import read_image, write_image  # noqa: E402
from LesionSegLogic.threshold import ThresholdEngine  # noqa: E402

pytestmark = pytest.mark.slicer

THRESHOLDS = (0.2, 0.45, 0.7)


@pytest.fixture()
def case():
    return make_case()


@pytest.fixture()
def app():
    return make_scene()


def test_slider_segments_tables_and_plot_hold_the_engines_numbers(app, case) -> None:
    session, flair_node = start_session(app, case)
    assert session.threshold == pytest.approx(0.45)  # the model's recommended threshold is the start
    engine = ThresholdEngine(session.flair.with_array(case[2]), reference=case[1], rule=session.parameters.rule)
    seen: set[str] = set()
    for t in THRESHOLDS:
        state = session.set_threshold(t)
        expected = engine.at(t)
        assert np.array_equal(review_labels(session, flair_node, app.scene), expected.overlay)
        session.sync_prediction()
        prediction_id = session.prediction.segment_ids[1]
        assert np.array_equal(segment_mask(session.prediction.node, prediction_id, flair_node, app.scene),
                              expected.mask)
        table = read_metrics_table(session.metrics_table)
        for group in ("voxel", "lesion"):
            for key, value in expected.metrics[group].items():
                got = table[group][key]
                assert (math.isnan(got) if value is None else got == pytest.approx(value)), (group, key)
        statuses = table_column(session.lesion_table, "status")
        seen |= set(statuses)
        assert statuses == [r.status or "" for r in expected.lesions]
        assert table_column(session.lesion_table, "volume_mm3") == pytest.approx(
            [r.volume_mm3 for r in expected.lesions])
        assert state.threshold == t
        x, y = session.plot.series_values("marker")
        assert list(x) == [t, t] and list(y) == [0.0, 1.0]
    assert {"TP", "FP", "FN"} <= seen
    thresholds, f1 = session.plot.series_values("lesion_f1")
    for t, value in zip(thresholds, f1, strict=True):
        expected = engine.at(float(t)).metrics["lesion"]["f1"]
        assert (math.isnan(value) if expected is None else value == pytest.approx(expected))
    assert len(CURVE_SERIES) == 4 and session.plot.chart.GetNumberOfPlotSeriesNodes() == 5


def test_voxel_mode_colours_voxels(app, case) -> None:
    session, flair_node = start_session(app, case, mode="voxel")
    reference = case[1]
    mask = case[2] >= 0.45
    expected = np.zeros(mask.shape, np.uint8)
    expected[mask & reference], expected[mask & ~reference], expected[~mask & reference] = 1, 2, 3
    assert np.array_equal(review_labels(session, flair_node, app.scene), expected)
    assert np.array_equal(session.state.overlay, expected)
    session.set_mode("lesion")
    assert not np.array_equal(review_labels(session, flair_node, app.scene), expected)


def test_jump_to_lesion_moves_views_to_the_lesion_centre(app, case) -> None:
    views = RecordingViewController()
    session, _ = start_session(app, case, views=views)
    row = session.lesions[0]
    assert row.kind == "predicted"
    ras = session.jump_to_lesion(row.id)
    assert views.points == [ras]
    # the centroid is inside its lesion: back to index space, it lands on a lesion voxel
    lps = np.array([-ras[0], -ras[1], ras[2]])
    index = np.round(session.flair.physical_to_index(lps)[0]).astype(int)
    assert session.state.mask[tuple(index)] or session.state.overlay[tuple(index)] != 0
    with pytest.raises(InputError):
        session.jump_to_lesion(10_000)
    slice_node = app.scene.AddNewNodeByClass("vtkMRMLSliceNode")
    slice_node.SetLayoutName("Red")
    slice_node.SetOrientationToAxial()
    SliceViewJumper(app.scene).jump_to(ras)
    np.testing.assert_allclose(slice_node.GetSliceToRAS().GetElement(2, 3), ras[2], atol=1e-6)


def test_accept_edit_rescore_and_reset(app, case) -> None:
    session, flair_node = start_session(app, case)
    session.set_threshold(0.7)
    accepted = session.accept()
    segment_id = accepted.GetSegmentation().GetNthSegmentID(0)
    assert np.array_equal(segment_mask(accepted, segment_id, flair_node, app.scene), session.state.mask)
    # the annotator paints the missed lesion at (20, 10, 22) and erases nothing
    edited = session.state.mask | case[1]
    import_mask(edited, accepted, segment_id, flair_node, app.scene)
    session.set_threshold(0.2)  # the live prediction moves on; the accepted node keeps the edit
    assert np.array_equal(segment_mask(accepted, segment_id, flair_node, app.scene), edited)
    state = session.rescore(edited_as="prediction")
    assert state.metrics["lesion"]["sensitivity"] == pytest.approx(1.0)
    assert state.metrics["lesion"]["fn"] == 0
    state = session.rescore(edited_as="reference", node=accepted)
    assert np.array_equal(session.reference, edited)
    assert session.reset_to_recommended().threshold == pytest.approx(0.45)
    with pytest.raises(InputError):
        session.rescore(edited_as="nonsense")


def test_export_and_read_back(app, case, tmp_path) -> None:
    session, flair_node = start_session(app, case)
    session.set_threshold(0.45)
    files = export_review(session, tmp_path / "out")
    mask = read_image(files.mask)
    assert np.array_equal(mask.array.astype(bool), session.state.mask)
    assert mask.same_grid(session.flair, tolerance=1e-3)
    node = app.scene.AddNewNodeByClass("vtkMRMLSegmentationNode")
    storage = app.scene.AddNewNodeByClass("vtkMRMLSegmentationStorageNode")
    storage.SetFileName(str(files.review))
    assert storage.ReadData(node)
    names = {node.GetSegmentation().GetNthSegment(i).GetName() for i in range(3)}
    assert names == {"True positive", "False positive", "False negative"}
    tp_id = node.GetSegmentation().GetSegmentIdBySegmentName("True positive")
    assert np.array_equal(segment_mask(node, tp_id, flair_node, app.scene), session.state.overlay == 1)
    document = json.loads(files.metrics_json.read_text())
    assert document["surface"]["hd95"] is not None  # export computes the surface distances
    assert read_metrics_table(session.metrics_table)["surface"]["hd95"] == pytest.approx(
        document["surface"]["hd95"])
    assert document["lesion"]["n_reference"] == session.metrics["lesion"]["n_reference"] == 4
    rows = list(csv.DictReader(files.lesions_csv.open()))
    assert len(rows) == len(session.lesions)
    assert files.curve_png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with pytest.raises(OutputError, match="exists already"):
        export_review(session, tmp_path / "out")


def test_inputs_from_files_and_bad_input(app, case, tmp_path) -> None:
    flair, reference, probability = case
    write_image(flair, tmp_path / "flair.nii.gz")
    write_image(flair.with_array(reference.astype(np.uint8)), tmp_path / "ref.nii.gz")
    write_image(flair.with_array(probability), tmp_path / "prob.nii.gz")
    session = ReviewSession(app.scene, engine_factory=engine_factory())
    with pytest.raises(InputError):
        session.set_threshold(0.5)
    with pytest.raises(FileMissingError):
        session.set_inputs(tmp_path / "nope.nii.gz")
    session.set_inputs(tmp_path / "flair.nii.gz")
    session.set_reference(tmp_path / "ref.nii.gz")
    session.load_probability(tmp_path / "prob.nii.gz", recommended_threshold=0.3)
    assert session.threshold == pytest.approx(0.3)
    assert np.array_equal(session.reference, reference)
    with pytest.raises(InputError):
        session.set_threshold(1.5)
    with pytest.raises(InputError, match="FLAIR grid"):
        session.load_probability(Image(probability[:-1], flair.spacing, flair.origin, flair.direction))
    # exporting next to the inputs never replaces them, even with overwrite=True
    write_image(flair, tmp_path / "lesionseg_mask.nii.gz")
    session.set_inputs(tmp_path / "lesionseg_mask.nii.gz")
    session.load_probability(tmp_path / "prob.nii.gz")
    before = (tmp_path / "lesionseg_mask.nii.gz").read_bytes()
    with pytest.raises(OutputError, match="input"):
        export_review(session, tmp_path, overwrite=True)
    assert (tmp_path / "lesionseg_mask.nii.gz").read_bytes() == before


def test_outputs_land_in_the_inputs_study(app, case) -> None:
    flair, _, probability = case
    hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(app.scene)
    patient = hierarchy.CreateSubjectItem(hierarchy.GetSceneItemID(), "Patient 1")
    study = hierarchy.CreateStudyItem(patient, "Study 2024")
    flair_node = add_volume_node(app.scene, flair, "FLAIR")
    hierarchy.CreateItem(study, flair_node)
    session = ReviewSession(app.scene, engine_factory=engine_factory())
    session.set_inputs(flair_node)
    session.load_probability(flair.with_array(probability))
    created = (session.probability_node, session.prediction.node, session.metrics_table, session.plot.chart)
    for node in created:
        assert hierarchy.GetItemParent(hierarchy.GetItemByDataNode(node)) == study
    assert session.review is None  # no reference: prediction only


@pytest.mark.heavy  # the same self-test runs with a real zoo model in the default suite below
def test_module_self_test_workflow_on_a_phantom(app, brain_maps) -> None:
    """The code Slicer's LesionSegTest runs, with an injected runner (a smoothed truth as 'probability')."""
    from LesionSegLib.selftest import run_review_self_test
    from scipy import ndimage

    def fake_predict(request, progress, cancel):
        truth = request.flair.array > np.percentile(request.flair.array, 99.5)
        smooth = ndimage.gaussian_filter(truth.astype(np.float32), 1.0)
        return InferenceResult(request.flair.with_array(smooth / max(smooth.max(), 1e-6)), 0.5, "fake")

    report = run_review_self_test(app.scene, runner=InProcessRunner(fake_predict), model="fake", maps=brain_maps)
    assert set(report) == {0.3, 0.5, 0.7}


def test_offscreen_snapshot_shows_the_overlay_colours(app, case, tmp_path) -> None:
    import vtk
    from LesionSegLib.snapshot import render_axial_overlay

    session, _ = start_session(app, case)
    path = render_axial_overlay(session, tmp_path / "overlay.png", size=256)
    reader = vtk.vtkPNGReader()
    reader.SetFileName(str(path))
    reader.Update()
    from vtk.util import numpy_support

    data = reader.GetOutput()
    pixels = numpy_support.vtk_to_numpy(data.GetPointData().GetScalars())[:, :3].astype(int)
    green = (pixels[:, 1] > 120) & (pixels[:, 0] < 100) & (pixels[:, 2] < 100)
    assert green.sum() > 0  # true-positive voxels are drawn in green over the grey FLAIR


def test_review_with_a_bundled_zoo_model(app, brain_maps) -> None:
    """Real inference: the zoo's "dice" model through the library predictor, in process."""
    from LesionSegLib.selftest import run_review_self_test

    report = run_review_self_test(app.scene, runner=InProcessRunner(), model="dice", maps=brain_maps)
    assert len(report) == 3
