"""DICOM in (series folders, geometry checks, series chooser) and out (DICOM SEG and Parametric Map)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from image_builders import noisy_head, rotation_zx

from LesionSegLogic.cli import main
from LesionSegLogic.errors import GeometryError, InputError, OutputError
from LesionSegLogic.image import Image
from LesionSegLogic.io import read_image, write_image
from LesionSegLogic.io.dicom import list_series, read_dicom_series
from LesionSegLogic.io.dicom_write import SeriesOptions, write_dicom_series

pydicom = pytest.importorskip("pydicom")
hd = pytest.importorskip("highdicom")


@pytest.fixture(scope="module")
def oblique_cord(small_cord_phantom) -> Image:
    """The session's small cord phantom as a scanner stores it (integer intensities), on an oblique grid."""
    flair = small_cord_phantom.case.flair
    return Image(np.round(flair.array).astype(np.float32), flair.spacing, flair.origin, rotation_zx(25, -10) @
                 flair.direction, "")  # fmt: skip


def _head(shape=(20, 28, 24), seed=0) -> np.ndarray:
    return np.round(noisy_head(shape, (8, 12, 10), np.s_[8:13, 12:17, 10:15], seed)).astype(np.float32)


def _head_image() -> Image:
    return Image(_head(), spacing=(1.5, 1.0, 0.9), origin=(12.0, -30.0, 7.5), direction=rotation_zx(20, -15))


# DICOM in ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("left_handed", [False, True])
def test_a_phantom_as_dicom_and_as_nifti_gives_the_same_image(tmp_path: Path, oblique_cord: Image,
                                                              left_handed: bool) -> None:
    phantom = oblique_cord
    if left_handed:  # k runs against the slice normal: DICOM sorts along the normal, so the array flips in k
        direction = phantom.direction @ np.diag([1.0, 1.0, -1.0])
        phantom = Image(phantom.array, phantom.spacing, phantom.origin, direction)
    write_dicom_series(phantom, tmp_path / "dicom")
    nifti = read_image(write_image(phantom, tmp_path / "flair.nii.gz"))
    dicom = read_image(tmp_path / "dicom")
    assert dicom.array.dtype == nifti.array.dtype == np.float32
    np.testing.assert_allclose(dicom.spacing, nifti.spacing, rtol=0, atol=1e-6)
    flip = slice(None, None, -1) if left_handed else slice(None)
    assert np.array_equal(dicom.array, nifti.array[flip])
    # every voxel at the same physical place: voxel k of one is voxel k (or n-1-k) of the other
    n = nifti.shape[0]
    zyx = np.argwhere(np.ones(nifti.shape, bool))[:: 97]
    mirrored = zyx.copy()
    if left_handed:
        mirrored[:, 0] = n - 1 - zyx[:, 0]
    np.testing.assert_allclose(dicom.index_to_physical(mirrored), nifti.index_to_physical(zyx), atol=1e-4)
    assert dicom.same_grid(nifti) is not left_handed


def test_float_values_come_back_within_the_stored_precision(tmp_path: Path) -> None:
    image = _head_image()
    noisy = image.with_array(image.array / 7.0 + 0.01)
    written = write_dicom_series(noisy, tmp_path / "s")
    back = read_dicom_series(tmp_path / "s").image
    assert written.slope > 0 and back.same_grid(noisy)
    np.testing.assert_allclose(back.array, written.stored.array, atol=1e-4 * written.slope + 1e-6)
    assert np.abs(back.array - noisy.array).max() <= written.slope / 2 + 1e-5


def _study(root: Path) -> tuple[str, str]:
    image = _head_image()
    flair = write_dicom_series(image, root, SeriesOptions(series_description="AX FLAIR", series_number=3))
    t2 = write_dicom_series(image.with_array(500 - image.array), root,
                            SeriesOptions(series_description="T2 TSE", series_number=4))
    (root / "notes.txt").write_text("not DICOM")
    return flair.series_instance_uid, t2.series_instance_uid


def test_a_folder_of_several_series_needs_a_choice_and_lists_them(tmp_path: Path) -> None:
    flair_uid, t2_uid = _study(tmp_path / "study")
    assert [s.description for s in list_series(tmp_path / "study")] == ["AX FLAIR", "T2 TSE"]
    with pytest.raises(InputError) as caught:
        read_image(tmp_path / "study")
    message = str(caught.value)
    assert message.startswith(str(tmp_path / "study")) and "\n" not in message
    assert "'AX FLAIR'" in message and "'T2 TSE'" in message and "--series" in message
    by_number = read_dicom_series(tmp_path / "study", series="4")
    by_uid = read_dicom_series(tmp_path / "study", series=t2_uid)
    by_description = read_image(tmp_path / "study", series="t2 tse")
    assert by_number.info.uid == by_uid.info.uid == t2_uid
    assert np.array_equal(by_description.array, by_number.image.array.astype(np.float32))
    assert read_dicom_series(tmp_path / "study", series="ax flair").info.uid == flair_uid
    with pytest.raises(InputError, match="no series matches --series 'DWI'"):
        read_image(tmp_path / "study", series="DWI")


def _files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.dcm"))


def _edit(path: Path, **values) -> None:
    ds = pydicom.dcmread(path)
    for key, value in values.items():
        setattr(ds, key, value)
    ds.save_as(path)


def _shift_in_plane(folder: Path, mm_per_slice: float) -> None:
    """A gantry tilt: each slice moved along the column direction by ``mm_per_slice`` × its index."""
    for k, path in enumerate(_files(folder)):
        ds = pydicom.dcmread(path)
        column = np.asarray(ds.ImageOrientationPatient[3:], float)
        position = np.asarray(ds.ImagePositionPatient, float) + k * mm_per_slice * column
        ds.ImagePositionPatient = [f"{v:.6f}" for v in position]
        ds.save_as(path)


def _move_slice(folder: Path, index: int, mm: float) -> None:
    path = _files(folder)[index]
    ds = pydicom.dcmread(path)
    row, column = np.asarray(ds.ImageOrientationPatient[:3], float), np.asarray(ds.ImageOrientationPatient[3:], float)
    ds.ImagePositionPatient = [f"{v:.6f}" for v in np.asarray(ds.ImagePositionPatient, float)
                               + mm * np.cross(row, column)]  # fmt: skip
    ds.save_as(path)


BAD_SERIES = {
    "missing slice": (lambda f: _files(f)[7].unlink(), GeometryError, "1 slice(s) missing between"),
    "inconsistent spacing": (lambda f: _move_slice(f, 7, 0.4), GeometryError, "inconsistent slice spacing"),
    "gantry tilt": (lambda f: _shift_in_plane(f, 0.3), GeometryError, "gantry tilt"),
    "mixed orientation": (lambda f: _edit(_files(f)[5], ImageOrientationPatient=[1, 0, 0, 0, 0, -1]),
                          GeometryError, "mixed orientations"),
    "mixed pixel spacing": (lambda f: _edit(_files(f)[5], PixelSpacing=[0.5, 0.5]), GeometryError,
                            "mixed pixel spacings"),
    "same position twice": (lambda f: _edit(_files(f)[5], ImagePositionPatient=pydicom.dcmread(
        _files(f)[4]).ImagePositionPatient), InputError, "same slice position"),
    "single slice": (lambda f: [p.unlink() for p in _files(f)[1:]], InputError, "single slice"),
    "empty folder": (lambda f: [p.unlink() for p in _files(f)], InputError, "no DICOM image series"),
}  # fmt: skip


@pytest.mark.parametrize("case", list(BAD_SERIES))
def test_bad_series_get_one_line_naming_the_folder_and_predict_writes_nothing(
    tmp_path: Path, case: str, tiny_model: Path, capsys
) -> None:
    spoil, error, words = BAD_SERIES[case]
    folder = tmp_path / "flair"
    write_dicom_series(_head_image(), folder)
    spoil(folder)
    with pytest.raises(error) as caught:
        read_image(folder)
    assert str(caught.value).startswith(f"{folder}: ") and words in str(caught.value)
    assert "\n" not in str(caught.value)
    out = tmp_path / "out"
    code = main(["predict", "--model", str(tiny_model), "--flair", str(folder), "--out", str(out), "--device",
                 "cpu", "--no-progress", "--dicom-seg"])  # fmt: skip
    assert code == 2 and not out.exists()
    assert words in capsys.readouterr().err


def _rewrite_positions(folder: Path, change) -> None:
    for k, path in enumerate(_files(folder)):
        ds = pydicom.dcmread(path)
        ds.ImagePositionPatient = [f"{v:.6f}" for v in change(k, np.asarray(ds.ImagePositionPatient, float), ds)]
        ds.save_as(path)


def test_rounded_positions_pass_but_a_slow_tilt_that_moves_slices_off_the_grid_does_not(tmp_path: Path) -> None:
    """Positions stored with 2 decimals (±0.005 mm) and 0.5 % step jitter are within the grid tolerance and read
    to the right grid; an in-plane drift of 0.02 mm per slice (0.38 mm over the stack) is not."""
    image = _head_image()
    jitter = np.random.default_rng(1).uniform(-0.005, 0.005, image.shape[0]) * image.spacing[0]
    normal = image.direction[:, 2]
    write_dicom_series(image, tmp_path / "rounded")
    _rewrite_positions(tmp_path / "rounded", lambda k, p, ds: np.round(p + jitter[k] * normal, 2))
    back = read_image(tmp_path / "rounded")
    assert back.shape == image.shape and np.array_equal(back.array, image.array)
    np.testing.assert_allclose(back.affine_lps(), image.affine_lps(), atol=0.02)
    write_dicom_series(image, tmp_path / "tilted")
    column = image.direction[:, 1]
    _rewrite_positions(tmp_path / "tilted", lambda k, p, ds: p + 0.02 * k * column)
    with pytest.raises(GeometryError, match=r"offset in plane by 0\.020 mm per slice"):
        read_image(tmp_path / "tilted")


# DICOM out --------------------------------------------------------------------------------------------------
def test_predict_writes_a_dicom_seg_and_pmap_that_overlay_the_source_series(tmp_path: Path, tiny_model: Path) -> None:
    _study(tmp_path / "study")
    out = tmp_path / "out"
    code = main(["predict", "--model", str(tiny_model), "--flair", str(tmp_path / "study"), "--series", "AX FLAIR",
                 "--out", str(out), "--device", "cpu", "--threshold", "0.45", "--no-progress", "--dicom-seg",
                 "--dicom-pmap"])  # fmt: skip
    assert code == 0
    source = read_dicom_series(tmp_path / "study", series="3")
    mask = read_image(out / "mask.nii.gz", role="mask")
    probability = read_image(out / "probability.nii.gz", role="probability")
    assert mask.same_grid(source.image) and mask.array.any() and not mask.array.all()
    summary = json.loads((out / "summary.json").read_text())
    assert summary["dicom"]["flair"]["series_description"] == "AX FLAIR"
    assert set(summary["dicom"]["outputs"]) == {"mask.seg.dcm", "probability.pm.dcm"}

    seg = hd.seg.segread(out / "mask.seg.dcm")
    assert seg.SegmentationType == "BINARY" and seg.FrameOfReferenceUID == pydicom.dcmread(
        source.files[0]).FrameOfReferenceUID
    assert {r.SeriesInstanceUID for r in seg.ReferencedSeriesSequence} == {source.info.uid}
    by_source = seg.get_pixels_by_source_instance(list(source.sop_instance_uids), segment_numbers=[1])
    assert np.array_equal(by_source[..., 0], mask.array)  # frame k ↔ source file k, voxel for voxel
    volume = seg.get_volume()  # the SEG's own geometry (plane positions), independent of the references
    seg_array = volume.array[..., 0] if volume.array.ndim == 4 else volume.array
    index = np.argwhere(np.ones(seg_array.shape, bool))
    lps = np.c_[index, np.ones(len(index))] @ volume.affine.T  # highdicom: (k, row, column) → LPS
    ours = mask.physical_to_index(lps[:, :3])
    assert np.abs(ours - np.round(ours)).max() < 1e-3  # every SEG voxel centre is one of the mask's
    on_our_grid = np.zeros(mask.shape, np.uint8)
    on_our_grid[tuple(np.round(ours).astype(int).T)] = seg_array[tuple(index.T)]
    assert np.array_equal(on_our_grid, mask.array)
    description = seg.get_segment_description(1)
    assert description.segmented_property_type.value == "52988006"

    pmap = hd.pm.ParametricMap.from_dataset(pydicom.dcmread(out / "probability.pm.dcm"))
    values = pmap.get_pixels_by_source_instance(list(source.sop_instance_uids))
    np.testing.assert_allclose(values.reshape(probability.shape), probability.array, atol=1e-6)
    assert probability.array.max() > 0.45


def test_dicom_seg_needs_a_dicom_flair_and_refuses_a_mask_on_another_grid(tmp_path: Path, tiny_model: Path,
                                                                          capsys) -> None:
    nifti = write_image(_head_image(), tmp_path / "flair.nii.gz")
    code = main(["predict", "--model", str(tiny_model), "--flair", str(nifti), "--out", str(tmp_path / "o"),
                 "--no-progress", "--dicom-seg"])  # fmt: skip
    assert code == 2 and not (tmp_path / "o").exists()
    assert "DICOM series folder" in capsys.readouterr().err
    from LesionSegLogic.io.dicom_seg import build_segmentation

    write_dicom_series(_head_image(), tmp_path / "dicom")
    series = read_dicom_series(tmp_path / "dicom")
    other = Image(np.zeros((4, 5, 6), np.uint8), name="other.nii.gz")
    with pytest.raises(GeometryError, match="not on the grid of the DICOM series"):
        build_segmentation(other, series)


def test_series_choice_for_a_file_is_refused(tmp_path: Path, tiny_model: Path, capsys) -> None:
    nifti = write_image(_head_image(), tmp_path / "flair.nii.gz")
    code = main(["predict", "--model", str(tiny_model), "--flair", str(nifti), "--series", "3", "--out",
                 str(tmp_path / "o"), "--no-progress"])  # fmt: skip
    assert code == 2 and "not a DICOM series folder" in capsys.readouterr().err


def test_the_seg_codes_are_the_review_terminologys(tmp_path: Path) -> None:
    from LesionSegLib.terminology import TERMINOLOGY_FILE

    from LesionSegLogic.io.dicom_seg import LESION_CATEGORY, LESION_TYPE

    document = json.loads(Path(TERMINOLOGY_FILE).read_text())
    category = next(c for c in document["SegmentationCodes"]["Category"]
                    if any(t.get("3dSlicerLabel") == "lesionseg_predicted_lesion" for t in c["Type"]))
    kind = next(t for t in category["Type"] if t.get("3dSlicerLabel") == "lesionseg_predicted_lesion")
    assert LESION_CATEGORY[:2] == (category["CodingSchemeDesignator"], category["CodeValue"])
    assert LESION_TYPE[:2] == (kind["CodingSchemeDesignator"], kind["CodeValue"])


def test_writing_never_replaces_an_existing_slice(tmp_path: Path) -> None:
    write_dicom_series(_head_image(), tmp_path / "s")
    before = {p: p.read_bytes() for p in _files(tmp_path / "s")}
    with pytest.raises(OutputError, match="exists already"):
        write_dicom_series(_head_image(), tmp_path / "s")
    assert {p: p.read_bytes() for p in _files(tmp_path / "s")} == before


@pytest.mark.slicer
def test_the_review_export_writes_a_dicom_seg_of_the_reviewed_mask(tmp_path: Path) -> None:
    pytest.importorskip("slicer")
    from LesionSegLib.export import export_review
    from LesionSegLib.headless import make_scene
    from LesionSegLib.session import ReviewSession

    write_dicom_series(_head_image(), tmp_path / "flair")
    flair = read_image(tmp_path / "flair")
    session = ReviewSession(make_scene().scene)
    session.set_inputs(flair)
    probability = np.clip((flair.array - 100.0) / 300.0, 0, 1).astype(np.float32)
    session.load_probability(flair.with_array(probability))
    session.set_threshold(0.5)
    files = export_review(session, tmp_path / "export", dicom_seg=tmp_path / "flair")
    source = read_dicom_series(tmp_path / "flair")
    seg = hd.seg.segread(files.dicom_seg)
    by_source = seg.get_pixels_by_source_instance(list(source.sop_instance_uids), segment_numbers=[1])
    assert by_source[..., 0].any() and np.array_equal(by_source[..., 0], session.state.mask.astype(np.uint8))
    other = tmp_path / "other"
    write_dicom_series(Image(_head(), (2.0, 1.0, 0.9)), other)
    with pytest.raises(GeometryError, match="not on the grid"):
        export_review(session, tmp_path / "export2", dicom_seg=other)
    assert not (tmp_path / "export2").exists() or not any((tmp_path / "export2").iterdir())
