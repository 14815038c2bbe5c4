"""The synthetic review case of the web and session tests (no test functions here): a FLAIR-like image, reference
lesions (one missed at every threshold, one weak) and a probability map with false alarms, in memory or on disk."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from LesionSegLogic.image import Image
from LesionSegLogic.io import write_image


def balls_and_cones(
    rng: np.random.Generator,
    shape: tuple[int, int, int],
    noise: float,
    lesions: list[tuple[int, int, int, float, float]],
    false_alarms: list[tuple[int, int, int, float]],
) -> tuple[np.ndarray, np.ndarray]:
    """``(reference, probability)``: each lesion ``(z, y, x, r, peak)`` a ball of radius ``r`` in the reference and
    a cone ``peak · clip(1.2 − d / (r + 1), 0, 1)`` in the map (``peak`` 0: missed at every threshold), each false
    alarm ``(z, y, x, peak)`` a cone of radius 3 only in the map, over uniform ``[0, noise)`` (float32)."""
    zz, yy, xx = np.indices(shape)
    reference = np.zeros(shape, bool)
    probability = rng.random(shape).astype(np.float32) * noise
    for z, y, x, r, peak in lesions:
        d = np.sqrt((zz - z) ** 2 + (yy - y) ** 2 + (xx - x) ** 2)
        reference |= d <= r
        probability = np.maximum(probability, peak * np.clip(1.2 - d / (r + 1), 0, 1)).astype(np.float32)
    for z, y, x, peak in false_alarms:
        d = np.sqrt((zz - z) ** 2 + (yy - y) ** 2 + (xx - x) ** 2)
        probability = np.maximum(probability, peak * np.clip(1.2 - d / 3, 0, 1)).astype(np.float32)
    return reference, probability


def synthetic_case(seed: int = 3) -> tuple[Image, np.ndarray, np.ndarray]:
    """FLAIR-like image, reference lesions and a probability map with a miss and false alarms."""
    rng = np.random.default_rng(seed)
    shape = (24, 40, 40)
    lesions = [(8, 10, 10, 3.0, 0.9), (8, 28, 28, 2.5, 0.55), (16, 12, 28, 2.5, 0.3), (16, 30, 10, 2.5, 0.0)]
    reference, probability = balls_and_cones(rng, shape, 0.05, lesions, [(12, 20, 20, 0.7), (20, 34, 34, 0.35)])
    flair = Image((100 + 60 * reference + rng.normal(0, 4, shape)).astype(np.float32), (2.0, 1.0, 1.0),
                  (-20.0, 15.0, -10.0), np.eye(3), "flair")
    return flair, reference, np.clip(probability, 0, 1).astype(np.float32)


def write_case(folder: Path, with_probability: bool = True) -> Path:
    flair, reference, probability = synthetic_case()
    folder.mkdir(parents=True, exist_ok=True)
    write_image(flair, folder / "flair.nii.gz")
    write_image(flair.with_array(reference.astype(np.uint8)), folder / "lesions.nii.gz")
    if with_probability:
        write_image(flair.with_array(probability), folder / "probability.nii.gz")
    return folder
