"""The slice views as the binding sees them: show a volume (with corner annotations, and the layout of its
anatomy), fade the overlays, redraw only the views a threshold update changed (trame-slicer underneath)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

from .annotations import SliceAnnotations
from .render_gate import Box, RenderGate, shows_change
from .view_layouts import ViewControls


class SlicerViewport:
    """Implements :class:`LesionSegWeb.state.Viewport` over a ``trame_slicer.core.SlicerApp``."""

    def __init__(self, slicer_app: Any, controls: ViewControls | None = None) -> None:
        self._app = slicer_app
        self._gate: RenderGate | None = None
        #: layout and mouse mode (``None``: the views as trame-slicer made them)
        self.controls = controls
        self.annotations = SliceAnnotations()
        self._rest_listeners: list[Callable[[], None]] = []
        for view in self.slice_views():
            # No multisampling for 2-D slices (as in desktop Slicer's slice views): with software OpenGL a
            # 4-sample page-sized axial view took 55 ms to render, 16 ms without (docs/web.md).
            view.render_window().SetMultiSamples(0)

    def redraw_only_changed(self, changed: Callable[[], Box | None], volume_node: Any,
                            segmentations: Callable[[], Iterable[Any]], dragging: bool = False,
                            ) -> AbstractContextManager[None]:
        """Inside: render requests are held; on exit each view that asked renders once, if it shows the voxels
        of ``changed()`` (evaluated on exit; the (z, y, x) box on ``volume_node``'s grid, ``None``: nothing).
        ``dragging``: the views other than the axial one redraw a little later (:mod:`.render_gate`)."""
        return self._render_gate().deferred(
            lambda view: shows_change(view, changed(), volume_node, segmentations()), throttle=dragging)

    def redraw_stale(self) -> None:
        """Redraw at once the views a drag left behind (the slider was released), then tell the listeners of
        :meth:`on_rest` (the 3-D lesion surfaces are rebuilt only then)."""
        self._render_gate().catch_up()
        for listener in self._rest_listeners:
            listener()

    def fit_3d(self) -> None:
        """Fit the 3-D views' cameras to what they show (the lesion surfaces)."""
        for view in self._app.view_manager.get_views():
            node = view.get_view_node() if hasattr(view, "get_view_node") else None
            if node is not None and not node.IsA("vtkMRMLSliceNode"):
                view.fit_view_to_content()
                view.schedule_render()

    def on_rest(self, listener: Callable[[], None]) -> None:
        """Call ``listener()`` each time the slider is released."""
        self._rest_listeners.append(listener)

    def _render_gate(self) -> RenderGate:
        if self._gate is None:
            self._gate = RenderGate(self._app.view_manager.get_views(), primary=_is_axial)
        return self._gate

    def show_volume(self, node: Any) -> None:
        """``node`` as the background of every slice view, views fitted to it, each view annotated (orientation
        letters, slice number and position, window/level: :mod:`.annotations`), the layout of its anatomy."""
        manager = self._app.display_manager
        if self.controls is not None:
            self.controls.follow_anatomy(_anatomy(node))
        manager.show_volume_in_slice_background(node)
        manager.show_volume_in_slice_foreground(None)
        manager.reset_views()
        self.annotations.show(self.slice_views(), node)

    def set_overlay_opacity(self, nodes: list[Any], opacity: float) -> None:
        for node in nodes:
            display = node.GetDisplayNode()
            if display is not None and abs(display.GetOpacity() - opacity) > 1e-6:
                display.SetOpacity(opacity)

    def set_visible(self, node: Any, visible: bool) -> None:
        display = node.GetDisplayNode()
        if display is not None and bool(display.GetVisibility()) != visible:
            display.SetVisibility(visible)

    def slice_views(self) -> list[Any]:
        return list(self._app.view_manager.get_slice_views())


def _anatomy(node: Any) -> str:
    """``"cord"``/``"brain"`` from the FLAIR's field of view (:func:`LesionSegLogic.anatomy.guess_anatomy`);
    ``"brain"`` when it cannot tell."""
    from LesionSegLib.nodes import array_view, geometry_from_ijk_to_ras, node_ijk_to_ras

    from LesionSegLogic.anatomy import guess_anatomy
    from LesionSegLogic.image import Image

    spacing, origin, direction = geometry_from_ijk_to_ras(node_ijk_to_ras(node))
    return guess_anatomy(Image(array_view(node), spacing, origin, direction)) or "brain"  # a view: no copy


def _is_axial(view: Any) -> bool:
    return hasattr(view, "get_orientation") and view.get_orientation() == "Axial"
