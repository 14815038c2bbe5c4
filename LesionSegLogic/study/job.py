"""One study job: train a model for one (loss, seed, fold), sweep its maps, write a normal model folder.

A job folder ``DIR/runs/<loss>/seed<S>-fold<F>/`` holds ``train/`` (the run: ``log.csv``, checkpoints), ``model/``
(``card.json`` + ``model.safetensors``, the folder ``lesionseg predict --model`` and the review faces open),
``maps/<case>.nii.gz`` (probability maps of the threshold-optimisation and unseen subjects, on the input grid, so
two losses' maps of one subject can be opened side by side) and ``result.json`` (per-subject metrics at every
threshold). The job is **done** when ``done.json`` exists: it is written atomically and last, so a job killed
half-way has none, and the next run removes its folder and redoes it.

The threshold is chosen as in Hussein et al. (2023): the grid value with the best median objective
(voxel-wise F1 by default) over the threshold-optimisation subjects, ties to the nearest of 0.5
(:func:`LesionSegLogic.threshold.sweep.best_threshold`); lesion-free subjects have no F1 and are left out.
"""

from __future__ import annotations

import json
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from LesionSegLogic.study.vocabulary import COUNT_FIELDS, EVALUATION_SETS, OBJECTIVE_METRIC, SUBJECT_METRICS
from LesionSegLogic.training.data import Case, Splits

DONE_FILE = "done.json"
RESULT_FILE = "result.json"


@dataclass(frozen=True)
class JobSpec:
    """Everything a worker needs (picklable: plain data and :class:`Case` paths)."""

    key: str
    loss: str
    seed: int
    fold: int
    folder: str
    train: dict[str, Any]  # complete TrainConfig fields
    splits: Splits
    thresholds: tuple[float, ...]
    objective: str
    rule: str
    overlap: float
    fusion: str
    anatomy: str
    fingerprint: str
    threads: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def path(self) -> Path:
        return Path(self.folder)


def job_folder(out: Path, loss: str, seed: int, fold: int) -> Path:
    return out / "runs" / loss / f"seed{seed}-fold{fold}"


def is_done(spec: JobSpec) -> bool:
    """``done.json`` is there and belongs to this very job (same configuration fingerprint)."""
    marker = spec.path / DONE_FILE
    if not marker.is_file():
        return False
    try:
        return json.loads(marker.read_text()).get("fingerprint") == spec.fingerprint
    except (OSError, ValueError):
        return False


def read_result(spec: JobSpec) -> dict[str, Any]:
    return json.loads((spec.path / RESULT_FILE).read_text())


def _subject_curves(engine: Any, grid: tuple[float, ...]) -> dict[str, Any]:
    """Every table metric and lesion count of one subject at every threshold (``None`` when undefined)."""
    sweep = engine.sweep(list(grid))
    curves: dict[str, Any] = {m.key: [row[m.block][m.field] for row in sweep] for m in SUBJECT_METRICS}
    for name in COUNT_FIELDS:
        curves[name] = [int(row["lesion"][name]) for row in sweep]
    return curves


def _choose(curves: list[dict[str, Any]], grid: tuple[float, ...], objective: str) -> tuple[float, float | None]:
    from LesionSegLogic.metrics.cohort import median_defined
    from LesionSegLogic.threshold.sweep import best_threshold

    metric = OBJECTIVE_METRIC[objective]
    median = [median_defined([c[metric][i] for c in curves]) for i in range(len(grid))]
    best, value = best_threshold(grid, median)
    return (0.5, None) if best is None else (best, value)


def _write_map(probability: Any, case: Case, folder: Path) -> Path:
    from LesionSegLogic.io import read_image
    from LesionSegLogic.io.write import write_image

    reference = read_image(case.mask, role="mask")
    return write_image(reference.with_array(probability), folder / f"{case.name}.nii.gz", dtype="float32")


def _log_rows(path: Path) -> list[dict[str, float | None]]:
    import csv

    with path.open(newline="") as fh:
        return [{k: (float(v) if v not in ("", None) else None) for k, v in row.items()} for row in csv.DictReader(fh)]


def run_job(spec: JobSpec) -> dict[str, Any]:
    """Run (or, when done, read) one job; returns its ``result.json`` content."""
    if is_done(spec):
        return read_result(spec)
    import torch

    from LesionSegLogic.io.write import write_json
    from LesionSegLogic.threshold import ThresholdEngine
    from LesionSegLogic.training.config import TrainConfig
    from LesionSegLogic.training.data import load_case
    from LesionSegLogic.training.export import write_model
    from LesionSegLogic.training.finalise import evaluate_cases, predict_cases
    from LesionSegLogic.training.loop import train

    if spec.threads:
        torch.set_num_threads(spec.threads)  # a worker process of ours: its own thread pool
    started = time.perf_counter()
    if spec.path.exists():  # half-written by an interrupted run: redo it whole
        shutil.rmtree(spec.path)
    spec.path.mkdir(parents=True)
    config = TrainConfig.from_dict({**spec.train, "out": str(spec.path / "train")})
    trained = train(config, splits=spec.splits)
    model = trained.model.cpu().eval()
    sets: dict[str, Any] = {}
    maps: dict[str, Any] = {}
    for split, _ in EVALUATION_SETS:
        cases = list(getattr(spec.splits, split))
        loaded = [load_case(c) for c in cases]
        probabilities = predict_cases(model, loaded, config.patch_size, overlap=spec.overlap, fusion=spec.fusion)
        subjects = []
        for case, lc, p in zip(cases, loaded, probabilities, strict=True):
            _write_map(p, case, spec.path / "maps")
            engine = ThresholdEngine(p, lc.spacing, reference=lc.mask, rule=spec.rule)
            subjects.append({"name": case.name, "n_reference_voxels": int(lc.mask.sum()),
                             "curves": _subject_curves(engine, spec.thresholds)})
        sets[split] = {"subjects": subjects}
        maps[split] = (probabilities, loaded)
    with_lesions = [s["curves"] for s in sets["threshold"]["subjects"] if s["n_reference_voxels"] > 0]
    optimal, value = _choose(with_lesions, spec.thresholds, spec.objective)
    p_test, test_cases = maps["test"]
    measured = {
        "recommended_threshold": optimal,
        "threshold_objective": f"median {spec.objective} over the threshold-optimisation subjects (Hussein et al. "
        f"2023), grid {spec.thresholds[0]:g}..{spec.thresholds[-1]:g}",
        "threshold_curve": {"thresholds": list(spec.thresholds)},
        "at_0.5": evaluate_cases(p_test, test_cases, 0.5, spec.rule),
        "at_recommended": evaluate_cases(p_test, test_cases, optimal, spec.rule),
        "subjects": {"threshold": [c.name for c in spec.splits.threshold], "test": [c.name for c in spec.splits.test]},
    }
    training = {"study_job": spec.key, "seed": spec.seed, "fold": spec.fold, "epochs": config.max_epochs,
                "best_epoch": trained.best_epoch, "config": config.to_dict()}
    card = write_model(spec.path / "model", f"{spec.loss}-seed{spec.seed}-fold{spec.fold}", model, config,
                       measured, training, f"lesionseg study (job {spec.key})")
    _set_anatomy(card, spec.anatomy)
    result = {
        "key": spec.key, "loss": spec.loss, "seed": spec.seed, "fold": spec.fold,
        "thresholds": list(spec.thresholds), "objective": spec.objective, "rule": spec.rule,
        "optimal_threshold": optimal, "optimal_objective": value,
        "best_epoch": trained.best_epoch, "epochs": _log_rows(trained.log),
        "splits": spec.splits.names(), "sets": sets, "seconds": time.perf_counter() - started,
    }
    write_json(spec.path / RESULT_FILE, result, indent=None)
    write_json(spec.path / DONE_FILE, {"key": spec.key, "fingerprint": spec.fingerprint,
                                      "seconds": result["seconds"]})  # last: the job is done
    return result


def _set_anatomy(card_path: Path, anatomy: str) -> None:
    """The card says what the model saw (``write_model`` leaves the default anatomy)."""
    from dataclasses import replace

    from LesionSegLogic.zoo.card import ModelCard

    card = ModelCard.from_json(card_path)
    if card.anatomy != anatomy:
        replace(card, anatomy=anatomy).to_json(card_path)
