"""The image type every layer passes around: a 3-D array that never travels without its geometry.

Conventions (the same as SimpleITK / ITK / 3D Slicer's storage):

* ``array`` is indexed ``(z, y, x)`` = ``(k, j, i)`` — the order of ``SimpleITK.GetArrayFromImage``.
* ``spacing`` is in **array order** ``(z, y, x)`` mm, so ``spacing[a]`` is the step along ``array.shape[a]``.
* ``origin`` is the physical position (LPS, mm) of voxel ``(i, j, k) = (0, 0, 0)``, in ``(x, y, z)`` order.
* ``direction`` is the 3×3 LPS direction cosine matrix whose **columns** are the directions of the i, j, k
  index axes (ITK's ``GetDirection()`` reshaped row-major to 3×3).

The physical (LPS) position of array index ``(k, j, i)`` is ``origin + direction @ (spacing_xyz * (i, j, k))``.
:meth:`Image.affine_lps` and :meth:`Image.affine_ras` give that map as 4×4 matrices from ``(i, j, k, 1)``;
NIfTI's qform/sform is ``affine_ras``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from LesionSegLogic.errors import GeometryError

_LPS_TO_RAS = np.diag([-1.0, -1.0, 1.0])


@dataclass(frozen=True)
class Image:
    """A 3-D scalar image with its geometry. See the module docstring for axis conventions."""

    array: np.ndarray
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0)
    origin: tuple[float, float, float] = (0.0, 0.0, 0.0)
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    name: str = ""

    def __post_init__(self) -> None:
        if self.array.ndim != 3:
            raise GeometryError(f"expected a 3-D array, got shape {self.array.shape}", self.name or None)
        spacing = tuple(float(s) for s in self.spacing)
        if len(spacing) != 3 or not all(np.isfinite(s) and s > 0 for s in spacing):
            raise GeometryError(f"spacing must be 3 positive finite numbers, got {self.spacing}", self.name or None)
        origin = tuple(float(o) for o in self.origin)
        if len(origin) != 3 or not all(np.isfinite(origin)):
            raise GeometryError(f"origin must be 3 finite numbers, got {self.origin}", self.name or None)
        direction = np.asarray(self.direction, dtype=float).reshape(3, 3)
        if not np.all(np.isfinite(direction)) or abs(np.linalg.det(direction)) < 1e-6:
            raise GeometryError("direction matrix is not invertible", self.name or None)
        object.__setattr__(self, "spacing", spacing)
        object.__setattr__(self, "origin", origin)
        object.__setattr__(self, "direction", direction)

    # geometry -------------------------------------------------------------------------------------------
    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.array.shape)

    @property
    def spacing_xyz(self) -> tuple[float, float, float]:
        return self.spacing[::-1]

    @property
    def voxel_volume(self) -> float:
        """Volume of one voxel in mm³."""
        return float(np.prod(self.spacing))

    def affine_lps(self) -> np.ndarray:
        """4×4 map from ``(i, j, k, 1)`` index (x-fastest order) to LPS mm."""
        affine = np.eye(4)
        affine[:3, :3] = self.direction @ np.diag(self.spacing_xyz)
        affine[:3, 3] = self.origin
        return affine

    def affine_ras(self) -> np.ndarray:
        """4×4 map from ``(i, j, k, 1)`` to RAS mm (the NIfTI / nibabel convention)."""
        flip = np.eye(4)
        flip[:3, :3] = _LPS_TO_RAS
        return flip @ self.affine_lps()

    def index_to_physical(self, zyx: np.ndarray) -> np.ndarray:
        """LPS positions (N, 3) of array indices ``zyx`` (N, 3), which may be fractional (e.g. centroids)."""
        zyx = np.atleast_2d(np.asarray(zyx, dtype=float))
        ijk = zyx[:, ::-1]
        return ijk @ (self.direction @ np.diag(self.spacing_xyz)).T + np.asarray(self.origin)

    def physical_to_index(self, lps: np.ndarray) -> np.ndarray:
        """Fractional array indices ``(z, y, x)`` (N, 3) of LPS positions (N, 3)."""
        lps = np.atleast_2d(np.asarray(lps, dtype=float))
        matrix = self.direction @ np.diag(self.spacing_xyz)
        ijk = np.linalg.solve(matrix, (lps - np.asarray(self.origin)).T).T
        return ijk[:, ::-1]

    def same_grid(self, other: Image, tolerance: float = 1e-4) -> bool:
        """True when ``other`` has the same shape and voxel-to-physical map (within ``tolerance`` mm)."""
        return self.shape == other.shape and bool(
            np.allclose(self.affine_lps(), other.affine_lps(), atol=tolerance, rtol=0)
        )

    def with_array(self, array: np.ndarray, name: str | None = None) -> Image:
        """The same geometry carrying a different array of the same shape."""
        if array.shape != self.array.shape:
            raise GeometryError(f"array shape {array.shape} does not match the grid {self.array.shape}")
        return Image(array, self.spacing, self.origin, self.direction, self.name if name is None else name)
