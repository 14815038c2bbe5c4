"""Notes a reader writes on lesions ("confirmed", "artefact", free text), keyed by a stable lesion identity.

A component's index changes whenever the threshold moves (components are numbered by probability or in raster
order), so a note is keyed by what the lesion *is*: its kind (predicted/reference), its centroid in RAS mm rounded
to 0.1 mm and its voxel count (:func:`lesion_key`). The same lesion at the same threshold of the same map gives the
same key in either face, in the saved review and in the report; a predicted lesion that grows when the threshold
moves is a different lesion and its note does not follow it (reference lesions never change).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from LesionSegLogic.errors import InputError

#: Suggested notes (the faces offer them; any other text is kept as written).
NOTE_SUGGESTIONS: tuple[str, ...] = ("confirmed", "artefact", "doubtful", "new", "enlarging")
#: The longest note kept (characters).
MAX_NOTE_CHARS = 500


@dataclass(frozen=True)
class LesionIdentity:
    """What a lesion is, independent of its index: kind, centroid RAS (mm, 0.1 mm) and voxel count."""

    kind: str
    centroid_ras: tuple[float, float, float]
    voxels: int

    @property
    def key(self) -> str:
        r, a, s = self.centroid_ras
        return f"{self.kind}:R{r:.1f},A{a:.1f},S{s:.1f}:{self.voxels}"

    def record(self) -> dict[str, Any]:
        return {"kind": self.kind, "centroid_ras": list(self.centroid_ras), "voxels": self.voxels}


def _tenth(value: float) -> float:
    return round(float(value), 1) + 0.0  # + 0.0: -0.0 becomes 0.0, so the key has one spelling


def lesion_identity(kind: str, centroid_ras: Iterable[float], volume_mm3: float, voxel_volume: float) -> LesionIdentity:
    """The identity of a lesion row (the faces' rows give the volume in mm³; the voxel count is volume / voxel)."""
    r, a, s = (_tenth(c) for c in centroid_ras)
    return LesionIdentity(str(kind or "predicted"), (r, a, s), int(round(float(volume_mm3) / float(voxel_volume))))


def lesion_key(kind: str, centroid_ras: Iterable[float], volume_mm3: float, voxel_volume: float) -> str:
    """:attr:`LesionIdentity.key` of a lesion row, e.g. ``"reference:R12.3,A-4.5,S6.0:27"``."""
    return lesion_identity(kind, centroid_ras, volume_mm3, voxel_volume).key


def row_key(row: Any, voxel_volume: float) -> str:
    """:func:`lesion_key` of a session lesion row (``kind``, ``centroid_ras``, ``volume_mm3``)."""
    return lesion_key(row.kind, row.centroid_ras, row.volume_mm3, voxel_volume)


def clean_note(text: Any) -> str:
    """A note as kept: text, stripped, at most :data:`MAX_NOTE_CHARS` characters, no control characters."""
    if not isinstance(text, str):
        text = "" if text is None else str(text)
    text = "".join(ch if ch.isprintable() else " " for ch in text).strip()
    return text[:MAX_NOTE_CHARS]


def notes_record(notes: Mapping[str, str], identities: Mapping[str, LesionIdentity]) -> list[dict[str, Any]]:
    """The notes as ``review.json`` lists them: one object per non-empty note, with its lesion's identity."""
    out = []
    for key, text in sorted(notes.items()):
        text = clean_note(text)
        if not text:
            continue
        identity = identities.get(key) or parse_key(key)
        out.append({**identity.record(), "note": text})
    return out


def parse_key(key: str) -> LesionIdentity:
    """The identity a key spells (``ValueError`` for text that is not one)."""
    kind, centroid, voxels = key.split(":")
    r, a, s = (float(part[1:]) for part in centroid.split(","))
    return LesionIdentity(kind, (r, a, s), int(voxels))


class NoteRecordError(InputError, ValueError):
    """A malformed ``notes`` list of a saved review (a ``ValueError`` too, for callers that catch one)."""


def notes_from_record(items: Any) -> dict[str, str]:
    """``key → note`` from ``review.json``'s list (:class:`NoteRecordError` when an item is malformed)."""
    if not isinstance(items, list):
        raise NoteRecordError("\"notes\" must be a list")
    notes = {}
    for item in items:
        if not isinstance(item, dict):
            raise NoteRecordError("each of \"notes\" must be an object")
        centroid = item.get("centroid_ras")
        if not (isinstance(centroid, list) and len(centroid) == 3):
            raise NoteRecordError("a note's \"centroid_ras\" must be three numbers")
        identity = LesionIdentity(str(item.get("kind")), tuple(_tenth(c) for c in centroid),  # type: ignore[arg-type]
                                  int(item.get("voxels")))  # type: ignore[arg-type]  # validated by the caller (read_notes)
        notes[identity.key] = clean_note(item.get("note"))
    return notes
