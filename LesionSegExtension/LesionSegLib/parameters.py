"""Validated parameter dataclasses shared by the session, the desktop widget and the web app."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from LesionSegLogic.defaults import DEFAULT_RULE, RULE_NAMES
from LesionSegLogic.errors import InputError
from LesionSegLogic.inference.device import DEVICES
from LesionSegLogic.metrics.rules import RuleName
from LesionSegLogic.threshold.result import OVERLAY_MODES, OverlayMode

EditedAs = Literal["prediction", "reference"]

#: the matching rules in display order; the overlay modes (``OVERLAY_MODES``) and the devices inference may run on
#: (``DEVICES``; ``auto``: CUDA when present) are the library's own tuples (one source of truth each)
MATCHING_RULES: tuple[str, ...] = RULE_NAMES


def _check_threshold(value: float, what: str = "threshold") -> float:
    value = float(value)
    if not 0.0 <= value <= 1.0:
        raise InputError(f"{what} must be between 0 and 1, got {value}")
    return value


@dataclass(frozen=True)
class ReviewParameters:
    """How a review is displayed and scored.

    ``mode``: ``"lesion"`` colours whole lesions by lesion-wise status (the engine's overlay), ``"voxel"``
    colours voxels by voxel-wise agreement. ``rule`` is the lesion matching rule of the threshold engine.
    ``curve_step`` is the spacing of the threshold curve (thresholds ``step, 2·step, …, < 1``).
    """

    mode: OverlayMode = "lesion"
    rule: RuleName = DEFAULT_RULE  # type: ignore[assignment]  # one default: LesionSegLogic.defaults
    curve_step: float = 0.05

    def __post_init__(self) -> None:
        if self.mode not in OVERLAY_MODES:
            raise InputError(f"overlay mode must be one of {OVERLAY_MODES}, got {self.mode!r}")
        if self.rule not in MATCHING_RULES:
            raise InputError(f"matching rule must be one of {MATCHING_RULES}, got {self.rule!r}")
        if not 0.0 < float(self.curve_step) < 0.5:
            raise InputError(f"curve step must be in (0, 0.5), got {self.curve_step}")


@dataclass(frozen=True)
class ModelChoice:
    """Which model to run and where: a zoo name or a model file path, and ``auto``/``cpu``/``cuda``."""

    spec: str
    device: str = "auto"
    extra: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not str(self.spec).strip():
            raise InputError("no model chosen")
        if self.device not in DEVICES:
            raise InputError(f"device must be one of {DEVICES}, got {self.device!r}")


@dataclass(frozen=True)
class SegmentStyle:
    """Name, colour (RGB 0–1), label value and terminology label (``3dSlicerLabel``) of one shown segment."""

    name: str
    color: tuple[float, float, float]
    label: int
    terminology_label: str


PREDICTION_SEGMENTS: tuple[SegmentStyle, ...] = (
    SegmentStyle("MS lesion", (1.0, 0.85, 0.1), 1, "lesionseg_predicted_lesion"),
)
REVIEW_SEGMENTS: tuple[SegmentStyle, ...] = (
    SegmentStyle("True positive", (0.1, 0.85, 0.2), 1, "lesionseg_true_positive"),
    SegmentStyle("False positive", (0.95, 0.15, 0.1), 2, "lesionseg_false_positive"),
    SegmentStyle("False negative", (0.15, 0.35, 1.0), 3, "lesionseg_false_negative"),
)
