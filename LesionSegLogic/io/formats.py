"""Which file formats LesionSeg reads and writes, recognised by their extension."""

from __future__ import annotations

from pathlib import Path

from LesionSegLogic.errors import CorruptFileError, OutputError

#: extension -> (ITK ImageIO name, human name). Longest extensions first so ``.nii.gz`` wins over ``.gz``.
FORMATS: dict[str, tuple[str, str]] = {
    ".nii.gz": ("NiftiImageIO", "NIfTI"),
    ".nii": ("NiftiImageIO", "NIfTI"),
    ".nrrd": ("NrrdImageIO", "NRRD"),
    ".nhdr": ("NrrdImageIO", "NRRD (detached header)"),
    ".mha": ("MetaImageIO", "MetaImage"),
    ".mhd": ("MetaImageIO", "MetaImage (detached header)"),
}

SUPPORTED = ", ".join(FORMATS)


def extension_of(path: str | Path) -> str | None:
    """The supported extension ``path`` ends with (case-insensitive), or ``None``."""
    name = Path(path).name.lower()
    for ext in FORMATS:
        if name.endswith(ext) and len(name) > len(ext):
            return ext
    return None


def image_io_for_reading(path: str | Path) -> str:
    """ITK ImageIO name for ``path``; raises :class:`CorruptFileError` for an unsupported extension."""
    ext = extension_of(path)
    if ext is None:
        raise CorruptFileError(f"unsupported file type (expected one of {SUPPORTED})", path)
    return FORMATS[ext][0]


def extension_for_writing(path: str | Path) -> str:
    """The extension of an output ``path``; raises :class:`OutputError` for an unsupported one."""
    ext = extension_of(path)
    if ext is None:
        raise OutputError(f"{path}: cannot write this file type (expected one of {SUPPORTED})")
    return ext
