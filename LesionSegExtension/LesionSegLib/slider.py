"""What the decision-threshold slider does to a :class:`ReviewSession`, for every face (Qt-free, tested here).

While a drag is under way each new value updates the review live (:meth:`ReviewSession.preview_threshold`:
engine, visible segments, metrics table, curve marker) and leaves the lesion rows, the lesion table and the hidden
"prediction" segment for later; when the value settles (the drag is released, or a single change arrives outside
a drag: keyboard step, typed value, "recommended" button) the session is brought fully up to date
(:meth:`ReviewSession.set_threshold`, then :meth:`ReviewSession.sync_prediction`), so every node in the scene is
consistent, and equal to what a direct ``set_threshold`` gives.

How the faces bind it:

- desktop (``widget.py``): the ``ctkSliderWidget`` runs with tracking off; ``valueIsChanging(double)``, fired
  while the handle is dragged, goes to :meth:`ThresholdSlider.drag`, and ``valueChanged(double)``, fired on
  release and on every non-drag change, goes to :meth:`ThresholdSlider.settle`;
- web (``LesionSegWeb/state.py``): the slider's ``start`` event goes to :meth:`ThresholdSlider.start`, each
  value of the bound ``threshold`` state to :meth:`ThresholdSlider.change`, its ``end`` event to
  :meth:`ThresholdSlider.settle`.
"""

from __future__ import annotations

from typing import Any, Protocol


class SliderTarget(Protocol):
    """The part of :class:`ReviewSession` the slider drives."""

    engine: Any
    state: Any

    def set_threshold(self, threshold: float, force: bool = False) -> Any: ...

    def preview_threshold(self, threshold: float) -> Any: ...

    def sync_prediction(self) -> None: ...


class ThresholdSlider:
    """Live review while dragging, a full sync when the value settles. Every method returns the session's
    ``ReviewState`` (``None`` while the session has no probability map, when the slider does nothing)."""

    def __init__(self, session: SliderTarget) -> None:
        self.session = session
        self._dragging = False

    @property
    def dragging(self) -> bool:
        """True between :meth:`start` (or a first :meth:`drag`) and :meth:`settle`."""
        return self._dragging

    def start(self) -> None:
        """A drag begins (the handle was grabbed)."""
        self._dragging = True

    def drag(self, value: float) -> Any:
        """A value seen while the handle is being dragged: live update only."""
        self._dragging = True
        return self._show(value)

    def change(self, value: float) -> Any:
        """A value from a face that does not say why it changed: part of a drag after :meth:`start`,
        otherwise a settled value."""
        return self._show(value) if self._dragging else self.settle(value)

    def settle(self, value: float | None = None) -> Any:
        """The value stopped moving (``None``: keep the current one): show it and sync the whole session."""
        self._dragging = False
        if self.session.engine is None:
            return None
        state = self.session.state if value is None else self.session.set_threshold(float(value))
        self.session.sync_prediction()
        return state

    def _show(self, value: float) -> Any:
        if self.session.engine is None:
            return None
        preview = getattr(self.session, "preview_threshold", None)  # a target without it (a fake) is simply moved
        return (preview or self.session.set_threshold)(float(value))
