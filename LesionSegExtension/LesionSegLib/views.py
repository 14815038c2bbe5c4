"""Where "jump to lesion" goes: a Protocol, and the MRML implementation that moves every slice view."""

from __future__ import annotations

from typing import Protocol


class ViewController(Protocol):
    def jump_to(self, ras: tuple[float, float, float]) -> None: ...


class SliceViewJumper:
    """Centres every slice view of ``scene`` on a RAS point (what Slicer's "jump slices" does)."""

    def __init__(self, scene) -> None:
        self._scene = scene

    def jump_to(self, ras: tuple[float, float, float]) -> None:
        for index in range(self._scene.GetNumberOfNodesByClass("vtkMRMLSliceNode")):
            node = self._scene.GetNthNodeByClass(index, "vtkMRMLSliceNode")
            node.JumpSliceByCentering(*ras)


class RecordingViewController:
    """Remembers the points it was asked to show (tests, and faces that move their own views)."""

    def __init__(self) -> None:
        self.points: list[tuple[float, float, float]] = []

    def jump_to(self, ras: tuple[float, float, float]) -> None:
        self.points.append(tuple(float(c) for c in ras))  # type: ignore[arg-type]
