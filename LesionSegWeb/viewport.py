"""The slice views as the binding sees them: show a volume, fade the overlays (trame-slicer underneath)."""

from __future__ import annotations

from typing import Any


class SlicerViewport:
    """Implements :class:`LesionSegWeb.state.Viewport` over a ``trame_slicer.core.SlicerApp``."""

    def __init__(self, slicer_app: Any) -> None:
        self._app = slicer_app

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
