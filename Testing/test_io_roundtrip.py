"""Round trips through SimpleITK and nibabel agree on arrays and physical positions."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from image_builders import DIRECTIONS, corner_indices, random_image

from LesionSegLogic.image import Image
from LesionSegLogic.io import from_nibabel, read_image, to_nibabel, write_image

EXTENSIONS = [".nii", ".nii.gz", ".nrrd", ".nhdr", ".mha", ".mhd"]


def assert_same_geometry(a: Image, b: Image, atol: float = 1e-4) -> None:
    points = corner_indices(a.shape)
    np.testing.assert_allclose(a.index_to_physical(points), b.index_to_physical(points), atol=atol)
    np.testing.assert_allclose(a.spacing, b.spacing, atol=1e-5)


@pytest.mark.parametrize("ext", EXTENSIONS)
@pytest.mark.parametrize("direction", list(DIRECTIONS), ids=list(DIRECTIONS))
def test_write_then_read_keeps_array_and_positions(tmp_path: Path, ext: str, direction: str) -> None:
    image = random_image(direction=DIRECTIONS[direction])
    written = write_image(image, tmp_path / "sub" / f"img{ext}")
    back = read_image(written)
    np.testing.assert_array_equal(back.array, image.array)
    assert back.array.dtype == np.float32
    assert_same_geometry(back, image)
    assert back.name == str(written)


@pytest.mark.parametrize("direction", list(DIRECTIONS), ids=list(DIRECTIONS))
def test_file_written_by_sitk_reads_the_same_in_nibabel(tmp_path: Path, direction: str) -> None:
    image = random_image(direction=DIRECTIONS[direction])
    path = write_image(image, tmp_path / "a.nii.gz")
    via_nib = from_nibabel(nib.load(path))
    np.testing.assert_array_equal(via_nib.array, image.array)
    assert_same_geometry(via_nib, image)
    header = nib.load(path).header
    assert int(header["qform_code"]) > 0 and int(header["sform_code"]) > 0
    np.testing.assert_allclose(header.get_qform(), header.get_sform(), atol=1e-4)


@pytest.mark.parametrize("direction", list(DIRECTIONS), ids=list(DIRECTIONS))
def test_file_written_by_nibabel_reads_the_same_in_sitk(tmp_path: Path, direction: str) -> None:
    image = random_image(direction=DIRECTIONS[direction])
    path = tmp_path / "b.nii.gz"
    nib.save(to_nibabel(image), path)
    back = read_image(path)
    np.testing.assert_array_equal(back.array, image.array)
    assert_same_geometry(back, image)


def test_nibabel_voxel_position_matches_image_position(tmp_path: Path) -> None:
    """Independent check of RAS↔LPS: nibabel's affine at (i, j, k) = our LPS position with x, y negated."""
    image = random_image(direction=DIRECTIONS["oblique"])
    nifti = to_nibabel(image)
    zyx = corner_indices(image.shape)
    ras = nib.affines.apply_affine(nifti.affine, zyx[:, ::-1])
    lps = image.index_to_physical(zyx)
    np.testing.assert_allclose(ras * [-1, -1, 1], lps, atol=1e-6)
    # and the voxel value at (i, j, k) in nibabel's array is the one at (k, j, i) in ours
    np.testing.assert_array_equal(np.asanyarray(nifti.dataobj)[3, 2, 1], image.array[1, 2, 3])


def test_sitk_physical_point_matches_image(tmp_path: Path) -> None:
    image = random_image(direction=DIRECTIONS["sagittal"])
    path = write_image(image, tmp_path / "c.mha")
    itk = sitk.ReadImage(str(path))
    for zyx in corner_indices(image.shape)[:8].astype(int):
        expected = itk.TransformIndexToPhysicalPoint([int(v) for v in zyx[::-1]])
        np.testing.assert_allclose(image.index_to_physical(zyx)[0], expected, atol=1e-5)


def test_nibabel_roundtrip_in_memory_is_exact() -> None:
    image = random_image(direction=DIRECTIONS["left_handed"])
    back = from_nibabel(to_nibabel(image))
    np.testing.assert_array_equal(back.array, image.array)
    np.testing.assert_allclose(back.affine_lps(), image.affine_lps(), atol=1e-9)


def test_four_d_with_one_volume_is_squeezed(tmp_path: Path) -> None:
    data = np.random.default_rng(1).random((6, 5, 4, 1)).astype(np.float32)
    affine = np.diag([2.0, 3.0, 4.0, 1.0])
    nib.save(nib.Nifti1Image(data, affine), tmp_path / "d.nii.gz")
    back = read_image(tmp_path / "d.nii.gz")
    assert back.shape == (4, 5, 6)
    np.testing.assert_array_equal(back.array, data[..., 0].transpose(2, 1, 0))
    assert back.spacing == (4.0, 3.0, 2.0)


@pytest.mark.parametrize("ext", [".nii.gz", ".nrrd", ".mha"])
def test_mask_roundtrip_is_uint8(tmp_path: Path, ext: str) -> None:
    mask = random_image().array > 100
    path = write_image(random_image().with_array(mask.astype(np.uint8)), tmp_path / f"m{ext}")
    back = read_image(path, role="mask")
    assert back.array.dtype == np.uint8
    np.testing.assert_array_equal(back.array, mask)


def test_mask_with_single_label_255_maps_to_one(tmp_path: Path) -> None:
    array = np.zeros((4, 5, 6), np.uint8)
    array[1:3, 2:4, 2:5] = 255
    path = write_image(Image(array), tmp_path / "m255.nrrd")
    np.testing.assert_array_equal(read_image(path, role="mask").array, array // 255)


def test_empty_mask_is_valid(tmp_path: Path) -> None:
    path = write_image(Image(np.zeros((4, 5, 6), np.uint8)), tmp_path / "empty.nii.gz")
    assert read_image(path, role="mask").array.sum() == 0


def test_probability_is_clipped_within_tolerance(tmp_path: Path) -> None:
    array = np.linspace(-1e-4, 1 + 1e-4, 120, dtype=np.float32).reshape(4, 5, 6)
    back = read_image(write_image(Image(array), tmp_path / "p.nii.gz"), role="probability")
    assert back.array.min() == 0.0 and back.array.max() == 1.0


def test_scaled_integer_nifti_reads_as_float(tmp_path: Path) -> None:
    data = (np.arange(120).reshape(6, 5, 4) % 7).astype(np.int16)
    nifti = nib.Nifti1Image(data, np.eye(4))
    nifti.header.set_slope_inter(0.5, 10.0)
    nib.save(nifti, tmp_path / "s.nii")
    back = read_image(tmp_path / "s.nii")
    np.testing.assert_allclose(back.array, data.transpose(2, 1, 0) * 0.5 + 10.0)
