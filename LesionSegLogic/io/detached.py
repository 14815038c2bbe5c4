"""Detached headers: which files a NRRD or MetaImage header makes the reader open, and where they may lie.

A text header can keep its voxels in other files: NRRD's ``data file:`` field and MetaImage's
``ElementDataFile =`` name one file, a ``printf``-style pattern with a number range, or ``LIST`` followed by one
file name per line (the NRRD format definition, teem; the MetaIO documentation, Kitware). Relative names are
relative to the header's folder; absolute names and ``..`` are allowed by both formats, so a header found in a
folder of patient data could make the reader load ``/etc/passwd`` or another patient's file as voxels.

:func:`data_files` lists the files a header reads (the header itself when its data are attached), without
opening any of them. :func:`check_data_files` refuses, with a one-line :class:`ExternalDataError` naming the
header and the data file, any data file that lies outside the header's own folder after symbolic links and
``..`` are resolved, unless the caller allows external data (``lesionseg ... --allow-external-data``). Faces with
a folder allow-list (the web app's ``PathGate``) apply it to every file :func:`data_files` names.
"""

from __future__ import annotations

import re
from os import PathLike
from pathlib import Path

from LesionSegLogic.errors import CorruptFileError, InputError

#: a header longer than this (bytes) is refused when its data file names are listed in it (``LIST``).
MAX_HEADER_BYTES = 1 << 20
#: a header may name at most this many data files (a pattern's number range or a ``LIST``).
MAX_DATA_FILES = 10_000
_TEXT_HEADERS = (".nrrd", ".nhdr", ".mha", ".mhd")
_PATTERN = re.compile(r"^(?P<format>\S*%\S*)\s+(?P<first>[-+]?\d+)\s+(?P<last>[-+]?\d+)\s+(?P<step>[-+]?\d+)"
                      r"(\s+\d+)?\s*$")


class ExternalDataError(InputError):
    """A detached header whose data file lies outside the header's own folder."""


def data_files(header_path: str | PathLike[str]) -> list[Path]:
    """The files the reader opens for ``header_path``, in the order the header names them.

    The header itself when its voxels follow it (attached NRRD, ``ElementDataFile = LOCAL``); the named files
    (joined to the header's folder unless absolute, not resolved) when detached; an empty list when the file is
    not a NRRD/MetaImage header or names no data file (the reader then reports the problem). A header that
    cannot be opened, is too long, or names too many files raises :class:`CorruptFileError`.
    """
    header = Path(header_path)
    name = header.name.lower()
    if not name.endswith(_TEXT_HEADERS):
        return [header]
    try:
        with open(header, "rb") as handle:
            text = handle.read(MAX_HEADER_BYTES + 1)
    except OSError as error:
        raise CorruptFileError(f"cannot read the header ({error.strerror})", header) from None
    truncated = len(text) > MAX_HEADER_BYTES
    lines = [raw.decode("latin-1").strip() for raw in text[:MAX_HEADER_BYTES].split(b"\n")]
    if name.endswith((".nrrd", ".nhdr")):
        if not text.startswith(b"NRRD"):
            return [header]
        found = _nrrd_data_fields(lines)
        if not found:  # the voxels follow the header
            return [header]
    else:
        found = _meta_data_field(lines)
        if not found:  # no data file: the reader refuses the file
            return []
        if found[0][0].upper() == "LOCAL":
            return [header]
    names = [n for value, after in found for n in _expand(value, after, truncated, header)]
    return [header.parent / n for n in names]


def check_data_files(header_path: str | PathLike[str], *, allow_external: bool = False) -> list[Path]:
    """:func:`data_files` of ``header_path``; raises :class:`ExternalDataError` for a data file outside the
    header's folder (symbolic links and ``..`` resolved) unless ``allow_external``."""
    header = Path(header_path)
    files = data_files(header)
    if allow_external:
        return files
    home = header.absolute().parent.resolve()
    for data in files:
        if data == header:
            continue
        try:
            resolved = data.resolve()
        except (OSError, RuntimeError, ValueError):  # a symlink loop, a NUL byte in the name
            raise CorruptFileError(f"invalid data file name {str(data)[:200]!r} in the header", header) from None
        if not resolved.is_relative_to(home):
            shown = str(data) if str(data) == str(resolved) else f"{data} (= {resolved})"
            raise ExternalDataError(
                f"its data file {shown} lies outside the header's folder {home}; refused: a header can point "
                "at any file (pass --allow-external-data, or allow_external_data=True, to read it anyway)",
                header,
            )
    return files


def _nrrd_data_fields(lines: list[str]) -> list[tuple[str, list[str]]]:
    """``(value, following lines)`` of every ``data file``/``datafile`` field (field names ignore case; ``key:=
    value`` lines are key/value pairs, not fields; ``#`` starts a comment; a blank line ends the header). Every
    occurrence counts, whichever one a reader would use."""
    found = []
    for index, line in enumerate(lines[1:], start=1):
        if line == "":
            break
        if line.startswith("#") or ":=" in line or ":" not in line:
            continue
        key, _, value = line.partition(":")
        if key.strip().lower() in ("data file", "datafile"):
            found.append((value.strip(), lines[index + 1:]))
    return found


def _meta_data_field(lines: list[str]) -> list[tuple[str, list[str]]]:
    """``[(value, following lines)]`` of ``ElementDataFile`` (MetaIO's last header field: what follows it is data
    or, for ``LIST``, file names), or ``[]``."""
    for index, line in enumerate(lines):
        key, sep, value = line.partition("=")
        if sep and key.strip().lower() == "elementdatafile":
            return [(value.strip(), lines[index + 1:])]
    return []


def _expand(value: str, after: list[str], truncated: bool, header: Path) -> list[str]:
    """File names of a ``data file``/``ElementDataFile`` value: one name, a pattern with a range, or a LIST."""
    words = value.split()
    if words and words[0].upper() == "LIST":
        if truncated:
            raise CorruptFileError(f"header longer than {MAX_HEADER_BYTES} bytes with a LIST of data files",
                                   header)
        names = [line for line in after if line and not line.startswith("#")]
        if len(names) > MAX_DATA_FILES:
            raise CorruptFileError(f"lists {len(names)} data files (at most {MAX_DATA_FILES})", header)
        return names
    pattern = _PATTERN.match(value)
    if pattern is None:
        return [value] if value else []
    first, last, step = (int(pattern[k]) for k in ("first", "last", "step"))
    count = 0 if step == 0 else (last - first) // step + 1
    if not 0 < count <= MAX_DATA_FILES:
        raise CorruptFileError(
            f"data file pattern {value[:80]!r} names {count} files (1 to {MAX_DATA_FILES} accepted)", header)
    try:
        return [pattern["format"] % (first + i * step) for i in range(count)]
    except (TypeError, ValueError, OverflowError):
        raise CorruptFileError(f"invalid data file pattern {pattern['format'][:80]!r}", header) from None
