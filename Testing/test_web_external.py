"""Issue 13 in the web app's state layer (no browser): models you bring in the model select (an nnU-Net v2 folder
run end to end through nnU-Net's own predictor, an exported ONNX model), only from the allowed folders; another
tool's 4-D/integer map opened with channel/scale; DICOM in, DICOM SEG and Parametric Map out of the export."""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("slicer")
pytest.importorskip("trame_slicer")
pytest.importorskip("nnunetv2")

import nnunet_folder_fixture as fx
from LesionSegLib.runner import InProcessRunner
from web_apps import direct_app, set_state

from LesionSegLogic.image import Image
from LesionSegLogic.io import write_image
from LesionSegLogic.predictor import Predictor, PredictSettings
from LesionSegWeb.app import AppConfig, ReviewWebApp
from LesionSegWeb.services import ModelInfo, Services

pytestmark = pytest.mark.slicer
SPACING = (2.5, 1.8, 1.8)


def _case(root: Path) -> dict[str, Path]:
    """A tiny head with a bright blob in FLAIR and T2 (the fixture model reads T2 and FLAIR), and its lesion mask."""
    rng = np.random.default_rng(0)
    shape = (14, 22, 22)
    z, y, x = np.indices(shape)
    head = ((z - 7) / 6) ** 2 + ((y - 11) / 10) ** 2 + ((x - 11) / 10) ** 2 <= 1
    lesion = np.zeros(shape, np.uint8)
    lesion[5:9, 8:12, 12:16] = 1
    out = {}
    for name, base in (("flair", 100.0), ("t2", 150.0)):
        array = np.where(head, base + 8 * rng.standard_normal(shape), 1.0).astype(np.float32)
        array[lesion > 0] = 3 * base
        out[name] = write_image(Image(array, SPACING, (10.0, -20.0, 5.0)), root / f"{name}.nii.gz")
    out["lesions"] = write_image(Image(lesion, SPACING, (10.0, -20.0, 5.0)), root / "lesions.nii.gz")
    return out


@pytest.fixture(scope="module")
def allowed(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("allowed")
    case = _case(root / "case")
    models = root / "models"
    single = fx.write_folder(models / "single")
    multi = fx.write_folder(models / "multi", dataset_json=fx.dataset(labels={"background": 0, "lesion": 1,
                                                                               "edema": 2}))
    return {"root": root, **case, "single": single, "multi": multi}


@pytest.fixture(scope="module")
def web(allowed, tmp_path_factory) -> ReviewWebApp:
    services = Services(models=lambda: [ModelInfo("fake-zoo-model", 0.4)], runner=InProcessRunner())
    out = tmp_path_factory.mktemp("out")
    app = direct_app(AppConfig(flair=allowed["flair"], t2=allowed["t2"], reference=allowed["lesions"],
                               allow=(allowed["root"],), services=services, views="direct", out=out))
    app.server.state.ready()
    return app


def _library_probability(spec: Path, case: dict[str, Path], label: str | None = None) -> np.ndarray:
    """What ``lesionseg predict --model SPEC`` computes for the case (the CLI's path: ``Predictor.load``)."""
    predictor = Predictor.load(spec, PredictSettings(device="cpu", nnunet_label=label))
    return predictor.run({"flair": case["flair"], "t2": case["t2"]}).probability.array


def test_an_nnunet_folder_joins_the_select_with_its_label_and_runs_end_to_end(web, allowed) -> None:
    set_state(web, path_model=str(allowed["single"]))
    assert web.binding.add_model(), web.server.state.message
    state = web.server.state
    titles = {item["value"]: item["title"] for item in state.models}
    assert titles[str(allowed["single"])].startswith("nnU-Net: Dataset990_LesionSegTest (fold 0)")
    assert state.model == str(allowed["single"]) and state.model_labels == []
    assert asyncio.run(web.binding.run_model()), state.message
    expected = _library_probability(allowed["single"], allowed)
    np.testing.assert_allclose(web.session.probability.array, expected, atol=1e-5)
    assert web.session.model_name == "Dataset990_LesionSegTest" and state.has_probability


def test_a_multi_label_nnunet_dataset_asks_for_the_lesion_label(web, allowed) -> None:
    set_state(web, path_model=str(allowed["multi"]))
    assert web.binding.add_model()
    state = web.server.state
    assert state.model_labels == ["edema", "lesion"] and "choose the lesion label" in state.message
    before = web.session.probability.array.copy()
    assert not asyncio.run(web.binding.run_model())
    assert state.message_kind == "error" and "edema" in state.message and "lesion" in state.message
    np.testing.assert_array_equal(web.session.probability.array, before)  # nothing ran, the review stays
    set_state(web, model_label="nope")
    assert state.model_label is None and "lesion labels" in state.message  # refused by the one validator


@pytest.mark.heavy  # a second nnU-Net run (the one above is in the default suite): seconds on a loaded machine
def test_a_multi_label_nnunet_dataset_runs_with_the_chosen_label(web, allowed) -> None:
    set_state(web, path_model=str(allowed["multi"]))
    assert web.binding.add_model()
    state = web.server.state
    set_state(web, model_label="edema")
    assert asyncio.run(web.binding.run_model()), state.message
    expected = _library_probability(allowed["multi"], allowed, label="edema")
    np.testing.assert_allclose(web.session.probability.array, expected, atol=1e-5)


def test_a_model_outside_the_allowed_folders_is_refused(web, tmp_path) -> None:
    outside = fx.write_folder(tmp_path / "elsewhere")
    before = list(web.server.state.models)
    set_state(web, path_model=str(outside))
    assert not web.binding.add_model()
    state = web.server.state
    assert state.message_kind == "error" and "outside the folders this app may read" in state.message
    assert "--allow" in state.message and state.models == before


def test_a_model_folder_that_links_out_of_the_allowed_folders_is_refused(web, allowed, tmp_path) -> None:
    linked = allowed["root"] / "models" / "linked" / "nnUNetTrainer__nnUNetPlans__3d_fullres"
    source = fx.write_folder(tmp_path / "real")
    linked.mkdir(parents=True)
    for name in ("dataset.json", "plans.json"):
        (linked / name).write_bytes((source / name).read_bytes())
    (linked / "fold_0").symlink_to(source / "fold_0")  # the checkpoint lies outside
    set_state(web, path_model=str(linked))
    assert not web.binding.add_model()
    assert "outside the folders" in web.server.state.message and "fold_0" in web.server.state.message


def test_a_folder_that_is_no_model_is_named_in_the_message(web, allowed) -> None:
    set_state(web, path_model=str(allowed["root"] / "case"))
    assert not web.binding.add_model()
    assert "neither an nnU-Net v2 model folder" in web.server.state.message


def test_an_exported_onnx_model_runs_as_the_cli_runs_it(web, allowed, tmp_path_factory) -> None:
    pytest.importorskip("onnxruntime")
    from LesionSegLogic.external.onnx_export import export_onnx

    folder = export_onnx("dice", allowed["root"] / "models" / "dice_onnx", dynamo=False).onnx_path.parent
    set_state(web, path_model=str(folder / "model.onnx"))
    assert web.binding.add_model(), web.server.state.message
    state = web.server.state
    title = next(item["title"] for item in state.models if item["value"] == str(folder / "model.onnx"))
    assert title.startswith("ONNX: dice")
    assert asyncio.run(web.binding.run_model()), state.message
    expected = _library_probability(folder / "model.onnx", allowed)
    np.testing.assert_allclose(web.session.probability.array, expected, atol=1e-5)


def test_another_tools_softmax_and_integer_maps_open_with_channel_and_scale(web, allowed) -> None:
    flair = Image(np.zeros((14, 22, 22), np.float32), SPACING, (10.0, -20.0, 5.0))
    lesion = np.zeros((14, 22, 22), np.float32)
    lesion[5:9, 8:12, 12:16] = 0.9
    softmax = np.stack([1 - lesion, lesion], axis=-1)  # (z, y, x, c): a 4-D NIfTI with the channel last
    import nibabel as nib

    affine = nib.load(str(allowed["flair"])).affine
    nib.save(nib.Nifti1Image(np.transpose(softmax, (2, 1, 0, 3)), affine), str(allowed["root"] / "softmax.nii.gz"))
    set_state(web, path_flair=str(allowed["flair"]), path_t2="", path_reference=str(allowed["lesions"]),
              path_probability=str(allowed["root"] / "softmax.nii.gz"), probability_channel=None)
    assert not web.binding.open_files()
    assert "2-channel map" in web.server.state.message and "channel=K" in web.server.state.message
    set_state(web, probability_channel="1")
    assert web.binding.open_files(), web.server.state.message
    np.testing.assert_allclose(web.session.probability.array, lesion, atol=1e-6)
    assert web.session.source_files["probability"] == allowed["root"] / "softmax.nii.gz"
    permille = write_image(flair.with_array(np.round(lesion * 1000).astype(np.int16)), allowed["root"] / "pm.nii.gz",
                           dtype="int16")
    set_state(web, path_probability=str(permille), probability_channel=None, probability_scale="1000")
    assert web.binding.open_files(), web.server.state.message
    np.testing.assert_allclose(web.session.probability.array, lesion, atol=1e-6)
    set_state(web, probability_scale="-3")
    assert "positive number" in web.server.state.message and web.server.state.probability_scale == 1000.0


def test_dicom_inputs_export_a_seg_and_a_parametric_map_that_overlay_the_source(web, allowed, tmp_path) -> None:
    hd = pytest.importorskip("highdicom")
    from LesionSegLogic.io.dicom import read_dicom_series
    from LesionSegLogic.io.dicom_write import write_dicom_series
    from LesionSegLogic.io.read import read_image

    series_folder = allowed["root"] / "dicom_flair"
    write_dicom_series(read_image(allowed["flair"]), series_folder)
    probability = allowed["root"] / "probability_dicom.nii.gz"
    flair = read_dicom_series(series_folder).image
    write_image(flair.with_array(np.clip((flair.array - 100) / 300, 0, 1).astype(np.float32)), probability)
    set_state(web, path_flair=str(series_folder), path_t2="", path_reference="", path_probability=str(probability),
              probability_channel=None, probability_scale=None)
    assert web.binding.open_files(), web.server.state.message
    assert web.server.state.has_dicom
    set_state(web, threshold=0.5, export_dicom_seg=True, export_dicom_pmap=True)
    web.binding.export()
    out = Path(web.server.state.exported)
    source = read_dicom_series(series_folder)
    seg = hd.seg.segread(out / "lesionseg_mask.seg.dcm")
    by_source = seg.get_pixels_by_source_instance(list(source.sop_instance_uids), segment_numbers=[1])[..., 0]
    assert by_source.any() and np.array_equal(by_source, web.session.state.mask.astype(np.uint8))
    pmap = hd.pm.ParametricMap.from_dataset(__import__("pydicom").dcmread(out / "lesionseg_probability.pm.dcm"))
    frames = {uid: i for i, uid in enumerate(source.sop_instance_uids)}
    values = np.zeros(source.image.shape, np.float32)
    for frame, item in zip(pmap.pixel_array, pmap.PerFrameFunctionalGroupsSequence, strict=True):
        uid = item.DerivationImageSequence[0].SourceImageSequence[0].ReferencedSOPInstanceUID
        values[frames[uid]] = frame
    np.testing.assert_allclose(values, web.session.probability.array, atol=1e-6)


def test_a_dicom_export_of_nifti_inputs_is_refused_with_a_clear_message(web, allowed) -> None:
    from LesionSegLogic.io.read import read_image

    flair = read_image(allowed["flair"])
    probability = write_image(flair.with_array(np.clip((flair.array - 100) / 300, 0, 1).astype(np.float32)),
                              allowed["root"] / "probability_nifti.nii.gz")
    set_state(web, path_flair=str(allowed["flair"]), path_t2="", path_reference=str(allowed["lesions"]),
              path_probability=str(probability), probability_channel=None, probability_scale=None)
    assert web.binding.open_files(), web.server.state.message
    exported = web.server.state.exported
    set_state(web, export_dicom_seg=True, export_dicom_pmap=False)
    web.binding.export()
    state = web.server.state
    assert not state.has_dicom and state.message_kind == "error" and "needs a FLAIR read from a DICOM series" in \
        state.message
    assert state.exported == exported


def test_the_app_command_line_takes_channel_and_scale_with_a_probability_map(tmp_path) -> None:
    from LesionSegLogic.cli import build_parser
    from LesionSegLogic.errors import InputError
    from LesionSegWeb.cli import _check

    parser = build_parser()
    flair = tmp_path / "f.nii.gz"
    flair.write_bytes(b"")
    args = parser.parse_args(["app", "--flair", str(flair), "--probability", str(flair), "--channel", "1",
                              "--scale", "255"])
    _check(args)
    assert (args.channel, args.scale) == (1, 255.0)
    with pytest.raises(InputError, match="--probability"):
        _check(parser.parse_args(["app", "--flair", str(flair), "--channel", "1"]))


def test_an_app_started_with_channel_opens_the_softmax_it_was_given(allowed, tmp_path) -> None:
    """``lesionseg app --probability P --channel K`` → AppConfig → the page's fields → the same open as typed."""
    import nibabel as nib

    lesion = np.zeros((14, 22, 22), np.float32)
    lesion[5:9, 8:12, 12:16] = 0.7
    affine = nib.load(str(allowed["flair"])).affine
    softmax = np.transpose(np.stack([1 - lesion, lesion], axis=-1), (2, 1, 0, 3))
    nib.save(nib.Nifti1Image(softmax, affine), str(allowed["root"] / "softmax_cli.nii.gz"))
    app = direct_app(AppConfig(flair=allowed["flair"], probability=allowed["root"] / "softmax_cli.nii.gz",
                               probability_channel=1, services=Services(models=lambda: [ModelInfo("m", 0.4)]),
                               views="direct", out=tmp_path))
    assert app.server.state.has_probability, app.server.state.message
    np.testing.assert_allclose(app.session.probability.array, lesion, atol=1e-6)
