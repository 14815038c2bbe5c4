"""Lesion regions (LesionSegLogic.regions, McDonald 2017 DIS areas): the distance rule on anatomy maps resampled
onto a case grid, a phantom's recorded regions, the cord level — fast, on a small synthetic MNI-like anatomy; the
real phantom (MNI152 maps from the nilearn wheel) and the SimpleITK registration are ``heavy``."""

from __future__ import annotations

import numpy as np
import pytest
import SimpleITK as sitk
from scipy import ndimage

from LesionSegLogic.errors import LesionSegError
from LesionSegLogic.image import Image
from LesionSegLogic.phantom.anatomy import BrainMaps, mni_coordinates
from LesionSegLogic.regions import (
    DIS_REGIONS,
    REGIONS,
    SPINAL_CORD,
    atlas_for_case,
    atlas_from_mni,
    cord_atlas,
    phantom_atlas,
)

VENTRICLE_RAS = (0.0, -10.0, 15.0)


def ras_to_lps(ras) -> np.ndarray:
    return np.array([-ras[0], -ras[1], ras[2]], float)


@pytest.fixture(scope="module")
def maps() -> BrainMaps:
    """A 2 mm "MNI" grid (RAS x −60..60, y −90..60, z −50..60): an ellipsoid brain, a spherical ventricle of 8 mm
    radius at (0, −10, 15), the cortex = the outer 4 mm of the brain."""
    shape_xyz = (61, 76, 56)
    origin_lps = ras_to_lps((-60.0, -90.0, -50.0))
    direction = np.diag([-1.0, -1.0, 1.0])  # RAS-stored axes, as nibabel's MNI files
    grid = Image(np.zeros(shape_xyz[::-1], np.float32), (2.0, 2.0, 2.0), tuple(origin_lps), direction)
    x, y, z = mni_coordinates(grid)
    brain = ((x / 60) ** 2 + ((y + 15) / 75) ** 2 + ((z - 5) / 55) ** 2) <= 1.0
    ventricles = ((x - VENTRICLE_RAS[0]) ** 2 + (y - VENTRICLE_RAS[1]) ** 2 + (z - VENTRICLE_RAS[2]) ** 2) <= 64
    depth = ndimage.distance_transform_edt(brain, sampling=grid.spacing).astype(np.float32)
    cortex = brain & (depth <= 4.0)
    distance = {name: ndimage.distance_transform_edt(~mask, sampling=grid.spacing).astype(np.float32)
                for name, mask in (("ventricle", ventricles), ("cortex", cortex))}
    empty = grid.with_array(np.zeros(grid.shape, np.float32))
    return BrainMaps(gm=empty, wm=empty, csf=empty, brain=grid.with_array(brain),
                     ventricles=grid.with_array(ventricles), ventricle_distance=grid.with_array(distance["ventricle"]),
                     cortex_distance=grid.with_array(distance["cortex"]), depth=grid.with_array(depth))


def case_grid() -> Image:
    """A case on its own grid (1.5 mm, LPS-stored, covering the anatomy): resampling is exercised."""
    return Image(np.zeros((70, 100, 80), np.float32), (1.5, 1.5, 1.5), (-60.0, -60.0, -50.0), np.eye(3))


def blobs(grid: Image, centres_ras: list[tuple[float, float, float]], radius_mm: float = 2.5) -> np.ndarray:
    """A label image with one small ball per centre (labels 1..n in the given order)."""
    labels = np.zeros(grid.shape, np.int32)
    zz, yy, xx = np.indices(grid.shape)
    for number, centre in enumerate(centres_ras, start=1):
        index = grid.physical_to_index(ras_to_lps(centre))[0]
        d = np.sqrt(((zz - index[0]) * grid.spacing[0]) ** 2 + ((yy - index[1]) * grid.spacing[1]) ** 2
                    + ((xx - index[2]) * grid.spacing[2]) ** 2)
        labels[d <= radius_mm] = number
    return labels


#: (RAS centre, expected region): touching the ventricle's top, beside the cortex, deep, below the tentorium
PLACED = [((0.0, -10.0, 26.0), "periventricular"), ((55.0, -15.0, 5.0), "juxtacortical"),
          ((30.0, 20.0, 20.0), "deep_white_matter"), ((0.0, -60.0, -30.0), "infratentorial")]


def test_distance_rule_on_a_resampled_anatomy(maps) -> None:
    grid = case_grid()
    atlas = atlas_from_mni(grid, maps, sitk.TranslationTransform(3), "test")
    labels = blobs(grid, [c for c, _ in PLACED])
    assert atlas.regions_of(labels, len(PLACED)) == [region for _, region in PLACED]
    assert atlas.regions_of(labels, 0) == []


def test_a_known_shift_moves_the_anatomy(maps) -> None:
    """A follow-up acquired 20 mm to the left: the same anatomy is 20 mm away in the case's space (the transform
    maps case points to MNI points)."""
    grid = case_grid()
    shift = ras_to_lps((20.0, 0.0, 0.0))
    atlas = atlas_from_mni(grid, maps, sitk.TranslationTransform(3, tuple(-shift)), "shifted")
    moved = [((c[0] + 20.0, c[1], c[2]), region) for c, region in PLACED[:1] + PLACED[2:3]]
    labels = blobs(grid, [c for c, _ in moved])
    assert atlas.regions_of(labels, 2) == [region for _, region in moved]
    unmoved = blobs(grid, [PLACED[0][0]])
    assert atlas.regions_of(unmoved, 1) != ["periventricular"]


def test_phantom_records_win_for_known_lesions(maps) -> None:
    """A lesion of the ground truth takes the region recorded in phantom.json (even where the distance rule says
    otherwise; a generator variant such as 'confluent_periventricular' counts as its region); a lesion that
    overlaps no known lesion (a false positive) gets the rule."""
    grid = case_grid()
    truth_labels = blobs(grid, [PLACED[2][0], PLACED[3][0]])
    centres = [grid.index_to_physical(np.argwhere(truth_labels == k).mean(axis=0))[0].tolist() for k in (1, 2)]
    case = {"anatomy": "brain", "lesions": [{"id": 1, "region": "juxtacortical", "centre_lps": centres[0]},
                                            {"id": 2, "region": "confluent_periventricular", "centre_lps": centres[1]}]}
    atlas = phantom_atlas(grid, case, truth_labels > 0, lambda: maps)
    review = blobs(grid, [PLACED[2][0], PLACED[3][0], PLACED[0][0]], radius_mm=3.5)  # larger than the truth
    assert atlas.regions_of(review, 3) == ["juxtacortical", "periventricular", "periventricular"]
    assert "phantom" in atlas.method


def test_cord_inputs_are_spinal_cord_with_their_level(tmp_path) -> None:
    grid = Image(np.zeros((100, 40, 16), np.float32), (2.0, 0.6, 2.8), (0.0, 0.0, -200.0), np.eye(3))
    atlas = cord_atlas(grid)
    assert atlas.is_cord and atlas.cord_top_mm == pytest.approx(-200.0 + 99 * 2.0)
    assert atlas.regions_of(np.ones(grid.shape, np.int32), 1) == [SPINAL_CORD]
    assert atlas.cord_level_mm(-100.0) == pytest.approx(98.0)  # mm below the top slice (S = −2 mm)
    # a phantom.json that says cord gives the cord atlas without any anatomy maps
    (tmp_path / "phantom.json").write_text('{"anatomy": "cord", "lesions": []}', encoding="utf-8")
    assert atlas_for_case(grid, folder=tmp_path, maps_loader=lambda: pytest.fail("no maps for a cord")).is_cord


def test_vocabulary() -> None:
    assert set(DIS_REGIONS) == set(REGIONS) - {"deep_white_matter"}
    assert SPINAL_CORD in DIS_REGIONS


@pytest.mark.heavy
def test_real_phantom_known_lesions_get_their_recorded_region_and_the_rule_mostly_agrees() -> None:
    from LesionSegLogic.phantom import generate_case, load_brain_maps

    brain_maps = load_brain_maps()
    case = generate_case(7, maps=brain_maps, spacing=(2.0, 2.0, 2.0), n_lesions=15)
    labels = case.lesion_labels.array
    truth, n = ndimage.label(labels > 0, structure=np.ones((3, 3, 3), bool))
    recorded = {r.id: r.region for r in case.records}
    expected = [recorded[int(np.bincount(labels[truth == k]).argmax())] for k in range(1, n + 1)]
    atlas = phantom_atlas(case.flair, case.to_json(), case.lesions.array, lambda: brain_maps)
    assert atlas.regions_of(truth, n) == [r if r in REGIONS else "periventricular" for r in expected]
    rule_only = atlas_from_mni(case.flair, brain_maps, sitk.TranslationTransform(3), "rule")
    agree = sum(a == b for a, b in zip(rule_only.regions_of(truth, n), expected, strict=True))
    assert agree >= 0.8 * n  # the generator places by centre, the rule looks at every voxel (docs/regions.md)


@pytest.mark.heavy
def test_registration_recovers_a_known_transform() -> None:
    from LesionSegLogic.io.convert import from_sitk, to_sitk
    from LesionSegLogic.regions import mni_template, register_to_mni

    template = mni_template()
    moved = sitk.Euler3DTransform()
    moved.SetRotation(0.0, 0.0, np.deg2rad(6.0))
    moved.SetTranslation((-8.0, 4.0, -5.0))
    reference = sitk.Image([100, 120, 90], sitk.sitkFloat32)
    reference.SetSpacing((1.8, 1.8, 1.8))
    reference.SetOrigin(tuple(np.asarray(template.origin) + np.array([18.0, 6.0, 10.0])))
    reference.SetDirection(tuple(np.asarray(template.direction).ravel()))
    scan = from_sitk(sitk.Resample(to_sitk(template, np.float32), reference, moved, sitk.sitkLinear, 0.0))
    found = register_to_mni(scan, template)
    for point in ((0.0, 0.0, 0.0), (30.0, 20.0, 10.0), (-40.0, -30.0, 20.0)):
        np.testing.assert_allclose(found.TransformPoint(point), moved.TransformPoint(point), atol=1.0)
    with pytest.raises(LesionSegError, match="registration"):
        register_to_mni(scan.with_array(np.zeros(scan.shape, np.float32)), template)
