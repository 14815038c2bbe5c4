"""A saved review's ``review.json``: its versioned schema, writing it and reading it back with every file checked.

Slicer-free, so that ``lesionseg report`` can read a review folder without a scene; saving and reopening a live
review (``ReviewSession``) is :mod:`LesionSegLib.saved_review`'s. Schema (``format_version`` 1; documented in
``docs/web.md``)::

    {"format": "lesionseg-review", "format_version": 1,
     "files": {"flair": {"path": "/data/case/flair.nii.gz", "sha256": "…", "stored": false},
               "reference": {"path": "reference.nii.gz", "sha256": "…", "stored": true}, …},
     "model": {"name": "tversky", "record": {"name": …, "card_sha256": …, …} | null},
     "threshold": 0.35, "recommended_threshold": 0.4, "rule": "anima", "mode": "lesion",
     "accepted": {"name": "LesionSeg accepted (t=0.35)", "file": {"path": "accepted.nii.gz", …}} | null,
     "notes": [{"kind": "reference", "centroid_ras": [12.3, -4.5, 6.0], "voxels": 27, "note": "confirmed"}, …],
     "metrics": {…the evaluate dictionary at the threshold…},
     "provenance": {…LesionSegLogic.provenance block…}}

``files`` roles: ``flair`` (required), ``t2``, ``baseline``, ``reference``, ``probability``. A file the review was
read from is referenced by its absolute path (``stored: false``); what was only in memory (a model run's map, a demo
volume, an edited reference) is written into the folder and referenced relative to it (``stored: true``). Every file
has its sha256; :func:`read_review` refuses a file whose bytes changed with one line naming it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from LesionSegLogic.errors import FileMissingError, InputError
from LesionSegLogic.jsonfile import json_ready, read_json
from LesionSegLogic.lesion_notes import notes_from_record
from LesionSegLogic.provenance import path_sha256

REVIEW_FILE = "review.json"
REVIEW_FORMAT = "lesionseg-review"
REVIEW_FORMAT_VERSION = 1
#: the input roles a review may hold, in the order they are listed; ``flair`` is required
FILE_ROLES: tuple[str, ...] = ("flair", "t2", "baseline", "reference", "probability")
#: the file name a stored (in-memory) input gets inside the review folder
STORED_NAMES: dict[str, str] = {**{role: f"{role}.nii.gz" for role in FILE_ROLES}, "accepted": "accepted.nii.gz"}


class ReviewFileError(InputError):
    """A saved review that cannot be reopened as saved (bad ``review.json``, a missing or changed file)."""


@dataclass(frozen=True)
class SavedFile:
    """One file of a saved review: where it is (absolute once read), its sha256, whether it lies in the folder."""

    path: Path
    sha256: str
    stored: bool

    def record(self, folder: Path) -> dict[str, Any]:
        shown = self.path.relative_to(folder).as_posix() if self.stored else str(self.path)
        return {"path": shown, "sha256": self.sha256, "stored": self.stored}


@dataclass(frozen=True)
class SavedReview:
    """Everything ``review.json`` holds (see the module docstring)."""

    files: dict[str, SavedFile]
    threshold: float
    rule: str
    mode: str
    recommended_threshold: float = 0.5
    model_name: str = ""
    model_record: dict[str, Any] | None = None
    accepted_name: str | None = None
    accepted: SavedFile | None = None
    notes: dict[str, str] = field(default_factory=dict)
    note_records: list[dict[str, Any]] = field(default_factory=list)
    metrics: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def document(self, folder: Path) -> dict[str, Any]:
        """The ``review.json`` object (file paths relative to ``folder`` for stored files)."""
        return {
            "format": REVIEW_FORMAT, "format_version": REVIEW_FORMAT_VERSION,
            "files": {role: self.files[role].record(folder) for role in FILE_ROLES if role in self.files},
            "model": {"name": self.model_name, "record": self.model_record},
            "threshold": float(self.threshold), "recommended_threshold": float(self.recommended_threshold),
            "rule": self.rule, "mode": self.mode,
            "accepted": None if self.accepted is None else {"name": self.accepted_name,
                                                            "file": self.accepted.record(folder)},
            "notes": self.note_records,
            "metrics": json_ready(self.metrics),
            "provenance": self.provenance,
        }


def saved_file(path: str | PathLike[str], folder: Path) -> SavedFile:
    """A :class:`SavedFile` for ``path`` (hashed now); ``stored`` when it lies inside ``folder``."""
    path = Path(path).resolve()
    digest = path_sha256(path)
    if digest is None:
        raise FileMissingError("input of the review does not exist", path)
    return SavedFile(path, digest, path.is_relative_to(folder.resolve()))


def read_review(folder: str | PathLike[str], *, check: bool = True,
                allow: Callable[[Path, str], Any] | None = None) -> SavedReview:
    """The saved review in ``folder``; with ``check`` every file is hashed and must match (one-line
    :class:`ReviewFileError` naming the file that changed, :class:`FileMissingError` for one that is gone).
    ``allow(path, role)`` is called on every file before it is read (the web app's folder gate raises there)."""
    folder = Path(folder).resolve()
    path = folder / REVIEW_FILE
    document = read_json(path, "saved review", error=ReviewFileError)
    if not isinstance(document, dict) or document.get("format") != REVIEW_FORMAT:
        raise ReviewFileError(f"not a LesionSeg saved review (no \"format\": \"{REVIEW_FORMAT}\")", path)
    version = document.get("format_version")
    if version != REVIEW_FORMAT_VERSION:
        raise ReviewFileError(f"saved review format version {version!r} is not supported (this LesionSeg reads "
                              f"version {REVIEW_FORMAT_VERSION})", path)
    try:
        review = _parse(document, folder)
    except ReviewFileError:
        raise
    except InputError as error:  # a malformed note (lesion_notes.NoteRecordError)
        raise ReviewFileError(f"saved review is malformed: {error.problem}", path) from None
    except (KeyError, TypeError, ValueError) as error:
        raise ReviewFileError(f"saved review is malformed ({type(error).__name__}: {error})", path) from None
    listed = [*review.files.items(), *([("accepted", review.accepted)] if review.accepted is not None else [])]
    for role, saved in listed:
        if allow is not None:
            allow(saved.path, role)
        if check:
            verify(saved)
    return review


def verify(saved: SavedFile) -> None:
    """Raise when the file's bytes are not those the review was saved with."""
    digest = path_sha256(saved.path)
    if digest is None:
        raise FileMissingError("a file of the saved review is missing", saved.path)
    if digest != saved.sha256:
        raise ReviewFileError(f"changed since the review was saved (sha256 {digest[:12]}…, saved "
                              f"{saved.sha256[:12]}…); the review cannot be reopened as it was", saved.path)


def _malformed(problem: str, folder: Path) -> ReviewFileError:
    """The one-line error for a ``review.json`` whose content is wrong, naming the file."""
    return ReviewFileError(f"saved review is malformed: {problem}", folder / REVIEW_FILE)


def _file(item: Any, folder: Path) -> SavedFile:
    if not isinstance(item, dict):
        raise _malformed("a file entry must be an object", folder)
    stored = bool(item.get("stored"))
    raw = Path(str(item["path"]))
    path = (folder / raw).resolve() if stored else raw
    if stored and not path.is_relative_to(folder):
        raise _malformed(f"stored file {raw} lies outside the review folder", folder)
    if not stored and not raw.is_absolute():
        raise _malformed(f"input path {raw} is not absolute", folder)
    digest = str(item["sha256"])
    if len(digest) != 64:
        raise _malformed(f"sha256 of {raw} is not 64 hex digits", folder)
    return SavedFile(path, digest, stored)


def _parse(document: dict[str, Any], folder: Path) -> SavedReview:
    files = {role: _file(item, folder) for role, item in dict(document["files"]).items()}
    unknown = set(files) - set(FILE_ROLES)
    if unknown or "flair" not in files:
        raise _malformed(f"\"files\" must hold a flair and only {', '.join(FILE_ROLES)} (got {sorted(files)})",
                         folder)
    model = document.get("model") or {}
    accepted = document.get("accepted")
    threshold = float(document["threshold"])
    if not 0.0 <= threshold <= 1.0:
        raise _malformed(f"threshold {threshold} is outside [0, 1]", folder)
    notes = document.get("notes") or []
    return SavedReview(
        files=files, threshold=threshold, rule=str(document["rule"]), mode=str(document["mode"]),
        recommended_threshold=float(document.get("recommended_threshold", threshold)),
        model_name=str(model.get("name") or ""), model_record=model.get("record"),
        accepted_name=None if not accepted else str(accepted.get("name") or ""),
        accepted=None if not accepted else _file(accepted["file"], folder),
        notes=notes_from_record(notes), note_records=list(notes),
        metrics=dict(document.get("metrics") or {}), provenance=dict(document.get("provenance") or {}),
    )
