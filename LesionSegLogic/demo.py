"""The bundled default job (``lesionseg demo``): phantom → prediction with a zoo model → lesion-wise review.

Steps, each one a library call a user could make themselves:

1. a brain phantom from a held-out seed (never used to train the zoo) — :func:`LesionSegLogic.phantom.generate_case`;
2. the probability map of a bundled model — :class:`LesionSegLogic.predictor.Predictor` (the same path as
   ``lesionseg predict``); with no zoo installed, a documented model-free stand-in
   (:func:`LesionSegLogic.threshold.synthetic.synthetic_probability`) is used instead and the output says so;
3. the review at the model's recommended threshold against the phantom's exact ground truth —
   :class:`LesionSegLogic.threshold.ThresholdEngine` under the default rule
   (:data:`LesionSegLogic.defaults.DEFAULT_RULE`), the same numbers the review panels show;
4. pictures: a montage of the case and the review figure (TP/FP/FN overlay + threshold curve).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from LesionSegLogic.defaults import DEFAULT_RULE, FALLBACK_THRESHOLD, ModelPick, pick_model
from LesionSegLogic.io.write import write_json

#: First seed of the demo's phantoms; the zoo trains on seeds 1000+ and tests on 9000+ (scripts/train_zoo.py).
DEMO_SEED = 4242


@dataclass
class DemoResult:
    case_dir: Path
    prediction_dir: Path
    model: str
    threshold: float
    metrics: dict[str, Any]
    metrics_at_half: dict[str, Any]
    pictures: dict[str, Path]
    timings_s: dict[str, float] = field(default_factory=dict)


#: The images the demo's brain phantom provides (``flair.nii.gz``, ``t2.nii.gz``).
DEMO_IMAGES = frozenset({"flair", "t2"})


def demo_model_pick() -> ModelPick | None:
    """The bundled model for the demo's brain FLAIR + T2 and why (:func:`LesionSegLogic.defaults.pick_model`, the
    faces' one auto-pick: the brain FLAIR + T2 model with the best held-out lesion F1 at its recommended threshold)."""
    from LesionSegLogic.zoo import list_models

    cards = [entry.card for entry in list_models() if entry.card is not None]
    return pick_model(cards, DEMO_IMAGES, "brain", "the demo's brain phantom")


def best_zoo_model() -> str | None:
    """The name of :func:`demo_model_pick`'s model (``None``: no bundled model takes the demo's images)."""
    pick = demo_model_pick()
    return None if pick is None else pick.name


def run_demo(
    out: str | os.PathLike[str],
    *,
    seed: int = DEMO_SEED,
    model: str | None = None,
    rule: str = DEFAULT_RULE,
    device: str = "auto",
    log: Callable[[str], None] = print,
) -> DemoResult:
    """Run the demo into ``out`` (created) and return what it produced."""
    from LesionSegLogic.io import read_image, write_image
    from LesionSegLogic.montage import montage_case
    from LesionSegLogic.phantom import generate_case, write_case
    from LesionSegLogic.review_figure import render_review
    from LesionSegLogic.threshold import ThresholdEngine

    out = Path(out)
    timings: dict[str, float] = {}
    start = time.perf_counter()
    case = generate_case(seed)
    case_dir = write_case(case, out / "case")
    timings["phantom"] = time.perf_counter() - start
    log(f"[1/4] phantom (seed {seed}): {case_dir} — {len(case.records)} lesions, grid {case.flair.shape}")

    start = time.perf_counter()
    prediction_dir = out / "prediction"
    pick = None if model else demo_model_pick()
    model = model or (pick.name if pick else None)
    if pick is not None:
        log(f"      auto-picked {pick.reason}")
    if model is not None:
        from LesionSegLogic.predictor import Predictor, PredictSettings

        predictor = Predictor.load(model, PredictSettings(device=device, rule=rule))
        images = {name: case_dir / f"{name}.nii.gz" for name in predictor.card.images_needed()}
        predictor.run(images, prediction_dir)
        threshold = float(predictor.card.recommended_threshold)
        label = f"zoo model '{model}' (loss {predictor.card.loss})"
    else:
        from LesionSegLogic.threshold.synthetic import synthetic_probability

        truth = case.lesions
        stand_in = synthetic_probability(truth.array > 0, truth.spacing, seed=seed)
        write_image(truth.with_array(stand_in.astype("float32"), name="probability"),
                    prediction_dir / "probability.nii.gz")
        threshold, label = FALLBACK_THRESHOLD, "no zoo installed: model-free stand-in probability map"
    timings["predict"] = time.perf_counter() - start
    log(f"[2/4] probability map from {label}: {prediction_dir / 'probability.nii.gz'}")

    start = time.perf_counter()
    probability = read_image(prediction_dir / "probability.nii.gz", role="probability")
    reference = read_image(case_dir / "lesions.nii.gz", role="mask")
    engine = ThresholdEngine(probability, reference=reference, rule=rule)
    metrics = engine.at(threshold, surface=True).metrics
    metrics_at_half = engine.at(0.5).metrics
    choice = pick.to_json() if pick else {"model": model, "auto": False}
    write_json(out / "metrics.json", {"model": model, "model_choice": choice, "recommended": metrics,
                                      "at_0.5": metrics_at_half}, what="metrics file")
    timings["review"] = time.perf_counter() - start
    log(f"[3/4] review ({rule} rule) at the recommended threshold {threshold:.2f}: {out / 'metrics.json'}")

    start = time.perf_counter()
    flair = read_image(case_dir / "flair.nii.gz")
    pictures = {
        "montage": montage_case(case_dir, out / "montage.png"),
        "review": render_review(flair, engine, threshold, out / "review.png"),
    }
    timings["pictures"] = time.perf_counter() - start
    log(f"[4/4] pictures: {pictures['montage']}, {pictures['review']}")
    return DemoResult(case_dir, prediction_dir, model or "stand-in", threshold, metrics, metrics_at_half,
                      pictures, timings)
