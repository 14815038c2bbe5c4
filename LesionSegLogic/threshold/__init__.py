"""Decision thresholds: the fast :class:`ThresholdEngine`, its naive oracle, cohort sweeps, synthetic maps."""

from LesionSegLogic.threshold.engine import ReferenceLayout, ThresholdEngine, ThresholdState
from LesionSegLogic.threshold.live import LiveEngine, LiveUpdate, LiveView, StaleLiveViewError
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
    "LiveEngine",
    "LiveUpdate",
    "LiveView",
    "ReferenceLayout",
    "StaleLiveViewError",
    "ThresholdEngine",
    "ThresholdResult",
    "ThresholdState",
]
