"""``read_image``: NIfTI / NRRD / MetaImage files into an ``Image`` or a typed error."""

from __future__ import annotations

import re
from os import PathLike
from pathlib import Path
from typing import Literal

import numpy as np
import SimpleITK as sitk

from LesionSegLogic.errors import (
    ConfigError,
    ConstantImageError,
    CorruptFileError,
    FileMissingError,
    InputError,
    MaskError,
    NonFiniteError,
    ProbabilityRangeError,
)
from LesionSegLogic.external.probability_maps import map_layout, to_unit_interval
from LesionSegLogic.image import Image
from LesionSegLogic.io.detached import check_data_files
from LesionSegLogic.io.formats import image_io_for_reading
from LesionSegLogic.io.header import HeaderInfo, check_header, precheck_text_header
from LesionSegLogic.io.nifti_scan import check_nifti_header, scan_nifti

Role = Literal["image", "mask", "probability"]
ROLES: tuple[str, ...] = ("image", "mask", "probability")
#: probabilities may stray this far outside [0, 1] (rounding in other tools); they are then clipped.
PROBABILITY_TOLERANCE = 1e-3


def read_image(
    path: str | PathLike[str], *, role: Role = "image", series: str | None = None, allow_external_data: bool = False,
    channel: int | None = None, scale: float | None = None,
) -> Image:
    """Read a 3-D scalar volume and check it for its ``role``.

    * ``"image"``: float32; finite; not constant.
    * ``"mask"``: uint8 in {0, 1}. Stored values must be {0, 1} or {0, k} for a single label k > 0 (mapped
      to 1); an all-zero mask is valid (a scan without lesions). Several labels, fractions or negative values
      raise :class:`MaskError`.
    * ``"probability"``: float32 within [0, 1] (± :data:`PROBABILITY_TOLERANCE`, then clipped). Maps as other
      tools write them (:mod:`LesionSegLogic.external.probability_maps`): a 4-D or vector softmax needs
      ``channel``; integer maps are divided by ``scale``, or by 255/1000 detected from the storage and the maximum
      (a :class:`~LesionSegLogic.external.probability_maps.ProbabilityScaleWarning` says so).

    The header is read and checked first (:mod:`LesionSegLogic.io.header`), so a corrupt header never makes
    the reader allocate the memory it declares. A detached header (``.nhdr``/``.mhd``) whose data file lies
    outside its own folder is refused unless ``allow_external_data`` (:mod:`LesionSegLogic.io.detached`). A
    folder is read as a DICOM series (``series`` names one when it holds several;
    :func:`LesionSegLogic.io.dicom.read_dicom_series`). Errors are :class:`~LesionSegLogic.errors.InputError`
    subclasses whose message starts with the path.
    """
    if role not in ROLES:
        raise ConfigError(f"role must be one of {ROLES}, got {role!r}")
    path = Path(path)
    try:
        if not path.exists():
            raise FileMissingError("file not found", path)
        is_dir = path.is_dir()
    except OSError as error:  # a name too long, a folder without permission
        raise FileMissingError(f"cannot be opened ({error.strerror})", path) from None
    if is_dir:  # a DICOM series folder (``series`` chooses among several): LesionSegLogic.io.dicom
        from LesionSegLogic.io.dicom import read_dicom_series

        image = read_dicom_series(path, series=series).image
        return image.with_array(_check_values(image.array, role, path))
    if not path.is_file():
        raise FileMissingError("is not a regular file", path)
    check_readable(path)
    reader, is_nifti = _header_reader(path, allow_external_data)
    layout = map_layout(reader, path, channel) if role == "probability" else None  # softmax channels
    header = layout.header if layout is not None else check_header(reader, path)
    if is_nifti:
        scan = scan_nifti(path)
        if scan.nonfinite:
            raise NonFiniteError(f"contains NaN or infinite values ({scan.nonfinite} voxels)", path)
    if header.squeeze_4d:
        reader.SetExtractIndex([0, 0, 0, getattr(layout, "volume", None) or 0])
        reader.SetExtractSize([*header.size, 0])
    try:
        itk_image = reader.Execute()
        array = sitk.GetArrayFromImage(itk_image)
        if layout is not None:
            array = layout.select(array)
    except (RuntimeError, MemoryError) as error:
        raise CorruptFileError(f"cannot read the pixel data ({_itk_reason(error, path)})", path) from None
    if array.shape != header.size[::-1]:
        raise CorruptFileError(f"pixel data of shape {array.shape} do not match the header", path)
    if role == "probability":
        array = to_unit_interval(array, path, scale=scale)
    array = _check_values(array, role, path)
    return Image(array, header.spacing[::-1], header.origin, header.direction, str(path))


def read_header(
    path: str | PathLike[str], *, allow_external_data: bool = False, role: Role = "image", channel: int | None = None
) -> HeaderInfo:
    """The checked header of an image file, without reading its voxels (sizes for a memory estimate before
    :func:`read_image`); the same errors as :func:`read_image` for a missing file or a bad header. A probability
    map (``role="probability"``) may be a 4-D or vector softmax: the header of its ``channel``, as ``read_image``
    reads it. A DICOM series folder has no single header: its geometry comes from
    :func:`LesionSegLogic.io.dicom.read_dicom_series`."""
    path = Path(path)
    try:
        if not path.is_file():
            raise FileMissingError("file not found" if not path.exists() else "is not a regular file", path)
    except OSError as error:
        raise FileMissingError(f"cannot be opened ({error.strerror})", path) from None
    reader, _ = _header_reader(path, allow_external_data)
    if role == "probability":
        return map_layout(reader, path, channel).header
    return check_header(reader, path)


def _header_reader(path: Path, allow_external_data: bool) -> tuple[sitk.ImageFileReader, bool]:
    """An ITK reader whose header information is read, after LesionSeg's own checks ran first (detached data
    files, the NIfTI header, the text header of other formats), so ITK never sees a header that could crash it;
    and whether the file is NIfTI."""
    check_data_files(path, allow_external=allow_external_data)
    is_nifti = path.name.lower().endswith((".nii", ".nii.gz"))
    if is_nifti:
        check_nifti_header(path)
    else:
        precheck_text_header(path)
    reader = sitk.ImageFileReader()
    reader.SetImageIO(image_io_for_reading(path))
    reader.SetFileName(str(path))
    try:
        reader.ReadImageInformation()
    except RuntimeError as error:
        raise CorruptFileError(f"cannot read the header ({_itk_reason(error, path)})", path) from None
    return reader, is_nifti


def _check_values(array: np.ndarray, role: str, path: Path) -> np.ndarray:
    if array.dtype.kind == "c":
        raise InputError("has complex-valued pixels; expected real intensities", path)
    if role == "mask":
        return _as_mask(array, path)
    values = array.astype(np.float32, copy=False)
    if not np.isfinite(values).all():
        bad = int(np.size(values) - np.count_nonzero(np.isfinite(values)))
        what = "NaN or infinite values" if np.issubdtype(array.dtype, np.floating) and not (
            np.isfinite(array).all()) else "values beyond the float32 range"
        raise NonFiniteError(f"contains {what} ({bad} voxels)", path)
    low, high = float(values.min()), float(values.max())
    if role == "image" and low == high:
        raise ConstantImageError(f"is constant (every voxel is {low:g}): nothing to segment", path)
    if role == "probability":
        if low < -PROBABILITY_TOLERANCE or high > 1 + PROBABILITY_TOLERANCE:
            raise ProbabilityRangeError(f"probabilities must lie in [0, 1], found [{low:g}, {high:g}]", path)
        values = np.clip(values, 0.0, 1.0)
    return np.ascontiguousarray(values, dtype=np.float32)


def check_readable(path: Path) -> None:
    """Open ``path`` for reading once, so that a permission problem is named as one (the header parsers would
    report any ``OSError`` as damaged data; issue 19 item 8)."""
    try:
        with open(path, "rb") as stream:
            stream.read(1)
    except PermissionError:
        raise FileMissingError("permission denied: cannot read the file (check its and its folders' permissions)",
                               path) from None
    except OSError as error:
        raise FileMissingError(f"cannot be opened ({error.strerror or error})", path) from None


def check_role_values(array: np.ndarray, role: Role, name: str | PathLike[str]) -> np.ndarray:
    """:func:`read_image`'s value checks of ``role`` for voxels that come from elsewhere (a volume node, an
    ``Image``), with the same messages naming ``name``; returns the array as :func:`read_image` would."""
    if role not in ROLES:
        raise ConfigError(f"role must be one of {ROLES}, got {role!r}")
    return _check_values(np.asarray(array), role, Path(name))


def mask_from_labels(array: np.ndarray, name: str | PathLike[str]) -> np.ndarray:
    """The ``"mask"`` role's rule for voxels that come from elsewhere (a volume node, an array): {0, 1} or {0, k}
    → uint8 {0, 1}; several labels, fractions, negative or non-finite values raise :class:`MaskError`/
    :class:`NonFiniteError` naming ``name``. The faces apply it to references so they accept what the CLI does."""
    return check_role_values(array, "mask", name)


def _as_mask(array: np.ndarray, path: Path) -> np.ndarray:
    if np.issubdtype(array.dtype, np.floating) and not np.isfinite(array).all():
        raise NonFiniteError("mask contains NaN or infinite values", path)
    labels = np.unique(array)
    nonzero = labels[labels != 0]
    if np.any(nonzero < 0) or np.any(nonzero != np.round(nonzero)):
        raise MaskError(
            f"is not a binary mask: found values {_some(labels)} (expected 0 and one positive label)", path
        )
    if nonzero.size > 1:
        raise MaskError(f"is not a binary mask: found {nonzero.size} labels {_some(nonzero)} besides 0", path)
    return (array != 0).astype(np.uint8)


def _some(values: np.ndarray, limit: int = 6) -> str:
    shown = ", ".join(f"{v:g}" for v in values[:limit].tolist())
    return f"{{{shown}{', ...' if values.size > limit else ''}}}"


def _itk_reason(error: BaseException, path: Path) -> str:
    """The useful part of an ITK exception (they span lines with source-file prefixes and errno noise)."""
    lines = [line.strip() for line in str(error).splitlines() if line.strip()]
    teem = [line for line in lines if line.startswith("[nrrd]")]
    if teem:  # NRRD: teem's innermost message is the last one
        reason = re.sub(r"^\[nrrd\]\s*\w+:\s*", "", teem[-1])
    else:
        reason = next((line for line in lines if "ERROR:" in line), lines[-1] if lines else "")
        reason = re.sub(r"^.*?ERROR:\s*(\w+\(0x[0-9a-f]+\):\s*)?", "", reason)
    reason = reason.replace(f'"{path}"', "the file").replace(str(path), "the file").strip()
    if not reason or "cannot be read" in reason.lower():
        reason = "not a valid file of this format"
    return reason[:200]
