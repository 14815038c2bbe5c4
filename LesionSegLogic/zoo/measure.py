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


def predict_case(predictor: Any, folder: Path, zoo_set: ZooSet) -> CaseMap:
    """The predictor's probability map of one case folder (on the grid image's grid) with its reference."""
    from LesionSegLogic.io import read_image
    from LesionSegLogic.preprocessing import foreground_mask

    pre = predictor.preprocess(case_images(folder, predictor.card))
    probability, facts = predictor.predict(pre)
    result = predictor.export(pre, probability, facts, None)
    reference = read_image(folder / f"{zoo_set.reference}.nii.gz", role="mask")
    return CaseMap(folder.name, np.asarray(result.probability.array, dtype=np.float32),
                   np.asarray(reference.array) > 0, foreground_mask(pre.reference.array), pre.reference.spacing)


def predict_cases(predictor: Any, folders: Sequence[Path], zoo_set: ZooSet,
                  progress: Callable[[str], None] | None = None) -> list[CaseMap]:
    out = []
    for folder in folders:
        out.append(predict_case(predictor, folder, zoo_set))
        if progress is not None:
            progress(folder.name)
    return out


def _evaluate(maps: Sequence[CaseMap], threshold: float, rule: str) -> dict[str, Any]:
    from LesionSegLogic.training.data import LoadedCase
    from LesionSegLogic.training.finalise import evaluate_cases

    cases = [LoadedCase(m.name, np.empty(0, np.float32), m.reference.astype(np.uint8), m.spacing) for m in maps]
    return evaluate_cases([m.probability for m in maps], cases, threshold, rule)


def measure(predictor: Any, threshold_folders: Sequence[Path], test_folders: Sequence[Path], zoo_set: ZooSet,
            *, n_bins: int = DEFAULT_BINS, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    """Everything the card needs (module docstring): ``recommended_threshold``, ``threshold_objective``,
    ``validation`` (``at_0.5``, ``at_recommended``, ``threshold_curve``, ``subjects``, ``rule``, ``reference``) and
    ``calibration`` (at the recommended threshold's map: the map does not depend on the threshold)."""
    from LesionSegLogic.training.finalise import choose_threshold

    tuning = predict_cases(predictor, threshold_folders, zoo_set, progress)
    choice = choose_threshold([m.probability for m in tuning], [m.reference for m in tuning])
    del tuning
    test = predict_cases(predictor, test_folders, zoo_set, progress)
    sums = sum((bin_sums(m.probability, m.reference, m.region, n_bins) for m in test), np.zeros((n_bins, 3)))
    return {
        "recommended_threshold": choice.threshold,
        "threshold_objective": choice.objective,
        "validation": {
            "held_out": "shifted test set (generator settings never used in training)",
            "rule": zoo_set.rule,
            "reference": f"{zoo_set.reference}.nii.gz",
            "at_0.5": _evaluate(test, 0.5, zoo_set.rule),
            "at_recommended": _evaluate(test, choice.threshold, zoo_set.rule),
            "threshold_curve": {"thresholds": choice.thresholds, "median_voxel_f1": choice.median_f1},
            "subjects": {"threshold": [f.name for f in threshold_folders], "test": [f.name for f in test_folders]},
        },
        "calibration": from_sums(sums, CALIBRATION_VOXELS).to_json(),
    }


__all__ = ["CALIBRATION_VOXELS", "CaseMap", "case_images", "measure", "predict_case", "predict_cases"]
