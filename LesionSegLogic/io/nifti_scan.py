"""A streaming integrity scan of NIfTI pixel data, run before ITK reads the file.

Two NIfTI behaviours of ITK 5.4 (SimpleITK 2.5) would otherwise slip through:

* a truncated ``.nii.gz`` is read without error, the missing voxels silently filled with zeros;
* NaN voxels are silently replaced by 0;
* an sform containing ``inf`` makes it loop forever (:func:`check_nifti_header` refuses it first).

:func:`scan_nifti` reads the file once in fixed-size chunks (memory stays O(chunk)), checks that the
stream holds every declared byte of pixel data, and counts non-finite values of float datatypes.
"""

from __future__ import annotations

import gzip
import struct
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, cast

import numpy as np

from LesionSegLogic.errors import CorruptFileError, GeometryError

CHUNK_BYTES = 1 << 23

#: NIfTI datatype code -> numpy dtype (native byte order; adjusted to the file's below)
_FLOAT_TYPES = {16: "f4", 64: "f8"}


#: Header length → each field's struct format and byte offset, in a NIfTI-1 (348 bytes) and a NIfTI-2 (540 bytes)
#: header (nifti1.h, nifti2.h): datatype + bitpix, dim[8], vox_offset, pixdim[8], qform_code + sform_code,
#: quatern_b … qoffset_z, srow_x/y/z.
_LAYOUTS: dict[int, dict[str, tuple[str, int]]] = {
    348: {"datatype_bitpix": ("hh", 70), "dim": ("8h", 40), "vox_offset": ("f", 108), "pixdim": ("8f", 76),
          "qform_sform_codes": ("hh", 252), "quatern": ("6f", 256), "srow": ("12f", 280)},
    540: {"datatype_bitpix": ("hh", 12), "dim": ("8q", 16), "vox_offset": ("q", 168), "pixdim": ("8d", 104),
          "qform_sform_codes": ("ii", 344), "quatern": ("6d", 352), "srow": ("12d", 400)},
}  # fmt: skip


@dataclass(frozen=True)
class NiftiScan:
    """What the scan found: pixel bytes read and the number of NaN/inf values (float datatypes only)."""

    data_bytes: int
    nonfinite: int


@dataclass(frozen=True)
class _Header:
    order: str
    datatype: int
    bitpix: int
    voxels: int
    vox_offset: int
    pixdim: tuple[float, ...] = ()
    qform_code: int = 0
    sform_code: int = 0
    quatern: tuple[float, ...] = ()  # b, c, d, qoffset x, y, z
    srow: tuple[float, ...] = ()  # 3 rows of 4


def check_nifti_header(path: Path) -> None:
    """Refuse, before ITK parses it, a NIfTI header with non-finite geometry.

    Found by the reader fuzzer: ITK 5.4 loops forever on an sform containing ``inf`` (in the polar
    decomposition that orthonormalises it). Checks pixdim[1..3] and, when their codes are set, the qform
    quaternion/offset and the sform rows.
    """
    try:
        stream, _ = _open(path)
        with stream:
            header, _ = _read_header(stream, path)
    except (OSError, EOFError, zlib.error) as error:
        raise CorruptFileError(f"damaged compressed data ({error})", path) from None
    if not all(np.isfinite(header.pixdim[1:4])):
        raise GeometryError(f"has a non-finite voxel size (pixdim {header.pixdim[1:4]})", path)
    if header.qform_code > 0 and not all(np.isfinite(header.quatern)):
        raise GeometryError("has a non-finite qform (quaternion or offset)", path)
    if header.sform_code > 0 and not all(np.isfinite(header.srow)):
        raise GeometryError("has a non-finite sform (srow_x/y/z)", path)


def scan_nifti(path: Path) -> NiftiScan:
    """Stream the pixel data of the NIfTI file ``path``; :class:`CorruptFileError` when it is truncated."""
    try:
        stream, compressed = _open(path)
        with stream:
            header, size = _read_header(stream, path)
            if header.vox_offset < size:
                raise CorruptFileError(f"data offset {header.vox_offset} lies inside the header", path)
            _skip(stream, header.vox_offset - size, path)
            scan = _scan(stream, header, path)
            if compressed:  # read to the end so gzip checks its CRC and length trailer
                while stream.read(CHUNK_BYTES):
                    pass
            return scan
    except (OSError, EOFError, zlib.error) as error:
        raise CorruptFileError(f"damaged compressed data ({error})", path) from None


def _open(path: Path) -> tuple[BinaryIO, bool]:
    """The file's bytes as a stream (decompressed when it starts with the gzip magic) and whether it is gzipped."""
    with open(path, "rb") as raw:
        compressed = raw.read(2) == b"\x1f\x8b"
    return cast(BinaryIO, gzip.open(path, "rb") if compressed else open(path, "rb")), compressed


def _read_header(stream: BinaryIO, path: Path) -> tuple[_Header, int]:
    """The header at the start of ``stream``, parsed, and its size in bytes (348 or 540)."""
    first = stream.read(4)
    size = _header_size(first, path)
    return _parse(first + stream.read(size - 4), path), size


def _header_size(first: bytes, path: Path) -> int:
    for order in "<>":
        if len(first) == 4 and struct.unpack(order + "i", first)[0] in _LAYOUTS:
            return int(struct.unpack(order + "i", first)[0])
    raise CorruptFileError("not a NIfTI-1/2 file (bad header size field)", path)


def _fields(head: bytes, path: Path) -> tuple[str, dict[str, tuple]]:
    """The byte order (``<``/``>``, the one whose ``sizeof_hdr`` reads as the header's length) and the fields of
    :data:`_LAYOUTS` of a complete NIfTI-1 or NIfTI-2 header."""
    layout = _LAYOUTS.get(len(head))
    for order in "<>":
        if layout is not None and struct.unpack_from(order + "i", head)[0] == len(head):
            return order, {name: struct.unpack_from(order + fmt, head, at) for name, (fmt, at) in layout.items()}
    raise CorruptFileError("truncated NIfTI header", path)


def _parse(head: bytes, path: Path) -> _Header:
    order, fields = _fields(head, path)
    datatype, bitpix = fields["datatype_bitpix"]
    dims, vox_offset = fields["dim"], fields["vox_offset"][0]
    ndim = int(dims[0])
    if not 1 <= ndim <= 7 or any(int(d) < 1 for d in dims[1 : ndim + 1]):
        raise CorruptFileError(f"invalid dimensions {tuple(dims)}", path)
    if not np.isfinite(vox_offset) or not 0 <= vox_offset < 2**40:
        raise CorruptFileError(f"invalid data offset {vox_offset}", path)
    voxels = int(np.prod([int(d) for d in dims[1 : ndim + 1]], dtype=object))
    qform_code, sform_code = fields["qform_sform_codes"]
    return _Header(
        order, int(datatype), int(bitpix), voxels, int(vox_offset), fields["pixdim"], int(qform_code), int(sform_code),
        fields["quatern"], fields["srow"],
    )


def _skip(stream: BinaryIO, count: int, path: Path) -> None:
    while count > 0:
        got = len(stream.read(min(count, CHUNK_BYTES)))
        if got == 0:
            raise CorruptFileError("file ends inside the header extensions", path)
        count -= got


def _scan(stream: BinaryIO, header: _Header, path: Path) -> NiftiScan:
    """Read the ``voxels × bitpix / 8`` bytes of pixel data that follow ``vox_offset``."""
    if header.bitpix <= 0 or header.bitpix % 8:
        return NiftiScan(0, 0)  # unusual datatypes: ITK decides
    needed = header.voxels * header.bitpix // 8
    dtype = (
        np.dtype(_FLOAT_TYPES[header.datatype]).newbyteorder(header.order)  # type: ignore[arg-type]  # '<' or '>'
        if header.datatype in _FLOAT_TYPES
        else None
    )
    pending = b""
    got, nonfinite = 0, 0
    while got < needed:
        block = stream.read(min(CHUNK_BYTES, needed - got))
        if not block:
            raise CorruptFileError(
                f"truncated: the header declares {needed} bytes of pixel data, the file holds {got}", path
            )
        got += len(block)
        if dtype is not None:
            block = pending + block
            usable = len(block) - len(block) % dtype.itemsize
            values = np.frombuffer(block[:usable], dtype=dtype)
            nonfinite += int(values.size - np.count_nonzero(np.isfinite(values)))
            pending = block[usable:]
    return NiftiScan(got, nonfinite)
