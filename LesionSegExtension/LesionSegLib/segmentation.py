"""Segmentation nodes whose segments share ONE labelmap, so a whole TP/FP/FN update is one memory copy.

:class:`SharedLabelmapSegmentation` keeps a ``vtkOrientedImageData`` on the reference volume's grid as the
binary-labelmap representation of all its segments (label values 1, 2, 3, …): Slicer's own "shared labelmap"
layout, which the Segment Editor and the storage node understand. Updating means writing uint8 labels into
that buffer — a whole volume (:meth:`~SharedLabelmapSegmentation.update`) or only given voxels
(:meth:`~SharedLabelmapSegmentation.update_at`: the live slider path) — then ``Modified()`` on the image and on
each segment whose voxels changed (what the slice views redraw from; see
:meth:`SharedLabelmapSegmentation.notify_modified`); no labelmap nodes, no imports, no per-segment copies.

The other helpers move single segments in and out as numpy masks on a reference volume's grid.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import slicer
import vtk
from vtk.util import numpy_support

from LesionSegLogic.errors import GeometryError, MaskError

from .nodes import array_view, node_ijk_to_ras, vtk_matrix
from .parameters import SegmentStyle
from .terminology import terminology_entry


def _oriented_image(reference_node, dtype: int = vtk.VTK_UNSIGNED_CHAR) -> slicer.vtkOrientedImageData:
    dims = reference_node.GetImageData().GetDimensions()
    image = slicer.vtkOrientedImageData()
    image.SetDimensions(*dims)
    image.AllocateScalars(dtype, 1)
    image.SetImageToWorldMatrix(vtk_matrix(node_ijk_to_ras(reference_node)))
    numpy_support.vtk_to_numpy(image.GetPointData().GetScalars())[:] = 0
    return image


def oriented_view(image: slicer.vtkOrientedImageData) -> np.ndarray:
    dims = image.GetDimensions()
    return numpy_support.vtk_to_numpy(image.GetPointData().GetScalars()).reshape(dims[::-1])


class SharedLabelmapSegmentation:
    """A segmentation node with one segment per :class:`SegmentStyle`, all in one shared labelmap."""

    def __init__(self, scene, name: str, reference_node, styles: Sequence[SegmentStyle]) -> None:
        self.node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
        self.node.CreateDefaultDisplayNodes()
        self.node.SetReferenceImageGeometryParameterFromVolumeNode(reference_node)
        self.styles = tuple(styles)
        self._image = _oriented_image(reference_node)
        self._labels = oriented_view(self._image)
        segmentation = self.node.GetSegmentation()
        representation = segmentation.GetSourceRepresentationName()
        tag = slicer.vtkSegment.GetTerminologyEntryTagName()
        self.segment_ids: dict[int, str] = {}
        for style in self.styles:
            segment = slicer.vtkSegment()
            segment.SetName(style.name)
            segment.SetColor(*style.color)
            segment.SetLabelValue(style.label)
            segment.SetTag(tag, terminology_entry(style.terminology_label))
            segment.AddRepresentation(representation, self._image)
            segment_id = segmentation.GenerateUniqueSegmentID(style.terminology_label)
            segmentation.AddSegment(segment, segment_id)
            self.segment_ids[style.label] = segment_id

    @property
    def labels(self) -> np.ndarray:
        """Read-only copy of the current label array ``(z, y, x)``."""
        return self._labels.copy()

    @property
    def shape(self) -> tuple[int, int, int]:
        return self._labels.shape  # type: ignore[return-value]

    def update(self, labels: np.ndarray) -> bool:
        """Show ``labels`` (0 background, else style label values), a whole-volume write; False (and no redraw)
        when the labelmap already holds exactly these labels."""
        if labels.shape != self._labels.shape:
            raise GeometryError(f"labels of shape {labels.shape} do not fit the grid {self._labels.shape}")
        different = self._labels != labels
        if not different.any():
            return False
        involved = np.union1d(np.unique(self._labels[different]), np.unique(labels[different]))
        np.copyto(self._labels, labels, casting="unsafe")
        self.notify_modified(involved)
        return True

    def update_at(self, flat_indices: np.ndarray, values: np.ndarray) -> tuple[slice, slice, slice] | None:
        """Write ``values`` at the flat (raster, z y x) ``flat_indices`` only, through the numpy view of the VTK
        buffer, and notify MRML once. Returns the (z, y, x) bounding box of the voxels whose label changed
        (``None``: none did, nothing redraws)."""
        flat = self._labels.reshape(-1)
        flat_indices = np.asarray(flat_indices, dtype=np.int64)
        values = np.asarray(values, dtype=self._labels.dtype)
        if flat_indices.shape != values.shape:
            raise GeometryError(f"{flat_indices.size} indices but {values.size} values")
        if flat_indices.size and (flat_indices.min() < 0 or flat_indices.max() >= flat.size):
            raise GeometryError(f"flat indices outside the grid {self._labels.shape}")
        before = flat[flat_indices]
        different = before != values
        if not different.any():
            return None
        index = flat_indices[different]
        flat[index] = values[different]
        self.notify_modified(np.union1d(np.unique(before[different]), np.unique(values[different])))
        zyx = np.unravel_index(index, self._labels.shape)
        return tuple(slice(int(a.min()), int(a.max()) + 1) for a in zyx)  # type: ignore[return-value]

    def notify_modified(self, labels: np.ndarray | None = None) -> None:
        """Tell every view that the shared labelmap changed in place (the segments of ``labels`` only, when given;
        label 0 — background — has no segment).

        Slicer's documented call after editing a segment's internal binary labelmap in place
        (see ``arrayFromSegmentInternalBinaryLabelmap`` in Slicer's util module) is ``Modified()`` on the segment: the
        segmentation turns it into a ``vtkSegmentation.SegmentModified`` event carrying the segment ID, which the
        2-D and 3-D segmentation displayable managers (desktop Slicer and slicer-core alike) redraw from. The
        image's own ``Modified()`` (or the segmentation's, or ``SourceRepresentationModified``) re-executes the
        VTK pipeline but leaves the 2-D displayable manager's slice stale until the slice moves; the web app's
        pixel tests check both.
        """
        self._image.Modified()
        segmentation = self.node.GetSegmentation()
        wanted = None if labels is None else {int(v) for v in labels}
        for label, segment_id in self.segment_ids.items():
            if wanted is None or label in wanted:
                segmentation.GetSegment(segment_id).Modified()

    def set_visible(self, visible: bool) -> None:
        display = self.node.GetDisplayNode()
        if display is not None:
            display.SetVisibility(bool(visible))


def segment_mask(segmentation_node, segment_id: str, reference_node, scene) -> np.ndarray:
    """Binary mask ``(z, y, x)`` of one segment on ``reference_node``'s grid (any layout/extent)."""
    labelmap = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "__lesionseg_export__")
    try:
        ids = vtk.vtkStringArray()
        ids.InsertNextValue(segment_id)
        ok = slicer.vtkSlicerSegmentationsModuleLogic.ExportSegmentsToLabelmapNode(
            segmentation_node, ids, labelmap, reference_node
        )
        if not ok:
            raise MaskError(f"segment {segment_id!r} could not be exported", segmentation_node.GetName())
        return array_view(labelmap) > 0
    finally:
        scene.RemoveNode(labelmap)


def merged_mask(segmentation_node, reference_node, scene) -> np.ndarray:
    """Union of all segments of a segmentation node on ``reference_node``'s grid."""
    segmentation = segmentation_node.GetSegmentation()
    ids = [segmentation.GetNthSegmentID(i) for i in range(segmentation.GetNumberOfSegments())]
    shape = reference_node.GetImageData().GetDimensions()[::-1]
    out = np.zeros(shape, dtype=bool)
    for segment_id in ids:
        out |= segment_mask(segmentation_node, segment_id, reference_node, scene)
    return out


def import_mask(mask: np.ndarray, segmentation_node, segment_id: str, reference_node, scene) -> None:
    """Replace one segment's voxels by ``mask`` the way Slicer's ``updateSegmentBinaryLabelmapFromArray``
    does in desktop Slicer (temporary labelmap node + import). Slow on big volumes; used for edits and as
    the naive baseline."""
    labelmap = scene.AddNewNodeByClass("vtkMRMLLabelMapVolumeNode", "__lesionseg_import__")
    try:
        labelmap.SetIJKToRASMatrix(vtk_matrix(node_ijk_to_ras(reference_node)))
        image = vtk.vtkImageData()
        image.SetDimensions(*mask.shape[::-1])
        image.AllocateScalars(vtk.VTK_UNSIGNED_CHAR, 1)
        numpy_support.vtk_to_numpy(image.GetPointData().GetScalars())[:] = (
            np.ascontiguousarray(mask, dtype=bool).ravel().view(np.uint8)
        )
        labelmap.SetAndObserveImageData(image)
        ids = vtk.vtkStringArray()
        ids.InsertNextValue(segment_id)
        if not slicer.vtkSlicerSegmentationsModuleLogic.ImportLabelmapToSegmentationNode(
            labelmap, segmentation_node, ids
        ):
            raise MaskError(f"segment {segment_id!r} could not be imported", segmentation_node.GetName())
    finally:
        scene.RemoveNode(labelmap)


def add_mask_segmentation(scene, name: str, mask: np.ndarray, reference_node, style: SegmentStyle):
    """A new ordinary (editable) segmentation node with one segment holding ``mask``; returns (node, id)."""
    node = scene.AddNewNodeByClass("vtkMRMLSegmentationNode", name)
    node.CreateDefaultDisplayNodes()
    node.SetReferenceImageGeometryParameterFromVolumeNode(reference_node)
    # the source volume as a node reference too: Slicer's DICOM export (QuantitativeReporting's DICOM SEG plugin)
    # finds the series a segmentation belongs to through it, as SlicerMONAIAuto3DSeg sets it (docs/slicer.md)
    node.SetNodeReferenceID(node.GetReferenceImageGeometryReferenceRole(), reference_node.GetID())
    segmentation = node.GetSegmentation()
    segment_id = segmentation.AddEmptySegment(style.terminology_label, style.name, list(style.color))
    segmentation.GetSegment(segment_id).SetTag(
        slicer.vtkSegment.GetTerminologyEntryTagName(), terminology_entry(style.terminology_label)
    )
    image = _oriented_image(reference_node)
    oriented_view(image)[:] = mask.astype(np.uint8)
    slicer.vtkSlicerSegmentationsModuleLogic.SetBinaryLabelmapToSegment(image, node, segment_id)
    return node, segment_id
