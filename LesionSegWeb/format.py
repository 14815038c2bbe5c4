"""Numbers from the session → short strings and table rows for the page (formatting only, no computing)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

#: (group, key, label) of the metrics table, in display order.
METRIC_LABELS: tuple[tuple[str, str, str], ...] = (
    ("lesion", "tp_reference", "Detected reference lesions (TP)"),
    ("lesion", "fp", "False-positive lesions (FP)"),
    ("lesion", "fn", "Missed lesions (FN)"),
    ("lesion", "n_reference", "Reference lesions"),
    ("lesion", "n_predicted", "Predicted lesions"),
    ("lesion", "sensitivity", "Lesion sensitivity"),
    ("lesion", "precision", "Lesion precision"),
    ("lesion", "f1", "Lesion F1"),
    ("voxel", "dice", "Dice"),
    ("voxel", "sensitivity", "Voxel sensitivity"),
    ("voxel", "precision", "Voxel precision"),
    ("surface", "hd95", "HD95 (mm)"),
    ("surface", "asd", "Mean surface distance (mm)"),
)


def number(value: Any, digits: int = 3) -> str:
    """``None``/NaN → "n/a" (an undefined ratio), integers as integers, others rounded."""
    if value is None:
        return "n/a"
    if isinstance(value, (bool, int)) or (isinstance(value, float) and value.is_integer() and abs(value) > 1):
        return str(int(value))
    value = float(value)
    if math.isnan(value):
        return "n/a"
    if math.isinf(value):
        return "∞"
    return f"{value:.{digits}f}"


def _get(metrics: Mapping[str, Any], group: str, key: str) -> Any:
    block = metrics.get(group) or {}
    return block.get(key) if isinstance(block, Mapping) else None


def metric_items(metrics: Mapping[str, Any]) -> list[dict[str, str]]:
    """Rows ``{group, name, value}`` for the metrics table (only metrics the engine reported)."""
    rows = []
    for group, key, label in METRIC_LABELS:
        block = metrics.get(group)
        if isinstance(block, Mapping) and key in block:
            rows.append({"group": group, "key": key, "name": label, "value": number(block[key])})
    return rows


def summary_line(
    metrics: Mapping[str, Any], has_reference: bool, threshold: float, n_lesions: int = 0
) -> str:
    """One line the page shows above the slider (the text tests read)."""
    head = f"t = {threshold:.2f}"
    if not has_reference:
        predicted = _get(metrics, "lesion", "n_predicted")
        return f"{head} · {number(predicted if predicted is not None else n_lesions)} predicted lesions"
    return (
        f"{head} · TP {number(_get(metrics, 'lesion', 'tp_reference'))}"
        f" · FP {number(_get(metrics, 'lesion', 'fp'))}"
        f" · FN {number(_get(metrics, 'lesion', 'fn'))}"
        f" · lesion F1 {number(_get(metrics, 'lesion', 'f1'), 2)}"
        f" · Dice {number(_get(metrics, 'voxel', 'dice'), 2)}"
    )
