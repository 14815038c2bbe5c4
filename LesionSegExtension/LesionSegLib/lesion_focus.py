"""Going to a lesion: centre every slice view on it, zoom in so it can be seen, and mark it with the crosshair.

MRML only (no Qt), so the desktop module and the web app use the same code: the slice nodes' own
``JumpSliceByCentering`` and ``SetFieldOfView`` (what Slicer's slice controller does when it zooms; the slice
views follow their nodes) and the scene's crosshair node (``vtkMRMLCrosshairNode.SetCrosshairRAS``; the slice
views' crosshair displayable manager draws it, in desktop Slicer and in trame-slicer's views alike).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class FocusSettings:
    """How far to zoom: the smaller side of each slice view shows ``max(min_field_mm, diameter / fill)`` mm."""

    min_field_mm: float = 40.0
    fill: float = 0.25  #: the lesion's share of the view's smaller side


class LesionFocus:
    """A :class:`~.views.ViewController` that also zooms and marks (``show_lesion``) — see the module docstring."""

    def __init__(self, scene, settings: FocusSettings | None = None) -> None:
        self._scene = scene
        self.settings = settings or FocusSettings()

    def _slice_nodes(self) -> list:
        scene = self._scene
        return [scene.GetNthNodeByClass(i, "vtkMRMLSliceNode")
                for i in range(scene.GetNumberOfNodesByClass("vtkMRMLSliceNode"))]

    def field_of_view_mm(self, diameter_mm: float) -> float:
        """The smaller side (mm) of each slice view after :meth:`show_lesion` of a lesion of ``diameter_mm``."""
        return max(self.settings.min_field_mm, float(diameter_mm) / self.settings.fill)

    def jump_to(self, ras: tuple[float, float, float]) -> None:
        """Centre every slice view on ``ras`` and put the crosshair there (no zoom)."""
        for node in self._slice_nodes():
            node.JumpSliceByCentering(*ras)
        self._mark(ras)

    def show_lesion(self, ras: tuple[float, float, float], diameter_mm: float) -> None:
        """Centre every slice view on ``ras``, zoom so the lesion fills about a quarter of the view (keeping each
        view's aspect ratio and slice thickness), and put the crosshair on it."""
        target = self.field_of_view_mm(diameter_mm)
        for node in self._slice_nodes():
            width, height, depth = node.GetFieldOfView()
            scale = target / max(min(width, height), 1e-6)
            node.SetFieldOfView(width * scale, height * scale, depth)
            node.JumpSliceByCentering(*ras)
        self._mark(ras)

    def _mark(self, ras: tuple[float, float, float]) -> None:
        crosshair = self._scene.GetFirstNodeByClass("vtkMRMLCrosshairNode")
        if crosshair is None:
            return
        crosshair.SetCrosshairRAS([float(c) for c in ras])
        if crosshair.GetCrosshairMode() == crosshair.NoCrosshair:
            crosshair.SetCrosshairMode(crosshair.ShowSmallBasic)
        crosshair.SetCrosshairToMedium()
