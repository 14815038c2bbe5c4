"""The report's figures as PNG files (matplotlib's object API with the Agg canvas: no pyplot, no global state).

* ``fig2_<set>.png``: Hussein et al. (2023) Fig. 2 — per-subject voxel-wise F1 box plots at every
  decision threshold, one panel per loss, the mean optimal threshold marked.
* ``seed_bands.png``: Cabezas & Diez (2024) Fig. 3 style — per epoch, the min–max band and the mean over
  the seeds (and folds) of each validation metric, one panel per metric, one colour per loss.
* ``stability.png``: the median V-F1 curves per loss (the curve the stability index reads).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from LesionSegLogic.study.vocabulary import BAND_COLUMNS, EVALUATION_SETS


def _figure(width: float, height: float) -> Any:
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Any, path: Path) -> Path:
    from LesionSegLogic.io.write import staged_file

    figure.tight_layout()
    with staged_file(path, what="figure") as staged:
        figure.savefig(staged, format="png")
    return path


def _mean_optimal(analysis: dict[str, Any], loss: str) -> float | None:
    values = [r["optimal_threshold"] for r in analysis["runs"] if r["loss"] == loss]
    return sum(values) / len(values) if values else None


def fig2(analysis: dict[str, Any], split: str, title: str, path: Path) -> Path:
    losses = analysis["losses"]
    grid = analysis["thresholds"]
    columns = min(2, len(losses))
    rows = (len(losses) + columns - 1) // columns
    figure = _figure(6.5 * columns, 3.0 * rows)
    labels = [f"{t:.2f}" for t in grid]
    for k, loss in enumerate(losses):
        ax = figure.add_subplot(rows, columns, k + 1)
        data = analysis["fig2"][split][loss]
        ax.boxplot([d if d else [float("nan")] for d in data], showfliers=True, widths=0.6,
                   flierprops={"markersize": 2})
        ax.set_xticks(range(1, len(grid) + 1), labels, rotation=90, fontsize=7)
        optimal = _mean_optimal(analysis, loss)
        if optimal is not None:
            position = 1 + min(range(len(grid)), key=lambda i: abs(grid[i] - optimal))
            ax.axvline(position, color="tab:red", lw=1, ls="--", label=f"mean optimal {optimal:.2f}")
            ax.legend(loc="lower center", fontsize=7)
        ax.set_ylim(0, 1)
        ax.set_title(loss, fontsize=10)
        ax.set_ylabel("V-F1 per subject", fontsize=8)
        ax.set_xlabel("decision threshold", fontsize=8)
    figure.suptitle(f"Voxel-wise F1 per subject at each threshold ({title})", fontsize=11)
    return _save(figure, path)


def seed_bands(analysis: dict[str, Any], path: Path) -> Path:
    figure = _figure(5.0 * len(BAND_COLUMNS), 3.6)
    colours = [f"C{i}" for i in range(10)]
    for k, (column, label) in enumerate(BAND_COLUMNS):
        ax = figure.add_subplot(1, len(BAND_COLUMNS), k + 1)
        for i, loss in enumerate(analysis["losses"]):
            band = analysis["bands"][loss]
            series = band[column]
            pts = [(e, lo, m, hi) for e, lo, m, hi in zip(band["epochs"], series["min"], series["mean"],
                                                          series["max"], strict=True) if m is not None]
            if not pts:
                continue
            e, lo, m, hi = zip(*pts, strict=True)
            colour = colours[i % len(colours)]
            ax.fill_between(e, lo, hi, color=colour, alpha=0.2, lw=0)
            ax.plot(e, m, color=colour, lw=1.5, label=loss)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("epoch", fontsize=8)
        if k == 0:
            ax.legend(fontsize=7)
    figure.suptitle("Per-epoch min / mean / max over seeds (and folds)", fontsize=11)
    return _save(figure, path)


def stability(analysis: dict[str, Any], path: Path) -> Path:
    figure = _figure(5.0 * len(EVALUATION_SETS), 3.6)
    grid = analysis["thresholds"]
    for k, (split, title) in enumerate(EVALUATION_SETS):
        ax = figure.add_subplot(1, len(EVALUATION_SETS), k + 1)
        for i, loss in enumerate(analysis["losses"]):
            data = analysis["fig2"][split][loss]
            medians = [float(np.median(d)) if d else float("nan") for d in data]
            ax.plot(grid, medians, marker=".", color=f"C{i % 10}", label=loss)
        ax.axvline(0.5, color="grey", lw=0.8, ls=":")
        ax.set_ylim(0, 1)
        ax.set_xlabel("decision threshold", fontsize=8)
        ax.set_ylabel("median V-F1 (pooled subjects)", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7)
    return _save(figure, path)


def write_figures(analysis: dict[str, Any], folder: Path) -> dict[str, Path]:
    """Every figure into ``folder``; returns ``{name: path}`` in report order."""
    paths = {f"fig2_{split}": fig2(analysis, split, title, folder / f"fig2_{split}.png")
             for split, title in EVALUATION_SETS}
    paths["seed_bands"] = seed_bands(analysis, folder / "seed_bands.png")
    paths["stability"] = stability(analysis, folder / "stability.png")
    return paths
