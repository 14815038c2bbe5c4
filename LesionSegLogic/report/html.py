"""The review report as one self-contained HTML file: pictures embedded as ``data:`` PNGs, inline CSS, no script and
no external address, so it opens offline and can be mailed or archived as is.

Sections (element ids, in order): ``summary`` (threshold, rule, model, the metrics), ``load`` (lesion load and
region counts: the McDonald 2017 DIS view, Thompson et al. 2018), ``key-slices`` (the axial slices holding the most
lesion volume), ``review-picture`` (the TP/FP/FN picture), ``curve`` (the threshold curve), ``lesions`` (the lesion
table: missed lesions first) and ``provenance`` (input files and sha256, model card and version, threshold, rule,
LesionSeg version, UTC time). Every text that comes from the user or a file (file names, notes, model names) is
HTML-escaped.
"""

from __future__ import annotations

import base64
import os
from collections.abc import Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any

from LesionSegLogic.report.data import ReportData
from LesionSegLogic.report.figures import curve_png, key_slice_pngs, review_picture_png

#: the report's section ids and headings, in order (tests and readers rely on these)
SECTIONS: tuple[tuple[str, str], ...] = (
    ("summary", "Summary"), ("load", "Lesion load and regions"), ("key-slices", "Key slices"),
    ("review-picture", "TP / FP / FN picture"), ("curve", "Threshold curve"), ("lesions", "Lesions"),
    ("provenance", "Provenance"),
)
#: (group, key, label) of the summary's metrics table
SUMMARY_METRICS: tuple[tuple[str, str, str], ...] = (
    ("lesion", "tp_reference", "Detected reference lesions (TP)"), ("lesion", "fp", "False-positive lesions (FP)"),
    ("lesion", "fn", "Missed lesions (FN)"), ("lesion", "n_reference", "Reference lesions"),
    ("lesion", "n_predicted", "Predicted lesions"), ("lesion", "sensitivity", "Lesion sensitivity"),
    ("lesion", "precision", "Lesion precision"), ("lesion", "f1", "Lesion F1"), ("voxel", "dice", "Dice"),
    ("voxel", "sensitivity", "Voxel sensitivity"), ("voxel", "precision", "Voxel precision"),
    ("surface", "hd95", "HD95 (mm)"), ("surface", "asd", "Mean surface distance (mm)"),
)
_STYLE = """
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1100px; color: #222; }
h1 { font-size: 1.5em; margin-bottom: 0.2em; }
h2 { font-size: 1.15em; margin-top: 1.6em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; font-size: 0.88em; } td, th { border: 1px solid #ddd; padding: 2px 8px; }
th { background: #f2f2f2; text-align: left; } td.n { text-align: right; font-variant-numeric: tabular-nums; }
.muted { color: #666; font-size: 0.88em; } figure { display: inline-block; margin: 0 12px 12px 0; }
figcaption { font-size: 0.85em; color: #444; } .TP { color: #127a2c; } .FP { color: #c0201a; } .FN { color: #1f4fd0; }
code { font-size: 0.85em; word-break: break-all; }
"""


def _text(value: Any) -> str:
    return escape("" if value is None else str(value), quote=True)


def _number(value: Any, digits: int = 3) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, (bool, int)):
        return str(int(value))
    return f"{float(value):.{digits}f}"


def _image(png: bytes, alt: str, width: int | None = None) -> str:
    size = f' width="{width}"' if width else ""
    return f'<img alt="{_text(alt)}"{size} src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">'


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], numeric: Sequence[bool] = ()) -> str:
    """An HTML table; ``rows`` hold already-escaped cells."""
    header = "".join(f"<th>{_text(h)}</th>" for h in head)
    body = []
    for row in rows:
        cells = "".join(f'<td class="n">{c}</td>' if i < len(numeric) and numeric[i] else f"<td>{c}</td>"
                        for i, c in enumerate(row))
        body.append(f"<tr>{cells}</tr>")
    return f"<table><thead><tr>{header}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def _summary(data: ReportData) -> str:
    lines = [f"<p>Threshold <b>{data.threshold:.2f}</b>"
             + (f" (recommended {data.recommended_threshold:.2f})" if data.recommended_threshold is not None else "")
             + f" · matching rule <b>{_text(data.rule)}</b> · overlay {_text(data.mode)}-wise"
             + (f" · model <b>{_text(data.model_name)}</b>" if data.model_name else "") + "</p>"]
    rows = []
    for group, key, label in SUMMARY_METRICS:
        block = data.metrics.get(group)
        if isinstance(block, dict) and key in block:
            rows.append([_text(label), _number(block[key])])
    lines.append(_table(["Metric", "Value"], rows, numeric=(False, True)) if rows else
                 '<p class="muted">No reference: no TP/FP/FN metrics.</p>')
    return "".join(lines)


def _load(data: ReportData) -> str:
    from LesionSegLogic.regions import DIS_REGIONS, REGION_TITLES  # scipy/SimpleITK on use

    kinds = ["predicted"] + (["reference"] if any(r.kind == "reference" for r in data.lesions) else [])
    rows = []
    for kind in kinds:
        count, volume = data.load(kind)
        rows.append([_text(f"{kind} lesions"), str(count), f"{volume:.1f}"])
    parts = [_table(["", "Count", "Total volume (mm³)"], rows, numeric=(False, True, True))]
    if data.regions_method is None:
        parts.append('<p class="muted">Regions were not computed for this report (counts without regions).</p>')
        return "".join(parts)
    region_rows = []
    counts = {kind: data.region_counts(kind) for kind in kinds}
    for region in REGION_TITLES:
        if all(region not in counts[kind] for kind in kinds):
            continue
        cells = [_text(REGION_TITLES[region] + (" (DIS area)" if region in DIS_REGIONS else ""))]
        for kind in kinds:
            n, volume = counts[kind].get(region, (0, 0.0))
            cells += [str(n), f"{volume:.1f}"]
        region_rows.append(cells)
    head = ["Region"] + [h for kind in kinds for h in (f"{kind} count", f"{kind} volume (mm³)")]
    parts.append(_table(head, region_rows, numeric=(False, *([True] * (2 * len(kinds))))))
    parts.append(f'<p class="muted">Regions: {_text(data.regions_method)}. McDonald 2017 dissemination in space '
                 "counts periventricular, cortical/juxtacortical, infratentorial and spinal-cord lesions "
                 "(Thompson et al. 2018).</p>")
    return "".join(parts)


def _key_slices(data: ReportData) -> str:
    figures = [f"<figure>{_image(png, f'axial slice {index}', 300)}<figcaption>axial slice {index} · {voxels} "
               "lesion voxels</figcaption></figure>" for index, voxels, png in key_slice_pngs(data)]
    legend = ('<p class="muted"><span class="TP">■ TP</span> · <span class="FP">■ FP</span> · '
              '<span class="FN">■ FN</span> (a missed lesion stays blue where a prediction covers it) · '
              "yellow: predicted (no reference)</p>")
    return "".join(figures) + legend


def _picture(data: ReportData) -> str:
    png = review_picture_png(data)
    return _image(png, "TP/FP/FN review picture", 1000) if png else '<p class="muted">No picture.</p>'


def _curve(data: ReportData) -> str:
    png = curve_png(data)
    return _image(png, "threshold curve", 640) if png else '<p class="muted">No reference: no threshold curve.</p>'


def _lesions(data: ReportData) -> str:
    regions = data.regions_method is not None
    head = ["#", "Kind", "Status", "Volume (mm³)", "Voxels", "R (mm)", "A (mm)", "S (mm)", "Max p", "Mean p",
            *(["Region"] if regions else []), "Note"]
    rows = []
    for number, row in enumerate(data.lesions, start=1):
        status = f'<span class="{_text(row.status)}">{_text(row.status)}</span>' if row.status else ""
        rows.append([str(number), _text(row.kind), status, f"{row.volume_mm3:.1f}", str(row.voxels),
                     *(f"{round(c, 1) + 0.0:.1f}" for c in row.centroid_ras), _number(row.max_probability, 2),
                     _number(row.mean_probability, 2), *([_text(row.region or "")] if regions else []),
                     _text(row.note)])
    numeric = (True, False, False, True, True, True, True, True, True, True)
    note = '<p class="muted">Centroids in RAS millimetres; missed (FN) lesions first, then FP, then TP.</p>'
    return note + _table(head, rows, numeric) if rows else '<p class="muted">No lesions at this threshold.</p>'


def _provenance(data: ReportData) -> str:
    block = data.provenance
    inputs = [[_text(i.get("role")), f"<code>{_text(i.get('path') or '(in memory)')}</code>",
               f"<code>{_text(i.get('sha256') or '')}</code>"] for i in block.get("inputs") or []]
    models = [[_text(m.get("name")), f"<code>{_text(m.get('card_sha256') or '')}</code>",
               _text(m.get("card_format_version")), f"<code>{_text(m.get('weights_sha256') or '')}</code>"]
              for m in block.get("models") or []]
    facts = [["LesionSeg version", _text(block.get("lesionseg_version"))],
             ["Created (UTC)", _text(block.get("created_utc"))],
             ["Threshold", _number(block.get("threshold"), 2) if block.get("threshold") is not None else "n/a"],
             ["Matching rule", _text(block.get("rule"))]]
    if data.accepted_name:
        facts.append(["Accepted segmentation", _text(data.accepted_name)])
    parts = [_table(["", ""], facts), "<h3>Input files</h3>", _table(["Role", "Path", "sha256"], inputs)]
    parts += ["<h3>Model</h3>", _table(["Name", "Card sha256", "Card format", "Weights sha256"], models) if models
              else '<p class="muted">No model card recorded (a probability map given as is).</p>']
    return "".join(parts)


_RENDERERS = {"summary": _summary, "load": _load, "key-slices": _key_slices, "review-picture": _picture,
              "curve": _curve, "lesions": _lesions, "provenance": _provenance}


def render_html(data: ReportData) -> str:
    """The whole report page (see the module docstring)."""
    created = _text(data.provenance.get("created_utc"))
    body = [f"<h1>{_text(data.title)}</h1>",
            f'<p class="muted">LesionSeg {_text(data.provenance.get("lesionseg_version"))} · {created} · '
            "a research tool, not a medical device.</p>"]
    for section, heading in SECTIONS:
        body.append(f'<section id="{section}"><h2>{_text(heading)}</h2>{_RENDERERS[section](data)}</section>')
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_text(data.title)}</title><style>{_STYLE}</style></head><body>{''.join(body)}</body></html>\n")


def write_report(data: ReportData, path: str | os.PathLike[str], *, protect: Iterable[str | os.PathLike[str]] = ()
                 ) -> Path:
    """Write the report atomically (the one writer, :func:`LesionSegLogic.io.write.write_text`), never over
    ``protect`` (the review's inputs)."""
    from LesionSegLogic.io.write import write_text
    from LesionSegLogic.io.write_policy import refuse_inputs

    refuse_inputs([path], protect)
    return write_text(path, render_html(data), what="report")
