"""The one set of defaults: the lesion matching rule, the decision-threshold policy and the recommended model.

Every entry point derives from this module (``lesionseg evaluate``/``sweep``/``predict``/``app``/``demo``, the
review's ``ReviewParameters``, the web app's model list), so the same map gives the same numbers whichever face
opens it (issue 15 item 6: ``evaluate`` at 0.5/hussein gave lesion F1 0.13 where the model's own threshold under
anima gave 0.86).

**Matching rule: anima** (MSSEG 2016 / MSSEG-2, Commowick et al., *Sci Rep* 2018, §11) — for a model, the rule its
card was measured under (:func:`card_rule`: Hussein et al. 2023's for the spinal-cord set of the zoo v2, as that
paper counts cord lesions). Every other bundled card's held-out metrics (``validation.at_0.5`` /
``at_recommended``, written by ``scripts/finalise_zoo.py``) are lesion-wise under anima,
and the demo reports with it, so a review or an ``evaluate`` under the default rule reproduces the card's numbers.
The recommended threshold itself is chosen by the median voxel-wise F1 (Hussein et al. 2023;
:func:`LesionSegLogic.training.finalise.choose_threshold`), which no matching rule changes, so picking the rule the
cards report with costs nothing. (``ThresholdEngine(rule="hussein")`` keeps its library parameter default; the
user-facing entry points pass :data:`DEFAULT_RULE`.)

**Threshold policy** for a probability map: a threshold the user gives; else the one recorded in the
``summary.json`` that ``lesionseg predict`` writes beside the map (``settings.threshold``: the model's recommended
threshold unless the prediction was run with ``--threshold``; then ``model.recommended_threshold``); else
:data:`FALLBACK_THRESHOLD` (0.5), and the description says so. :func:`defaults_for_map` returns the choice with a
one-line description of where each value came from.

**Recommended model** (:func:`pick_model`, the one auto-pick of the demo, ``lesionseg predict`` without
``--model``, the web app and the desktop panel; :func:`recommended_model` is its card): among the cards for the
image's anatomy whose images the user has, the task follows the images — a baseline given → a new-lesion model
(``task`` ``new_lesions``), else a lesion model — then the model reading the most of the given images (FLAIR + T2 →
the brain FLAIR + T2 set; FLAIR only → a FLAIR-only model; a spinal-cord image → the cord set, whose models read
the T2-w image), then the highest held-out **lesion-wise F1 at the card's recommended threshold**
(``validation.at_recommended.mean.lesion_f1``: on the held-out set, at the threshold the review opens at; the
review is lesion-wise), then voxel Dice there, then the name. A card without the metric ranks last; no usable card
→ ``None`` (nothing shows a "recommended" model that no card supports). :class:`ModelPick` says which model and
why in one line, which every face shows (stderr, ``summary.json["model_choice"]``, the status text).

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

    # read-only members (properties), so that a frozen dataclass such as ModelCard satisfies the protocol
    @property
    def name(self) -> str: ...
    @property
    def anatomy(self) -> str: ...
    @property
    def validation(self) -> dict[str, Any]: ...
    @property
    def recommended_threshold(self) -> float: ...

    def images_needed(self) -> frozenset[str]: ...


#: the task of a card that states none (the v1 cards and other engineers' stand-ins): all lesions
DEFAULT_TASK = "lesions"
#: the task the images ask for when a baseline is among them (a longitudinal model)
NEW_LESION_TASK = "new_lesions"
_IMAGE_WORDS = {"flair": "FLAIR", "t2": "T2", "baseline": "baseline FLAIR"}


@dataclass(frozen=True)
class ModelPick:
    """The model the faces pick for the images at hand (:func:`pick_model`) and the reason, in one line."""

    card: Any
    reason: str

    @property
    def name(self) -> str:
        return str(self.card.name)

    def to_json(self) -> dict[str, Any]:
        return {"model": self.name, "reason": self.reason, "auto": True}


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
    name = model.get("name") if isinstance(model.get("name"), str) and model.get("name") else None  # type: ignore[union-attr]  # model/settings are dicts (isinstance just above)
    threshold = _threshold(settings.get("threshold"))  # type: ignore[union-attr]  # as above
    recommended = threshold is not None and settings.get("threshold_source", "card") == "card"  # type: ignore[union-attr]  # as above
    if threshold is None:
        threshold = _threshold(model.get("recommended_threshold"))  # type: ignore[union-attr]  # as above
        recommended = threshold is not None
    rule = settings.get("rule") if settings.get("rule") in PRESETS else None  # type: ignore[operator, union-attr]  # as above
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


def card_rule(card: Any) -> str:
    """The matching rule a model's lesion-wise numbers are read under: the rule of its card's held-out metrics
    (``validation.at_recommended.rule``: anima for the brain and new-lesion sets, Hussein et al. 2023's for the
    cord set) when it is a known rule, else :data:`DEFAULT_RULE`. ``lesionseg predict`` records it in
    ``summary.json`` (``settings.rule``), so a review of the map opens under it and reproduces the card."""
    validation = getattr(card, "validation", None)
    at = validation.get("at_recommended") if isinstance(validation, dict) else None
    rule = at.get("rule") if isinstance(at, dict) else None
    return rule if rule in PRESETS else DEFAULT_RULE


def _held_out(card: CardLike, metric: str) -> float:
    at = card.validation.get("at_recommended") if isinstance(card.validation, dict) else None
    value = ((at or {}).get("mean") or {}).get(metric) if isinstance(at, dict) else None
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else -1.0


def _task(card: CardLike) -> str:
    return str(getattr(card, "task", "") or DEFAULT_TASK)


def _words(images: Iterable[str]) -> str:
    return " + ".join(_IMAGE_WORDS.get(i, i) for i in sorted(images, key=lambda i: list(_IMAGE_WORDS).index(i)
                                                             if i in _IMAGE_WORDS else 99))


def pick_model(
    available_cards: Iterable[CardLike], inputs: Iterable[str], anatomy: str | None = "brain",
    anatomy_source: str = "given",
) -> ModelPick | None:
    """The model for these input images (``flair``/``t2``/``baseline``) and anatomy, and why; ``None`` when no card
    can take them.

    Order (module docstring): usable (every image it needs is in ``inputs``; the card's anatomy is ``anatomy``
    unless that is ``None``), the task the images ask for (a baseline → new lesions), the most given images read,
    the highest held-out lesion-wise F1 at the recommended threshold, voxel Dice there, the name (a stable answer).
    ``anatomy_source`` says where ``anatomy`` came from (e.g. "guessed from the field of view"), for the reason.
    """
    have = frozenset(inputs)
    usable = [c for c in available_cards
              if c is not None and c.images_needed() <= have
              and (anatomy is None or getattr(c, "anatomy", "brain") == anatomy)]
    if not usable:
        return None
    wanted = NEW_LESION_TASK if "baseline" in have else DEFAULT_TASK
    best = min(usable, key=lambda c: (_task(c) != wanted, -len(c.images_needed()), -_held_out(c, "lesion_f1"),
                                      -_held_out(c, "voxel_dice"), c.name))
    rivals = sum(1 for c in usable if _task(c) == _task(best) and c.images_needed() == best.images_needed())
    f1, threshold = _held_out(best, "lesion_f1"), getattr(best, "recommended_threshold", None)
    at = f" at its threshold {threshold:.2f}" if isinstance(threshold, int | float) else ""
    score = f"the best held-out lesion F1 ({f1:.3f}{at})" if f1 >= 0 else "no held-out metrics on any of them"
    where = "" if anatomy is None else f", {anatomy} ({anatomy_source})"
    task = "new-lesion" if _task(best) == NEW_LESION_TASK else "lesion"
    reason = (f"model {best.name}: images {_words(have)}{where} → a {task} model reading {_words(best.images_needed())}"
              f"; of the {rivals} such model(s) it has {score}")
    return ModelPick(best, reason)


def recommended_model(
    available_cards: Iterable[CardLike], inputs: Iterable[str], anatomy: str | None = "brain"
) -> CardLike | None:
    """The card :func:`pick_model` picks for these input images and anatomy, or ``None``."""
    pick = pick_model(available_cards, inputs, anatomy)
    return None if pick is None else pick.card


__all__ = [
    "DEFAULT_RULE", "FALLBACK_THRESHOLD", "RULE_NAMES", "MapDefaults", "ModelPick", "Recorded", "card_rule",
    "defaults_for_map",
    "pick_model", "read_recorded", "recommended_model",
]  # fmt: skip
