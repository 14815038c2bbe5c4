"""A tiny pure-Python signal: the session announces changes without knowing who listens (Qt or trame)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


class Signal:
    """Callbacks connected with :meth:`connect` are called, in order, by :meth:`emit`.

    >>> changed = Signal()
    >>> seen = []
    >>> changed.connect(seen.append)
    >>> changed.emit(0.4)
    >>> seen
    [0.4]
    """

    def __init__(self) -> None:
        self._slots: list[Callable[..., Any]] = []

    def connect(self, slot: Callable[..., Any]) -> None:
        if slot not in self._slots:
            self._slots.append(slot)

    def disconnect(self, slot: Callable[..., Any]) -> None:
        if slot in self._slots:
            self._slots.remove(slot)

    def emit(self, *args: Any) -> None:
        for slot in list(self._slots):
            slot(*args)

    def __len__(self) -> int:
        return len(self._slots)
