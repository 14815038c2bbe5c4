"""What ``lesionseg evaluate`` and ``sweep`` print for people (stdout, by default): a few lines, the answer first.

The JSON (``--json OUT``, or ``--json -`` for stdout) holds everything; these tables are a view of the same
dictionaries, never a second computation. An undefined ratio (``null`` in the JSON) prints as ``n/a``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: rows of the sweep table (the best thresholds by the median objective, best first)
SWEEP_ROWS = 10
#: (column title, median-curve key) of the sweep table
SWEEP_COLUMNS = (
    ("voxel F1", "voxel.dice"), ("voxel sens", "voxel.sensitivity"), ("voxel prec", "voxel.precision"),
    ("lesion F1", "lesion.f1"), ("lesion sens", "lesion.sensitivity"), ("lesion prec", "lesion.precision"),
)  # fmt: skip


def ratio(value: Any) -> str:
    """A ratio to three decimals, ``n/a`` when undefined."""
    return "n/a" if value is None else f"{float(value):.3f}"


def _grid(rows: Sequence[Sequence[str]]) -> list[str]:
    """Rows of cells right-aligned under each other (the first column left-aligned), two spaces apart."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    def line(row: Sequence[str]) -> str:
        cells = zip(row, widths, strict=True)
        return "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(cells)).rstrip()

    return [line(row) for row in rows]


def evaluate_table(result: dict[str, Any]) -> str:
    """The ``evaluate`` dictionary as a short table: voxel and lesion counts and ratios, surface distances."""
    threshold = result.get("threshold")
    head = f"threshold {threshold:.2f}" if threshold is not None else "mask as given (no threshold)"
    lines = [f"{head}, rule {result.get('rule')}"]
    voxel, lesion = result.get("voxel") or {}, result.get("lesion") or {}
    lines += _grid([
        ("", "TP", "FP", "FN", "sensitivity", "precision", "F1"),
        ("voxel", *(str(voxel.get(k, "")) for k in ("tp", "fp", "fn")), ratio(voxel.get("sensitivity")),
         ratio(voxel.get("precision")), ratio(voxel.get("dice"))),
        ("lesion", *(str(lesion.get(k, "")) for k in ("tp_reference", "fp", "fn")),
         ratio(lesion.get("sensitivity")), ratio(lesion.get("precision")), ratio(lesion.get("f1"))),
    ])  # fmt: skip
    if lesion:
        lines.append(f"lesions: {lesion.get('n_reference')} reference, {lesion.get('n_predicted')} predicted "
                     f"(TP counts reference lesions found; {lesion.get('tp_predicted')} predicted lesions match)")
    surface = result.get("surface")
    if surface:
        parts = [f"{name.upper()} {'n/a' if surface.get(name) is None else f'{surface[name]:.2f}'}"
                 for name in ("hd", "hd95", "asd")]  # fmt: skip
        lines.append(f"surface distance (mm): {', '.join(parts)}")
    if result.get("apr") is not None:
        lines.append(f"average precision (voxel-wise, over all thresholds): {ratio(result['apr'])}")
    return "\n".join(lines) + "\n"


def sweep_table(data: dict[str, Any], rows: int = SWEEP_ROWS) -> str:
    """The sweep as a short table: the best threshold first, then the top ``rows`` thresholds by the median
    objective (best first) with the median curves, then each subject's own best threshold."""
    objective = data["objective"]
    subjects = data.get("subjects") or []
    best = data.get("best_threshold")
    if best is None:
        lines = [f"no threshold has a defined median {objective} (rule {data.get('rule')})"]
    else:
        lines = [f"best threshold {best:.2f}: median {objective} {ratio(data.get('best_value'))} over "
                 f"{len(subjects)} subject(s), rule {data.get('rule')}"]
    from LesionSegLogic.threshold.sweep import OBJECTIVES

    key = ".".join(OBJECTIVES.get(objective, next(iter(OBJECTIVES.values()))))
    median = data.get("median") or {}
    thresholds = data.get("thresholds") or []
    scored = [(median.get(key, [None] * len(thresholds))[i], t, i) for i, t in enumerate(thresholds)]
    ranked = sorted((s for s in scored if s[0] is not None), key=lambda s: (-s[0], abs(s[1] - 0.5), s[1]))
    table = [("threshold", *(title for title, _ in SWEEP_COLUMNS))]
    for _, t, i in ranked[:rows]:
        mark = " *" if best is not None and t == best else ""
        table.append((f"{t:.2f}{mark}", *(ratio((median.get(k) or [None] * len(thresholds))[i])
                                          for _, k in SWEEP_COLUMNS)))  # fmt: skip
    lines.append(f"median over subjects, the {min(rows, len(ranked))} best of {len(thresholds)} thresholds "
                 f"by {objective} (* = best):")
    lines += _grid(table)
    for subject in subjects:
        lines.append(f"  {subject['name']}: own best {_subject_best(subject, key, objective)}")
    lines.append("every threshold and subject: --json OUT (or --json - for stdout)")
    return "\n".join(lines) + "\n"


def _subject_best(subject: dict[str, Any], key: str, objective: str) -> str:
    block, name = key.split(".")
    points = [(m[block].get(name), m["threshold"]) for m in subject.get("curve", []) if m[block].get(name) is not None]
    if not points:
        return "n/a"
    value, threshold = max(points, key=lambda p: (p[0], -abs(p[1] - 0.5), -p[1]))
    return f"{threshold:.2f} ({objective} {value:.3f})"
