"""The one set of defaults: the lesion matching rule, the decision-threshold policy and the recommended model.

Every entry point derives from this module (``lesionseg evaluate``/``sweep``/``predict``/``app``/``demo``, the
review's ``ReviewParameters``, the web app's model list), so the same map gives the same numbers whichever face
opens it (issue 15 item 6: ``evaluate`` at 0.5/hussein gave lesion F1 0.13 where the model's own threshold under
anima gave 0.86).

**Matching rule: anima** (MSSEG 2016 / MSSEG-2, Commowick et al., *Sci Rep* 2018, §11). Every bundled card's
held-out metrics (``validation.at_0.5`` / ``at_recommended``, written by
:func:`LesionSegLogic.training.finalise.evaluate_cases` from ``scripts/train_zoo.py``) are lesion-wise under anima,
and the demo reports with it, so a review or an ``evaluate`` under the default rule reproduces the card's numbers.
The recommended threshold itself is chosen by the median voxel-wise F1 (Hussein et al. 2023, seed 000;
:func:`LesionSegLogic.training.finalise.choose_threshold`), which no matching rule changes, so picking the rule the
cards report with costs nothing. (``ThresholdEngine(rule="hussein")`` keeps its library parameter default; the
user-facing entry points pass :data:`DEFAULT_RULE`.)

**Threshold policy** for a probability map: a threshold the user gives; else the one recorded in the
``summary.json`` that ``lesionseg predict`` writes beside the map (``settings.threshold``: the model's recommended
threshold unless the prediction was run with ``--threshold``; then ``model.recommended_threshold``); else
:data:`FALLBACK_THRESHOLD` (0.5), and the description says so. :func:`defaults_for_map` returns the choice with a
one-line description of where each value came from.

**Recommended model** (:func:`recommended_model`): among the cards for the image's anatomy whose inputs the user
has, prefer those that use every given image, then the highest held-out **lesion-wise F1 at the card's recommended
threshold** (``validation.at_recommended.mean.lesion_f1``: measured under anima, the default rule, at the threshold
the review opens at; the review is lesion-wise), then voxel Dice there, then the name. A card without the metric
ranks last; no usable card → ``None`` (nothing shows a "recommended" model that no card supports).

This module imports no torch and no zoo code (Slicer's panel imports it); cards are taken as arguments.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any, Protocol

from LesionSegLogic.errors import InputError, LesionSegError
from LesionSegLogic.jsonfile import read_json
from LesionSegLogic.metrics.rules import ANIMA, PRESETS

#: The matching rule every entry point uses unless told otherwise (see the module docstring for why).
DEFAULT_RULE: str = ANIMA.name
#: Every matching rule name, for ``choices=`` and selects (from :data:`LesionSegLogic.metrics.rules.PRESETS`).
RULE_NAMES: tuple[str, ...] = tuple(PRESETS)
#: The threshold used when neither the user nor a ``summary.json`` gives one.
FALLBACK_THRESHOLD = 0.5
SUMMARY_FILE = "summary.json"
#: the maps ``lesionseg predict`` writes beside its ``summary.json`` (the only files that summary describes)
PREDICTION_MAPS: tuple[str, ...] = ("probability.nii.gz", "mask.nii.gz")


class CardLike(Protocol):
    """What :func:`recommended_model` reads of a :class:`LesionSegLogic.zoo.ModelCard`."""

    name: str
    anatomy: str
    validation: dict[str, Any]

    def images_needed(self) -> frozenset[str]: ...


@dataclass(frozen=True)
class Recorded:
    """What the ``summary.json`` beside a map recorded (all ``None`` when there is none; ``problem`` when
    it exists but cannot be read)."""

    path: Path | None = None
    model: str | None = None
    threshold: float | None = None
    threshold_is_recommended: bool = False
    rule: str | None = None
    problem: str | None = None


@dataclass(frozen=True)
class MapDefaults:
    """The threshold and rule to review/evaluate a map with, and where each came from (plain words)."""

    threshold: float | None
    threshold_source: str
    rule: str
    rule_source: str
    model: str | None = None
    #: the threshold is the one a model recommended (recorded beside the map), not the user's or the fallback
    recommended: bool = False

    def describe(self) -> str:
        """One line: ``threshold 0.90 (…), rule anima (…)``; without a threshold only the rule."""
        rule = f"rule {self.rule} ({self.rule_source})"
        if self.threshold is None:
            return rule
        return f"threshold {self.threshold:.2f} ({self.threshold_source}), {rule}"

    def to_json(self) -> dict[str, Any]:
        return {"threshold_source": self.threshold_source, "rule_source": self.rule_source, "model": self.model}


def _threshold(value: Any) -> float | None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    return float(value) if ok and 0.0 <= value <= 1.0 else None


def read_recorded(map_path: str | PathLike[str]) -> Recorded:
    """The model, threshold and rule of the ``summary.json`` in the folder of ``map_path`` (never raises).

    Only a map named as ``lesionseg predict`` writes it (:data:`PREDICTION_MAPS`) is described by that summary;
    for another file in the same folder the summary is not used and ``problem`` says so.
    """
    path = Path(map_path).parent / SUMMARY_FILE
    if not path.is_file():
        return Recorded()
    if Path(map_path).name not in PREDICTION_MAPS:
        return Recorded(problem=f"{path} describes {' and '.join(PREDICTION_MAPS)}, not {Path(map_path).name}")
    try:
        summary = read_json(path, SUMMARY_FILE)  # size, UTF-8, nesting: one line naming the file
        if not isinstance(summary, dict):
            raise InputError(f"{SUMMARY_FILE} is not a JSON object", path)
    except LesionSegError as error:
        return Recorded(path, problem=str(error))
    model = summary.get("model") if isinstance(summary.get("model"), dict) else {}
    settings = summary.get("settings") if isinstance(summary.get("settings"), dict) else {}
    name = model.get("name") if isinstance(model.get("name"), str) and model.get("name") else None
    threshold = _threshold(settings.get("threshold"))
    recommended = threshold is not None and settings.get("threshold_source", "card") == "card"
    if threshold is None:
        threshold = _threshold(model.get("recommended_threshold"))
        recommended = threshold is not None
    rule = settings.get("rule") if settings.get("rule") in PRESETS else None
    return Recorded(path, name, threshold, recommended, rule)


def defaults_for_map(
    map_path: str | PathLike[str] | None, *, threshold: float | None = None, rule: str | None = None,
    need_threshold: bool = True,
) -> MapDefaults:
    """The threshold policy and default rule (module docstring) applied to the map at ``map_path``.

    ``threshold``/``rule`` are the user's (they win). ``need_threshold=False`` (a binary mask) leaves the
    threshold ``None``; the rule is still read from a ``summary.json`` beside the file.
    """
    recorded = read_recorded(map_path) if map_path is not None else Recorded()
    recommended = False
    where = str(recorded.path) if recorded.path else ""
    note = f"; {recorded.problem}" if recorded.problem else ""
    if rule is not None:
        rule_value, rule_source = rule, "given"
    elif recorded.rule is not None:
        rule_value, rule_source = recorded.rule, f"recorded in {where}"
    else:
        rule_value, rule_source = DEFAULT_RULE, "the default rule"
    if not need_threshold:
        value, source = None, "none: a binary mask"
    elif threshold is not None:
        value, source = float(threshold), "given"
    elif recorded.threshold is not None:
        kind = "recommended threshold" if recorded.threshold_is_recommended else "prediction threshold"
        owner = f"model {recorded.model}'s " if recorded.model else "the "
        value, source = recorded.threshold, f"{owner}{kind}, from {where}"
        recommended = recorded.threshold_is_recommended
    else:
        value = FALLBACK_THRESHOLD
        source = f"no threshold given and no {SUMMARY_FILE} with one beside the map: fallback {FALLBACK_THRESHOLD}"
    return MapDefaults(value, source + note, rule_value, rule_source, recorded.model, recommended)


def _held_out(card: CardLike, metric: str) -> float:
    at = card.validation.get("at_recommended") if isinstance(card.validation, dict) else None
    value = ((at or {}).get("mean") or {}).get(metric) if isinstance(at, dict) else None
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else -1.0


def recommended_model(
    available_cards: Iterable[CardLike], inputs: Iterable[str], anatomy: str | None = "brain"
) -> CardLike | None:
    """The best card for these input images (``flair``/``t2``/``baseline``) and anatomy, or ``None``.

    "Best" (module docstring): usable (every image it needs is in ``inputs``; the card's anatomy is ``anatomy``
    unless that is ``None``), then using every given image, then the highest held-out lesion-wise F1 at the
    recommended threshold, then voxel Dice there, then the name (for a stable answer).
    """
    have = frozenset(inputs)
    usable = [c for c in available_cards
              if c is not None and c.images_needed() <= have and (anatomy is None or c.anatomy == anatomy)]
    if not usable:
        return None
    return min(usable, key=lambda c: (c.images_needed() != have, -_held_out(c, "lesion_f1"),
                                      -_held_out(c, "voxel_dice"), c.name))


__all__ = [
    "DEFAULT_RULE", "FALLBACK_THRESHOLD", "RULE_NAMES", "MapDefaults", "Recorded", "defaults_for_map",
    "read_recorded", "recommended_model",
]  # fmt: skip
