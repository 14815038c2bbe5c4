"""Foreground mask, z-score and Nyúl standardisation."""

from __future__ import annotations

import json

import numpy as np
import pytest
from scipy import ndimage

from LesionSegLogic.errors import ConfigError, ConstantImageError, MaskError
from LesionSegLogic.image import Image
from LesionSegLogic.preprocessing import NyulStandardiser, foreground_mask, normalise, zscore_normalise


def phantom_head(seed: int = 0, shape=(40, 48, 44), gain: float = 1.0, offset: float = 0.0):
    """A noisy ellipsoidal 'head' (tissue ~ 300) around a dark nulled-CSF 'ventricle' (~ 20), in air (~ 5)."""
    rng = np.random.default_rng(seed)
    z, y, x = np.meshgrid(*[np.linspace(-1, 1, n) for n in shape], indexing="ij")
    head = (z / 0.8) ** 2 + (y / 0.85) ** 2 + (x / 0.8) ** 2 < 1
    ventricle = (z / 0.2) ** 2 + (y / 0.3) ** 2 + (x / 0.15) ** 2 < 1
    array = np.where(head, 300.0 + 40 * x, 5.0)
    array[ventricle] = 20.0
    array = np.abs(array + rng.normal(0, 8, shape))
    return (gain * array + offset).astype(np.float32), head


def test_foreground_mask_finds_the_head_and_fills_the_dark_ventricle() -> None:
    array, head = phantom_head()
    mask = foreground_mask(array)
    assert np.sum(mask & head) > 0.99 * head.sum()  # generous on purpose: covers the whole head ...
    assert not np.any(mask & ~ndimage.binary_dilation(head, iterations=2))  # ... and at most 2 voxels more
    assert mask[20, 24, 22]  # the ventricle centre (dark, but enclosed) is foreground
    assert not mask[0, 0, 0]


def test_foreground_mask_drops_small_speckles_and_keeps_two_big_parts() -> None:
    array = np.zeros((30, 30, 60), np.float32)
    array[5:25, 5:25, 5:25] = 100  # two comparable objects (e.g. both hemispheres of a cord scan)
    array[5:25, 5:25, 35:55] = 90
    array[2, 2, 30] = 500  # a bright speck in the air
    mask = foreground_mask(array)
    assert mask[15, 15, 15] and mask[15, 15, 45]
    assert not mask[2, 2, 30]


def test_foreground_of_constant_array_is_empty() -> None:
    assert not foreground_mask(np.full((8, 8, 8), 3.0)).any()


def test_zscore_inside_mask_has_zero_mean_unit_std() -> None:
    array, head = phantom_head()
    out = zscore_normalise(array, head, clip_percentiles=None)
    assert out.dtype == np.float32
    assert abs(float(out[head].mean())) < 1e-4 and abs(float(out[head].std()) - 1) < 1e-4


def test_zscore_clips_outliers_and_sets_background_to_the_lowest_value() -> None:
    array, head = phantom_head()
    array[20, 10, 22] = 1e6  # a hot voxel inside the head
    out = zscore_normalise(array, head)
    inside = out[head]
    assert float(out[~head].min()) == float(out[~head].max()) == float(inside.min())
    assert float(inside.max()) < 5  # the outlier was clipped to the 99.5th percentile
    # clipping is at the mask's own percentiles
    low, high = np.percentile(array[head], (0.5, 99.5))
    expected = np.clip(array[head], low, high)
    np.testing.assert_allclose(inside, (expected - expected.mean()) / expected.std(), atol=1e-4)


def test_zscore_is_invariant_to_gain_and_offset() -> None:
    a, head = phantom_head(seed=1)
    b, _ = phantom_head(seed=1, gain=3.7, offset=250.0)
    np.testing.assert_allclose(zscore_normalise(a, head), zscore_normalise(b, head), atol=1e-3)


def test_zscore_errors() -> None:
    array, head = phantom_head()
    with pytest.raises(MaskError, match="empty"):
        zscore_normalise(array, np.zeros_like(head))
    with pytest.raises(MaskError, match="shape"):
        zscore_normalise(array, head[:-1])
    with pytest.raises(ConstantImageError):
        zscore_normalise(np.full(array.shape, 4.0, np.float32), head)


def test_nyul_maps_each_training_image_landmarks_onto_the_standard_ones() -> None:
    images = [phantom_head(seed=s, gain=g, offset=o) for s, g, o in [(0, 1, 0), (1, 2.5, 100), (2, 0.6, -3)]]
    arrays, masks = [a for a, _ in images], [m for _, m in images]
    nyul = NyulStandardiser().fit(arrays, masks)
    assert nyul.landmarks is not None and nyul.landmarks[0] == 0 and nyul.landmarks[-1] == 100
    for array, mask in zip(arrays, masks, strict=True):
        out = nyul.transform(array, mask)
        marks = np.percentile(out[mask], nyul.percentiles)
        np.testing.assert_allclose(marks, nyul.landmarks, atol=0.5)


def test_nyul_removes_a_monotone_intensity_distortion() -> None:
    """A new scan whose intensities went through an unknown monotone map lands on the same scale."""
    a, head = phantom_head(seed=3)
    nyul = NyulStandardiser().fit([a], [head])
    distorted = (np.sqrt(np.maximum(a, 0)) * 37 + 12).astype(np.float32)
    np.testing.assert_allclose(
        np.percentile(nyul.transform(distorted, head)[head], nyul.percentiles), nyul.landmarks, atol=0.5
    )


def test_nyul_extrapolates_linearly_beyond_the_cutoffs() -> None:
    a, head = phantom_head(seed=4)
    nyul = NyulStandardiser().fit([a], [head])
    out = nyul.transform(a, head)
    bottom = a[head] < np.percentile(a[head], 1)
    assert np.all(out[head][bottom] < 0)  # below s1 = 0, not clamped
    assert np.all(np.diff(out[head][np.argsort(a[head], kind="stable")]) >= -1e-4)  # monotone


def test_nyul_dict_roundtrip_through_json() -> None:
    a, head = phantom_head(seed=5)
    nyul = NyulStandardiser(percentiles=(2, 25, 50, 75, 98), scale=(1, 4095)).fit([a], [head])
    again = NyulStandardiser.from_dict(json.loads(json.dumps(nyul.to_dict())))
    np.testing.assert_array_equal(again.transform(a, head), nyul.transform(a, head))
    with pytest.raises(ConfigError):
        NyulStandardiser(percentiles=(50, 10))
    with pytest.raises(ConfigError, match="before fit"):
        NyulStandardiser().transform(a, head)


def test_normalise_front_door_keeps_geometry() -> None:
    a, head = phantom_head(seed=6)
    image = Image(a, (1.2, 1.0, 0.9), (3.0, 4.0, 5.0), name="flair.nii.gz")
    z = normalise(image)
    assert z.same_grid(image) and z.name == image.name and z.array.dtype == np.float32
    nyul = NyulStandardiser().fit([a], [head])
    n = normalise(image, "nyul", mask=head, standardiser=nyul)
    assert abs(float(n.array[head].mean())) < 1e-3
    with pytest.raises(ConfigError):
        normalise(image, "nyul")
