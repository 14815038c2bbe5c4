"""Probability maps as other tools write them: 4-D softmax outputs and integer-scaled maps.

:func:`LesionSegLogic.io.read_image` (``role="probability"``) reads through these two steps:

* **layout** (:func:`map_layout`) — a map with several channels, stored either as a 4-D image (x, y, z, c: nnU-Net
  style exports, most NIfTI softmax files) or as one vector per voxel (NIfTI ``dim[5]``, NRRD/MetaImage
  components), needs ``channel`` (0-based; for a background/lesion softmax the lesion is 1). Without it the error
  says how many channels there are. A plain 3-D map takes no channel other than 0.
* **scale** (:func:`to_unit_interval`) — integer maps (LST-AI and SCT can write 0..255 or 0..1000 maps to save
  space) are divided by ``scale`` when given; otherwise the scale is detected and **said** (a
  :class:`ProbabilityScaleWarning` naming the file): 8-bit storage → 255; larger integer types whose maximum is
  in (255, 1000] → 1000; a maximum ≤ 255 in a wider type, or above 1000, is ambiguous → an error asking for
  ``scale``. A NIfTI ``scl_slope`` is applied by the reader itself (the values arrive in [0, 1]); that too is
  said. Integer maps with values only 0/1 are already probabilities.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import SimpleITK as sitk

from LesionSegLogic.errors import DimensionError, InputError

if TYPE_CHECKING:  # io.read imports this module: the header checks are imported on use
    from LesionSegLogic.io.header import HeaderInfo

#: integer maxima the detection maps to a scale (storage bits → full scale)
EIGHT_BIT_SCALE = 255.0
PERMILLE_SCALE = 1000.0


class ProbabilityScaleWarning(UserWarning):
    """A probability map was rescaled to [0, 1] (the message names the file and the scale)."""


class _OneChannelView:
    """A header reader as :func:`check_header` sees one channel of a multi-channel map (size 1 / one component)."""

    def __init__(self, reader: sitk.ImageFileReader) -> None:
        self._reader = reader

    def GetSize(self) -> tuple[int, ...]:  # ITK's reader interface
        size = tuple(self._reader.GetSize())
        return (*size[:3], 1) if len(size) == 4 else size

    def GetNumberOfComponents(self) -> int:
        return 1

    def __getattr__(self, name: str) -> Any:
        return getattr(self._reader, name)


@dataclass(frozen=True)
class MapLayout:
    """How one channel is taken from a map file: ``volume`` (4-D index) or ``component`` (vector pixel)."""

    header: HeaderInfo
    channels: int = 1
    volume: int | None = None
    component: int | None = None

    def select(self, array: np.ndarray) -> np.ndarray:
        """The chosen channel of the pixel array SimpleITK returned (a vector image is ``(z, y, x, c)``)."""
        return array[..., self.component] if self.component is not None and array.ndim == 4 else array


def map_layout(reader: sitk.ImageFileReader, path: Path, channel: int | None) -> MapLayout:
    """Check the header of a probability map (``ReadImageInformation`` done) and where ``channel`` lies."""
    from LesionSegLogic.io.header import check_header

    size = tuple(int(s) for s in reader.GetSize())
    components = int(reader.GetNumberOfComponents())
    four_d = reader.GetDimension() == 4 and size[3] > 1
    count = size[3] if four_d else components
    if count == 1:
        if channel not in (None, 0):
            raise DimensionError(f"is a single-channel map: there is no channel {channel}", path)
        return MapLayout(check_header(reader, path))
    if four_d and components != 1:
        raise DimensionError(f"has {size[3]} volumes of {components}-component pixels; expected one map", path)
    if channel is None:
        raise DimensionError(
            f"is a {count}-channel map (e.g. a softmax): choose the lesion channel (channel=K, 0..{count - 1}; "
            "for a background/lesion softmax, 1)", path,
        )  # fmt: skip
    if not 0 <= channel < count:
        raise DimensionError(f"has {count} channels (0..{count - 1}); there is no channel {channel}", path)
    header = check_header(_OneChannelView(reader), path)  # type: ignore[arg-type]  # a duck-typed one-channel view of the reader
    if four_d:
        return MapLayout(header, count, volume=channel)
    return MapLayout(header, count, component=channel)


def to_unit_interval(
    array: np.ndarray, path: Path, *, scale: float | None = None, note_slope: bool = True
) -> np.ndarray:
    """Probabilities in [0, 1] from a stored map (see the module docstring); warns when it rescales."""
    if scale is not None:
        if not (np.isfinite(scale) and scale > 0):
            raise InputError(f"the probability scale must be a positive number, got {scale!r}", path)
        _say(f"{path}: probability map divided by the given scale {scale:g}")
        return array.astype(np.float32) / np.float32(scale)
    if not np.issubdtype(array.dtype, np.integer):
        if note_slope:
            slope = nifti_slope(path)
            if slope is not None:
                _say(f"{path}: integer map scaled to [0, 1] by its header's scl_slope {slope:g}")
        return array
    high = int(array.max()) if array.size else 0
    if high <= 1:
        return array
    if array.dtype.itemsize == 1:
        detected, why = EIGHT_BIT_SCALE, f"8-bit storage, maximum {high}"
    elif EIGHT_BIT_SCALE < high <= PERMILLE_SCALE:
        detected, why = PERMILLE_SCALE, f"{array.dtype} storage, maximum {high} in (255, 1000]"
    else:
        raise InputError(f"is an integer map ({array.dtype}) with maximum {high}: its full scale is ambiguous; give "
                         "it (scale=255 or 1000)", path)
    if high > detected:
        raise InputError(f"integer map with maximum {high} above its detected full scale {detected:g}", path)
    _say(f"{path}: integer probability map read as 0..{detected:g} ({why}); divided by {detected:g}")
    return array.astype(np.float32) / np.float32(detected)


def nifti_slope(path: Path) -> float | None:
    """The NIfTI header's ``scl_slope`` when it rescales stored integers (not 0 or 1), else ``None``."""
    if not path.name.lower().endswith((".nii", ".nii.gz")):
        return None
    try:
        import nibabel as nib
    except ImportError:  # desktop Slicer does not ship nibabel; the note is optional, the read is not
        return None

    try:
        image = nib.load(str(path))  # nibabel moves scl_slope from the header into the array proxy
        slope = float(getattr(image.dataobj, "slope", 1.0))  # type: ignore[attr-defined]  # nibabel's stubs type load() as FileBasedImage
        stored = np.dtype(image.get_data_dtype())  # type: ignore[attr-defined]  # as above
    except Exception:  # the main reader has already accepted the file; this only adds a note
        return None
    if not np.isfinite(slope) or slope in (0.0, 1.0) or not np.issubdtype(stored, np.integer):
        return None
    return slope


def _say(message: str) -> None:
    warnings.warn(message, ProbabilityScaleWarning, stacklevel=3)
