"""Read a DICOM series folder into an :class:`~LesionSegLogic.image.Image`, with its geometry checked.

Two libraries, each for what it does best:

* **pydicom** reads the headers (no pixels) of every file under the folder, groups them into series by
  ``SeriesInstanceUID`` and gives the per-slice geometry that is checked here. SimpleITK's
  ``ImageSeriesReader`` alone would not do: it takes the spacing from the first two slices and the direction
  from the first one, and reads a stack with a missing slice, a gantry tilt or a changed orientation into a
  wrong grid with at most a warning on stderr.
* **SimpleITK** (GDCM, already a core dependency) then reads the pixels of the checked, sorted files: GDCM
  decodes the compressed transfer syntaxes (JPEG, JPEG-LS, JPEG 2000, RLE) without extra Python codecs and
  applies each file's ``RescaleSlope``/``RescaleIntercept``.

The geometry (DICOM PS3.3 C.7.6.2, the image plane module): every slice must have the same
``ImageOrientationPatient``, ``PixelSpacing`` and size; the slices are sorted along the slice normal
``n = row × column``; the image is then ``origin`` = the first position, ``direction`` = (row, column, n) and
the slice spacing = the mean step, and every file's ``ImagePositionPatient`` must lie on that uniform grid within
:data:`GRID_TOLERANCE` of a voxel — off it in plane, the stack is sheared (a gantry tilt); along ``n``, slices
are missing or the spacing is inconsistent. It is the grid a NIfTI converter writes, so a DICOM series and a NIfTI
of the same data give identical arrays and physical positions.

Each problem is one :class:`~LesionSegLogic.errors.InputError` naming the folder; nothing is guessed.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path

import numpy as np

from LesionSegLogic.errors import CorruptFileError, DimensionError, FileMissingError, GeometryError, InputError
from LesionSegLogic.image import Image

#: absolute tolerance (mm, and on direction cosines) for "the same" orientation, pixel spacing and slice position
STEP_TOLERANCE = 1e-3
#: every slice must lie on the uniform grid the image gets within this fraction of a voxel (of the pixel size in
#: plane, of the slice step along the normal); beyond it a missing slice, uneven spacing or a tilt is refused
GRID_TOLERANCE = 0.05
#: modalities of series that are not images to segment (derived objects that may sit next to a series)
NON_IMAGE_MODALITIES = frozenset({"SEG", "SR", "PR", "KO", "RTSTRUCT", "RTPLAN", "REG", "DOC"})
INSTALL_HINT = "pip install 'lesionseg[dicom]'"
_HEADER_TAGS = (
    "SeriesInstanceUID", "SeriesNumber", "SeriesDescription", "Modality", "SOPInstanceUID", "InstanceNumber",
    "ImageOrientationPatient", "ImagePositionPatient", "PixelSpacing", "Rows", "Columns", "NumberOfFrames",
    "SamplesPerPixel", "SOPClassUID",
)  # fmt: skip


@dataclass(frozen=True)
class SliceHeader:
    """What one file says about its place in the series."""

    path: Path
    sop_instance_uid: str
    instance_number: int | None
    orientation: tuple[float, ...] | None
    position: tuple[float, ...] | None
    pixel_spacing: tuple[float, ...] | None
    rows: int
    columns: int
    frames: int
    samples: int


@dataclass(frozen=True)
class SeriesInfo:
    """One series found under a folder (candidates for ``--series``)."""

    uid: str
    number: int | None
    description: str
    modality: str
    slices: tuple[SliceHeader, ...] = field(repr=False)

    def label(self) -> str:
        number = "?" if self.number is None else str(self.number)
        return f"#{number} {self.description!r} ({self.modality}, {len(self.slices)} files, uid {self.uid})"

    def matches(self, selector: str) -> bool:
        """``selector`` is the SeriesInstanceUID, the SeriesNumber or the SeriesDescription (any case)."""
        text = selector.strip()
        return (text == self.uid or (text.isdigit() and self.number == int(text))
                or text.casefold() == self.description.strip().casefold())  # fmt: skip


@dataclass(frozen=True)
class DicomSeries:
    """A series read and checked: the image, the series it came from and its files in slice (``k``) order."""

    image: Image
    folder: Path
    info: SeriesInfo
    files: tuple[Path, ...]

    @property
    def sop_instance_uids(self) -> tuple[str, ...]:
        by_path = {s.path: s.sop_instance_uid for s in self.info.slices}
        return tuple(by_path[p] for p in self.files)


def is_dicom_folder(path: str | PathLike[str]) -> bool:
    """True for a folder (image arguments that are folders are read as DICOM)."""
    return Path(path).is_dir()


def list_series(folder: str | PathLike[str]) -> list[SeriesInfo]:
    """Every image series under ``folder`` (recursively), by series number then description.

    Files that are not DICOM, ``DICOMDIR`` and non-image objects (:data:`NON_IMAGE_MODALITIES`, or without
    rows/columns) are skipped."""
    root = Path(folder)
    if not root.exists():
        raise FileMissingError("folder not found", root)
    try:
        from pydicom import dcmread
        from pydicom.errors import InvalidDicomError
    except ImportError:
        raise InputError(f"is a folder, read as DICOM, which needs pydicom: {INSTALL_HINT}", root) from None
    groups: dict[str, list[SliceHeader]] = {}
    meta: dict[str, tuple[int | None, str, str]] = {}
    for path in sorted(p for p in root.rglob("*") if p.is_file() and p.name.upper() != "DICOMDIR"):
        try:
            ds = dcmread(path, stop_before_pixels=True, specific_tags=list(_HEADER_TAGS))
        except (InvalidDicomError, OSError, ValueError, EOFError):
            continue
        uid = str(ds.get("SeriesInstanceUID", "") or "")
        modality = str(ds.get("Modality", "") or "")
        if not uid or modality in NON_IMAGE_MODALITIES or "Rows" not in ds or "Columns" not in ds:
            continue
        groups.setdefault(uid, []).append(_slice_header(path, ds))
        meta.setdefault(uid, (_int(ds.get("SeriesNumber")), str(ds.get("SeriesDescription", "") or ""), modality))
    series = [SeriesInfo(uid, *meta[uid], tuple(slices)) for uid, slices in groups.items()]
    return sorted(series, key=lambda s: (s.number is None, s.number or 0, s.description, s.uid))


def choose_series(folder: str | PathLike[str], selector: str | None = None,
                  candidates: Sequence[SeriesInfo] | None = None) -> SeriesInfo:
    """The one series under ``folder`` (or the one ``selector`` names); an error listing them otherwise."""
    root = Path(folder)
    found = list(list_series(root) if candidates is None else candidates)
    if not found:
        raise FileMissingError("is a folder with no DICOM image series (expected an image file or a DICOM series "
                               "folder)", root)
    listing = "; ".join(s.label() for s in found)
    if selector is None:
        if len(found) > 1:
            raise InputError(f"holds {len(found)} DICOM series, choose one with --series (description, number "
                             f"or UID): {listing}", root)  # fmt: skip
        return found[0]
    chosen = [s for s in found if s.matches(selector)]
    if len(chosen) != 1:
        how = "no series matches" if not chosen else f"{len(chosen)} series match"
        raise InputError(f"{how} --series {selector!r}; found: {listing}", root)
    return chosen[0]


def read_dicom_series(folder: str | PathLike[str], *, series: str | None = None) -> DicomSeries:
    """Read the series under ``folder`` (``series`` chooses among several) after checking its geometry."""
    root = Path(folder)
    info = choose_series(root, series)
    ordered, spacing, origin, direction = check_geometry(info.slices, root)
    array = _read_pixels([s.path for s in ordered], root)
    expected = (len(ordered), ordered[0].rows, ordered[0].columns)
    if array.shape != expected:
        raise CorruptFileError(f"pixel data of shape {array.shape} do not match the headers {expected}", root)
    image = Image(array, spacing, origin, direction, str(root))
    return DicomSeries(image, root, info, tuple(s.path for s in ordered))


def check_geometry(slices: Iterable[SliceHeader], folder: Path) -> tuple[
    list[SliceHeader], tuple[float, float, float], tuple[float, float, float], np.ndarray
]:
    """``(slices in k order, spacing zyx, origin, direction)`` of a single-frame series, or a typed error."""
    items = list(slices)
    multi = next((s for s in items if s.frames > 1), None)
    if multi is not None:
        raise DimensionError(f"{multi.path.name} is a multi-frame (enhanced) image with {multi.frames} frames; "
                             "only single-frame series are read (convert it, e.g. with dcm2niix)", folder)
    if any(s.samples != 1 for s in items):
        raise DimensionError("has colour (multi-sample) pixels; expected a grey-scale series", folder)
    missing = next((s for s in items if s.orientation is None or s.position is None or s.pixel_spacing is None),
                   None)
    if missing is not None:
        raise GeometryError(f"{missing.path.name} has no ImagePositionPatient/ImageOrientationPatient/PixelSpacing "
                            "(not a volume slice)", folder)  # fmt: skip
    if len(items) < 2:
        raise DimensionError(f"holds a single slice ({items[0].path.name}); expected a 3-D series", folder)
    _same(items, lambda s: (s.rows, s.columns), "image sizes (rows × columns)", folder, exact=True)
    _same(items, lambda s: s.pixel_spacing, "pixel spacings", folder)
    _same(items, lambda s: s.orientation, "orientations (ImageOrientationPatient)", folder)
    row, column = (np.asarray(items[0].orientation[:3], float), np.asarray(items[0].orientation[3:], float))  # type: ignore[index]  # every slice has an orientation (checked above: missing → GeometryError)
    if abs(row @ column) > STEP_TOLERANCE or abs(np.linalg.norm(row) - 1) > STEP_TOLERANCE or abs(
            np.linalg.norm(column) - 1) > STEP_TOLERANCE:
        raise GeometryError("ImageOrientationPatient is not two orthogonal unit vectors", folder)
    normal = np.cross(row, column)
    positions = np.array([s.position for s in items], dtype=float)
    along = positions @ normal
    order = np.argsort(along, kind="stable")
    items, positions, along = [items[i] for i in order], positions[order], along[order]
    steps = np.diff(along)
    duplicate = np.flatnonzero(steps < STEP_TOLERANCE)
    if duplicate.size:
        a, b = items[duplicate[0]], items[duplicate[0] + 1]
        raise InputError(f"{a.path.name} and {b.path.name} lie at the same slice position "
                         f"({along[duplicate[0]]:.3f} mm): several echoes, phases or series mixed in one series?",
                         folder)  # fmt: skip
    # the uniform grid the image will have: slice k at positions[0] + k·mean_step·normal; every file must lie on
    # it within GRID_TOLERANCE of a voxel (in plane: a gantry tilt; along the normal: gaps or uneven spacing)
    n = len(items)
    mean_step = float((along[-1] - along[0]) / (n - 1))
    residual = positions - positions[0] - np.arange(n)[:, None] * mean_step * normal
    in_plane = residual - (residual @ normal)[:, None] * normal
    pixel = items[0].pixel_spacing
    drift = np.linalg.norm(in_plane, axis=1)
    if drift.max() > GRID_TOLERANCE * min(pixel):  # type: ignore[arg-type]  # every slice has a pixel spacing (checked above)
        per_slice = float(np.linalg.norm(in_plane[-1] - in_plane[0]) / (n - 1)) or float(drift.max())
        angle = float(np.degrees(np.arctan2(per_slice, mean_step)))
        raise GeometryError(f"slices are offset in plane by {per_slice:.3f} mm per slice ({angle:.2f}° gantry "
                            "tilt or a sheared stack); resample it to an orthogonal grid first (e.g. dcm2niix)",
                            folder)  # fmt: skip
    if np.abs(residual @ normal).max() > GRID_TOLERANCE * mean_step:
        step = float(np.median(steps))
        first = int(np.argmax(np.abs(steps - step)))
        ratio = steps[first] / step
        if round(ratio) >= 2 and abs(ratio - round(ratio)) < 0.05:
            raise GeometryError(f"{int(round(ratio)) - 1} slice(s) missing between {items[first].path.name} and "
                                f"{items[first + 1].path.name} ({steps[first]:.3f} mm gap, {step:.3f} mm spacing)",
                                folder)  # fmt: skip
        raise GeometryError(f"inconsistent slice spacing: steps from {steps.min():.3f} to {steps.max():.3f} mm "
                            f"(largest deviation at {items[first].path.name})", folder)  # fmt: skip
    pixel = items[0].pixel_spacing
    spacing = (mean_step, float(pixel[0]), float(pixel[1]))  # type: ignore[index]  # every slice has a pixel spacing (checked above)
    direction = np.column_stack([row, column, normal])
    return items, spacing, tuple(float(v) for v in positions[0]), direction  # type: ignore[return-value]  # a position has three coordinates


def _same(items: list[SliceHeader], key, what: str, folder: Path, exact: bool = False) -> None:
    first = np.asarray(key(items[0]), dtype=float)
    for item in items[1:]:
        value = np.asarray(key(item), dtype=float)
        same = value.shape == first.shape and (
            bool((value == first).all()) if exact else np.allclose(value, first, atol=STEP_TOLERANCE, rtol=0))
        if not same:
            raise GeometryError(f"mixed {what}: {items[0].path.name} has {_fmt(first)}, {item.path.name} has "
                                f"{_fmt(value)}", folder)  # fmt: skip


def _fmt(values: np.ndarray) -> str:
    return "(" + ", ".join(f"{v:g}" for v in np.ravel(values)) + ")"


def _read_pixels(files: list[Path], folder: Path) -> np.ndarray:
    import SimpleITK as sitk

    reader = sitk.ImageSeriesReader()
    reader.SetImageIO("GDCMImageIO")
    reader.SetFileNames([str(f) for f in files])
    try:
        array = sitk.GetArrayFromImage(reader.Execute())
    except (RuntimeError, MemoryError) as error:
        reason = next((ln.strip() for ln in str(error).splitlines() if ln.strip()), type(error).__name__)
        raise CorruptFileError(f"cannot read the DICOM pixel data ({reason[:160]})", folder) from None
    if array.ndim != 3:
        raise DimensionError(f"pixel data have {array.ndim} dimensions; expected a 3-D grey-scale series", folder)
    return array


def _slice_header(path: Path, ds) -> SliceHeader:
    return SliceHeader(
        path=path,
        sop_instance_uid=str(ds.get("SOPInstanceUID", "")),
        instance_number=_int(ds.get("InstanceNumber")),
        orientation=_floats(ds.get("ImageOrientationPatient"), 6),
        position=_floats(ds.get("ImagePositionPatient"), 3),
        pixel_spacing=_floats(ds.get("PixelSpacing"), 2),
        rows=int(ds.Rows),
        columns=int(ds.Columns),
        frames=_int(ds.get("NumberOfFrames")) or 1,
        samples=_int(ds.get("SamplesPerPixel")) or 1,
    )


def _floats(value, n: int) -> tuple[float, ...] | None:
    try:
        numbers = tuple(float(v) for v in value)
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == n and all(np.isfinite(numbers)) else None


def _int(value) -> int | None:
    try:
        return None if value is None or value == "" else int(value)
    except (TypeError, ValueError):
        return None


def parse_series_choices(values: Sequence[str] | None, roles: Sequence[str], default_role: str) -> dict[str, str]:
    """``--series`` values ``[ROLE=]SELECTOR`` → ``{role: selector}`` (no ROLE: ``default_role``)."""
    choices: dict[str, str] = {}
    for value in values or ():
        role, sep, selector = value.partition("=")
        if not sep or role not in roles:
            role, selector = default_role, value
        if not selector.strip():
            raise InputError(f"--series {value!r}: empty series selector")
        if role in choices:
            raise InputError(f"--series given twice for the {role} image ({choices[role]!r}, {selector!r})")
        choices[role] = selector
    return choices


def read_inputs(
    images: dict[str, str | PathLike[str] | None], choices: dict[str, str] | None = None
) -> tuple[dict[str, str | PathLike[str] | Image | None], dict[str, DicomSeries]]:
    """Read the DICOM folders among ``images`` (role → path); files are left as paths for the caller to read.

    Returns the images (a DICOM folder replaced by its :class:`Image`) and the series read, by role. A
    ``choices`` entry for a role that is not a DICOM folder is an error (it would be silently ignored)."""
    choices = dict(choices or {})
    loaded: dict[str, str | PathLike[str] | Image | None] = {}
    series: dict[str, DicomSeries] = {}
    for role, path in images.items():
        if path is not None and is_dicom_folder(path):
            series[role] = read_dicom_series(path, series=choices.get(role))
            loaded[role] = series[role].image
        else:
            loaded[role] = path
    unused = sorted(set(choices) - set(series))
    if unused:
        raise InputError(f"--series was given for {', '.join(unused)}, which is not a DICOM series folder")
    return loaded, series
