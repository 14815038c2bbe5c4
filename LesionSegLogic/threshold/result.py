"""What :meth:`ThresholdEngine.at` returns: metrics now, voxel volumes and lesion rows on first access."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import numpy as np

from LesionSegLogic.metrics.lesion import LesionComponent

#: Overlay values (uint8). Lesion-wise mode (the overlay rule, docs/metrics.md): 3 marks every voxel of a missed
#: reference lesion, whatever predicted lesion covers it; elsewhere 1/2 mark the voxels of true/false predicted
#: lesions. Voxel-wise mode (Hussein et al. 2023 Fig. 3): 1 TP, 2 FP, 3 FN voxels. Without a reference, predicted
#: lesions are marked 4 (status unknown).
OVERLAY_BACKGROUND, OVERLAY_TP, OVERLAY_FP, OVERLAY_FN, OVERLAY_PREDICTED = 0, 1, 2, 3, 4
#: The overlay modes (the one list; the faces' selects and ``ReviewParameters`` take it from here). ``OverlayMode``
#: is the same set as a type; ``Testing/test_vocabularies.py`` checks that they agree.
OverlayMode = Literal["lesion", "voxel"]
OVERLAY_MODES: tuple[str, ...] = ("lesion", "voxel")


@dataclass(eq=False)
class ThresholdResult:
    """The review state at one threshold.

    ``metrics`` is the ``evaluate`` dictionary (``metrics["surface"]`` is ``None`` — *not computed* —
    unless the engine was asked for it; call :meth:`compute_surface` to fill it). ``mask`` (bool, z y x), ``overlay``
    (uint8, z y x) and ``lesions`` (:class:`LesionComponent` list: predicted lesions first, by decreasing maximum
    probability, then reference lesions in raster order) are built on first access and cached.
    """

    threshold: float
    mode: str
    metrics: dict[str, Any]
    _mask: Callable[[], np.ndarray] = field(repr=False)
    _overlay: Callable[[], np.ndarray] = field(repr=False)
    _lesions: Callable[[], list[LesionComponent]] = field(repr=False)
    _surface: Callable[[], dict[str, float | None]] | None = field(default=None, repr=False)

    @cached_property
    def mask(self) -> np.ndarray:
        return self._mask()

    @cached_property
    def overlay(self) -> np.ndarray:
        return self._overlay()

    @cached_property
    def lesions(self) -> list[LesionComponent]:
        return self._lesions()

    def compute_surface(self) -> dict[str, float | None] | None:
        """Surface distances (mm) of the mask against the reference; stored in ``metrics["surface"]``."""
        if self._surface is None:
            return None
        if self.metrics.get("surface") is None:
            self.metrics["surface"] = self._surface()
        return self.metrics["surface"]

    def predicted(self) -> list[LesionComponent]:
        return [row for row in self.lesions if row.kind == "predicted"]

    def reference(self) -> list[LesionComponent]:
        return [row for row in self.lesions if row.kind == "reference"]
