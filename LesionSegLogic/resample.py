"""Putting images on one grid: resampling with SimpleITK, overlap checks and multi-input alignment.

All functions work in physical (LPS, mm) space through each image's own geometry (see
:mod:`LesionSegLogic.image`), so images with different spacings, origins, orientations or oblique directions
are aligned correctly without any registration: they are assumed to be in the same scanner space.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

import numpy as np
import SimpleITK as sitk

from LesionSegLogic.errors import ConfigError, GeometryError
from LesionSegLogic.image import Image
from LesionSegLogic.io.convert import to_sitk

Interpolation = Literal["linear", "nearest", "bspline"]
_INTERPOLATORS = {"linear": sitk.sitkLinear, "nearest": sitk.sitkNearestNeighbor, "bspline": sitk.sitkBSpline}
#: ``align_inputs`` refuses an input covering less than this fraction of the reference's field of view
MIN_OVERLAP = 0.25


def _resample(
    image: Image,
    size_xyz: tuple[int, int, int],
    spacing_xyz: tuple[float, float, float],
    origin: tuple[float, float, float],
    direction: np.ndarray,
    interpolation: Interpolation,
) -> np.ndarray:
    if interpolation not in _INTERPOLATORS:
        raise ConfigError(f"interpolation must be one of {sorted(_INTERPOLATORS)}, got {interpolation!r}")
    nearest = interpolation == "nearest"
    source = to_sitk(image, None if nearest else np.float32)
    resampler = sitk.ResampleImageFilter()
    resampler.SetSize([int(s) for s in size_xyz])
    resampler.SetOutputSpacing([float(s) for s in spacing_xyz])
    resampler.SetOutputOrigin([float(o) for o in origin])
    resampler.SetOutputDirection([float(v) for v in np.asarray(direction).ravel()])
    resampler.SetInterpolator(_INTERPOLATORS[interpolation])
    resampler.SetDefaultPixelValue(0.0)
    resampler.SetOutputPixelType(source.GetPixelID())
    return sitk.GetArrayFromImage(resampler.Execute(source))


def resample_to(image: Image, reference: Image, *, interpolation: Interpolation = "linear") -> Image:
    """``image`` resampled onto the grid of ``reference`` (shape, spacing, origin, direction).

    ``"linear"`` (images; float32 output) or ``"nearest"`` (masks; dtype kept). Voxels of the reference grid
    that fall outside ``image`` are 0. Returns ``image`` itself when it is already on that grid.
    """
    if image.same_grid(reference):
        return image
    grid = (reference.shape[::-1], reference.spacing_xyz, reference.origin, reference.direction)
    array = _resample(image, *grid, interpolation)
    return reference.with_array(array, name=image.name)


def resample_to_spacing(
    image: Image, spacing_zyx: tuple[float, float, float], *, interpolation: Interpolation = "linear"
) -> Image:
    """``image`` on a grid with spacing ``spacing_zyx`` (array order) covering the same field of view.

    Same direction; ``n' = max(1, round(n · s / s'))`` voxels per axis; the new origin is placed so that the
    outer voxel *edges* of both grids coincide (up to the rounding of ``n'``):
    ``origin' = origin + D · (s' − s) / 2`` (x, y, z order). Going back uses :func:`resample_to` with the
    original image as the reference.
    """
    new = np.asarray(spacing_zyx, dtype=float)
    if new.shape != (3,) or not np.all(np.isfinite(new)) or np.any(new <= 0):
        raise GeometryError(f"bad target spacing {spacing_zyx}", image.name or None)
    old = np.asarray(image.spacing, dtype=float)
    size_zyx = np.maximum(1, np.round(np.asarray(image.shape) * old / new)).astype(int)
    shift_xyz = (new - old)[::-1] / 2.0
    origin = tuple(np.asarray(image.origin) + image.direction @ shift_xyz)
    array = _resample(image, tuple(size_zyx[::-1]), tuple(new[::-1]), origin, image.direction, interpolation)
    return Image(array, tuple(new), origin, image.direction, image.name)


def grids_overlap(reference: Image, other: Image, *, samples_per_axis: int = 16) -> float:
    """Fraction (0..1) of ``reference``'s field of view (its voxels' bounding box) that ``other`` covers.

    Estimated on a regular lattice of ``samples_per_axis³`` points spread over the reference box, each mapped
    to ``other``'s continuous index space and counted when it lies within ``[-0.5, n - 0.5]`` on every axis.
    Exact for axis-aligned boxes up to the lattice resolution, and correct for oblique grids.
    """
    axes = [np.linspace(-0.5, n - 0.5, samples_per_axis + 1)[:-1] + (n / samples_per_axis) / 2 for n in
            reference.shape]
    lattice = np.stack(np.meshgrid(*axes, indexing="ij"), axis=-1).reshape(-1, 3)
    inside_index = other.physical_to_index(reference.index_to_physical(lattice))
    upper = np.asarray(other.shape, dtype=float) - 0.5
    inside = np.all((inside_index >= -0.5 - 1e-6) & (inside_index <= upper + 1e-6), axis=1)
    return float(inside.mean())


def align_inputs(
    reference: Image,
    others: Mapping[str, Image],
    *,
    masks: set[str] | frozenset[str] = frozenset(),
    min_overlap: float = MIN_OVERLAP,
) -> dict[str, Image]:
    """Put every image of ``others`` on ``reference``'s grid (typically the FLAIR's).

    Images already on the grid pass through unchanged; the others are resampled — linearly, or by nearest
    neighbour for the names in ``masks``. An input covering less than ``min_overlap`` of the reference's field
    of view raises :class:`GeometryError` naming both files (a wrong file, or a different patient / session).
    """
    aligned: dict[str, Image] = {}
    for key, image in others.items():
        if image.same_grid(reference):
            aligned[key] = image
            continue
        overlap = grids_overlap(reference, image)
        if overlap < min_overlap:
            raise GeometryError(
                f"{key} image {image.name or '<array>'} covers only {overlap:.0%} of the field of view of "
                f"{reference.name or 'the reference image'} (needs {min_overlap:.0%}): "
                "the grids do not overlap — a wrong file or a different scan?",
                image.name or None,
            )
        aligned[key] = resample_to(image, reference, interpolation="nearest" if key in masks else "linear")
    return aligned
