"""Where "jump to lesion" goes (a Protocol, and the MRML implementation that moves every slice view), and what a
slice view's corners say (orientation letters, slice number and position: :func:`slice_labels`, Qt-free)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


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


#: The patient direction of each RAS axis, positive and negative (R/L, A/P, S/I).
_POSITIVE, _NEGATIVE = "RAS", "LPI"


def direction_letters(direction: Sequence[float], share: float = 0.5) -> str:
    """The patient-direction letters of a RAS direction: the dominant axis first, then any other axis holding at
    least ``share`` of the dominant component (an oblique direction reads e.g. ``"RA"``)."""
    d = np.asarray(direction, dtype=float)[:3]
    size = np.abs(d)
    if not np.isfinite(d).all() or size.max() == 0:
        return "?"
    order = [int(a) for a in np.argsort(-size, kind="stable") if size[a] >= share * size.max()]
    return "".join(_POSITIVE[a] if d[a] > 0 else _NEGATIVE[a] for a in order)


@dataclass(frozen=True)
class SliceLabels:
    """What a radiologist reads in a slice view's corners: the patient direction at each screen edge, the slice
    number (1-based, of ``count``) along the volume axis the view steps through, and the slice position (the
    centre's coordinate along the view's normal: ``"S 12.3 mm"``)."""

    left: str
    right: str
    top: str
    bottom: str
    slice_number: int | None
    slice_count: int | None
    position: str

    def slice_text(self) -> str:
        """Two short lines (a corner of a small view has little room): ``slice 12/40`` and ``S 12.3 mm``."""
        if self.slice_number is None:
            return self.position
        return f"slice {self.slice_number}/{self.slice_count}\n{self.position}"


def slice_labels(slice_to_ras: Any, ras_to_ijk: Any = None, dimensions: Sequence[int] | None = None) -> SliceLabels:
    """The :class:`SliceLabels` of a slice view from its ``SliceToRAS`` (4×4: columns are the screen's right,
    up and normal directions in RAS and the slice centre) and the shown volume's ``RASToIJK`` (4×4) and
    ``dimensions`` (I, J, K). The letters come from the display geometry, the slice number from the volume's own
    grid, so both are right whatever the file's orientation (an LPS- or a RAS-stored image)."""
    m = np.asarray(slice_to_ras, dtype=float).reshape(4, 4)
    right, up, normal, centre = m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3]
    axis = int(np.argmax(np.abs(normal)))
    value = float(centre[axis])
    position = f"{_POSITIVE[axis] if value >= 0 else _NEGATIVE[axis]} {abs(value):.1f} mm"
    number = count = None
    if ras_to_ijk is not None and dimensions is not None:
        r = np.asarray(ras_to_ijk, dtype=float).reshape(4, 4)
        ijk = r @ np.append(centre, 1.0)
        step_axis = int(np.argmax(np.abs(r[:3, :3] @ normal)))
        count = int(dimensions[step_axis])
        index = int(np.floor(ijk[step_axis] + 0.5))
        number = index + 1 if 0 <= index < count else None
        count = count if number is not None else None
    return SliceLabels(direction_letters(-right), direction_letters(right), direction_letters(up),
                       direction_letters(-up), number, count, position)
