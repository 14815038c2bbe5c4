"""``write_image``: atomic writes that never replace an input."""

from __future__ import annotations

import contextlib
import os
import shutil
import tempfile
from collections.abc import Iterable
from os import PathLike
from pathlib import Path

import numpy as np
import SimpleITK as sitk

from LesionSegLogic.errors import OutputError
from LesionSegLogic.image import Image
from LesionSegLogic.io.convert import to_sitk
from LesionSegLogic.io.formats import extension_for_writing

#: dtypes an output may be stored as
WRITABLE_DTYPES = tuple(
    np.dtype(t) for t in ("uint8", "int8", "uint16", "int16", "int32", "float32", "float64")
)


def write_image(
    image: Image,
    path: str | PathLike[str],
    *,
    dtype: np.dtype | type | str | None = None,
    protect: Iterable[str | PathLike[str]] = (),
) -> Path:
    """Write ``image`` to ``path`` (NIfTI, NRRD or MetaImage by extension) and return the path.

    The file is written into a temporary folder next to ``path`` and moved into place with ``os.replace``,
    so readers never see a half-written file and a failed write leaves nothing behind. ``path`` may not be
    any of ``protect`` nor the file ``image`` was read from (``image.name``): :class:`OutputError`.
    Parent folders are created. NIfTI gets both qform and sform (code 1) from the same affine; everything
    but ``.nii`` is gzip-compressed (detached data files: ``.raw.gz`` for ``.nhdr``, ``.zraw`` for ``.mhd``).
    """
    target = Path(path)
    ext = extension_for_writing(target)
    out_dtype = _output_dtype(image, dtype, target)
    _refuse_protected(target, [*protect, *([image.name] if image.name else [])])
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{target}: cannot create the folder ({error.strerror})") from None
    itk_image = to_sitk(image, out_dtype)
    try:
        staging = Path(tempfile.mkdtemp(prefix=f".{target.name}.", dir=target.parent))
    except OSError as error:
        raise OutputError(f"{target}: cannot write in {target.parent} ({error.strerror})") from None
    try:
        staged = staging / target.name
        sitk.WriteImage(itk_image, str(staged), useCompression=ext != ".nii")
        # detached headers (.nhdr, .mhd) come with a data file: move it first, the header last
        for extra in sorted(p for p in staging.iterdir() if p != staged):
            os.replace(extra, target.parent / extra.name)
        os.replace(staged, target)
    except (RuntimeError, OSError) as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[-1]
        raise OutputError(f"{target}: cannot write the image ({reason})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _output_dtype(image: Image, dtype: np.dtype | type | str | None, target: Path) -> np.dtype:
    out = np.dtype(image.array.dtype if dtype is None else dtype)
    if out == np.bool_:
        out = np.dtype(np.uint8)
    if out not in WRITABLE_DTYPES:
        names = ", ".join(str(d) for d in WRITABLE_DTYPES)
        raise OutputError(f"{target}: cannot store pixels as {out} (expected one of {names})")
    return out


def _same_file(a: Path, b: Path) -> bool:
    with contextlib.suppress(OSError):
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
    return os.path.abspath(a) == os.path.abspath(b)


def _refuse_protected(target: Path, protected: Iterable[str | PathLike[str]]) -> None:
    for candidate in protected:
        if _same_file(target, Path(candidate)):
            raise OutputError(f"{target}: refusing to overwrite an input file")
