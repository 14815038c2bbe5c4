"""Checks made on a file's header before any pixel memory is allocated.

ITK allocates the whole declared image before it reads a byte of pixel data, so a corrupt header that
declares 50000³ voxels would ask for hundreds of GB. :func:`check_header` reads the header only
(``ImageFileReader.ReadImageInformation``) and refuses, before allocation:

* images that are not 3-D scalar volumes (2-D, a single slice, real 4-D, vector/multi-component pixels);
* more than :data:`MAX_VOXELS` voxels;
* a declared data size the file cannot hold: uncompressed data needs ``voxels × bytes per voxel`` bytes on
  disk, compressed (gzip) data at least ``voxels × bytes per voxel / MAX_COMPRESSION_RATIO`` (DEFLATE cannot
  compress better than ~1032:1);
* non-finite, non-positive or absurd spacings, non-finite origins and non-invertible directions.
"""

from __future__ import annotations

import re
import struct
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from LesionSegLogic.errors import CorruptFileError, DimensionError, GeometryError

MAX_VOXELS = 2**30
MAX_COMPRESSION_RATIO = 1100
#: spacings outside [MIN_SPACING, MAX_SPACING] mm are refused as absurd (a 1 µm or a 1 m voxel is no MRI).
MIN_SPACING = 1e-3
MAX_SPACING = 1e3
#: |origin| beyond this (mm, 1 km) is refused as absurd.
MAX_ORIGIN = 1e6
MIN_ABS_DET = 1e-6

_BYTES: dict[int, int] = {
    sitk.sitkUInt8: 1, sitk.sitkInt8: 1, sitk.sitkUInt16: 2, sitk.sitkInt16: 2, sitk.sitkUInt32: 4,
    sitk.sitkInt32: 4, sitk.sitkUInt64: 8, sitk.sitkInt64: 8, sitk.sitkFloat32: 4, sitk.sitkFloat64: 8,
}


@dataclass(frozen=True)
class HeaderInfo:
    """What the header declares, after the checks. ``size`` and ``spacing`` are in ITK (x, y, z) order."""

    size: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]
    direction: np.ndarray
    squeeze_4d: bool


@dataclass(frozen=True)
class _Storage:
    """Where the pixel data lives and whether it is compressed (``None``: unknown, skip the size check)."""

    data_file: Path | None
    data_offset: int
    compressed: bool | None
    bytes_per_component: int | None = None


#: the dimension fields the text-header readers trust blindly (ITK's MetaIO aborts or segfaults on
#: ``NDims = 99`` or ``NDims = -1``); only 3-D (and 4-D with one volume) images are wanted anyway.
_DIM_FIELDS = {".mha": ("ndims", "="), ".mhd": ("ndims", "="), ".nrrd": ("dimension", ":"), ".nhdr": ("dimension", ":")}


def precheck_text_header(path: Path) -> None:
    """Refuse, before ITK parses it, a MetaImage/NRRD header whose dimension count is not 3 or 4.

    Found by the reader fuzzer: ITK 5.4's MetaImage reader crashes the process on an out-of-range ``NDims``.
    """
    name = path.name.lower()
    ext = next((e for e in _DIM_FIELDS if name.endswith(e)), None)
    if ext is None:
        return
    key, separator = _DIM_FIELDS[ext]
    try:
        fields, _ = _text_fields(_read_prefix(path), separator)
    except OSError:
        return
    if separator == "=":
        _check_meta_geometry(fields, path)
    if key not in fields:
        return
    value = fields[key]
    if not re.fullmatch(r"[+]?\d{1,3}", value):
        raise CorruptFileError(f"invalid number of dimensions {value[:20]!r} in the header", path)
    if int(value) not in (3, 4):
        raise DimensionError(f"is a {int(value)}-D image; expected a 3-D volume", path)


#: MetaImage geometry fields (MetaIO's synonyms): a non-finite number in them is silently read as 0 (or 1)
_META_GEOMETRY = ("offset", "origin", "position", "elementspacing", "elementsize", "transformmatrix", "rotation",
                  "orientation")


def _check_meta_geometry(fields: dict[str, str], path: Path) -> None:
    """Refuse a MetaImage whose origin, spacing or orientation holds ``inf``/``nan`` or a non-number: MetaIO reads
    ``Offset = inf 0 0`` as the origin (0, 0, 0) without a word (issue 19 item 8)."""
    for key in _META_GEOMETRY:
        if key not in fields:
            continue
        text = fields[key]
        try:
            values = [float(token) for token in text.split()]
        except ValueError:
            raise CorruptFileError(f"has an unreadable {key} {text[:40]!r} in the header", path) from None
        if not all(np.isfinite(values)):
            what = "origin" if key in ("offset", "origin", "position") else key
            raise GeometryError(f"has a non-finite {what} ({key} = {text[:40]}) in the header", path)


def check_header(reader: sitk.ImageFileReader, path: Path) -> HeaderInfo:
    """Validate the header ``reader`` has read (``ReadImageInformation`` done) for a 3-D scalar volume."""
    dim = reader.GetDimension()
    size = tuple(int(s) for s in reader.GetSize())
    if reader.GetNumberOfComponents() != 1:
        raise DimensionError(
            f"has {reader.GetNumberOfComponents()} components per voxel (vector/RGB image); "
            "expected one scalar per voxel",
            path,
        )
    squeeze = False
    if dim == 4 and size[3] == 1:
        squeeze = True
    elif dim != 3:
        raise DimensionError(f"is a {dim}-D image of size {size}; expected a 3-D volume", path)
    size3 = size[:3]
    if min(size3) < 1:
        raise DimensionError(f"declares an empty image of size {size3}", path)
    if min(size3) == 1:
        raise DimensionError(f"is a single slice (size {size3}): a 2-D image, expected a 3-D volume", path)
    voxels = int(np.prod(size3, dtype=np.int64))
    if voxels > MAX_VOXELS:
        raise DimensionError(f"declares {voxels} voxels (size {size3}), over the limit {MAX_VOXELS}", path)
    _check_data_size(reader, path, voxels)
    spacing = tuple(float(s) for s in reader.GetSpacing())[:3]
    if not all(np.isfinite(s) and MIN_SPACING <= s <= MAX_SPACING for s in spacing):
        raise GeometryError(f"has an invalid voxel spacing {spacing} mm", path)
    origin = tuple(float(o) for o in reader.GetOrigin())[:3]
    if not all(np.isfinite(o) and abs(o) <= MAX_ORIGIN for o in origin):
        raise GeometryError(f"has an invalid origin {origin}", path)
    direction = np.asarray(reader.GetDirection(), dtype=float).reshape(dim, dim)[:3, :3]
    if not np.all(np.isfinite(direction)) or abs(np.linalg.det(direction)) < MIN_ABS_DET:
        raise GeometryError("has a non-invertible direction (orientation) matrix", path)
    return HeaderInfo(size3, spacing, origin, direction, squeeze)  # type: ignore[arg-type]


def _check_data_size(reader: sitk.ImageFileReader, path: Path, voxels: int) -> None:
    storage = _storage(path)
    if storage.compressed is None or storage.data_file is None:
        return
    try:
        available = storage.data_file.stat().st_size - storage.data_offset
    except ValueError:  # e.g. a NUL byte in the data file name (found by the fuzzer)
        raise CorruptFileError("invalid data file name in the header", path) from None
    except OSError:
        return  # ITK reports the missing data file when it reads
    per_voxel = storage.bytes_per_component or _BYTES.get(reader.GetPixelID(), 1)
    needed = voxels * per_voxel
    if storage.compressed:
        if needed > available * MAX_COMPRESSION_RATIO:
            raise CorruptFileError(
                f"declares {voxels} voxels ({needed} bytes) but holds only {available} compressed bytes: "
                "corrupt header or truncated file",
                path,
            )
    elif needed > available:
        raise CorruptFileError(
            f"declares {voxels} voxels ({needed} bytes) but holds only {max(available, 0)} bytes of data: "
            "corrupt header or truncated file",
            path,
        )


def _read_prefix(path: Path, n: int = 65536) -> bytes:
    with open(path, "rb") as f:
        return f.read(n)


def _storage(path: Path) -> _Storage:
    name = path.name.lower()
    try:
        head = _read_prefix(path)
    except OSError:
        return _Storage(None, 0, None)
    if name.endswith((".nii", ".nii.gz")):
        return _nifti_storage(path, head)
    if name.endswith((".nrrd", ".nhdr")):
        return _nrrd_storage(path, head)
    if name.endswith((".mha", ".mhd")):
        return _meta_storage(path, head)
    return _Storage(None, 0, None)


def _nifti_storage(path: Path, head: bytes) -> _Storage:
    """NIfTI-1 (sizeof_hdr 348: bitpix at byte 72, vox_offset float at 108) or NIfTI-2 (540: bitpix at 14,
    vox_offset int64 at 168), either byte order; gzip when the file starts with the gzip magic."""
    if head[:2] == b"\x1f\x8b":
        return _Storage(path, 0, True)
    if len(head) < 4:
        return _Storage(None, 0, None)
    for order in "<>":
        sizeof_hdr = struct.unpack(order + "i", head[:4])[0]
        if sizeof_hdr == 348 and len(head) >= 112:
            bitpix = struct.unpack(order + "h", head[72:74])[0]
            raw_offset = struct.unpack(order + "f", head[108:112])[0]
            vox_offset = int(raw_offset) if np.isfinite(raw_offset) and 0 <= raw_offset < 2**31 else 348
            per = bitpix // 8 if bitpix in (8, 16, 32, 64, 128) else None
            return _Storage(path, max(vox_offset, 348), False, per)
        if sizeof_hdr == 540 and len(head) >= 176:
            bitpix = struct.unpack(order + "h", head[14:16])[0]
            vox_offset = struct.unpack(order + "q", head[168:176])[0]
            per = bitpix // 8 if bitpix in (8, 16, 32, 64, 128) else None
            return _Storage(path, max(int(vox_offset), 540), False, per)
    return _Storage(None, 0, None)


_NRRD_TYPES = {
    1: ("signed char", "int8", "int8_t", "uchar", "unsigned char", "uint8", "uint8_t"),
    2: ("short", "short int", "signed short", "signed short int", "int16", "int16_t", "ushort",
        "unsigned short", "unsigned short int", "uint16", "uint16_t"),
    4: ("int", "signed int", "int32", "int32_t", "uint", "unsigned int", "uint32", "uint32_t", "float"),
    8: ("longlong", "long long", "long long int", "signed long long", "signed long long int", "int64",
        "int64_t", "ulonglong", "unsigned long long", "unsigned long long int", "uint64", "uint64_t",
        "double"),
}


def _text_fields(head: bytes, separator: str) -> tuple[dict[str, str], int]:
    """Key/value lines of a text header, and the byte offset just after the header."""
    fields: dict[str, str] = {}
    offset = 0
    for raw in head.split(b"\n"):
        offset += len(raw) + 1
        line = raw.decode("latin-1").strip()
        if separator == ":" and line == "":
            break
        if separator in line:
            key, _, value = line.partition(separator)
            key = key.strip().lower()
            fields[key] = value.strip()
            if separator == "=" and key == "elementdatafile":
                break
    return fields, offset


def _nrrd_storage(path: Path, head: bytes) -> _Storage:
    if not head.startswith(b"NRRD"):
        return _Storage(None, 0, None)
    fields, offset = _text_fields(head, ":")
    encoding = fields.get("encoding", "raw").lower()
    compressed = {"raw": False, "gzip": True, "gz": True}.get(encoding)
    per = next((n for n, names in _NRRD_TYPES.items() if fields.get("type", "").lower() in names), None)
    data_file = fields.get("data file", fields.get("datafile"))
    if data_file is None:
        return _Storage(path, offset, compressed, per)
    if re.search(r"\s|%|^LIST$", data_file):
        return _Storage(None, 0, None)
    return _Storage(path.parent / data_file, 0, compressed, per)


def _meta_storage(path: Path, head: bytes) -> _Storage:
    fields, offset = _text_fields(head, "=")
    data_file = fields.get("elementdatafile")
    if data_file is None:
        return _Storage(None, 0, None)
    compressed = fields.get("compresseddata", "false").lower() == "true"
    if data_file.upper() == "LOCAL":
        return _Storage(path, offset, compressed)
    if re.search(r"\s|%|^LIST$", data_file):
        return _Storage(None, 0, None)
    return _Storage(path.parent / data_file, 0, compressed)
