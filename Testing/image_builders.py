"""Small image builders shared by the I/O, DICOM, BIDS and prediction tests (no test functions here)."""

from __future__ import annotations

import numpy as np
from scipy.spatial.transform import Rotation

from LesionSegLogic.image import Image


def oblique_direction(angles_deg: tuple[float, float, float] = (12.0, -25.0, 37.0)) -> np.ndarray:
    """A proper rotation (det +1) that is not axis-aligned."""
    return Rotation.from_euler("xyz", angles_deg, degrees=True).as_matrix()


def rotation_zx(a_deg: float, b_deg: float) -> np.ndarray:
    """``Rz(a) @ Rx(b)``: a proper rotation about z by ``a`` degrees after one about x by ``b``."""
    a, b = np.deg2rad(a_deg), np.deg2rad(b_deg)
    rz = np.array([[np.cos(a), -np.sin(a), 0], [np.sin(a), np.cos(a), 0], [0, 0, 1]])
    rx = np.array([[1, 0, 0], [0, np.cos(b), -np.sin(b)], [0, np.sin(b), np.cos(b)]])
    return rz @ rx


def noisy_head(
    shape: tuple[int, int, int], radii: tuple[int, int, int], bright: tuple[slice, slice, slice], seed: int = 0
) -> np.ndarray:
    """A head-like float64 volume: an ellipsoid centred in the box (semi-axes ``radii`` voxels) of 100 + 5·N(0, 1)
    on a 2·|N(0, 1)| background, and a block ``bright`` of 400 (a lesion-like blob)."""
    rng = np.random.default_rng(seed)
    z, y, x = np.indices(shape)
    c = np.array(shape) / 2
    head = ((z - c[0]) / radii[0]) ** 2 + ((y - c[1]) / radii[1]) ** 2 + ((x - c[2]) / radii[2]) ** 2 <= 1
    a = np.where(head, 100 + 5 * rng.standard_normal(shape), 2 * np.abs(rng.standard_normal(shape)))
    a[bright] = 400.0
    return a


def random_image(
    shape: tuple[int, int, int] = (5, 6, 7),
    *,
    spacing: tuple[float, float, float] = (3.0, 0.5, 0.8),
    origin: tuple[float, float, float] = (12.5, -30.25, 41.0),
    direction: np.ndarray | None = None,
    seed: int = 0,
) -> Image:
    rng = np.random.default_rng(seed)
    array = rng.normal(100, 20, size=shape).astype(np.float32)
    return Image(array, spacing, origin, np.eye(3) if direction is None else direction)


#: directions every geometry test runs over: identity, oblique, RAS-like flips (x and y negated), a
#: permutation (sagittal acquisition) and an improper (det −1) flip of one axis.
DIRECTIONS: dict[str, np.ndarray] = {
    "identity": np.eye(3),
    "oblique": oblique_direction(),
    "ras_flip": np.diag([-1.0, -1.0, 1.0]),
    "sagittal": np.array([[0.0, 0.0, -1.0], [1.0, 0.0, 0.0], [0.0, -1.0, 0.0]]),
    "left_handed": np.diag([1.0, 1.0, -1.0]) @ oblique_direction((5.0, 10.0, -15.0)),
}


def corner_indices(shape: tuple[int, int, int]) -> np.ndarray:
    """All 8 corner voxel indices (z, y, x) plus a fractional interior point."""
    corners = np.array(np.meshgrid(*[[0, n - 1] for n in shape], indexing="ij")).reshape(3, -1).T
    return np.vstack([corners, [[1.5, 2.25, 3.75]]]).astype(float)
