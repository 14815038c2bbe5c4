"""The probability map and reference that the ``evaluate``/``sweep`` command tests read (no test functions here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from scipy import ndimage

from LesionSegLogic.image import Image
from LesionSegLogic.io import write_image

#: Voxel spacing (mm, z y x) of the written case.
SPACING = (2.0, 1.0, 1.0)


def over_segmented_case(seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``(probability, reference)``: four reference lesions of several sizes and a map that over-segments them at
    low thresholds."""
    rng = np.random.default_rng(seed)
    ref = np.zeros((16, 40, 40), bool)
    for z, y, x, r in ((4, 8, 8, 1), (8, 20, 24, 3), (10, 30, 10, 2), (12, 32, 32, 1)):
        ref[z - 1 : z + 2, y - r : y + r + 1, x - r : x + r + 1] = True
    blur = ndimage.gaussian_filter(ref.astype(float), (0.6, 1.5, 1.5))
    p = np.clip(0.9 * blur / blur.max() + 0.35 * rng.random(ref.shape) ** 4, 0, 1).astype(np.float32)
    return p, ref


def write_map_and_reference(folder: Path, p: np.ndarray, ref: np.ndarray) -> tuple[Path, Path]:
    """``folder/probability.nii.gz`` (float32) and ``folder/ref.nii.gz`` (uint8) at :data:`SPACING`."""
    prob = write_image(Image(p, spacing=SPACING), folder / "probability.nii.gz", dtype=np.float32)
    reference = write_image(Image(ref.astype(np.uint8), spacing=SPACING), folder / "ref.nii.gz", dtype=np.uint8)
    return prob, reference
