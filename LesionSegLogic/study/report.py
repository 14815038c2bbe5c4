"""Write a study's outputs: ``tables/*.csv``, ``figures/*.png``, ``report.html`` (one offline file: figures
embedded as base64 PNG, no script, no CDN) and ``study.json`` (the configuration, every analysed number and every
job's per-subject curves). All files are written atomically (:mod:`LesionSegLogic.io.write`)."""

from __future__ import annotations

import base64
import csv
import html
import io
from pathlib import Path
from typing import Any

import numpy as np

from LesionSegLogic.study.vocabulary import BAND_COLUMNS, EVALUATION_SETS, PATIENT_METRICS, SUBJECT_METRICS

SET_TITLES = dict(EVALUATION_SETS)
COLUMNS = [(m.key, m.label) for m in SUBJECT_METRICS] + list(PATIENT_METRICS)
LABELS = dict(COLUMNS)


def _fmt(value: float | None, digits: int = 3) -> str:
    return "–" if value is None else f"{value:.{digits}f}"


def _cell(summary: dict[str, Any]) -> str:
    if summary["median"] is None:
        return "–"
    return f"{summary['median']:.3f} ({summary['mean']:.3f} ± {summary['std']:.3f})"


def _csv_text(header: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(["" if v is None else v for v in row] for row in rows)
    return buffer.getvalue()


def table_csvs(analysis: dict[str, Any]) -> dict[str, str]:
    """``{file name: CSV text}`` of every table."""
    stats = ("median", "mean", "std", "n")
    out: dict[str, str] = {}
    for name in ("table1", "table2"):
        header = ["loss", "set", "runs"]
        if name == "table2":
            header += [f"optimal_threshold_{s}" for s in stats]
        header += [f"{key}_{s}" for key, _ in COLUMNS for s in stats]
        if name == "table2":
            header += [f"{m.key}_{x}" for m in SUBJECT_METRICS for x in ("wilcoxon_p", "significant")]
        rows = []
        for row in analysis[name]:
            values: list[Any] = [row["loss"], row["set"], row["runs"]]
            if name == "table2":
                values += [row["optimal_threshold"][s] for s in stats]
            values += [row["cells"][key][s] for key, _ in COLUMNS for s in stats]
            if name == "table2":
                for m in SUBJECT_METRICS:
                    test = row["wilcoxon_vs_0.5"][m.key]
                    values += [test["pvalue"], int(test["significant"])]
            rows.append(values)
        out[f"{name}.csv"] = _csv_text(header, rows)
    pair_keys = ["set", "metric", "a", "b", "n", "median_difference", "pvalue", "pvalue_holm", "significant"]
    out["pairwise.csv"] = _csv_text(pair_keys, [[r[k] for k in pair_keys] for r in analysis["pairwise"]["rows"]])
    stab_keys = [k for k in analysis["stability"][0] if k not in ("loss", "set")] if analysis["stability"] else []
    out["stability.csv"] = _csv_text(
        ["loss", "set"] + [f"{k}_{s}" for k in stab_keys for s in stats],
        [[r["loss"], r["set"]] + [r[k][s] for k in stab_keys for s in stats] for r in analysis["stability"]],
    )
    run_keys = ["key", "loss", "seed", "fold", "optimal_threshold", "optimal_objective", "best_epoch", "seconds"]
    out["runs.csv"] = _csv_text(run_keys, [[r[k] for k in run_keys] for r in analysis["runs"]])
    band_rows = []
    for loss, band in analysis["bands"].items():
        for column, _ in BAND_COLUMNS:
            for i, epoch in enumerate(band["epochs"]):
                band_rows.append([loss, column, epoch] + [band[column][s][i] for s in ("min", "mean", "max")])
    out["seed_bands.csv"] = _csv_text(["loss", "column", "epoch", "min", "mean", "max"], band_rows)
    fig_rows = []
    for split, per_loss in analysis["fig2"].items():
        for loss, columns in per_loss.items():
            for t, values in zip(analysis["thresholds"], columns, strict=True):
                quartiles = [float(np.quantile(values, q)) if values else None for q in (0.25, 0.5, 0.75)]
                fig_rows.append([split, loss, t, len(values), *quartiles])
    out["fig2_vf1.csv"] = _csv_text(["set", "loss", "threshold", "n", "q1", "median", "q3"], fig_rows)
    return out


def _table_html(analysis: dict[str, Any], name: str) -> str:
    optimal = name == "table2"
    head = "<tr><th>loss</th><th>set</th>" + ("<th>optimal threshold</th>" if optimal else "")
    head += "".join(f"<th>{html.escape(label)}</th>" for _, label in COLUMNS) + "</tr>"
    body = []
    for row in analysis[name]:
        cells = [f"<td>{html.escape(row['loss'])}</td><td>{SET_TITLES[row['set']]}</td>"]
        if optimal:
            cells.append(f"<td>{_cell(row['optimal_threshold'])}</td>")
        for key, _ in COLUMNS:
            test = row.get("wilcoxon_vs_0.5", {}).get(key)
            text = _cell(row["cells"][key])
            if test and test["significant"]:
                cells.append(f"<td class='sig' title='Wilcoxon vs 0.5: p = {test['pvalue']:.3g}'><b>{text}</b> *</td>")
            elif test:
                cells.append(f"<td title='Wilcoxon vs 0.5: p = {test['pvalue']:.3g}'>{text}</td>")
            else:
                cells.append(f"<td>{text}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _pairwise_html(analysis: dict[str, Any]) -> str:
    rows = [r for r in analysis["pairwise"]["rows"] if r["metric"] in ("voxel_f1", "lesion_f1")]
    head = ("<tr><th>set</th><th>metric</th><th>loss A</th><th>loss B</th><th>pairs</th>"
            "<th>median A − B</th><th>p</th><th>p (Holm)</th></tr>")
    body = "".join(
        f"<tr><td>{SET_TITLES[r['set']]}</td><td>{LABELS[r['metric']]}</td><td>{html.escape(r['a'])}</td>"
        f"<td>{html.escape(r['b'])}</td><td>{r['n']}</td><td>{_fmt(r['median_difference'])}</td>"
        f"<td>{r['pvalue']:.3g}</td><td{' class=sig' if r['significant'] else ''}>{r['pvalue_holm']:.3g}"
        f"{' *' if r['significant'] else ''}</td></tr>"
        for r in rows
    )
    return f"<table>{head}{body}</table>"


def _stability_html(analysis: dict[str, Any]) -> str:
    keys = [k for k in analysis["stability"][0] if k not in ("loss", "set")] if analysis["stability"] else []
    head = "<tr><th>loss</th><th>set</th>" + "".join(f"<th>{k.replace('_', ' ')}</th>" for k in keys) + "</tr>"
    body = "".join(
        f"<tr><td>{html.escape(r['loss'])}</td><td>{SET_TITLES[r['set']]}</td>"
        + "".join(f"<td>{_cell(r[k])}</td>" for k in keys) + "</tr>"
        for r in analysis["stability"]
    )
    return f"<table>{head}{body}</table>"


def _effects_html(analysis: dict[str, Any]) -> str:
    """One row per loss and set: the optimal threshold, the paired median gain of V-F1 and L-F1 over 0.5 (the
    Wilcoxon rows of Table 2) and the relative V-F1 drop within ±0.05 (the stability index)."""
    stability = {(r["loss"], r["set"]): r for r in analysis["stability"]}
    head = ("<tr><th>loss</th><th>set</th><th>optimal threshold (median)</th><th>V-F1 gain over 0.5 (median, p)</th>"
            "<th>L-F1 gain over 0.5 (median, p)</th><th>V-F1 relative drop within ±0.05 (median)</th></tr>")
    body = []
    for row in analysis["table2"]:
        tests = row["wilcoxon_vs_0.5"]
        gains = "".join(
            f"<td{' class=sig' if tests[k]['significant'] else ''}>{_fmt(tests[k]['median_difference'])} "
            f"(p = {tests[k]['pvalue']:.3g})</td>" for k in ("voxel_f1", "lesion_f1")
        )
        drop = stability[(row["loss"], row["set"])]["relative_drop_0.05"]["median"]
        body.append(f"<tr><td>{html.escape(row['loss'])}</td><td>{SET_TITLES[row['set']]}</td>"
                    f"<td>{_fmt(row['optimal_threshold']['median'], 2)}</td>{gains}<td>{_fmt(drop)}</td></tr>")
    return f"<table>{head}{''.join(body)}</table>"


def _image(path: Path, alt: str) -> str:
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    return f"<figure><img alt='{html.escape(alt)}' src='data:image/png;base64,{data}'><figcaption>" \
           f"{html.escape(alt)} (<code>figures/{path.name}</code>)</figcaption></figure>"


STYLE = """body{font-family:sans-serif;max-width:1400px;margin:1em auto;padding:0 1em;color:#222}
table{border-collapse:collapse;font-size:12px;margin:0.5em 0 1.5em}td,th{border:1px solid #bbb;padding:3px 6px}
th{background:#eee}.sig{background:#fde9c8}img{max-width:100%}figure{margin:1em 0}code{background:#f3f3f3}"""


def report_html(
    config: dict[str, Any], analysis: dict[str, Any], figures: dict[str, Path], meta: dict[str, Any]
) -> str:
    esc = html.escape
    losses = ", ".join(esc(x) for x in analysis["losses"])
    alpha = analysis["significance"]
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>LesionSeg study {esc(config['name'])}</title>",
        f"<style>{STYLE}</style></head><body>",
        f"<h1>LesionSeg study: {esc(config['name'])}</h1>",
        f"<p>Losses: {losses}; seeds {config['seeds']}; folds {config['splits']['folds']}; objective "
        f"<b>{esc(config['objective'])}</b> (median over the threshold-optimisation subjects), matching rule "
        f"<b>{esc(meta['rule'])}</b>; threshold grid {analysis['thresholds'][0]:g}…{analysis['thresholds'][-1]:g} "
        f"({len(analysis['thresholds'])} values). {meta['n_jobs']} jobs: {meta['ran']} run by the invocation "
        f"that wrote this report (wall time {meta['wall_seconds']:.0f} s); the jobs' own wall times sum to "
        f"{sum(r['seconds'] for r in analysis['runs']):.0f} s. Cells: median (mean ± std); per-subject metrics "
        "pooled over the runs' subjects with lesions, patient-level metrics over runs. See "
        "<code>docs/study.md</code>.</p>",
        "<h2>What the threshold does, per loss</h2>",
        "<p>Paired per-subject gain of the optimal threshold over 0.5 (highlighted: Wilcoxon p ≤ "
        f"{alpha:g}) and how fast the median V-F1 falls off around the optimum.</p>",
        _effects_html(analysis),
        "<h2>Table 1 — decision threshold 0.5 (Hussein et al. 2023, Table 1)</h2>",
        _table_html(analysis, "table1"),
        "<h2>Table 2 — optimal decision threshold (Hussein et al. 2023, Table 2)</h2>",
        f"<p>Highlighted with *: Wilcoxon signed-rank test between 0.5 and the optimal threshold, p ≤ {alpha:g} "
        "(pairs: the same run and subject; hover a cell for p). Patient-level metrics are not tested.</p>",
        _table_html(analysis, "table2"),
        "<h2>Fig. 2 — V-F1 per subject at each threshold (Hussein et al. 2023, Fig. 2)</h2>",
        *[_image(figures[f"fig2_{s}"], f"Fig. 2, {t}") for s, t in EVALUATION_SETS],
        "<h2>Seed bands (Cabezas &amp; Diez 2024, Fig. 3)</h2>",
        _image(figures["seed_bands"], "per-epoch min/mean/max over seeds of the validation metrics"),
        "<h2>Losses compared at their optimal thresholds</h2>",
        f"<p>Wilcoxon signed-rank, paired by (seed, fold, subject); correction: "
        f"{esc(analysis['pairwise']['correction'])} over the loss pairs of each metric and set; * p<sub>Holm</sub> ≤ "
        f"{alpha:g}. All six metrics: <code>tables/pairwise.csv</code>.</p>",
        _pairwise_html(analysis),
        "<h2>Stability index</h2>",
        "<p>Drop of the median V-F1 from the optimal threshold to the worst threshold within ±0.05 / ±0.1 of it "
        "(absolute, and relative to the optimum), per run, summarised over the runs; the grid's ends 0 (every "
        "voxel) and 1 (only probabilities of exactly 1) are not operating points and are left out of the window.</p>",
        _stability_html(analysis),
        _image(figures["stability"], "median V-F1 per threshold"),
        "<p>Tables as CSV: <code>tables/</code>; every number: <code>study.json</code>; models: "
        "<code>runs/&lt;loss&gt;/seed&lt;S&gt;-fold&lt;F&gt;/model/</code>; maps: <code>…/maps/</code>.</p>",
        "</body></html>",
    ]
    return "\n".join(parts)


def write_report(
    out: Path, config: dict[str, Any], analysis: dict[str, Any], results: list[dict[str, Any]], meta: dict[str, Any]
) -> Path:
    """Write tables, figures, ``report.html`` and ``study.json``; returns the report path."""
    from LesionSegLogic.io.write import write_json, write_text
    from LesionSegLogic.study.figures import write_figures

    for name, text in table_csvs(analysis).items():
        write_text(out / "tables" / name, text, what="table")
    figures = write_figures(analysis, out / "figures")
    write_json(out / "study.json", {"config": config, "meta": meta, "analysis": analysis, "jobs": results}, indent=1)
    return write_text(out / "report.html", report_html(config, analysis, figures, meta), what="report")
