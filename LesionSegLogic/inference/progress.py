"""Progress reports and cancellation for long predictions."""

from __future__ import annotations

from dataclasses import dataclass

from LesionSegLogic.cancel import CancelToken

__all__ = ["CancelToken", "Progress"]


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
