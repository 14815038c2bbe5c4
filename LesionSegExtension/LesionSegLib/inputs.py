"""Turn what a user hands the session (volume nodes, segmentation nodes, files, ``Image``s) into nodes and
``Image``s on the FLAIR grid.

Both faces read like the CLI (``docs/io.md``, "Reading"): a file goes through
:func:`LesionSegLib.nodes.read_volume_file` (LesionSeg's checked reader in the file's role) before MRML sees it; a
reference of any kind obeys the ``"mask"`` role's rule (:func:`LesionSegLogic.io.read.mask_from_labels`: a FLAIR or
any other intensity volume is refused, not turned into "nonzero = lesion"); a T2 or baseline must cover the FLAIR's
field of view as ``lesionseg predict`` requires (:func:`LesionSegLogic.resample.align_inputs`)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from LesionSegLogic.errors import GeometryError, InputError, MaskError
from LesionSegLogic.image import Image
from LesionSegLogic.io.read import Role, check_role_values, mask_from_labels
from LesionSegLogic.resample import align_inputs

from .nodes import (
    CheckedFile,
    add_checked_file,
    add_volume_node,
    image_from_volume_node,
    load_volume_node,
    read_volume_file,
)
from .segmentation import merged_mask


def is_node(value) -> bool:
    return hasattr(value, "GetID") and hasattr(value, "GetClassName")


def volume_node(scene, value, name: str, labelmap: bool = False, role: Role = "image"):
    """A volume node for a node, a path or an ``Image`` (files are read and checked in ``role`` first)."""
    if is_node(value):
        if not value.IsA("vtkMRMLScalarVolumeNode"):
            kind = value.GetClassName()
            raise InputError(f"{name}: expected a scalar volume node, got {kind}", value.GetName())
        return value
    if isinstance(value, Image):
        return add_volume_node(scene, value, name, labelmap=labelmap)
    if isinstance(value, CheckedFile):
        return add_checked_file(scene, value, name, labelmap=labelmap)
    if isinstance(value, (str, Path)):
        return load_volume_node(scene, value, name, labelmap=labelmap, role=role)
    raise InputError(f"{name}: cannot use a {type(value).__name__} as a volume")


def checked_inputs(flair, t2=None, baseline=None) -> tuple:
    """``(flair, t2, baseline)`` with every file read and checked as an image (a :class:`CheckedFile`) and the
    T2/baseline checked to cover the FLAIR (:func:`check_covers`), before anything is added to a scene: a bad
    input raises and the open review stays as it was. Nodes and ``Image``s pass through after the same value
    checks (finite, not constant) and the coverage check."""
    values = [CheckedFile(Path(v), read_volume_file(v, "image")) if isinstance(v, (str, Path)) else v
              for v in (flair, t2, baseline)]
    images = [_as_image(v) for v in values]
    for value, image in zip(values, images, strict=True):
        if image is not None and not isinstance(value, CheckedFile):  # nodes and Images: the image role's values
            check_role_values(image.array, "image", image.name or "volume")
    grid = images[0]
    for key, image in (("t2", images[1]), ("baseline", images[2])):
        if image is not None and grid is not None:
            check_covers(grid, image, key)
    return tuple(values)


def _as_image(value) -> Image | None:
    if isinstance(value, Image):
        return value
    if isinstance(value, CheckedFile):
        return value.image
    if is_node(value) and value.IsA("vtkMRMLScalarVolumeNode"):
        return image_from_volume_node(value)
    return None


def check_covers(flair: Image, image: Image, key: str) -> None:
    """Refuse a T2/baseline that does not cover the FLAIR's field of view, with ``lesionseg predict``'s rule and
    message (:func:`LesionSegLogic.resample.align_inputs`; issue 19 item 7: a T2 500 mm away was opened)."""
    if not image.same_grid(flair):
        align_inputs(flair, {key: image})


def resample_nearest(image: Image, grid: Image) -> Image:
    """``image`` on ``grid`` (nearest neighbour; outside = 0). Raises when the two do not overlap."""
    if image.same_grid(grid):
        return grid.with_array(image.array)

    def to_sitk(im: Image) -> sitk.Image:
        out = sitk.GetImageFromArray(np.ascontiguousarray(im.array))
        out.SetSpacing(im.spacing_xyz)
        out.SetOrigin(im.origin)
        out.SetDirection(np.asarray(im.direction).ravel().tolist())
        return out

    reference = to_sitk(grid.with_array(np.zeros(grid.shape, dtype=np.uint8)))
    resampled = sitk.Resample(to_sitk(image), reference, sitk.Transform(), sitk.sitkNearestNeighbor, 0)
    array = sitk.GetArrayFromImage(resampled)
    if image.array.any() and not array.any():
        raise GeometryError("the reference does not overlap the FLAIR volume", image.name or None)
    return grid.with_array(array)


def reference_mask(scene, value, grid_node, grid: Image) -> np.ndarray:
    """Binary reference mask on the FLAIR grid from a segmentation node, a labelmap/scalar node, a file or an
    ``Image``; volumes obey the ``"mask"`` role's rule (0 and one label), files are read in that role."""
    if is_node(value) and value.IsA("vtkMRMLSegmentationNode"):
        if value.GetSegmentation().GetNumberOfSegments() == 0:
            raise MaskError("reference segmentation has no segments", value.GetName())
        return merged_mask(value, grid_node, scene)
    if isinstance(value, (str, Path)):
        image = read_volume_file(value, "mask")
    elif isinstance(value, Image):
        image = value
    else:
        image = image_from_volume_node(volume_node(scene, value, "LesionSeg reference", labelmap=True))
    name = image.name or "reference"
    binary = image.with_array(mask_from_labels(image.array, name))
    return resample_nearest(binary, grid).array.astype(bool)
