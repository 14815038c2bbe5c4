"""Issue 13 in the desktop panel's presenter (Qt-free) over real ReviewSessions on slicer-core: an nnU-Net v2 model
folder added to the picker and run end to end (nnU-Net's own predictor through the library runner), the lesion
label of a multi-label dataset asked for; DICOM SEG / Parametric Map export of a FLAIR loaded from DICOM (the node
attribute and database lookup Slicer's DICOM module provides), refused for other inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("slicer")
pytest.importorskip("nnunetv2")

import nnunet_folder_fixture as fx
from LesionSegLib.dicom_source import DICOM_UIDS_ATTRIBUTE
from LesionSegLib.export import export_review
from LesionSegLib.headless import make_scene
from LesionSegLib.nodes import add_volume_node
from LesionSegLib.presenter import EXPORT_FORMATS, MAP_CHANNELS, MAP_SCALES, PanelPresenter, PanelState
from LesionSegLib.runner import NNUNET_LABEL, ChildCommand, InferenceRequest, library_predict
from LesionSegLib.session import ReviewSession
from LesionSegLib.widget_tests import FakeCard, FakeJob

from LesionSegLogic.image import Image
from LesionSegLogic.predictor import Predictor, PredictSettings

pytestmark = pytest.mark.slicer


def _flair(seed: int = 0) -> Image:
    return Image(fx.head_arrays(seed)[0], fx.CASE_SPACING, fx.CASE_ORIGIN)


class LibraryRunner:
    """The desktop runner's start/finish over the library runner (``library_predict``, what the web app and
    ``lesionseg predict`` run), in this process: the job is done when it starts. ``requests`` records the runs."""

    def __init__(self) -> None:
        self.requests: list[InferenceRequest] = []
        self._results: dict[int, object] = {}

    def start(self, request: InferenceRequest, progress=None) -> FakeJob:
        self.requests.append(request)
        job = FakeJob(exit_code=0)
        self._results[id(job)] = library_predict(request)
        return job

    def finish(self, job: FakeJob, request: InferenceRequest):
        return self._results.pop(id(job))


class Panel:
    """A presenter over real sessions with the library runner; errors and exports recorded."""

    def __init__(self, locate_dicom=None) -> None:
        self.headless = make_scene()
        self.runner = LibraryRunner()
        self.errors: list[str] = []
        self.presenter = PanelPresenter(
            [FakeCard("dice")], lambda p: ReviewSession(self.headless.scene, runner=self.runner, parameters=p),
            lambda: True, export_review, self.errors.append, locate_dicom=locate_dicom)

    def flair(self, image: Image):
        node = add_volume_node(self.headless.scene, image, "FLAIR")
        self.presenter.set_inputs(node)
        return node

    def run(self) -> None:
        self.presenter.apply()
        assert self.presenter.poll() is False


@pytest.fixture(scope="module")
def models(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("models")
    one_channel = {"0": "FLAIR"}
    return {
        "single": fx.write_folder(root / "single", dataset_json=fx.dataset(channels=one_channel)),
        "multi": fx.write_folder(root / "multi", dataset_json=fx.dataset(
            channels=one_channel, labels={"background": 0, "lesion": 1, "edema": 2})),
    }


def _expected(folder: Path, flair: Image, label: str | None = None) -> np.ndarray:
    predictor = Predictor.load(folder, PredictSettings(device="cpu", nnunet_label=label))
    return predictor.run({"flair": flair}).probability.array


@pytest.mark.heavy  # nnU-Net in this process on a loaded 2-core machine: 5-20 s (the web test runs it by default)
def test_an_added_nnunet_folder_is_listed_by_its_label_and_runs_end_to_end(models) -> None:
    panel = Panel()
    spec = panel.presenter.add_model(str(models["single"]))
    assert spec == str(models["single"].resolve())
    items = dict(panel.presenter.model_items())
    assert items["dice"] == "dice" and items["nnU-Net: Dataset990_LesionSegTest (fold 0)"] == spec
    view = panel.presenter.view()
    assert view.model_labels == () and "nnU-Net: Dataset990_LesionSegTest" in view.model_info
    flair = panel.flair(_flair())
    panel.run()
    assert panel.errors == [] and panel.presenter.state is PanelState.REVIEWING
    session = panel.presenter.session
    np.testing.assert_allclose(session.probability.array, _expected(models["single"], session.flair), atol=1e-5)
    assert session.flair_node is flair and panel.runner.requests[-1].model.extra == {}


def _multi_label_panel(models) -> Panel:
    panel = Panel()
    panel.flair(_flair())
    panel.presenter.add_model(str(models["multi"]))
    return panel


def test_a_multi_label_dataset_asks_for_its_lesion_label_before_anything_runs(models) -> None:
    panel = _multi_label_panel(models)
    items = dict(panel.presenter.model_items())
    assert items["nnU-Net: Dataset990_LesionSegTest (fold 0)"] == str(models["multi"].resolve())
    view = panel.presenter.view()
    assert view.model_labels == ("edema", "lesion") and "choose its lesion label" in view.status
    panel.presenter.apply()
    assert panel.presenter.job is None and panel.runner.requests == []  # nothing ran
    assert panel.errors and "edema" in panel.errors[-1] and "lesion" in panel.errors[-1]
    panel.presenter.select_label("no-such-label")
    assert panel.presenter.model_label == ""
    panel.presenter.select_model("dice")
    assert panel.presenter.view().model_labels == ()


@pytest.mark.heavy  # runs nnU-Net (see above)
def test_a_multi_label_dataset_runs_with_the_chosen_lesion_label(models) -> None:
    panel = _multi_label_panel(models)
    panel.presenter.select_label("lesion")
    panel.run()
    assert panel.runner.requests[-1].model.extra == {NNUNET_LABEL: "lesion"}
    session = panel.presenter.session
    np.testing.assert_allclose(session.probability.array, _expected(models["multi"], session.flair, "lesion"),
                               atol=1e-5)
    panel.presenter.select_model("dice")
    assert panel.presenter.view().model_labels == () and panel.presenter.model_label == ""


def test_a_path_that_is_no_model_is_reported_and_nothing_is_added(tmp_path) -> None:
    panel = Panel()
    panel.presenter.add_model(str(tmp_path))
    assert "neither an nnU-Net v2 model folder" in panel.errors[-1]
    assert panel.presenter.model_items() == [("dice", "dice")] and panel.presenter.model == ""


def test_the_child_command_passes_the_lesion_label_to_lesionseg_predict(models) -> None:
    from LesionSegLib.parameters import ModelChoice

    request = InferenceRequest(_flair(), ModelChoice(str(models["multi"]), "cpu", {NNUNET_LABEL: "lesion"}))
    command = ChildCommand()(request, {"flair": Path("f.nii.gz")}, Path("out"))
    assert command[command.index("--model") + 1] == str(models["multi"])
    assert command[command.index("--nnunet-label") + 1] == "lesion"


def _dicom_review(tmp_path: Path):
    """A FLAIR loaded 'from DICOM' as Slicer's DICOM module leaves it: a volume node with ``DICOM.instanceUIDs``,
    the files found through a database lookup (``locate``), reviewed at 0.5."""
    pytest.importorskip("highdicom")
    from LesionSegLogic.io.dicom import read_dicom_series
    from LesionSegLogic.io.dicom_write import write_dicom_series

    write_dicom_series(_flair(), tmp_path / "series")
    series = read_dicom_series(tmp_path / "series")
    database = dict(zip(series.sop_instance_uids, map(str, series.files), strict=True))
    panel = Panel(locate_dicom=lambda uid: database.get(uid, ""))
    node = add_volume_node(panel.headless.scene, series.image, "FLAIR")
    node.SetAttribute(DICOM_UIDS_ATTRIBUTE, " ".join(series.sop_instance_uids))
    panel.presenter.set_inputs(node)
    map_path = tmp_path / "probability.nii.gz"
    from LesionSegLogic.io import write_image

    write_image(series.image.with_array(np.clip((series.image.array - 100) / 300, 0, 1).astype(np.float32)),
                map_path)
    panel.presenter.load_probability(str(map_path))
    panel.presenter.threshold_settled(0.5)
    return panel, series


def test_a_flair_from_slicers_dicom_module_exports_a_seg_and_parametric_map_over_its_series(tmp_path) -> None:
    import highdicom as hd
    import pydicom

    panel, series = _dicom_review(tmp_path)
    assert panel.presenter.view().export_formats == tuple(EXPORT_FORMATS)
    files = panel.presenter.export(str(tmp_path / "out"), "NIfTI + DICOM SEG + Parametric Map")
    assert panel.errors == [] and files.dicom_seg and files.dicom_pmap and len(files) == len(list(files))
    session = panel.presenter.session
    seg = hd.seg.segread(files.dicom_seg)
    by_source = seg.get_pixels_by_source_instance(list(series.sop_instance_uids), segment_numbers=[1])[..., 0]
    assert by_source.any() and np.array_equal(by_source, session.state.mask.astype(np.uint8))
    pmap = pydicom.dcmread(files.dicom_pmap)
    order = {uid: k for k, uid in enumerate(series.sop_instance_uids)}
    values = np.zeros(series.image.shape, np.float32)
    for frame, item in zip(pmap.pixel_array, pmap.PerFrameFunctionalGroupsSequence, strict=True):
        values[order[item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID]] = frame
    np.testing.assert_allclose(values, session.probability.array, atol=1e-6)
    accepted = panel.presenter.accept()  # Slicer's own DICOM SEG export finds the source volume by this reference
    assert accepted.GetNodeReference(accepted.GetReferenceImageGeometryReferenceRole()) is session.flair_node


def test_a_dicom_export_of_a_flair_not_from_dicom_is_refused_and_writes_nothing(tmp_path) -> None:
    from LesionSegLogic.io import write_image

    panel = Panel()
    flair = _flair()
    panel.flair(flair)
    map_path = write_image(flair.with_array(np.clip((flair.array - 100) / 300, 0, 1).astype(np.float32)),
                           tmp_path / "probability.nii.gz")
    panel.presenter.load_probability(str(map_path))
    assert panel.presenter.view().export_formats == ("NIfTI",)
    assert panel.presenter.export(str(tmp_path / "out"), "NIfTI + DICOM SEG") == ()
    assert "needs a FLAIR read from a DICOM series" in panel.errors[-1] and not (tmp_path / "out").exists()
    assert len(panel.presenter.export(str(tmp_path / "nifti"), "NIfTI")) >= 6  # the NIfTI export still works


def test_load_probability_reads_another_tools_softmax_and_integer_maps(tmp_path) -> None:
    import nibabel as nib

    from LesionSegLogic.io import write_image

    panel = Panel()
    flair = _flair()
    panel.flair(flair)
    write_image(flair, tmp_path / "flair.nii.gz")
    lesion = np.zeros(flair.shape, np.float32)
    lesion[5:9, 8:12, 12:16] = 0.8
    affine = nib.load(str(tmp_path / "flair.nii.gz")).affine
    softmax = np.transpose(np.stack([1 - lesion, lesion], axis=-1), (2, 1, 0, 3))
    nib.save(nib.Nifti1Image(softmax, affine), str(tmp_path / "softmax.nii.gz"))
    panel.presenter.load_probability(str(tmp_path / "softmax.nii.gz"))  # a 4-D map without a channel
    assert panel.presenter.session is None and "2-channel map" in panel.errors[-1] and "channel" in panel.errors[-1]
    panel.presenter.load_probability(str(tmp_path / "softmax.nii.gz"), MAP_CHANNELS["channel 1"])
    session = panel.presenter.session
    np.testing.assert_allclose(session.probability.array, lesion, atol=1e-6)
    assert session.source_files["probability"] == tmp_path / "softmax.nii.gz"
    write_image(flair.with_array(np.round(lesion * 1000).astype(np.int16)), tmp_path / "permille.nii.gz",
                dtype="int16")
    panel.presenter.load_probability(str(tmp_path / "permille.nii.gz"), None, MAP_SCALES["÷ 1000"])
    np.testing.assert_allclose(panel.presenter.session.probability.array, lesion, atol=1e-6)
