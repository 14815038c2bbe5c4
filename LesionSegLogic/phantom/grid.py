"""Output grids, the acquisition point-spread function (PSF) and separable PSF resampling.

A phantom image voxel does not sample the object at its centre: it integrates the object against the
acquisition's point-spread function. We model the PSF as separable:

* in-plane axes: a box of the voxel width (the usual partial-volume model);
* the slice axis of an anisotropic acquisition: a **slice profile** — a box of the slice thickness ``T``
  convolved with a Gaussian of FWHM ``0.3·T`` (the smooth edges of a windowed-sinc excitation), so a thick slice
  also sees a little of its neighbours.

Each axis' PSF is approximated by a quadrature: offsets (mm) and weights summing to 1. The lesion fraction
of a voxel is the PSF-weighted mean of the lesion indicator over the quadrature points, and its ground truth
is ``fraction ≥ 0.5``: the same numbers make the image intensities (partial volume) and the labels.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy import sparse
from scipy.special import erf

from LesionSegLogic.errors import GeometryError
from LesionSegLogic.image import Image


class GridMismatchError(GeometryError, ValueError):
    """An array or image that does not fit a phantom grid (a ``ValueError`` too, for callers that catch one)."""

#: Slice-profile edge blur (Gaussian FWHM) as a fraction of the slice thickness.
SLICE_EDGE_FWHM = 0.3


@dataclass(frozen=True)
class Grid:
    """Geometry of an image without its array (same conventions as :class:`~LesionSegLogic.image.Image`)."""

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: np.ndarray = field(default_factory=lambda: np.eye(3))
    #: Array axis acquired as thick slices with a slice profile (None: box PSF on every axis).
    slice_axis: int | None = None

    def image(self, array: np.ndarray, name: str = "") -> Image:
        if array.shape != tuple(self.shape):
            raise GridMismatchError(f"array shape {array.shape} does not match the phantom grid {self.shape}")
        return Image(array, self.spacing, self.origin, self.direction, name)

    @property
    def template(self) -> Image:
        """A 1×1×1-cheap Image carrying this geometry (for its index/physical maps)."""
        return Image(np.zeros((1, 1, 1), np.uint8), self.spacing, self.origin, self.direction)

    def index_to_physical(self, zyx: np.ndarray) -> np.ndarray:
        return self.template.index_to_physical(zyx)

    def physical_to_index(self, lps: np.ndarray) -> np.ndarray:
        return self.template.physical_to_index(lps)

    @property
    def voxel_volume(self) -> float:
        return float(np.prod(self.spacing))


def axis_psf(spacing: float, *, is_slice: bool, resolution: float) -> tuple[np.ndarray, np.ndarray]:
    """Quadrature ``(offsets_mm, weights)`` of one axis' PSF, with points about ``resolution`` mm apart.

    Box PSF: midpoint rule over ``[−h/2, h/2]``. Slice profile: ``p(u) = ½[erf((u+T/2)/(σ√2)) −
    erf((u−T/2)/(σ√2))]`` with ``σ = 0.3·T/2.355``, sampled over ``[−0.8T, 0.8T]`` and normalised.
    """
    if not is_slice:
        n = max(1, math.ceil(spacing / resolution - 1e-9))
        offsets = ((np.arange(n) + 0.5) / n - 0.5) * spacing
        return offsets, np.full(n, 1.0 / n)
    sigma = SLICE_EDGE_FWHM * spacing / 2.3548
    half = 0.8 * spacing
    n = max(3, math.ceil(2 * half / resolution))
    n += 1 - n % 2  # odd: one point at the slice centre
    offsets = np.linspace(-half, half, n)
    scale = sigma * math.sqrt(2)
    profile = 0.5 * (erf((offsets + spacing / 2) / scale) - erf((offsets - spacing / 2) / scale))
    return offsets, profile / profile.sum()


def grid_psf(grid: Grid, resolution: float) -> list[tuple[np.ndarray, np.ndarray]]:
    """The PSF quadrature of each array axis of ``grid`` (offsets in mm)."""
    return [axis_psf(grid.spacing[a], is_slice=grid.slice_axis == a, resolution=resolution) for a in range(3)]


def resampling_matrix(
    positions: np.ndarray, n_source: int, offsets: np.ndarray, weights: np.ndarray, source_spacing: float
) -> sparse.csr_matrix:
    """Sparse (n_out, n_source) map: PSF-weighted linear interpolation of a 1-D source signal.

    ``positions`` are the output voxel centres in source index units; ``offsets`` (mm) and ``weights`` the PSF
    quadrature. Source samples outside ``[0, n_source − 1]`` count as zero (background).
    """
    n_out = positions.size
    u = positions[:, None] + offsets[None, :] / source_spacing  # (n_out, k)
    lower = np.floor(u)
    frac = u - lower
    rows = np.repeat(np.arange(n_out), offsets.size)
    data, cols, rr = [], [], []
    for idx, w in ((lower, 1.0 - frac), (lower + 1, frac)):
        idx = idx.ravel().astype(np.int64)
        ww = (w * weights[None, :]).ravel()
        keep = (idx >= 0) & (idx < n_source) & (ww > 0)
        data.append(ww[keep])
        cols.append(idx[keep])
        rr.append(rows[keep])
    return sparse.csr_matrix(
        (np.concatenate(data), (np.concatenate(rr), np.concatenate(cols))), shape=(n_out, n_source)
    )


def apply_separable(volume: np.ndarray, matrices: list[sparse.csr_matrix]) -> np.ndarray:
    """Apply one sparse matrix per axis (``matrices[a]`` maps axis ``a``), shrinking axes first."""
    order = sorted(range(3), key=lambda a: matrices[a].shape[0] / matrices[a].shape[1])
    out = np.asarray(volume, dtype=np.float32)
    for a in order:
        moved = np.moveaxis(out, a, 0)
        rest = moved.shape[1:]
        result = (matrices[a] @ moved.reshape(moved.shape[0], -1)).astype(np.float32)
        out = np.moveaxis(result.reshape((matrices[a].shape[0], *rest)), 0, a)
    return np.ascontiguousarray(out)


def aligned_matrices(
    source: Image, grid: Grid, *, shift_lps: np.ndarray | None = None, resolution: float | None = None
) -> list[sparse.csr_matrix]:
    """Per-axis PSF resampling matrices from ``source``'s grid onto ``grid`` (same direction matrix).

    ``shift_lps`` (mm) translates the object: the output sees ``source`` moved by that vector.
    """
    if not np.allclose(source.direction, grid.direction, atol=1e-6):
        raise GridMismatchError("separable resampling needs the source and output grids to share their direction")
    shift = np.zeros(3) if shift_lps is None else np.asarray(shift_lps, float)
    delta_xyz = np.linalg.solve(source.direction, np.asarray(grid.origin) - np.asarray(source.origin) - shift)
    delta = delta_xyz[::-1]
    res = resolution if resolution is not None else 0.5 * min(source.spacing)
    matrices = []
    for a, (offsets, weights) in enumerate(grid_psf(grid, res)):
        positions = (delta[a] + np.arange(grid.shape[a]) * grid.spacing[a]) / source.spacing[a]
        matrices.append(resampling_matrix(positions, source.shape[a], offsets, weights, source.spacing[a]))
    return matrices
