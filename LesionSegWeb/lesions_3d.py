"""The lesions as closed surfaces in the page's 3-D view, coloured by status (the review's TP/FP/FN segments, or
the prediction's when there is no reference) — built when the slider rests, never during a drag.

The review's own segmentation is rewritten on every slider move; closed surfaces of it would cost a surface
extraction per move (seconds on a full-size map at a low threshold) and the slider must follow the hand
(docs/web.md). So the 3-D view shows a separate segmentation node, "LesionSeg 3D lesions", a copy of the
review's labels taken when the value settles (the slider released — :meth:`SlicerViewport.on_rest` —, an
arrow key, a new map, rule or mode) with their closed
surfaces (3D Slicer's labelmap → closed-surface conversion), shown in the 3-D view only. It is built only while
the page shows the 3-D view (the *3D* switch), so a review without it pays nothing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from LesionSegLib.segmentation import SharedLabelmapSegmentation

NODE_NAME = "LesionSeg 3D lesions"


class LesionSurfaces:
    """Keeps "LesionSeg 3D lesions" in step with ``session`` while :attr:`enabled` (see the module's docstring);
    ``dragging()`` says whether the slider is being dragged (then nothing is rebuilt until it rests)."""

    def __init__(self, scene: Any, session: Any, dragging: Callable[[], bool]) -> None:
        self._scene = scene
        self._session = session
        self._dragging = dragging
        self._copy: SharedLabelmapSegmentation | None = None
        self._grid_of: Any = None  # the FLAIR node the copy was made on
        self.enabled = False
        #: called after the surfaces were made for a new case or segment set (the page fits its 3-D camera)
        self.on_new_node: Callable[[], None] | None = None
        session.updated.connect(lambda *_: self.refresh())

    @property
    def node(self) -> Any:
        return None if self._copy is None else self._copy.node

    def set_enabled(self, enabled: bool) -> None:
        self.enabled = bool(enabled)
        if self._copy is not None:
            self._copy.set_visible(self.enabled)
        self.refresh()

    def refresh(self) -> None:
        """Copy the shown labels and rebuild their surfaces (when enabled and the slider rests) — after the update
        that called it, on the server loop when one runs, so the 3-D view's redraw is not held with the slice
        views' (:mod:`.render_gate`)."""
        if not self.enabled or self._dragging():
            return
        try:
            asyncio.get_running_loop().call_soon(self.rebuild)
        except RuntimeError:  # no server loop (scripts, in-process tests): now
            self.rebuild()

    def rebuild(self) -> None:
        if not self.enabled or self._dragging():
            return
        source = self._session.review if self._session.reference is not None else self._session.prediction
        if source is None or self._session.flair_node is None:
            if self._copy is not None:
                self._copy.set_visible(False)
            return
        new = self._copy is None or self._grid_of is not self._session.flair_node or self._copy.styles != source.styles
        if new:
            self._replace(source)
        if self._copy.update(source.labels):
            self._copy.node.RemoveClosedSurfaceRepresentation()
        self._copy.node.CreateClosedSurfaceRepresentation()
        self._copy.set_visible(True)
        if new and self.on_new_node is not None:
            self.on_new_node()

    def _replace(self, source: SharedLabelmapSegmentation) -> None:
        if self._copy is not None:
            self._scene.RemoveNode(self._copy.node)
        self._copy = SharedLabelmapSegmentation(self._scene, NODE_NAME, self._session.flair_node, source.styles)
        self._grid_of = self._session.flair_node
        display = self._copy.node.GetDisplayNode()
        display.SetVisibility2D(False)  # the slice views show the live review; this copy is for the 3-D view
        display.SetVisibility3D(True)
        display.SetOpacity3D(1.0)  # opaque: translucent surfaces drew nothing in the offscreen (software GL) views
