"""Patch augmentation (Hussein et al. 2023): random mirroring and 90° rotations, optionally an intensity jitter.

The same geometric transform is applied to the image (C, z, y, x) and its mask (z, y, x), so they stay
aligned. A 90° rotation is only drawn in a plane where the patch is square (else it would change the patch
shape); a 180° rotation is used in the other planes.
"""

from __future__ import annotations

import numpy as np

_PLANES = ((0, 1), (0, 2), (1, 2))


def augment(
    image: np.ndarray,
    mask: np.ndarray,
    rng: np.random.Generator,
    *,
    mirror: bool = True,
    rotate90: bool = True,
    intensity_jitter: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """Randomly mirrored / rotated (and intensity-jittered) copies of ``image`` and ``mask``."""
    if image.shape[1:] != mask.shape:
        raise ValueError(f"image {image.shape} and mask {mask.shape} do not match")
    if mirror:
        for axis in range(3):
            if rng.random() < 0.5:
                image = np.flip(image, axis + 1)
                mask = np.flip(mask, axis)
    if rotate90:
        a, b = _PLANES[int(rng.integers(3))]
        k = int(rng.integers(4))
        if mask.shape[a] != mask.shape[b]:
            k = 2 * (k % 2)
        if k:
            image = np.rot90(image, k, axes=(a + 1, b + 1))
            mask = np.rot90(mask, k, axes=(a, b))
    image = np.ascontiguousarray(image, dtype=np.float32)
    if intensity_jitter > 0:
        scale = 1 + rng.normal(0, intensity_jitter, (image.shape[0], 1, 1, 1))
        shift = rng.normal(0, intensity_jitter, (image.shape[0], 1, 1, 1))
        image = (image * scale + shift).astype(np.float32)
    return image, np.ascontiguousarray(mask)
