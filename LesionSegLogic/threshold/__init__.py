"""Decision thresholds: the fast :class:`ThresholdEngine`, its naive oracle, cohort sweeps, synthetic maps."""

from LesionSegLogic.threshold.engine import ThresholdEngine
from LesionSegLogic.threshold.live import LiveUpdate, LiveView, StaleLiveViewError
from LesionSegLogic.threshold.result import (
    OVERLAY_BACKGROUND,
    OVERLAY_FN,
    OVERLAY_FP,
    OVERLAY_PREDICTED,
    OVERLAY_TP,
    ThresholdResult,
)

__all__ = [
    "OVERLAY_BACKGROUND",
    "OVERLAY_FN",
    "OVERLAY_FP",
    "OVERLAY_PREDICTED",
    "OVERLAY_TP",
    "LiveUpdate",
    "LiveView",
    "StaleLiveViewError",
    "ThresholdEngine",
    "ThresholdResult",
]
