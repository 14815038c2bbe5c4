"""Render each view once per threshold update, and only the views whose picture changed.

A threshold update rewrites the review's shared labelmap and signals each of its segments as modified
(:meth:`LesionSegLib.segmentation.SharedLabelmapSegmentation.notify_modified`); every view's displayable managers
answer each signal with a render request — the 3-D view too, although it shows no segment, and slice views whose
plane crosses none of the voxels that changed. :class:`RenderGate` sits between a trame-slicer view and its render
strategy: inside :meth:`RenderGate.deferred` the requests are only noted, and when the update is done the caller
releases them for the views that show the change (one request each: the RCA scheduler renders and streams one
frame per request burst).

Which views show a change (:func:`slice_crosses_box`): a slice view whose plane crosses the box of changed voxels
(``ReviewState.changed_bbox``, (z, y, x) slices of the volume grid; ``None`` = nothing changed); the 3-D view only
when a segmentation shows a 3-D (closed surface) representation.

While the slider is dragged, the secondary views (all but the axial one) redraw at most every
:data:`SECONDARY_INTERVAL_S`: software OpenGL renders a page-sized view in tens of milliseconds (measured in
``docs/web.md``), so the axial view keeps up with the hand only if the other views wait; they catch up within
that interval and at once when the slider is released.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
from LesionSegLib.nodes import node_ijk_to_ras
from vtkmodules.vtkCommonMath import vtkMatrix4x4

Box = tuple[slice, slice, slice]
#: During a drag, views other than the primary (axial) one redraw at most this often (seconds).
SECONDARY_INTERVAL_S = 0.5


class GatedRender:
    """A trame-slicer ``ScheduledRenderStrategy`` wrapper: forwards render requests, or notes them while held."""

    def __init__(self, inner: Any) -> None:
        self.inner = inner
        self.held = False
        self.requested = False
        self.stale = False  # a change it shows is waiting for its next (throttled) redraw

    def set_abstract_view(self, view: Any) -> None:
        self.inner.set_abstract_view(view)

    def schedule_render(self) -> None:
        if self.held:
            self.requested = True
        else:
            self.inner.schedule_render()

    def did_render(self) -> None:
        self.inner.did_render()

    def release(self, render: bool, later: bool = False) -> None:
        """End a hold: render now if it asked and shows the change; or only note it (``later``)."""
        self.held = False
        if render and self.requested:
            if later:
                self.stale = True
            else:
                self.stale = False
                self.inner.schedule_render()
        self.requested = False

    def catch_up(self) -> None:
        if self.stale:
            self.stale = False
            self.inner.schedule_render()


def box_corners_ras(box: Box, ijk_to_ras: np.ndarray) -> np.ndarray:
    """The 8 RAS corners (4 × 8, homogeneous) of a (z, y, x) voxel box, voxel edges included (± ½ voxel)."""
    (z, y, x) = box
    ranges = [(s.start - 0.5, s.stop - 0.5) for s in (x, y, z)]  # IJK = (x, y, z)
    corners = np.array([[i, j, k, 1.0] for i in ranges[0] for j in ranges[1] for k in ranges[2]]).T
    return ijk_to_ras @ corners


def slice_crosses_box(slice_to_ras: np.ndarray, corners_ras: np.ndarray) -> bool:
    """True when the slice plane (normal = 3rd column, point = 4th column of SliceToRAS) crosses the box."""
    normal, origin = slice_to_ras[:3, 2], slice_to_ras[:3, 3]
    distances = normal @ (corners_ras[:3] - origin[:, None])
    return bool(distances.min() <= 1e-6 and distances.max() >= -1e-6)


def _numpy(matrix: vtkMatrix4x4) -> np.ndarray:
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


class RenderGate:
    """Gates the render requests of ``views`` (trame-slicer views; their strategies are wrapped once);
    ``primary(view)`` tells the view that always redraws at once (the axial one)."""

    def __init__(self, views: Iterable[Any], primary: Callable[[Any], bool]) -> None:
        self._gates: list[tuple[Any, GatedRender]] = []
        self._primary = primary
        self._catch_up: asyncio.TimerHandle | None = None
        for view in views:
            inner = getattr(view, "_scheduled_render", None)  # trame-slicer has no public getter for it
            if inner is None:
                continue
            gate = GatedRender(inner)
            view.set_scheduled_render(gate)
            self._gates.append((view, gate))

    @contextmanager
    def deferred(self, shows_change: Callable[[Any], bool], throttle: bool = False) -> Iterator[None]:
        """Hold every render request made inside; on exit, release those of the views ``shows_change(view)``;
        with ``throttle`` (a drag) the secondary views redraw within :data:`SECONDARY_INTERVAL_S` instead."""
        for _, gate in self._gates:
            gate.held = True
        try:
            yield
        finally:
            for view, gate in self._gates:
                gate.release(gate.requested and shows_change(view), later=throttle and not self._primary(view))
            if throttle:
                self._schedule_catch_up()
            else:
                self.catch_up()

    def catch_up(self) -> None:
        """Redraw every view a throttled update left stale."""
        if self._catch_up is not None:
            self._catch_up.cancel()
            self._catch_up = None
        for _, gate in self._gates:
            gate.catch_up()

    def _schedule_catch_up(self) -> None:
        if not any(gate.stale for _, gate in self._gates) or self._catch_up is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no server loop (scripts, tests): nothing to wait for
            self.catch_up()
            return
        self._catch_up = loop.call_later(SECONDARY_INTERVAL_S, self.catch_up)


def shows_change(view: Any, box: Box | None, volume_node: Any, segmentations: Iterable[Any]) -> bool:
    """Whether ``view`` must be redrawn after the voxels in ``box`` of ``volume_node``'s grid changed."""
    if box is None:
        return False
    node = view.get_view_node() if hasattr(view, "get_view_node") else None
    if node is None or not node.IsA("vtkMRMLSliceNode"):
        return any(_shows_3d(seg) for seg in segmentations)
    if volume_node is None:
        return True
    return slice_crosses_box(_numpy(node.GetSliceToRAS()), box_corners_ras(box, node_ijk_to_ras(volume_node)))


def _shows_3d(segmentation_node: Any) -> bool:
    display = segmentation_node.GetDisplayNode()
    if display is None or not display.GetVisibility() or not display.GetVisibility3D():
        return False
    segmentation = segmentation_node.GetSegmentation()
    return bool(segmentation.ContainsRepresentation("Closed surface"))
