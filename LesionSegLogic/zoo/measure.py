"""Measure a zoo model on case folders with the project's predictor: recommended threshold, held-out metrics and
calibration (issue 12).

* Every map comes from :class:`LesionSegLogic.predictor.Predictor` with the card's inference settings (sliding
  windows, fusion, TTA, normalisation: exactly what ``lesionseg predict`` does), on the grid image's own grid.
* **Recommended threshold**: the highest **median voxel-wise F1** over the threshold-optimisation subjects
  (Hussein et al. 2023, section 2.4; :func:`LesionSegLogic.training.finalise.choose_threshold`), for every set:
  the rule is about the voxel-wise operating point, which no lesion-matching rule or anatomy changes.
* **Held-out metrics** on the (shifted) test subjects at 0.5 and at that threshold, lesion-wise under the set's
  rule (:attr:`LesionSegLogic.zoo.sets.ZooSet.rule`: anima for brain and new lesions, Hussein for the cord),
  against the set's reference mask (``lesions`` or ``new_lesions``).
* **Calibration** (:mod:`LesionSegLogic.metrics.calibration`): ECE and the reliability bins over the test
  subjects' voxels inside the foreground mask of the grid image
  (:func:`LesionSegLogic.preprocessing.foreground_mask`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from LesionSegLogic.errors import FileMissingError
from LesionSegLogic.metrics.calibration import DEFAULT_BINS, bin_sums, from_sums
from LesionSegLogic.zoo.card import ROLE_FILE_STEMS, ModelCard
from LesionSegLogic.zoo.sets import ZooSet

CALIBRATION_VOXELS = ("voxels inside the foreground mask of the model's grid image (LesionSegLogic.preprocessing."
                      "foreground_mask: the head or the body, not the air), pooled over the held-out subjects")


@dataclass
class CaseMap:
    """One subject's probability map on its grid, its reference mask and the foreground region."""

    name: str
    probability: np.ndarray
    reference: np.ndarray
    region: np.ndarray
    spacing: tuple[float, float, float]


def case_images(folder: Path, card: ModelCard) -> dict[str, Path]:
    """The image files of a case folder the card's model reads, by role."""
    out = {}
    for role in sorted(card.images_needed()):
        found = [folder / f"{stem}.nii.gz" for stem in ROLE_FILE_STEMS.get(role, (role,))]
        hit = next((p for p in found if p.is_file()), None)
        if hit is None:
            raise FileMissingError(f"no {role} image ({' or '.join(p.name for p in found)})", folder)
        out[role] = hit
    return out


def _preprocessing(card: ModelCard) -> tuple[Any, ...]:
    """What the predictor's preprocessing of a case depends on (models sharing it share one preprocessed case)."""
    import json

    return (card.inputs, card.target_spacing, json.dumps(card.normalisation, sort_keys=True))


def predict_case(predictors: Sequence[Any], folder: Path, zoo_set: ZooSet) -> list[CaseMap]:
    """Each predictor's probability map of one case folder (on the grid image's grid, as ``lesionseg predict``
    writes it) with the reference; the case is read and preprocessed once per distinct preprocessing."""
    from LesionSegLogic.io import read_image
    from LesionSegLogic.preprocessing import foreground_mask

    reference = np.asarray(read_image(folder / f"{zoo_set.reference}.nii.gz", role="mask").array) > 0
    cache: dict[tuple[Any, ...], Any] = {}
    out = []
    for predictor in predictors:
        key = _preprocessing(predictor.card)
        if key not in cache:
            pre = predictor.preprocess(case_images(folder, predictor.card))
            cache[key] = (pre, foreground_mask(pre.reference.array))
        pre, region = cache[key]
        probability, _ = predictor.predict(pre)
        image = predictor.on_input_grid(pre, probability)
        out.append(CaseMap(folder.name, np.asarray(image.array, dtype=np.float32), reference, region,
                           pre.reference.spacing))
    return out


def predict_cases(predictors: Sequence[Any], folders: Sequence[Path], zoo_set: ZooSet,
                  progress: Callable[[str], None] | None = None) -> list[list[CaseMap]]:
    """``maps[model][case]`` for every predictor and case folder."""
    per_case = []
    for folder in folders:
        per_case.append(predict_case(predictors, folder, zoo_set))
        if progress is not None:
            progress(folder.name)
    return [list(maps) for maps in zip(*per_case, strict=True)] if per_case else [[] for _ in predictors]


def _evaluate(maps: Sequence[CaseMap], threshold: float, rule: str) -> dict[str, Any]:
    from LesionSegLogic.training.data import LoadedCase
    from LesionSegLogic.training.finalise import evaluate_cases

    cases = [LoadedCase(m.name, np.empty(0, np.float32), m.reference.astype(np.uint8), m.spacing) for m in maps]
    return evaluate_cases([m.probability for m in maps], cases, threshold, rule)


def measure(predictors: Any, threshold_folders: Sequence[Path], test_folders: Sequence[Path], zoo_set: ZooSet,
            *, n_bins: int = DEFAULT_BINS, progress: Callable[[str], None] | None = None) -> list[dict[str, Any]]:
    """For each predictor (one, or a list of models of the set), everything its card needs (module docstring):
    ``recommended_threshold``, ``threshold_objective``, ``validation`` (``at_0.5``, ``at_recommended``,
    ``threshold_curve``, ``subjects``, ``rule``, ``reference``) and ``calibration`` (the map does not depend on the
    threshold). The models of a set share the reading and preprocessing of every case."""
    from LesionSegLogic.training.finalise import choose_threshold

    predictors = list(predictors) if isinstance(predictors, list | tuple) else [predictors]
    choices = [choose_threshold([m.probability for m in maps], [m.reference for m in maps])
               for maps in predict_cases(predictors, threshold_folders, zoo_set, progress)]
    out = []
    for choice, test in zip(choices, predict_cases(predictors, test_folders, zoo_set, progress), strict=True):
        sums = sum((bin_sums(m.probability, m.reference, m.region, n_bins) for m in test), np.zeros((n_bins, 3)))
        out.append({
            "recommended_threshold": choice.threshold,
            "threshold_objective": choice.objective,
            "validation": {
                "held_out": "shifted test set (generator settings never used in training or for the threshold)",
                "rule": zoo_set.rule,
                "reference": f"{zoo_set.reference}.nii.gz",
                "at_0.5": _evaluate(test, 0.5, zoo_set.rule),
                "at_recommended": _evaluate(test, choice.threshold, zoo_set.rule),
                "threshold_curve": {"thresholds": choice.thresholds, "median_voxel_f1": choice.median_f1},
                "subjects": {"threshold": [f.name for f in threshold_folders],
                             "test": [f.name for f in test_folders]},
            },
            "calibration": from_sums(sums, CALIBRATION_VOXELS).to_json(),
        })
    return out


__all__ = ["CALIBRATION_VOXELS", "CaseMap", "case_images", "measure", "predict_case", "predict_cases"]
