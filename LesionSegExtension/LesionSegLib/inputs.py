"""Turn what a user hands the session (volume nodes, segmentation nodes, files, ``Image``s) into nodes and
``Image``s on the FLAIR grid."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import SimpleITK as sitk

from LesionSegLogic.errors import GeometryError, InputError, MaskError
from LesionSegLogic.image import Image

from .nodes import add_volume_node, image_from_volume_node, load_volume_node
from .segmentation import merged_mask


def is_node(value) -> bool:
    return hasattr(value, "GetID") and hasattr(value, "GetClassName")


def volume_node(scene, value, name: str, labelmap: bool = False):
    """A volume node for a node, a path or an ``Image`` (files are read with Slicer's reader)."""
    if is_node(value):
        if not value.IsA("vtkMRMLScalarVolumeNode"):
            kind = value.GetClassName()
            raise InputError(f"{name}: expected a scalar volume node, got {kind}", value.GetName())
        return value
    if isinstance(value, Image):
        return add_volume_node(scene, value, name, labelmap=labelmap)
    if isinstance(value, (str, Path)):
        return load_volume_node(scene, value, name, labelmap=labelmap)
    raise InputError(f"{name}: cannot use a {type(value).__name__} as a volume")


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
    ``Image``."""
    if is_node(value) and value.IsA("vtkMRMLSegmentationNode"):
        if value.GetSegmentation().GetNumberOfSegments() == 0:
            raise MaskError("reference segmentation has no segments", value.GetName())
        return merged_mask(value, grid_node, scene)
    if isinstance(value, Image):
        image = value
    else:
        node = volume_node(scene, value, "LesionSeg reference", labelmap=True)
        image = image_from_volume_node(node)
    array = np.asarray(image.array)
    if not np.all(np.isfinite(array)) or array.min() < 0:
        raise MaskError("reference must hold labels >= 0", image.name or None)
    return resample_nearest(image.with_array((array > 0).astype(np.uint8)), grid).array.astype(bool)
