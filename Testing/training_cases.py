"""Tiny synthetic cases on disk for the training tests (bright blobs in noise; not the phantom generator)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk


def write_volume(
    path: Path, array: np.ndarray, spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
) -> None:
    img = sitk.GetImageFromArray(array)
    img.SetSpacing(spacing[::-1])
    sitk.WriteImage(img, str(path))


def make_case(
    folder: Path, seed: int, shape: tuple[int, int, int] = (16, 24, 24), n_lesions: int = 3
) -> None:
    rng = np.random.default_rng(seed)
    zz, yy, xx = np.indices(shape)
    mask = np.zeros(shape, np.uint8)
    for _ in range(n_lesions):
        c = rng.uniform(3, np.asarray(shape) - 3)
        r = rng.uniform(1.5, 3.0)
        mask |= (((zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2) <= r * r).astype(np.uint8)
    folder.mkdir(parents=True, exist_ok=True)
    base = 100 + rng.normal(0, 5, shape)
    write_volume(folder / "flair.nii.gz", (base + 80 * mask).astype(np.float32))
    write_volume(folder / "t2.nii.gz", (base * 1.2 + 50 * mask).astype(np.float32))
    write_volume(folder / "lesions.nii.gz", mask)


def make_dataset(root: Path, n: int = 6, shape: tuple[int, int, int] = (16, 24, 24)) -> Path:
    for i in range(n):
        make_case(root / f"case{i:02d}", seed=100 + i, shape=shape)
    return root
