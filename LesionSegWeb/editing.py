"""Brush, erase and undo on the accepted segmentation, in the web page's slice views.

trame-slicer 2 ships the Segment Editor's pieces without Qt (``trame_slicer.core.SegmentationEditor`` with the
paint and erase effects of 3D Slicer's Segment Editor, and an undo stack); this binds them to the accepted
segmentation: choose a tool, paint or erase with the mouse in any slice view, undo, then "Re-score" in the panel
(:meth:`LesionSegLib.session.ReviewSession.rescore`).
"""

from __future__ import annotations

from typing import Any

from .client_values import ClientValueError

#: The tools of the panel's edit toggle, in display order ("none": the mouse moves the views again).
EDIT_TOOLS: tuple[str, ...] = ("none", "brush", "erase")
UNDO_LIMIT = 50


class EditToolError(ClientValueError, ValueError):
    """An edit tool that is not one of :data:`EDIT_TOOLS` (a ``ValueError`` too, for callers that catch one)."""


class AcceptedEditor:
    """Edits one segmentation node at a time with trame-slicer's segmentation editor."""

    def __init__(self, slicer_app: Any) -> None:
        from undo_stack import UndoStack  # trame-slicer's dependency

        self._editor = slicer_app.segmentation_editor
        self._undo = UndoStack(undo_limit=UNDO_LIMIT)
        self._editor.set_undo_stack(self._undo)
        self.node = None

    def edit(self, node: Any, volume_node: Any) -> None:
        """Make ``node`` (its first segment) the one the tools change, on ``volume_node``'s grid; no tool yet."""
        self._editor.set_active_segmentation(node, volume_node)
        self._editor.deactivate_effect()
        self.node = node

    def set_tool(self, tool: str) -> None:
        from trame_slicer.segmentation import SegmentationEffectErase, SegmentationEffectPaint

        if tool not in EDIT_TOOLS:
            raise EditToolError(f"edit tool must be one of {', '.join(EDIT_TOOLS)}, got {tool!r}")
        if tool == "none" or self.node is None:
            self._editor.deactivate_effect()
            return
        self._editor.set_active_effect_type(SegmentationEffectPaint if tool == "brush" else SegmentationEffectErase)

    def undo(self) -> bool:
        """Undo the last stroke; False when there is nothing to undo."""
        if not self._undo.can_undo():
            return False
        self._undo.undo()
        return True

    @property
    def can_undo(self) -> bool:
        return bool(self._undo.can_undo())

    def on_change(self, callback: Any) -> None:
        """Call ``callback()`` after every stroke, undo or redo."""
        for signal in self._undo.signals():
            signal.connect(lambda *_: callback())
