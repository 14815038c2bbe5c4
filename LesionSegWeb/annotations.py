"""Corner annotations of the web app's slice views: the patient direction at each edge (R/L, A/P, S/I), the slice
number and position, and the window/level of the shown volume — drawn into the view's own image (a
``vtkCornerAnnotation`` on its renderer), so they are in every streamed frame and screenshot.

The words come from :func:`LesionSegLib.views.slice_labels` (Qt-free, tested on its own); this module only
observes the slice node (offset, orientation) and the volume's display node (window/level) and rewrites the
text when one of them changes.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import vtk
from LesionSegLib.views import slice_labels

# vtkCornerAnnotation's text positions
# (the bottom corners are under trame-slicer's slice slider, the top-left one under its view menu)
_UPPER_RIGHT, _LOWER_EDGE, _RIGHT_EDGE, _LEFT_EDGE, _UPPER_EDGE = 3, 4, 5, 6, 7


def _matrix(vtk_matrix: Any) -> np.ndarray:
    return np.array([[vtk_matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


class SliceViewAnnotation:
    """The corner annotation of one trame-slicer slice view."""

    def __init__(self, view: Any) -> None:
        self.view = view
        self.actor = vtk.vtkCornerAnnotation()
        self.actor.SetMaximumFontSize(13)
        self.actor.SetMinimumFontSize(10)
        self.actor.SetLinearFontScaleFactor(2)
        self.actor.SetNonlinearFontScaleFactor(1)
        props = self.actor.GetTextProperty()
        props.SetColor(1.0, 1.0, 0.85)
        props.ShadowOn()
        view.first_renderer().AddViewProp(self.actor)
        self.volume: Any = None
        self._display: Any = None
        self._display_tag: int | None = None
        self.texts: dict[int, str] = {}
        view.get_view_node().AddObserver(vtk.vtkCommand.ModifiedEvent, lambda *_: self.update())

    def show(self, volume: Any) -> None:
        """Annotate the views with ``volume`` (its grid for slice numbers, its display node for window/level)."""
        if self._display is not None and self._display_tag is not None:
            self._display.RemoveObserver(self._display_tag)
        self.volume, self._display, self._display_tag = volume, None, None
        display = volume.GetDisplayNode() if volume is not None else None
        if display is not None:
            self._display = display
            self._display_tag = display.AddObserver(vtk.vtkCommand.ModifiedEvent, lambda *_: self.update())
        self.update()

    def update(self) -> None:
        node = self.view.get_view_node()
        ras_to_ijk = dimensions = None
        if self.volume is not None and self.volume.GetImageData() is not None:
            matrix = vtk.vtkMatrix4x4()
            self.volume.GetRASToIJKMatrix(matrix)
            ras_to_ijk, dimensions = _matrix(matrix), self.volume.GetImageData().GetDimensions()
        labels = slice_labels(_matrix(node.GetSliceToRAS()), ras_to_ijk, dimensions)
        texts = {_LEFT_EDGE: labels.left, _RIGHT_EDGE: labels.right, _UPPER_EDGE: labels.top,
                 _LOWER_EDGE: labels.bottom,
                 _UPPER_RIGHT: "\n".join(t for t in (labels.slice_text(), self._window_level()) if t)}
        if texts == self.texts:
            return
        self.texts = texts
        for position, text in texts.items():
            self.actor.SetText(position, text)

    def _window_level(self) -> str:
        if self._display is None or not hasattr(self._display, "GetWindow"):
            return ""
        return f"W {self._display.GetWindow():.0f}  L {self._display.GetLevel():.0f}"


class SliceAnnotations:
    """One :class:`SliceViewAnnotation` per slice view (created on first use: views are made by the layout)."""

    def __init__(self) -> None:
        self._by_view: dict[int, SliceViewAnnotation] = {}

    def show(self, views: list[Any], volume: Any) -> None:
        for view in views:
            annotation = self._by_view.get(id(view))
            if annotation is None:
                annotation = self._by_view[id(view)] = SliceViewAnnotation(view)
            annotation.show(volume)

    def texts(self, view: Any) -> dict[int, str]:
        """The texts shown in ``view`` (position → text; tests read them)."""
        annotation = self._by_view.get(id(view))
        return dict(annotation.texts) if annotation is not None else {}
