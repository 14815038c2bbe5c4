"""Volume nodes ⇄ :class:`LesionSegLogic.image.Image` with exact geometry.

Slicer stores a volume as voxels ``(i, j, k)`` plus an IJK→RAS matrix; ITK/``Image`` store an LPS origin, an
LPS direction (columns = i, j, k axes) and spacing. The two describe the same map from index to physical
space: ``IJKToRAS = diag(-1, -1, 1, 1) @ affine_lps``. Both directions copy the voxels, so neither side can
change the other behind its back (use :func:`array_view` for a deliberate zero-copy view).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import vtk
from vtk.util import numpy_support

from LesionSegLogic.errors import DimensionError, FileMissingError, GeometryError
from LesionSegLogic.image import Image

if TYPE_CHECKING:
    from LesionSegLogic.io.read import Role

_FLIP = np.diag([-1.0, -1.0, 1.0, 1.0])


def ijk_to_ras(image: Image) -> np.ndarray:
    """4×4 IJK→RAS matrix of ``image`` (Slicer's convention)."""
    return _FLIP @ image.affine_lps()


def vtk_matrix(matrix: np.ndarray) -> vtk.vtkMatrix4x4:
    out = vtk.vtkMatrix4x4()
    for r in range(4):
        for c in range(4):
            out.SetElement(r, c, float(matrix[r, c]))
    return out


def numpy_matrix(matrix: vtk.vtkMatrix4x4) -> np.ndarray:
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


def node_ijk_to_ras(node) -> np.ndarray:
    """IJK→RAS of a volume node (or oriented image data) as a numpy 4×4."""
    matrix = vtk.vtkMatrix4x4()
    if hasattr(node, "GetIJKToRASMatrix"):
        node.GetIJKToRASMatrix(matrix)
    else:
        node.GetImageToWorldMatrix(matrix)
    return numpy_matrix(matrix)


def geometry_from_ijk_to_ras(matrix: np.ndarray) -> tuple[tuple[float, float, float], tuple, np.ndarray]:
    """(spacing zyx, origin LPS xyz, direction LPS) of an IJK→RAS matrix."""
    lps = _FLIP @ matrix
    columns = lps[:3, :3]
    spacing_xyz = np.linalg.norm(columns, axis=0)
    if np.any(spacing_xyz <= 0) or not np.all(np.isfinite(columns)):
        raise GeometryError("IJK to RAS matrix has a zero or non-finite axis")
    direction = columns / spacing_xyz
    return tuple(float(s) for s in spacing_xyz[::-1]), tuple(float(o) for o in lps[:3, 3]), direction


def array_view(node) -> np.ndarray:
    """Zero-copy ``(z, y, x)`` view of a volume node's voxels.

    Call ``node.GetImageData().Modified()`` after editing it."""
    image_data = node.GetImageData()
    if image_data is None or image_data.GetPointData().GetScalars() is None:
        raise DimensionError("volume node has no voxels", node.GetName())
    if image_data.GetNumberOfScalarComponents() != 1:
        raise DimensionError("expected a scalar volume, got a vector volume", node.GetName())
    dims = image_data.GetDimensions()
    return numpy_support.vtk_to_numpy(image_data.GetPointData().GetScalars()).reshape(dims[::-1])


def image_from_volume_node(node, dtype: np.dtype | None = None) -> Image:
    """Copy a scalar or labelmap volume node into an :class:`Image` (parent transforms are not applied)."""
    if node is None:
        raise FileMissingError("no volume node given")
    array = array_view(node)
    array = np.array(array, dtype=dtype if dtype is not None else array.dtype, copy=True)
    spacing, origin, direction = geometry_from_ijk_to_ras(node_ijk_to_ras(node))
    return Image(array, spacing, origin, direction, name=node.GetName() or "")


def _set_voxels(node, array: np.ndarray) -> None:
    array = np.ascontiguousarray(array)
    image_data = node.GetImageData()
    dims = tuple(array.shape[::-1])
    vtk_type = numpy_support.get_vtk_array_type(array.dtype)
    if image_data is None or image_data.GetDimensions() != dims or image_data.GetScalarType() != vtk_type:
        image_data = vtk.vtkImageData()
        image_data.SetDimensions(*dims)
        image_data.AllocateScalars(vtk_type, 1)
        node.SetAndObserveImageData(image_data)
    view = numpy_support.vtk_to_numpy(image_data.GetPointData().GetScalars()).reshape(array.shape)
    np.copyto(view, array)
    image_data.Modified()


def set_node_geometry(node, image: Image) -> None:
    node.SetIJKToRASMatrix(vtk_matrix(ijk_to_ras(image)))


def update_volume_node(node, image: Image) -> None:
    """Write ``image`` (voxels + geometry) into an existing volume node."""
    was = node.StartModify()
    set_node_geometry(node, image)
    _set_voxels(node, image.array)
    node.EndModify(was)


def add_volume_node(scene, image: Image, name: str, labelmap: bool = False):
    """Add a new scalar (or labelmap) volume node holding a copy of ``image``."""
    class_name = "vtkMRMLLabelMapVolumeNode" if labelmap else "vtkMRMLScalarVolumeNode"
    node = scene.AddNewNodeByClass(class_name, name)
    update_volume_node(node, image)
    node.CreateDefaultDisplayNodes()
    return node


#: the most voxels a file opened for review may declare: 256 × 512 × 512 (a 0.5 mm whole-brain grid is ~57 M).
#: The review keeps several arrays per voxel (:data:`REVIEW_BYTES_PER_VOXEL`), so a file declaring more is refused
#: from its header, before anything is allocated (issue 19 item 7: a 1 MB file declaring 1024 × 1024 × 1000
#: voxels was opened at 6.4 GB RSS).
REVIEW_MAX_VOXELS = 256 * 512 * 512
#: an estimate of what the review holds per voxel: float32 FLAIR and probability, each also in a volume node
#: (4 × 4 bytes), the overlay labelmaps (2 × 1), and the threshold engine's per-candidate arrays in the worst case
#: of every voxel a candidate (flat index 8, probability 2 × 8, parent 4, centroid coordinates 3 × 8: 52)
REVIEW_BYTES_PER_VOXEL = 16 + 2 + 52


def read_volume_file(path: str | Path, role: Role = "image") -> Image:
    """A file a face opens, read with LesionSeg's checked reader (:func:`LesionSegLogic.io.read_image`, role-aware:
    ``"image"``, ``"mask"`` or ``"probability"``) with the CLI's checks and messages, after a header-only check of
    its size against :data:`REVIEW_MAX_VOXELS`. Neither MRML nor ITK sees a file before it passed (issue 18 item 5:
    a MetaImage with ``NDims = 99`` aborted the process inside Slicer's storage node)."""
    from LesionSegLogic.io import read_image
    from LesionSegLogic.io.read import read_header

    path = Path(path)
    if not path.is_dir():  # a DICOM series folder has no single header: read_image checks it
        header = read_header(path)
        voxels = int(np.prod(header.size, dtype=np.int64))
        if voxels > REVIEW_MAX_VOXELS:
            needed = voxels * REVIEW_BYTES_PER_VOXEL / 2**30
            raise DimensionError(
                f"declares {voxels:,} voxels (size {header.size}): reviewing it would need about {needed:.0f} GB; "
                f"the review opens at most {REVIEW_MAX_VOXELS:,} voxels (use the lesionseg CLI for larger volumes)",
                path,
            )
    return read_image(path, role=role)


@dataclass(frozen=True)
class CheckedFile:
    """A volume file read and checked (:func:`read_volume_file`) but not yet in a scene."""

    path: Path
    image: Image


def load_volume_node(scene, path: str | Path, name: str | None = None, labelmap: bool = False,
                     role: Role | None = None):
    """Read a volume file (:func:`read_volume_file`, role ``"mask"`` for a labelmap unless given) into a new
    node (:func:`add_checked_file`); typed errors naming the file on bad files, before anything is added to the
    scene."""
    path = Path(path)
    checked = CheckedFile(path, read_volume_file(path, role or ("mask" if labelmap else "image")))
    return add_checked_file(scene, checked, name or path.name.split(".")[0], labelmap=labelmap)


def add_checked_file(scene, checked: CheckedFile, name: str, labelmap: bool = False):
    """A new volume node holding a checked file's voxels (the arrays the CLI sees); a storage node records the
    file it came from (never read through it), which is how exports know the review's inputs and refuse to write
    over them."""
    node = add_volume_node(scene, checked.image, name, labelmap=labelmap)
    storage = scene.AddNewNodeByClass("vtkMRMLVolumeArchetypeStorageNode")
    storage.SetFileName(str(checked.path.resolve()))
    storage.SetSingleFile(True)
    node.SetAndObserveStorageNodeID(storage.GetID())
    return node
