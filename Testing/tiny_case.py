"""A tiny case folder on disk (FLAIR, T2, lesions, probability) for the write-policy, debris and read tests
(no test functions here). Written in milliseconds, so the tests need no phantom."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from LesionSegLogic.image import Image
from LesionSegLogic.io import write_image

SHAPE = (10, 14, 14)
SPACING = (2.0, 1.0, 1.0)


def grid_image(array: np.ndarray, origin: tuple[float, float, float] = (0.0, 0.0, 0.0)) -> Image:
    return Image(array, SPACING, origin, np.eye(3))


def lesion_mask(shape: tuple[int, int, int] = SHAPE) -> np.ndarray:
    """Two separate blobs (two lesions)."""
    mask = np.zeros(shape, np.uint8)
    mask[3:6, 3:7, 3:7] = 1
    mask[5:8, 9:12, 9:12] = 1
    return mask


def write_tiny_case(folder: Path, seed: int = 0) -> dict[str, Path]:
    """``folder/{flair,t2,lesions,probability}.nii.gz``: noisy images with bright lesions, their mask and a
    smooth probability map; returns the paths by role."""
    rng = np.random.default_rng(seed)
    mask = lesion_mask().astype(np.float64)
    flair = (rng.normal(300, 30, SHAPE) + 400 * mask).astype(np.int16)
    t2 = (rng.normal(500, 40, SHAPE) + 300 * mask).astype(np.int16)
    probability = np.clip(0.85 * mask + rng.uniform(0, 0.3, SHAPE), 0, 1).astype(np.float32)
    paths = {
        "flair": write_image(grid_image(flair), folder / "flair.nii.gz"),
        "t2": write_image(grid_image(t2), folder / "t2.nii.gz"),
        "lesions": write_image(grid_image(mask.astype(np.uint8)), folder / "lesions.nii.gz"),
        "probability": write_image(grid_image(probability), folder / "probability.nii.gz"),
    }
    return paths


def digest(path: Path) -> str:
    """sha256 of a file (inputs and earlier results are hashed before and after each command)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def tree_digest(folder: Path) -> dict[str, str]:
    """Relative path → sha256 of every file under ``folder`` (hidden staging debris included)."""
    return {str(p.relative_to(folder)): digest(p) for p in sorted(Path(folder).rglob("*")) if p.is_file()}
