"""The reader's notes on the lesions of one review, for both faces (Qt-free): kept by lesion identity
(:mod:`LesionSegLogic.lesion_notes`: kind, centroid RAS, voxel count), looked up for the rows at the current
threshold. A saved review stores them (:mod:`.saved_review`), the report lists them (:mod:`.review_report`)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from LesionSegLogic.errors import InputError
from LesionSegLogic.lesion_notes import clean_note, row_key


class ReviewNotes:
    """``key → note`` of one review (:attr:`by_key`), set and read through the session's lesion rows."""

    def __init__(self, notes: Mapping[str, str] | None = None) -> None:
        self.by_key: dict[str, str] = {}
        self.replace(notes or {})

    def replace(self, notes: Mapping[str, str]) -> None:
        self.by_key = {key: text for key, raw in notes.items() if (text := clean_note(raw))}

    def clear(self) -> None:
        self.by_key = {}

    def __len__(self) -> int:
        return len(self.by_key)

    def set(self, row: Any, text: Any, voxel_volume: float) -> str:
        """Note ``text`` on lesion ``row`` (a session lesion row); empty text removes the note. Returns the key."""
        key = row_key(row, voxel_volume)
        note = clean_note(text)
        if note:
            self.by_key[key] = note
        else:
            self.by_key.pop(key, None)
        return key

    def set_on(self, rows: Iterable[Any], kind: str, lesion_id: int, text: Any, voxel_volume: float) -> str:
        """:meth:`set` on the row ``(kind, lesion_id)`` of ``rows`` (the lesions at the current threshold)."""
        for row in rows:
            if row.kind == kind and int(row.id) == int(lesion_id):
                return self.set(row, text, voxel_volume)
        raise InputError(f"no {kind or 'such'} lesion {lesion_id} at the current threshold")

    def for_rows(self, rows: Iterable[Any], voxel_volume: float) -> dict[tuple[str, int], str]:
        """``(kind, id) → note`` for the rows that have one."""
        if not self.by_key:
            return {}
        out = {}
        for row in rows:
            note = self.by_key.get(row_key(row, voxel_volume))
            if note:
                out[(row.kind, int(row.id))] = note
        return out
