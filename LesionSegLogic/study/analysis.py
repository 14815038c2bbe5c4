"""From the finished jobs to every number of the report (all computed here, none typed in).

Samples: a per-subject metric of a loss is pooled over that loss's runs (seeds × folds) and the run's subjects
**with** reference lesions; lesion-free subjects only enter the patient-level specificity. Patient-level
sensitivity/specificity are cohort values, one per run (:func:`LesionSegLogic.metrics.cohort.patient_level`),
summarised over the runs. "Optimal" is each run's threshold chosen on the threshold-optimisation set.

* **Table 1 / Table 2** (Hussein et al. 2023): per loss and set, ``median (mean ± std)`` at 0.5 and at
  the optimal threshold; Table 2 adds the two-sided Wilcoxon signed-rank test of each per-subject metric between
  0.5 and the optimal threshold (pairs: the same run and subject), significant when ``p ≤ significance``.
* **Fig. 2**: per-subject V-F1 at every threshold, per loss and set.
* **Seed bands** (Cabezas & Diez 2024, Fig. 3): per epoch, min / mean / max over the runs of a loss.
* **Pairwise**: every pair of losses at their optimal thresholds, paired by (seed, fold, subject) — the same
  subjects and initial weights — Wilcoxon per metric, Holm-corrected over the pairs of that metric and set.
* **Stability index**: per run, the drop of the median V-F1 from the optimal threshold to the worst threshold
  within ±0.05 and ±0.1 of it (absolute and relative to the optimum; Hussein et al. 2023 reports ~10 % for ±0.05),
  summarised over the runs. The grid's ends 0 and 1 are left out of the window: 0 marks every voxel and 1 only the
  voxels whose probability rounds to exactly 1, neither an operating point (Fig. 2 still shows them).
"""

from __future__ import annotations

from collections.abc import Sequence
from itertools import combinations
from typing import Any

from LesionSegLogic.metrics.cohort import median_defined, patient_level, wilcoxon_compare
from LesionSegLogic.study.stats import CORRECTION, holm, summarise
from LesionSegLogic.study.vocabulary import BAND_COLUMNS, EVALUATION_SETS, PATIENT_METRICS, SUBJECT_METRICS

STABILITY_WINDOWS = (0.05, 0.1)
STABILITY_METRIC = "voxel_f1"
PAIRWISE_METRICS = tuple(m.key for m in SUBJECT_METRICS)


def _index(grid: Sequence[float], t: float) -> int:
    return min(range(len(grid)), key=lambda i: abs(grid[i] - t))


def _lesion_subjects(run: dict[str, Any], split: str) -> list[dict[str, Any]]:
    return [s for s in run["sets"][split]["subjects"] if s["n_reference_voxels"] > 0]


def _values(runs: list[dict[str, Any]], split: str, metric: str, which: str) -> list[tuple[tuple, float | None]]:
    """``((seed, fold, subject), value)`` pairs at 0.5 (``which="half"``) or at each run's optimal threshold."""
    out = []
    for run in runs:
        grid = run["thresholds"]
        i = _index(grid, 0.5 if which == "half" else run["optimal_threshold"])
        for s in _lesion_subjects(run, split):
            out.append(((run["seed"], run["fold"], s["name"]), s["curves"][metric][i]))
    return out


def _patient(run: dict[str, Any], split: str, threshold: float) -> dict[str, float | None]:
    i = _index(run["thresholds"], threshold)
    rows = [{"lesion": {"n_reference": int(s["n_reference_voxels"] > 0), "n_predicted": s["curves"]["n_predicted"][i]}}
            for s in run["sets"][split]["subjects"]]
    level = patient_level(rows)
    return {"patient_sensitivity": level.sensitivity, "patient_specificity": level.specificity}


def _table_row(runs: list[dict[str, Any]], loss: str, split: str, which: str, alpha: float) -> dict[str, Any]:
    cells: dict[str, Any] = {}
    tests: dict[str, Any] = {}
    for m in SUBJECT_METRICS:
        values = _values(runs, split, m.key, which)
        cells[m.key] = summarise([v for _, v in values]).to_json()
        if which == "optimal":
            half = [v for _, v in _values(runs, split, m.key, "half")]
            test = wilcoxon_compare([v for _, v in values], half)
            tests[m.key] = {"pvalue": test.pvalue, "n": test.n, "median_difference": test.median_difference,
                            "significant": bool(test.n > 0 and test.pvalue <= alpha)}
    for key, _ in PATIENT_METRICS:
        per_run = [_patient(r, split, 0.5 if which == "half" else r["optimal_threshold"])[key] for r in runs]
        cells[key] = summarise(per_run).to_json()
    row: dict[str, Any] = {"loss": loss, "set": split, "cells": cells, "runs": len(runs)}
    if which == "optimal":
        row["optimal_threshold"] = summarise([r["optimal_threshold"] for r in runs]).to_json()
        row["wilcoxon_vs_0.5"] = tests
    return row


def _bands(runs: list[dict[str, Any]]) -> dict[str, Any]:
    epochs = sorted({int(row["epoch"]) for r in runs for row in r["epochs"]})
    bands: dict[str, Any] = {"epochs": epochs}
    for column, _ in BAND_COLUMNS:
        lo, mean, hi = [], [], []
        for e in epochs:
            vals = [row.get(column) for r in runs for row in r["epochs"] if int(row["epoch"]) == e]
            s = summarise(vals)
            kept = [v for v in vals if v is not None]
            lo.append(min(kept) if kept else None)
            mean.append(s.mean)
            hi.append(max(kept) if kept else None)
        bands[column] = {"min": lo, "mean": mean, "max": hi}
    return bands


def _stability(run: dict[str, Any], split: str) -> dict[str, Any]:
    grid = run["thresholds"]
    subjects = _lesion_subjects(run, split)
    median = [median_defined([s["curves"][STABILITY_METRIC][i] for s in subjects]) for i in range(len(grid))]
    i0 = _index(grid, run["optimal_threshold"])
    at_opt = median[i0]
    out: dict[str, Any] = {"median_at_optimal": at_opt}
    for w in STABILITY_WINDOWS:
        near = [median[i] for i, t in enumerate(grid)
                if abs(t - grid[i0]) <= w + 1e-9 and 0.0 < t < 1.0 and median[i] is not None]
        if at_opt is None or not near:
            out[f"drop_{w:g}"], out[f"relative_drop_{w:g}"] = None, None
            continue
        drop = at_opt - min(v for v in near if v is not None)
        out[f"drop_{w:g}"] = drop
        out[f"relative_drop_{w:g}"] = drop / at_opt if at_opt > 0 else None
    return out


def _pairwise(by_loss: dict[str, list[dict[str, Any]]], split: str, alpha: float) -> list[dict[str, Any]]:
    rows = []
    for metric in PAIRWISE_METRICS:
        family: list[dict[str, Any]] = []
        for a, b in combinations(by_loss, 2):
            va = dict(_values(by_loss[a], split, metric, "optimal"))
            vb = dict(_values(by_loss[b], split, metric, "optimal"))
            keys = sorted(set(va) & set(vb))
            test = wilcoxon_compare([va[k] for k in keys], [vb[k] for k in keys])
            family.append({"set": split, "metric": metric, "a": a, "b": b, "n": test.n, "pvalue": test.pvalue,
                           "median_difference": test.median_difference})
        for row, adjusted in zip(family, holm([r["pvalue"] for r in family]), strict=True):
            row["pvalue_holm"] = adjusted
            row["significant"] = bool(row["n"] > 0 and adjusted <= alpha)
        rows.extend(family)
    return rows


def analyse(results: Sequence[dict[str, Any]], losses: Sequence[str], significance: float = 0.05) -> dict[str, Any]:
    """Every table, figure series and test of the report, as JSON-ready data."""
    by_loss = {loss: sorted((r for r in results if r["loss"] == loss), key=lambda r: (r["seed"], r["fold"]))
               for loss in losses}
    by_loss = {k: v for k, v in by_loss.items() if v}
    splits = [s for s, _ in EVALUATION_SETS]
    grid = next(iter(by_loss.values()))[0]["thresholds"] if by_loss else []
    table1 = [_table_row(runs, loss, s, "half", significance) for loss, runs in by_loss.items() for s in splits]
    table2 = [_table_row(runs, loss, s, "optimal", significance) for loss, runs in by_loss.items() for s in splits]
    fig2 = {
        s: {loss: [[v for r in runs for v in (x["curves"]["voxel_f1"][i] for x in _lesion_subjects(r, s))
                    if v is not None] for i in range(len(grid))] for loss, runs in by_loss.items()}
        for s in splits
    }
    stability = []
    for loss, runs in by_loss.items():
        for s in splits:
            per_run = [_stability(r, s) for r in runs]
            row: dict[str, Any] = {"loss": loss, "set": s}
            for key in per_run[0]:
                row[key] = summarise([p[key] for p in per_run]).to_json()
            stability.append(row)
    return {
        "losses": list(by_loss),
        "thresholds": grid,
        "significance": significance,
        "runs": [{"key": r["key"], "loss": r["loss"], "seed": r["seed"], "fold": r["fold"],
                  "optimal_threshold": r["optimal_threshold"], "optimal_objective": r["optimal_objective"],
                  "best_epoch": r["best_epoch"], "seconds": r["seconds"]} for rs in by_loss.values() for r in rs],
        "table1": table1,
        "table2": table2,
        "fig2": fig2,
        "bands": {loss: _bands(runs) for loss, runs in by_loss.items()},
        "pairwise": {"correction": CORRECTION,
                     "rows": [r for s in splits for r in _pairwise(by_loss, s, significance)]},
        "stability": stability,
    }
