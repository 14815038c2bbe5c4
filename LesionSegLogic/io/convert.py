"""Conversions between :class:`~LesionSegLogic.image.Image`, SimpleITK images and nibabel NIfTI images.

SimpleITK stores geometry in LPS with array order (z, y, x) — the same as ``Image``. nibabel stores
``(x, y, z)`` arrays and a RAS affine; :func:`to_nibabel` / :func:`from_nibabel` transpose the array and
flip the first two rows of the affine (``RAS = diag(-1, -1, 1) · LPS``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import SimpleITK as sitk

from LesionSegLogic.errors import DimensionError, GeometryError
from LesionSegLogic.image import Image

if TYPE_CHECKING:  # nibabel is imported on use: desktop Slicer does not ship it, and its panel reads files
    import nibabel as nib  # through LesionSegLogic.io.read (SimpleITK only)

_FLIP = np.diag([-1.0, -1.0, 1.0, 1.0])


def to_sitk(image: Image, dtype: np.dtype | type | None = None) -> sitk.Image:
    """A SimpleITK image with the array (cast to ``dtype`` when given) and the geometry of ``image``."""
    array = image.array if dtype is None else image.array.astype(dtype, copy=False)
    if array.dtype == np.bool_:
        array = array.astype(np.uint8)
    itk_image = sitk.GetImageFromArray(np.ascontiguousarray(array), isVector=False)
    itk_image.SetSpacing(image.spacing_xyz)
    itk_image.SetOrigin(image.origin)
    itk_image.SetDirection(tuple(float(v) for v in np.asarray(image.direction).ravel()))
    return itk_image


def from_sitk(itk_image: sitk.Image, name: str = "") -> Image:
    """An ``Image`` from a 3-D scalar SimpleITK image (array copied, geometry kept)."""
    if itk_image.GetDimension() != 3 or itk_image.GetNumberOfComponentsPerPixel() != 1:
        raise DimensionError("expected a 3-D scalar image", name or None)
    direction = np.asarray(itk_image.GetDirection(), dtype=float).reshape(3, 3)
    return Image(
        sitk.GetArrayFromImage(itk_image),
        tuple(itk_image.GetSpacing())[::-1],
        tuple(itk_image.GetOrigin()),
        direction,
        name,
    )


def to_nibabel(image: Image) -> nib.Nifti1Image:
    """A nibabel NIfTI-1 image: array ``(x, y, z)``, affine = :meth:`Image.affine_ras`.

    Both the sform and (when the direction is orthonormal, i.e. representable as a quaternion) the qform
    are set to the same affine with code 1 (scanner), as SimpleITK writes them.
    """
    import nibabel as nib

    affine = image.affine_ras()
    nifti = nib.Nifti1Image(np.ascontiguousarray(image.array.transpose(2, 1, 0)), affine)
    nifti.header.set_xyzt_units("mm", "sec")
    nifti.set_sform(affine, code=1)
    direction = np.asarray(image.direction)
    if np.allclose(direction.T @ direction, np.eye(3), atol=1e-5):
        nifti.set_qform(affine, code=1)
    else:
        nifti.set_qform(None, code=0)
    return nifti


def from_nibabel(img: nib.spatialimages.SpatialImage, name: str = "") -> Image:
    """An ``Image`` from a nibabel image (its best affine: sform, else qform), RAS converted to LPS.

    Spacing is the length of each affine column, direction the normalised columns. A 4-D image with one
    volume is squeezed; anything else that is not 3-D raises :class:`DimensionError`.
    """
    shape = img.shape
    if len(shape) == 4 and shape[3] == 1:
        data = np.asanyarray(img.dataobj)[..., 0]
    elif len(shape) == 3:
        data = np.asanyarray(img.dataobj)
    else:
        raise DimensionError(f"expected a 3-D image, got shape {shape}", name or None)
    lps = _FLIP @ np.asarray(img.affine, dtype=float)
    matrix = lps[:3, :3]
    spacing_xyz = np.linalg.norm(matrix, axis=0)
    if not np.all(np.isfinite(spacing_xyz)) or np.any(spacing_xyz <= 0):
        raise GeometryError(f"affine has a zero or non-finite column {spacing_xyz}", name or None)
    direction = matrix / spacing_xyz
    return Image(
        np.ascontiguousarray(data.transpose(2, 1, 0)),
        tuple(spacing_xyz[::-1]),
        tuple(lps[:3, 3]),
        direction,
        name,
    )
