"""The one atomic writer: images (``write_image``), text/JSON (``write_text``, ``write_json``), any file a
library writes itself (``staged_file``) and a set of files that belong together (``staged_outputs``: a case's
outputs, a DICOM series, an exported model), each moved into place whole and never over an input.

Every writer stages under :func:`LesionSegLogic.io.write_policy.staging_path` in the target's folder and removes
the staging entry on every failure path (including ``SystemExit`` from
:func:`~LesionSegLogic.io.write_policy.terminate_as_exit` and ``KeyboardInterrupt``). Files are created with
mode ``0o666`` filtered by the umask, as ``open(path, "w")`` does. Whether an existing output may be replaced is
the commands' decision (:func:`~LesionSegLogic.io.write_policy.claim_outputs`), made before any work.
"""

from __future__ import annotations

import contextlib
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import SimpleITK as sitk

from LesionSegLogic.errors import OutputError
from LesionSegLogic.image import Image
from LesionSegLogic.io.convert import to_sitk
from LesionSegLogic.io.formats import extension_for_writing
from LesionSegLogic.io.write_policy import refuse_inputs, staging_folder, staging_path
from LesionSegLogic.jsonfile import json_text

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
    refuse_inputs([target], [*protect, *([image.name] if image.name else [])])
    _make_parent(target)
    itk_image = to_sitk(image, out_dtype)
    with staged_file(target, what="image", directory=True) as staging:
        staged = staging / target.name
        try:
            sitk.WriteImage(itk_image, str(staged), useCompression=ext != ".nii")
        except RuntimeError as error:
            reason = (str(error).strip().splitlines() or [type(error).__name__])[-1]
            raise OutputError(f"{target}: cannot write the image ({reason})") from None
        # detached headers (.nhdr, .mhd) come with a data file: move it first, the header last
        for extra in sorted(p for p in staging.iterdir() if p != staged):
            os.replace(extra, target.parent / extra.name)
        os.replace(staged, target)
    return target


@contextlib.contextmanager
def staged_file(target: str | PathLike[str], *, what: str = "file", directory: bool = False) -> Iterator[Path]:
    """Yield a staging path next to ``target`` for a writer (``savefig``, ``torch.save``, ...) to fill; on success
    it is moved onto ``target``; on any failure it is removed and an ``OSError`` becomes an :class:`OutputError`
    naming ``target``. With ``directory=True`` a staging folder is made and yielded: the caller moves what it
    wrote (the folder is removed afterwards either way)."""
    target = Path(target)
    _make_parent(target)
    staged = staging_path(target)
    try:
        if directory:
            staged.mkdir()
        yield staged
        if not directory:
            os.chmod(staged, plain_file_mode(target.parent))  # some writers (safetensors, mkstemp) make 0600
            os.replace(staged, target)
    except OSError as error:
        raise OutputError(f"{target}: cannot write the {what} ({_reason(error)})") from None
    finally:
        if staged.is_dir() and not staged.is_symlink():
            shutil.rmtree(staged, ignore_errors=True)
        else:
            with contextlib.suppress(OSError):
                staged.unlink()


def write_bytes(target: str | PathLike[str], data: bytes, *, what: str = "file") -> Path:
    """Write ``data`` to ``target`` atomically (mode ``0o666 & ~umask``); returns the path."""
    target = Path(target)
    with staged_file(target, what=what) as staged:
        handle = os.open(staged, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(handle, "wb") as stream:
            _write_all(stream, data)
    return target


def write_text(target: str | PathLike[str], text: str, *, what: str = "file") -> Path:
    """Write UTF-8 ``text`` to ``target`` atomically; returns the path."""
    return write_bytes(target, text.encode("utf-8"), what=what)


def write_json(target: str | PathLike[str], data: Any, *, what: str = "JSON file", indent: int | None = 2) -> Path:
    """Write ``data`` atomically as strict JSON by the one policy (:func:`LesionSegLogic.jsonfile.json_ready`:
    numpy numbers as numbers, NaN/±inf as null; another object is a ``TypeError`` before anything is written)."""
    return write_text(target, json_text(data, indent=indent), what=what)


@contextlib.contextmanager
def staged_outputs(targets: Sequence[str | PathLike[str]], *, what: str = "outputs") -> Iterator[Path]:
    """Write several files of one folder as a set: yields a staging folder (beside them, named by
    :func:`~LesionSegLogic.io.write_policy.staging_folder`, so a killed run's debris is recognised) in which the
    caller writes each target under its own name. On success the **last** target (the one that says the set is
    complete, e.g. ``summary.json``) is removed first, then every file is moved onto its target in order, the last
    one last; an ``OSError`` anywhere becomes one :class:`OutputError` naming the folder; the staging folder is
    removed whatever happens."""
    paths = [Path(t) for t in targets]
    folder = paths[0].parent
    try:
        folder.mkdir(parents=True, exist_ok=True)
        staging = staging_folder(paths[-1])
    except OSError as error:
        raise OutputError(f"{folder}: cannot create the output folder ({_reason(error)})") from None
    try:
        yield staging
        paths[-1].unlink(missing_ok=True)  # the set is incomplete until the new last file lands
        for target in paths:
            os.replace(staging / target.name, target)
    except OSError as error:
        raise OutputError(f"{folder}: cannot write the {what} ({_reason(error)})") from None
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def _write_all(stream: Any, data: bytes) -> None:
    """The one place bytes reach the disk (a test injects a full disk here)."""
    stream.write(data)
    stream.flush()


def plain_file_mode(folder: str | PathLike[str] = ".") -> int:
    """The mode ``open(path, "w")`` gives a new file: ``0o666 & ~umask``. The umask is read from
    ``/proc/self/status`` (setting it to read it would change it for every thread), else from a probe file
    created in ``folder``."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return 0o666 & ~int(line.split()[1], 8)
    probe = staging_path(Path(folder) / "mode-probe")
    handle = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        return os.fstat(handle).st_mode & 0o777
    finally:
        os.close(handle)
        probe.unlink()


def _make_parent(target: Path) -> None:
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(f"{target}: cannot create the folder ({_reason(error)})") from None


def _reason(error: OSError) -> str:
    return (error.strerror or str(error) or type(error).__name__).lower()


def _output_dtype(image: Image, dtype: np.dtype | type | str | None, target: Path) -> np.dtype:
    out = np.dtype(image.array.dtype if dtype is None else dtype)
    if out == np.bool_:
        out = np.dtype(np.uint8)
    if out not in WRITABLE_DTYPES:
        names = ", ".join(str(d) for d in WRITABLE_DTYPES)
        raise OutputError(f"{target}: cannot store pixels as {out} (expected one of {names})")
    return out
