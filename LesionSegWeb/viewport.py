"""The slice views as the binding sees them: show a volume, fade the overlays, redraw only the views a threshold
update changed (trame-slicer underneath)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager
from typing import Any

from .render_gate import Box, RenderGate, shows_change


class SlicerViewport:
    """Implements :class:`LesionSegWeb.state.Viewport` over a ``trame_slicer.core.SlicerApp``."""

    def __init__(self, slicer_app: Any) -> None:
        self._app = slicer_app
        self._gate: RenderGate | None = None
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
        """Redraw at once the views a drag left behind (the slider was released)."""
        self._render_gate().catch_up()

    def _render_gate(self) -> RenderGate:
        if self._gate is None:
            self._gate = RenderGate(self._app.view_manager.get_views(), primary=_is_axial)
        return self._gate

    def show_volume(self, node: Any) -> None:
        """``node`` as the background of every slice view, views fitted to it, slice planes shown in 3D."""
        manager = self._app.display_manager
        manager.show_volume_in_slice_background(node)
        manager.show_volume_in_slice_foreground(None)
        for view in self._app.view_manager.get_slice_views():
            view.set_visible_in_3d(True)
        manager.reset_views()

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


def _is_axial(view: Any) -> bool:
    return hasattr(view, "get_orientation") and view.get_orientation() == "Axial"
