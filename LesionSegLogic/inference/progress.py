"""Progress reports and cancellation for long predictions."""

from __future__ import annotations

import threading
from dataclasses import dataclass

from LesionSegLogic.errors import Cancelled


@dataclass(frozen=True)
class Progress:
    """Where a prediction stands: ``done`` of ``total`` windows after ``elapsed_s`` seconds."""

    done: int
    total: int
    elapsed_s: float
    stage: str = "predict"

    @property
    def fraction(self) -> float:
        return 1.0 if self.total == 0 else self.done / self.total

    @property
    def windows_per_s(self) -> float:
        return self.done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    @property
    def eta_s(self) -> float | None:
        """Seconds left at the rate so far (``None`` before the first batch)."""
        rate = self.windows_per_s
        return None if rate <= 0 else (self.total - self.done) / rate


class CancelToken:
    """Thread-safe flag checked between window batches; after :meth:`cancel` the work raises
    :class:`Cancelled`."""

    def __init__(self) -> None:
        self._event = threading.Event()

    def cancel(self) -> None:
        self._event.set()

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def raise_if_cancelled(self) -> None:
        if self._event.is_set():
            raise Cancelled("cancelled by the user; no output was written")
