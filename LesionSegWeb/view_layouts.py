"""The slice-view layouts of the page and the mouse mode of the views.

Two layouts: **brain** (axial large, coronal and sagittal side by side under it) and **cord** (sagittal large: a
spinal cord is read along its length, axial and coronal stacked beside it). The layout follows the anatomy of each
opened FLAIR (:func:`LesionSegLogic.anatomy.guess_anatomy`) until the user picks one in the page; the views are
the same three slice views in both (switching does not reload anything).

The **3D** switch adds a 3-D view (under or beside the small views) with the lesions as surfaces coloured by
status, rebuilt when the slider rests (:mod:`.lesions_3d`); off by default (the slider's speed does not depend
on it).

Mouse modes: **navigate** (trame-slicer's default: drag pans/zooms, wheel pages through slices) and
**window/level** (left-drag changes the window and level of the shown volume: 3D Slicer's own
``vtkMRMLWindowLevelWidget``, enabled by the interaction node's ``AdjustWindowLevel`` mode).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

#: Mouse modes of the slice views, in the order the page shows them.
MOUSE_MODES: tuple[str, ...] = ("navigate", "window_level")


@dataclass(frozen=True)
class ViewLayout:
    """One layout: its id, the page's title for it, and the trame-slicer ``Layout`` it builds."""

    name: str
    title: str
    build: Callable[[bool], Any]  # with the 3-D view or not → a trame-slicer ``Layout``


def _one_large(large: str, small: tuple[str, ...], large_on_top: bool, with_3d: bool) -> Any:
    """``large`` with two thirds of the room, ``small`` (and the 3-D view) sharing the rest: on top of them
    (brain: the views area beside the panel is about as tall as wide, and an axial slice is square) or beside
    them (cord: its sagittal slice is long in S-I)."""
    from trame_slicer.views import Layout, LayoutDirection, ViewLayoutDefinition

    views = {"axial": ViewLayoutDefinition.axial_view, "coronal": ViewLayoutDefinition.coronal_view,
             "sagittal": ViewLayoutDefinition.sagittal_view, "3d": ViewLayoutDefinition.threed_view}
    outer, inner = ((LayoutDirection.Vertical, LayoutDirection.Horizontal) if large_on_top
                    else (LayoutDirection.Horizontal, LayoutDirection.Vertical))
    names = (*small, "3d") if with_3d else small
    return Layout(outer, [views[large](), Layout(inner, [views[name]() for name in names])], flex_sizes=["2", "1"])


#: The layouts, in the order the page offers them; the first is the default.
VIEW_LAYOUTS: tuple[ViewLayout, ...] = (
    ViewLayout("brain", "Axial large",
               lambda with_3d: _one_large("axial", ("coronal", "sagittal"), True, with_3d)),
    ViewLayout("cord", "Sagittal large (cord)",
               lambda with_3d: _one_large("sagittal", ("axial", "coronal"), False, with_3d)),
)
_WITH_3D = "+3d"  # the id suffix of a layout's variant with the 3-D view
#: The layout each anatomy of :func:`LesionSegLogic.anatomy.guess_anatomy` opens with.
LAYOUT_FOR_ANATOMY = {"brain": "brain", "cord": "cord"}


class ViewControls:
    """Switches the layout and the mouse mode, and tells the page (``view_layout``, ``view_layouts``,
    ``mouse_mode``; set by the server only: the page's buttons call :meth:`choose_layout` and
    :meth:`set_mouse_mode`, which check their argument)."""

    def __init__(self, layout_manager: Any, scene: Any, state: Any, slice_views: Callable[[], list[Any]]) -> None:
        self._manager = layout_manager
        self._scene = scene
        self._state = state
        self._slice_views = slice_views
        self._chosen_by_user = False
        self._name = VIEW_LAYOUTS[0].name
        self.show_3d = False
        #: called with the 3-D switch's new value (the lesion surfaces follow it)
        self.on_3d: Callable[[bool], None] | None = None
        for layout in VIEW_LAYOUTS:
            layout_manager.register_layout(layout.name, layout.build(False))
            layout_manager.register_layout(f"{layout.name}{_WITH_3D}", layout.build(True))
        state.view_layouts = [{"value": layout.name, "title": layout.title} for layout in VIEW_LAYOUTS]
        state.mouse_modes = list(MOUSE_MODES)
        state.show_3d = False
        self._set(VIEW_LAYOUTS[0].name)
        self.set_mouse_mode(MOUSE_MODES[0])
        # a brush or erase stroke must not also change the window: choosing an edit tool gives the mouse back to
        # navigation (the page also disables *Window/level* while a tool is on)
        state.change("edit_tool")(self._on_edit_tool)

    def _on_edit_tool(self, edit_tool: Any = None, **_: Any) -> None:
        if edit_tool not in (None, "none") and self._state.mouse_mode != MOUSE_MODES[0]:
            self.set_mouse_mode(MOUSE_MODES[0])

    @property
    def layout(self) -> str:
        """The chosen layout (``brain``/``cord``), with or without the 3-D view."""
        return self._name

    def _set(self, name: str) -> None:
        self._name = name
        self._manager.set_layout(f"{name}{_WITH_3D if self.show_3d else ''}")
        self._state.view_layout = name

    def set_3d(self, show: Any) -> bool:
        """The *3D* switch: the 3-D view with the lesion surfaces (no slice planes: they would hide them), or not."""
        if not isinstance(show, bool):
            return False
        self.show_3d = show
        for view in self._slice_views():
            view.set_visible_in_3d(False)  # opaque slice planes would hide the lesions behind them
        self._set(self._name)
        self._state.show_3d = show
        if self.on_3d is not None:
            self.on_3d(show)
        return True

    def choose_layout(self, name: str) -> bool:
        """The page's layout buttons: use ``name`` from now on (the anatomy of later cases no longer decides)."""
        if name not in {layout.name for layout in VIEW_LAYOUTS}:
            return False
        self._chosen_by_user = True
        self._set(name)
        return True

    def follow_anatomy(self, anatomy: str) -> None:
        """A case was opened: its anatomy's layout, unless the user picked one."""
        if not self._chosen_by_user and anatomy in LAYOUT_FOR_ANATOMY:
            self._set(LAYOUT_FOR_ANATOMY[anatomy])

    def set_mouse_mode(self, mode: str) -> bool:
        """``navigate`` or ``window_level`` (see the module's docstring); anything else is ignored."""
        if mode not in MOUSE_MODES:
            return False
        node = self._scene.GetNodeByID("vtkMRMLInteractionNodeSingleton")
        if node is not None:
            node.SetCurrentInteractionMode(node.AdjustWindowLevel if mode == "window_level" else node.ViewTransform)
        self._state.mouse_mode = mode
        return True
