"""The page's saved reviews, per-lesion notes and HTML report (issue 16): the web side of
:mod:`LesionSegLib.saved_review` and :mod:`LesionSegLib.review_report`.

- **Save review** writes a new numbered folder ``saved-review-NNN`` under the app's output folder (never over an
  earlier one); **Open review** reads a saved review folder typed in ``path_review`` (or the folder the file picker
  shows) — only under the folders the app may read or its own output folder, and every file the review names is
  checked by the same gate before it is read (a ``review.json`` naming ``/etc/shadow`` is refused unread).
- **Notes** are kept by lesion identity (:mod:`LesionSegLogic.lesion_notes`); the page shows them for the rows at
  the current threshold in ``lesion_notes`` (``"kind:id"`` of the table's rows → note).
- **Export report** writes ``report-NNN.html`` under the output folder.

State variables: ``path_review`` (client-set, checked by :mod:`.client_values`), ``saved_review`` (the last folder
saved or opened), ``report_file`` (the last report), ``lesion_notes``, ``note_suggestions``, ``notes_count``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from LesionSegLib.review_notes import ReviewNotes
from LesionSegLib.review_report import export_report
from LesionSegLib.saved_review import numbered, open_review, save_review

from LesionSegLogic.errors import InputError, LesionSegError
from LesionSegLogic.lesion_notes import NOTE_SUGGESTIONS
from LesionSegLogic.review_file import read_review

from .files import PathGate

SAVED_PREFIX = "saved-review"
REPORT_PREFIX = "report"


def initial_state() -> dict[str, Any]:
    return {"path_review": "", "saved_review": "", "report_file": "", "lesion_notes": {},
            "note_suggestions": list(NOTE_SUGGESTIONS), "notes_count": 0}


class ReviewFolders:
    """Save/open the review, notes, report for one page; ``binding`` is the page's :class:`.state.ReviewBinding`."""

    def __init__(self, binding: Any) -> None:
        self.binding = binding
        self.state = binding.state
        self.notes = ReviewNotes()  # by lesion identity (the same notes object the desktop panel uses)
        self.state.update(initial_state())

    @property
    def session(self) -> Any:
        return self.binding.session

    def _gate(self) -> PathGate:
        """The folders a saved review may be read from: the app's readable folders and its own output folder."""
        return PathGate((*self.binding.gate.roots, Path(self.binding.export_dir).resolve()))

    # ------------------------------------------------------------------------------------------ save / open
    def save(self) -> bool:
        def go() -> str:
            if self.session.engine is None:
                raise LesionSegError("nothing to save yet: load a probability map or run a model")
            folder = numbered(Path(self.binding.export_dir), SAVED_PREFIX)
            save_review(self.session, folder, notes=self.notes.by_key)
            self.state.saved_review = str(folder)
            return f"Saved the review to {folder} (reopen it with Open review)."
        return self.binding._guard(go)

    def open(self, folder: str | None = None) -> bool:
        """Open the saved review in ``folder`` (default: ``path_review``). Every file is allowed and unchanged
        before the open review is touched; a refused one is named in the panel and the review stays."""
        def go() -> str:
            gate = self._gate()
            where = gate.folder(folder if folder is not None else self.state.path_review, "saved review folder")

            def allow(path: Path, role: str) -> None:
                gate.file(path, f"{role} file of the saved review")

            read_review(where, allow=allow)  # checked first: nothing changes when a file is refused
            review = open_review(self.session, where, allow=allow,
                                 on_inputs=lambda: self.binding._after_inputs(where.name))
            self._opened(review, where)
            return (f"Opened the saved review {where.name}: threshold {review.threshold:.2f}, rule {review.rule}, "
                    f"{review.mode}-wise" + (", accepted segmentation restored" if review.accepted else "")
                    + (f", {len(review.notes)} notes" if review.notes else "") + ".")
        return self.binding._guard(go)

    def _opened(self, review: Any, where: Path) -> None:
        s, binding = self.state, self.binding
        s.has_probability = True
        binding._recommended = (review.recommended_threshold, review.model_name or "the saved review")
        s.recommended, s.recommended_by = binding._recommended
        s.saved_review = str(where)
        node = self.session.accepted_node
        if node is not None:
            s.accepted = node.GetName()
            binding._on_accepted_display(s.accepted_visible, s.accepted_opacity)
            if binding.editor is not None:
                binding.editor.edit(node, self.session.flair_node)
                s.edit_tool, s.can_undo = "none", False
        self.notes.replace(review.notes)
        binding._send_lesions()
        self.show_notes()

    # ------------------------------------------------------------------------------------------ report
    def export_report(self) -> bool:
        def go() -> str:
            if self.session.engine is None:
                raise LesionSegError("nothing to report yet: load a probability map or run a model")
            path = numbered(Path(self.binding.export_dir), REPORT_PREFIX, ".html")
            export_report(self.session, path, self.notes.by_key)
            self.state.report_file = str(path)
            return f"Wrote the report {path}."
        return self.binding._guard(go)

    # ------------------------------------------------------------------------------------------ notes
    def set_note(self, lesion: str, text: str) -> None:
        """The note of the lesion the table calls ``lesion`` (``"kind:id"`` at the current threshold)."""
        def go() -> None:
            kind, _, number = str(lesion).partition(":")
            if not number.isdigit():
                raise InputError(f"no lesion called {str(lesion)[:40]!r}")
            self.notes.set_on(self.session.lesions, kind, int(number), text, self._voxel())
            self.show_notes()
        self.binding._guard(go)

    def _voxel(self) -> float:
        return self.session.flair.voxel_volume if self.session.flair is not None else 1.0

    def show_notes(self) -> None:
        """``lesion_notes`` for the rows at the current threshold (called whenever the table's rows are sent)."""
        shown = self.notes.for_rows(self.session.lesions, self._voxel()) if len(self.notes) else {}
        self.state.lesion_notes = {f"{kind}:{lesion_id}": note for (kind, lesion_id), note in shown.items()}
        self.state.notes_count = len(self.notes)

    def clear(self) -> None:
        """New inputs: the notes were about the other case."""
        self.notes.clear()
        self.state.lesion_notes, self.state.notes_count = {}, 0
