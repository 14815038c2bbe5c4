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


#: singleton tag of the plot view node shown by the panel's embedded plot widget
PANEL_PLOT_VIEW_TAG = "LesionSegPanelPlotView"


def panel_plot_view_node(scene, tag: str = PANEL_PLOT_VIEW_TAG):
    """The plot view node of the panel's ``qMRMLPlotWidget``: one per scene (a singleton, so a module reload or
    a second panel reuses it), created on first use.

    A ``qMRMLPlotWidget`` has no view node until ``setMRMLPlotViewNode`` is called (``qMRMLPlotWidget.cxx``:
    ``mrmlPlotViewNode()`` returns the plot view's node, ``nullptr`` by default), and ``qMRMLPlotView`` drops its
    node when the scene changes; the panel calls this after setup and after every scene close. Created the way
    ``ScriptedLoadableModuleLogic.createParameterNode`` creates singletons (``CreateNodeByClass`` + tag)."""
    node = scene.GetSingletonNode(tag, "vtkMRMLPlotViewNode")
    if node is not None:
        return node
    node = scene.CreateNodeByClass("vtkMRMLPlotViewNode")
    node.UnRegister(None)  # owned by the Python variable, then by the scene
    node.SetSingletonTag(tag)
    node.SetName(scene.GenerateUniqueName("LesionSeg threshold curve view"))
    return scene.AddNode(node)
