"""Phantom: determinism, geometry, exact ground truth, contrast, lesion statistics (small grids, in memory)."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import ndimage

from LesionSegLogic.phantom import generate_case
from LesionSegLogic.phantom.generate import build_scene
from LesionSegLogic.phantom.lesions import rasterize
from LesionSegLogic.phantom.options import PhantomOptions
from LesionSegLogic.phantom.signal import CSF, GM, WM, Flair, SpinEcho, null_inversion_time, tissue_signal

SMALL = {"spacing": (2.0, 2.0, 2.0)}
CROP = {"fov_mm": (50.0, 80.0, 80.0), "n_lesions": 6}


@pytest.fixture(scope="module")
def maps(brain_maps):
    return brain_maps  # loaded once per session (conftest.py)


@pytest.fixture(scope="module")
def small_case(maps):
    return generate_case(7, maps=maps, **SMALL, n_lesions=15)


def test_flair_nulls_csf_and_orders_tissues() -> None:
    flair, t2 = Flair(), SpinEcho()
    ti = null_inversion_time(CSF.t1, flair.tr)
    assert abs(1 - 2 * np.exp(-ti / CSF.t1) + np.exp(-flair.tr / CSF.t1)) < 1e-9
    assert tissue_signal(flair, CSF) < 0.01 * tissue_signal(flair, WM)
    assert tissue_signal(flair, GM) > tissue_signal(flair, WM)
    assert tissue_signal(t2, CSF) > tissue_signal(t2, GM) > tissue_signal(t2, WM)


def test_same_seed_same_case_other_seed_differs(maps) -> None:
    a = generate_case(3, maps=maps, **CROP)
    b = generate_case(3, maps=maps, **CROP)
    c = generate_case(4, maps=maps, **CROP)
    assert np.array_equal(a.flair.array, b.flair.array)
    assert np.array_equal(a.t2.array, b.t2.array)
    assert np.array_equal(a.lesions.array, b.lesions.array)
    assert not np.array_equal(a.flair.array, c.flair.array)


def test_ground_truth_is_fraction_at_least_half_and_records_are_measured(maps, small_case) -> None:
    case = small_case
    labels = case.lesion_labels.array
    assert np.array_equal(case.lesions.array, (labels > 0).astype(np.uint8))
    assert len(case.records) == 15
    # each record's lesion exists, is one 26-component, and its volume/centre are what the labels say
    for record in case.records:
        mask = labels == record.id
        assert mask.sum() == record.n_voxels > 0
        assert record.volume_mm3 == pytest.approx(mask.sum() * case.lesions.voxel_volume)
        centre = case.lesions.index_to_physical(np.argwhere(mask).mean(axis=0))[0]
        np.testing.assert_allclose(record.centre_lps, centre, atol=1e-3)
        assert ndimage.label(mask, structure=np.ones((3, 3, 3)))[1] == 1
    _, n = ndimage.label(case.lesions.array, structure=np.ones((3, 3, 3)))
    assert n == len(case.records)


def test_rasterize_matches_a_fine_grid_count(maps) -> None:
    """The PSF fraction of a sphere equals the fraction of fine sub-voxels inside it (independent check)."""
    options = PhantomOptions(spacing=(2.0, 2.0, 2.0), fov_mm=(20.0, 20.0, 20.0), noise=False)
    scene = build_scene("brain", options, maps)
    grid = scene.grid
    rng = np.random.default_rng(0)
    from LesionSegLogic.phantom.lesions import random_shape

    centre = grid.index_to_physical(np.array([4.3, 5.1, 4.7]))[0]
    shape = random_shape(rng, centre, 150.0, satellites=(0, 0), roughness=0.0, elongation=(1, 1), flatness=(1, 1))
    raster = rasterize(shape, grid, resolution=0.35)
    # independent estimate: 12 sub-samples per axis per voxel, midpoint rule
    k = 12
    offs = ((np.arange(k) + 0.5) / k - 0.5)
    box = raster.box
    for idx in [(4, 5, 5), (3, 5, 4), (5, 4, 5)]:
        local = tuple(i - b.start for i, b in zip(idx, box, strict=True))
        sub = np.stack(np.meshgrid(offs, offs, offs, indexing="ij"), -1).reshape(-1, 3) + np.array(idx)
        fine = (shape.level(grid.index_to_physical(sub)) <= 1).mean()
        assert raster.fraction[local] == pytest.approx(fine, abs=0.08)


@pytest.mark.parametrize("roughness", [0.0, 0.25, 0.45])
def test_inside_test_is_the_level_test_everywhere_also_in_the_perturbation_band(roughness: float) -> None:
    """:meth:`LesionShape.inside` skips the sines where the blob distance decides: it must agree with
    ``level ≤ 1`` at every point, most of all in the band the perturbation can move across the border."""
    from LesionSegLogic.phantom.lesions import random_shape

    rng = np.random.default_rng(int(roughness * 100))
    for _ in range(5):
        shape = random_shape(rng, rng.normal(size=3) * 10, float(rng.uniform(5, 500)), roughness=roughness)
        points = shape.centre + rng.normal(size=(20000, 3)) * shape.extent / 1.5
        level = shape.level(points)
        width = max(roughness, 0.05)
        band = (level > 1 - width) & (level < 1 + width)
        assert band.sum() > 500 and (level <= 1).any() and (level > 1).any()
        np.testing.assert_array_equal(shape.inside(points), level <= 1.0)


def test_flair_contrast(small_case, maps) -> None:
    case = small_case
    scene = build_scene("brain", PhantomOptions(**SMALL), maps)
    fractions = scene.fractions(np.zeros(3))
    flair = case.flair.array.astype(float)
    core = ndimage.binary_erosion(case.lesions.array > 0) | (case.lesions.array > 0)
    wm = (fractions[WM] > 0.95) & ~ndimage.binary_dilation(case.lesions.array > 0, iterations=2)
    gm = fractions[GM] > 0.8
    csf = fractions[CSF] > 0.9
    assert flair[core].mean() > 1.3 * flair[wm].mean()
    assert flair[gm].mean() > flair[wm].mean()
    assert flair[csf].mean() < 0.35 * flair[wm].mean()
    t2 = case.t2.array.astype(float)
    assert t2[csf].mean() > t2[core].mean() > t2[wm].mean()


def test_geometry_is_the_mni_template(maps, small_case) -> None:
    """At 1 mm the output grid is the MNI template's grid; at 2 mm it covers the same box, centred."""
    from LesionSegLogic.phantom.brain import brain_grid

    one = brain_grid(maps, PhantomOptions())
    assert maps.grid.same_grid(one.image(np.zeros(one.shape, np.uint8)))
    image = small_case.flair
    centre = lambda im: im.index_to_physical((np.asarray(im.shape) - 1) / 2)[0]  # noqa: E731
    np.testing.assert_allclose(centre(image), centre(maps.grid), atol=1e-6)
    np.testing.assert_allclose(image.direction, maps.grid.direction)
    # MNI RAS (0, 0, 0) is the LPS origin: the template's voxel (x=98, y=134, z=72)
    np.testing.assert_allclose(maps.grid.index_to_physical(np.array([72, 134, 98]))[0], [0, 0, 0], atol=1e-6)


def test_maps_read_without_nilearn_datasets_equal_nilearns_own(maps) -> None:
    """The templates are read from nilearn's data folder without importing ``nilearn.datasets`` (scikit-learn,
    pandas): voxel for voxel and in geometry they are what ``nilearn.datasets.load_mni152_*(resolution=1)`` give."""
    from nilearn import datasets

    from LesionSegLogic.phantom.anatomy import mni152_1mm, nifti_to_image

    loaders = {"t1": datasets.load_mni152_template, "gm": datasets.load_mni152_gm_template,
               "wm": datasets.load_mni152_wm_template}
    for kind, load in loaders.items():
        ours, theirs = mni152_1mm(kind), nifti_to_image(load(resolution=1))
        assert ours.array.dtype == theirs.array.dtype and np.array_equal(ours.array, theirs.array), kind
        assert ours.same_grid(theirs, tolerance=0.0), kind
    mask = nifti_to_image(datasets.load_mni152_brain_mask(resolution=1))
    assert np.array_equal(maps.brain.array, mask.array > 0.5)


def test_lesion_statistics_over_seeds(maps) -> None:
    counts, regions, volumes = [], [], []
    for seed in range(4):
        case = generate_case(100 + seed, maps=maps, spacing=(3.0, 3.0, 3.0), noise=False, bias=0.0)
        counts.append(len(case.records))
        regions += [r.region for r in case.records]
        volumes += [r.true_volume_mm3 for r in case.records]
    assert all(0 <= c <= 60 for c in counts)
    assert 5 < np.mean(counts) < 50
    assert set(regions) <= {"periventricular", "juxtacortical", "deep_white_matter", "infratentorial"}
    share = regions.count("periventricular") / len(regions)
    assert 0.2 < share < 0.6
    assert min(volumes) < 50 < max(volumes)


def test_periventricular_lesions_point_away_from_the_ventricles(maps) -> None:
    options = PhantomOptions(spacing=(2.0, 2.0, 2.0))
    scene = build_scene("brain", options, maps)
    rng = np.random.default_rng(1)
    cosines = []
    for _ in range(15):
        shape = scene.draw_shape(rng, "periventricular")
        zyx = maps.grid.physical_to_index(shape.centre)[0]
        normal = scene._ventricle_normal(zyx)
        cosines.append(abs(float(shape.long_axis @ normal)))
    assert np.median(cosines) > 0.9
