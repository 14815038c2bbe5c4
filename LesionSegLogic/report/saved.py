"""A report from a saved review folder, without Slicer (``lesionseg report``): the folder's files are read and
checked (:func:`LesionSegLogic.review_file.read_review`: a changed file is refused by name), the threshold engine is
rebuilt on them and the report is made at the saved threshold, rule and mode, with the saved notes."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

from LesionSegLogic.report.data import ReportData, report_data
from LesionSegLogic.review_file import SavedReview, read_review

#: ``auto``: regions only where they are cheap (a phantom case, a spinal cord); ``yes``: also by registering the
#: FLAIR to MNI space (a minute on a real scan); ``no``: none
RegionChoice = Literal["auto", "yes", "no"]
REGION_CHOICES: tuple[str, ...] = ("auto", "yes", "no")


def report_from_saved(folder: str | os.PathLike[str], regions: RegionChoice = "auto") -> ReportData:
    """The :class:`ReportData` of the review saved in ``folder``."""
    from LesionSegLogic.io import read_image
    from LesionSegLogic.threshold import ThresholdEngine

    review = read_review(folder)
    files = review.files
    flair_path = Path(files["flair"].path)
    flair = read_image(flair_path)
    reference = read_image(files["reference"].path, role="mask") if "reference" in files else None
    probability = read_image(files["probability"].path, role="probability")
    engine = ThresholdEngine(flair.with_array(probability.array, name="probability"), flair.spacing,
                             reference=None if reference is None else reference.array.astype(bool), rule=review.rule)
    by_row, method = _regions(review, flair, engine, reference, regions)
    return report_data(flair, engine, review.threshold, provenance=review.provenance, mode=review.mode,
                       notes=review.notes, regions=by_row, regions_method=method,
                       title=f"LesionSeg review — {flair_path.parent.name}/{flair_path.name}",
                       model_name=review.model_name,
                       recommended_threshold=review.recommended_threshold, accepted_name=review.accepted_name)


def _regions(review: SavedReview, flair, engine, reference, choice: RegionChoice):
    """``((kind, id) → region, method)`` or ``(None, None)`` when regions are not computed."""
    if choice == "no":
        return None, None
    from LesionSegLogic.anatomy import guess_anatomy
    from LesionSegLogic.metrics.lesion import label_components
    from LesionSegLogic.phantom.case import CASE_JSON
    from LesionSegLogic.regions import atlas_for_case, regions_by_row

    folder = Path(review.files["flair"].path).parent
    cheap = (folder / CASE_JSON).is_file() or guess_anatomy(flair) == "cord"
    if choice == "auto" and not cheap:
        return None, None
    truth = None if reference is None else reference.array.astype(bool)
    atlas = atlas_for_case(flair, reference=truth, folder=folder)
    result = engine.at(review.threshold)
    voxel = flair.voxel_volume
    by_row = regions_by_row(atlas, result.lesions, result.mask, truth,
                            lambda mask: label_components(mask, engine.rule, voxel))
    return by_row, atlas.method
