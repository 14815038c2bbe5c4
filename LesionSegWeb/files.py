"""Safe file opening for the web app: only files the user named on the command line, or files under a folder
the user allowed, are read; anything else is refused with a clear :class:`InputError` (shown in the panel).

The browser can type any path into the "open" fields, so the server must not become a way to read arbitrary
files of the machine it runs on: paths are resolved (symbolic links followed) before they are checked.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from LesionSegLogic.errors import FileMissingError, GeometryError, InputError

if TYPE_CHECKING:
    from LesionSegLogic.external.model_entry import ExternalModel
    from LesionSegLogic.image import Image

#: File name stems of a case folder (the layout ``lesionseg phantom`` writes), in lookup order.
CASE_STEMS: dict[str, tuple[str, ...]] = {
    "flair": ("flair",),
    "t2": ("t2",),
    "reference": ("lesions", "reference", "mask"),
    "probability": ("probability",),
}
VOLUME_SUFFIXES: tuple[str, ...] = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")


class OutsideAllowedError(InputError):
    """A path outside the folders the web app may read."""


@dataclass(frozen=True)
class PathGate:
    """Decides which paths the app may open: files under one of ``roots`` (folders, resolved)."""

    roots: tuple[Path, ...]

    @classmethod
    def from_paths(cls, paths: Iterable[str | Path | None]) -> PathGate:
        """Allow each given folder, and the folder of each given file."""
        roots: list[Path] = []
        for raw in paths:
            if raw is None or str(raw).strip() == "":
                continue
            path = Path(raw).expanduser().resolve()
            root = path if path.is_dir() else path.parent
            if root not in roots:
                roots.append(root)
        return cls(tuple(roots))

    def allows(self, path: Path) -> bool:
        return any(path == root or path.is_relative_to(root) for root in self.roots)

    def file(self, raw: str | Path, what: str = "file") -> Path:
        """The resolved path of an existing file the app may read; raises a clear ``InputError`` otherwise."""
        text, path = self._inside(raw, what)
        if not path.exists():
            raise FileMissingError(f"{what} does not exist", text)
        if not path.is_file():
            raise FileMissingError(f"{what} is not a file", text)
        self.check_data_files(path, what)
        return path

    def image(self, raw: str | Path, what: str = "file") -> Path:
        """An image path: a file (as :meth:`file`) or a DICOM series folder (read as DICOM, as every image argument
        of the CLI is), every file under which must also lie in the allowed folders (a link out is refused)."""
        text = _path_text(raw, what)
        path = Path(text).expanduser().resolve()
        if not path.is_dir():
            return self.file(raw, what)
        self.folder(raw, f"{what} (DICOM series folder)")
        self._check_inside(path.rglob("*"), what, path)
        return path

    def model(self, raw: str | Path) -> ExternalModel:
        """A model the user brings (an nnU-Net v2 model folder or an ONNX model, :mod:`LesionSegLogic.external.
        model_entry`) from the allowed folders: the path and every file the model reads (json, checkpoints, card,
        ``.onnx``), resolved, must lie in them; a clear error otherwise, or when it is not such a model."""
        from LesionSegLogic.external.model_entry import describe_model, model_files

        text, path = self._inside(raw, "model")
        if not path.exists():
            raise FileMissingError("model does not exist", text)
        entry = describe_model(path)
        self._check_inside(model_files(entry), "model", path)
        return entry

    def _inside(self, raw: str | Path, what: str) -> tuple[str, Path]:
        """The typed path and its resolution, which must lie in the allowed folders: an ``OutsideAllowedError`` that
        names them and the ``--allow`` option otherwise."""
        text = _path_text(raw, what)
        path = Path(text).expanduser().resolve()
        if not self.allows(path):
            allowed = ", ".join(str(r) for r in self.roots) or "none"
            raise OutsideAllowedError(
                f"{what} is outside the folders this app may read (allowed: {allowed}); start `lesionseg app` with "
                "--allow DIR to add the folder that holds it", text)
        return text, path

    def _check_inside(self, paths: Iterable[Path], what: str, where: Path) -> None:
        for inner in paths:
            if not self.allows(inner.resolve()):
                raise OutsideAllowedError(f"{what}'s file {inner} is outside the folders this app may read", where)

    def case(self, raw: str | Path) -> CaseFiles:
        """The case in an allowed folder, each of its files checked like :meth:`file` (a ``flair.nii.gz`` that is a
        symbolic link out of the allowed folders, or a detached header whose data lie outside them, is refused)."""
        found = find_case(self.folder(raw))
        checked = {role: None if p is None else self.file(p, f"{role} file")
                   for role, p in vars(found).items()}  # fmt: skip
        return CaseFiles(**checked)  # type: ignore[arg-type]

    def check_data_files(self, path: Path, what: str = "file") -> None:
        """Refuse a detached header (``.nhdr``/``.mhd``) whose data files, resolved, lie outside the allowed
        folders (:func:`LesionSegLogic.io.detached.data_files`; issue 18)."""
        from LesionSegLogic.io.detached import data_files  # imported on use, like read_image

        for data in data_files(path):
            if not self.allows(data.resolve()):
                raise OutsideAllowedError(
                    f"{what}'s data file {data} is outside the folders this app may read", path)

    def folder(self, raw: str | Path, what: str = "case folder") -> Path:
        text, path = self._inside(raw, what)
        if not path.is_dir():
            raise FileMissingError(f"{what} is not a folder", text)
        return path


def _path_text(raw: str | Path, what: str) -> str:
    """The typed path, stripped; a clear ``InputError`` when it is empty or holds a NUL (which the operating
    system cannot take: ``ValueError: embedded null byte`` otherwise)."""
    text = str(raw).strip()
    if not text:
        raise InputError(f"no {what} given")
    if "\0" in text:
        raise InputError(f"the {what} path contains a NUL character; type it again")
    return text


@dataclass(frozen=True)
class CaseFiles:
    """The volumes of one case; only ``flair`` is required."""

    flair: Path
    t2: Path | None = None
    reference: Path | None = None
    probability: Path | None = None


def _find(folder: Path, stems: tuple[str, ...]) -> Path | None:
    for stem in stems:
        for suffix in VOLUME_SUFFIXES:
            candidate = folder / f"{stem}{suffix}"
            if candidate.is_file():
                return candidate
    return None


def find_case(folder: Path) -> CaseFiles:
    """The case in ``folder`` (``flair.nii.gz`` [+ ``t2``, ``lesions``, ``probability``])."""
    found = {role: _find(folder, stems) for role, stems in CASE_STEMS.items()}
    if found["flair"] is None:
        raise FileMissingError("no flair.nii.gz (or .nii/.nrrd/.mha) in this case folder", folder)
    return CaseFiles(**found)  # type: ignore[arg-type]


def check_openable(case: CaseFiles, probability_format: dict[str, Any] | None = None) -> Image | None:
    """Read every file of ``case`` with the project's reader (:func:`LesionSegLogic.io.read_image`, each in
    its role) and check that the probability map lies on the FLAIR grid, before anything of the open review is
    replaced: a missing, corrupt or mismatched file raises an ``InputError`` that names it. The files are read as
    the session reads them (:func:`LesionSegLib.nodes.read_volume_file`: the CLI's checks plus the review's size
    limit), and the T2 must cover the FLAIR (:func:`LesionSegLib.inputs.check_covers`).

    ``probability_format``: ``channel``/``scale`` for another tool's 4-D or integer map (the options of ``lesionseg
    evaluate``/``sweep``/``app``: :func:`LesionSegLogic.cli.probability_format`); the map is then read with them and
    returned (the session is given that image), else ``None``."""
    from LesionSegLib.inputs import check_covers  # SimpleITK/nibabel: imported on use
    from LesionSegLib.nodes import REVIEW_MAX_VOXELS, read_volume_file

    from LesionSegLogic.io import read_image
    from LesionSegLogic.io.read import read_header

    flair = read_volume_file(case.flair)
    if case.t2 is not None:
        check_covers(flair, read_volume_file(case.t2), "t2")
    if case.reference is not None:
        read_volume_file(case.reference, "mask")
    if case.probability is None:
        return None
    formatted = {k: v for k, v in (probability_format or {}).items() if v is not None}
    # a 4-D softmax without a channel: the probability reader's message (how many channels, which to choose)
    header = read_header(case.probability, role="probability", channel=formatted.get("channel"))
    small = int(np.prod(header.size, dtype=np.int64)) <= REVIEW_MAX_VOXELS
    probability = (read_image(case.probability, role="probability", **formatted) if formatted and small
                   else read_volume_file(case.probability, "probability"))  # the review's size limit, said
    if not probability.same_grid(flair):
        raise GeometryError(f"probability map is not on the grid of the FLAIR {case.flair.name}", case.probability)
    return probability if formatted else None


@dataclass(frozen=True)
class PredictionInfo:
    """What ``lesionseg predict`` recorded beside a probability map: the model and the threshold of its mask."""

    model: str | None = None
    threshold: float | None = None


def prediction_info(probability: Path) -> PredictionInfo:
    """What the ``summary.json`` next to ``probability`` recorded (``lesionseg predict``/``demo`` write one), read by
    the project's one reader of it (:func:`LesionSegLogic.defaults.read_recorded`, as the CLI and the desktop panel
    do); an empty :class:`PredictionInfo` when there is none, or when it is unreadable or describes another file."""
    from LesionSegLogic.defaults import read_recorded

    recorded = read_recorded(probability)
    return PredictionInfo(recorded.model, recorded.threshold)
