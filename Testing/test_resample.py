"""Resampling onto reference grids, overlap estimation and multi-input alignment."""

from __future__ import annotations

import numpy as np
import pytest
from image_builders import DIRECTIONS, oblique_direction

from LesionSegLogic.errors import GeometryError
from LesionSegLogic.image import Image
from LesionSegLogic.resample import align_inputs, grids_overlap, resample_to, resample_to_spacing


def linear_field(image: Image) -> np.ndarray:
    """Values of the physical function f(p) = 2x − y + 0.5z + 3 at every voxel centre of ``image``."""
    zyx = np.stack(np.meshgrid(*[np.arange(n) for n in image.shape], indexing="ij"), -1).reshape(-1, 3)
    p = image.index_to_physical(zyx)
    return (2 * p[:, 0] - p[:, 1] + 0.5 * p[:, 2] + 3).reshape(image.shape).astype(np.float32)


def grid(shape, spacing=(1.0, 1.0, 1.0), origin=(0.0, 0.0, 0.0), direction=None, fill=None) -> Image:
    direction = np.eye(3) if direction is None else direction
    template = Image(np.zeros(shape, np.float32), spacing, origin, direction)
    return template.with_array(linear_field(template) if fill is None else fill)


@pytest.mark.parametrize("direction", ["identity", "oblique", "sagittal"])
def test_linear_resampling_reproduces_a_linear_field(direction: str) -> None:
    """Linear interpolation is exact for a linear function: the resampled image equals the function sampled
    directly on the reference grid, wherever the reference voxel lies inside the source."""
    reference = grid((10, 12, 11), (1.2, 1.7, 1.3), (-4.0, -5.0, -3.0), oblique_direction((3.0, 8.0, -6.0)))
    centre = reference.index_to_physical([[4.5, 5.5, 5.0]])[0]
    shape, spacing = (24, 26, 28), (2.0, 1.5, 1.0)
    half_extent = DIRECTIONS[direction] @ (np.asarray(spacing[::-1]) * (np.asarray(shape[::-1]) - 1) / 2)
    source = grid(shape, spacing, tuple(centre - half_extent), DIRECTIONS[direction])
    out = resample_to(source, reference)
    inside_idx = source.physical_to_index(reference.index_to_physical(
        np.stack(np.meshgrid(*[np.arange(n) for n in reference.shape], indexing="ij"), -1).reshape(-1, 3)))
    inside = np.all((inside_idx >= 0) & (inside_idx <= np.asarray(source.shape) - 1), axis=1).reshape(
        reference.shape)
    assert inside.mean() > 0.5
    np.testing.assert_allclose(out.array[inside], linear_field(reference)[inside], atol=1e-3)
    assert out.same_grid(reference) and out.array.dtype == np.float32


def test_nearest_keeps_labels_and_dtype() -> None:
    mask = np.zeros((10, 10, 10), np.uint8)
    mask[3:7, 2:8, 4:6] = 1
    source = Image(mask, (1.0, 1.0, 1.0))
    reference = Image(np.zeros((20, 20, 20), np.float32), (0.5, 0.5, 0.5), (-0.25, -0.25, -0.25))
    out = resample_to(source, reference, interpolation="nearest")
    assert out.array.dtype == np.uint8 and set(np.unique(out.array)) == {0, 1}
    np.testing.assert_array_equal(out.array, np.repeat(np.repeat(np.repeat(mask, 2, 0), 2, 1), 2, 2))


def test_same_grid_passes_through() -> None:
    image = grid((5, 6, 7))
    assert resample_to(image, grid((5, 6, 7))) is image


def test_shift_by_whole_voxels_moves_the_array() -> None:
    image = grid((8, 8, 8), fill=np.random.default_rng(0).random((8, 8, 8)).astype(np.float32))
    shifted = Image(np.zeros((8, 8, 8), np.float32), origin=(2.0, 1.0, 3.0))  # x+2, y+1, z+3
    out = resample_to(image, shifted)
    np.testing.assert_allclose(out.array[:5, :7, :6], image.array[3:, 1:, 2:], atol=1e-6)
    assert np.all(out.array[5:] == 0)


@pytest.mark.parametrize("direction", ["identity", "oblique"])
def test_resample_to_spacing_and_back(direction: str) -> None:
    source = grid((20, 24, 22), (1.0, 1.0, 1.0), (3.0, -4.0, 5.0), DIRECTIONS[direction])
    coarse = resample_to_spacing(source, (2.0, 1.5, 1.0))
    assert coarse.shape == (10, 16, 22) and coarse.spacing == (2.0, 1.5, 1.0)
    # same field of view: the first voxel's outer corner stays where it was
    corner = [[-0.5, -0.5, -0.5]]
    np.testing.assert_allclose(coarse.index_to_physical(corner), source.index_to_physical(corner), atol=1e-9)
    np.testing.assert_allclose(coarse.array, linear_field(coarse), atol=1e-3)
    back = resample_to(coarse, source)
    assert back.same_grid(source)
    interior = (slice(2, -2),) * 3
    np.testing.assert_allclose(back.array[interior], source.array[interior], atol=1e-3)


def test_resample_to_spacing_rejects_bad_spacing() -> None:
    with pytest.raises(GeometryError):
        resample_to_spacing(grid((4, 4, 4)), (1.0, 0.0, 1.0))


def test_grids_overlap_fractions() -> None:
    a = grid((10, 10, 10))
    assert grids_overlap(a, a) == 1.0
    half = grid((10, 10, 10), origin=(5.0, 0.0, 0.0))  # shifted by half its width in x
    assert grids_overlap(a, half) == pytest.approx(0.5, abs=0.07)
    far = grid((10, 10, 10), origin=(500.0, 0.0, 0.0))
    assert grids_overlap(a, far) == 0.0
    bigger = grid((30, 30, 30), origin=(-10.0, -10.0, -10.0))
    assert grids_overlap(a, bigger) == 1.0
    assert grids_overlap(bigger, a) == pytest.approx(1 / 27, abs=0.03)


def test_align_inputs_resamples_only_what_is_off_grid() -> None:
    flair = grid((12, 12, 12))
    flair = Image(flair.array, name="flair.nii.gz")
    t2 = Image(linear_field(grid((6, 6, 6), (2.0, 2.0, 2.0), (0.5, 0.5, 0.5))), (2.0, 2.0, 2.0),
               (0.5, 0.5, 0.5), name="t2.nii.gz")
    mask_array = np.zeros((12, 12, 12), np.uint8)
    mask_array[4:8, 4:8, 4:8] = 1
    ref_mask = Image(mask_array, origin=(1.0, 0.0, 0.0), name="ref.nii.gz")
    same = flair.with_array(flair.array * 2, name="same.nii.gz")
    out = align_inputs(flair, {"t2": t2, "ref": ref_mask, "same": same}, masks={"ref"})
    assert out["same"] is same
    assert all(v.same_grid(flair) for v in out.values())
    assert out["ref"].array.dtype == np.uint8 and set(np.unique(out["ref"].array)) == {0, 1}
    np.testing.assert_array_equal(out["ref"].array[:, :, 1:], mask_array[:, :, :11])
    interior = (slice(1, 10),) * 3
    np.testing.assert_allclose(out["t2"].array[interior], flair.array[interior], atol=1e-3)


def test_align_inputs_refuses_disjoint_grids_naming_both_files() -> None:
    flair = Image(np.ones((8, 8, 8), np.float32), name="flair.nii.gz")
    t2 = Image(np.ones((8, 8, 8), np.float32), origin=(0.0, 0.0, 100.0), name="other_t2.nii.gz")
    with pytest.raises(GeometryError) as info:
        align_inputs(flair, {"t2": t2})
    assert "flair.nii.gz" in str(info.value) and "other_t2.nii.gz" in str(info.value)
