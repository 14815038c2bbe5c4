"""The lesion table as a reader uses it — sorted, filtered, stepped through ("next FN", "next FP") — and the
lesion-load summary (counts per McDonald 2017 region, total volume and count), Qt-free so both faces share it.

:class:`LesionList` holds the rows of the current threshold (``ReviewSession.lesions``) with a sort order, a
filter and the lesion in focus; :meth:`LesionList.set_rows` replaces the rows (every settled threshold) and keeps
the order, the filter and the focused lesion when it still exists. "Next" walks the *visible* rows in their sorted
order and wraps around.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

from LesionSegLogic.errors import InputError
from LesionSegLogic.regions import DIS_REGIONS, REGIONS

from .tables import LesionRow

STATUSES: tuple[str, ...] = ("TP", "FP", "FN")
#: sortable columns → the row's value (numbers sort numerically; NaN last either way)
SORT_KEYS: dict[str, Any] = {
    "id": lambda r: r.id,
    "kind": lambda r: r.kind,
    "status": lambda r: r.status,
    "volume_mm3": lambda r: r.volume_mm3,
    "max_probability": lambda r: r.max_probability,
    "mean_probability": lambda r: r.mean_probability,
    "region": lambda r: r.region,
    "slice": lambda r: r.slice_index,
    "cord_level_mm": lambda r: r.cord_level_mm,
}


@dataclass(frozen=True)
class LesionFilter:
    """Which rows show: an empty ``statuses``/``regions`` set means all; ``min_volume_mm3`` (mm³) drops smaller."""

    statuses: frozenset[str] = frozenset()
    regions: frozenset[str] = frozenset()
    min_volume_mm3: float = 0.0

    def keeps(self, row: LesionRow) -> bool:
        return ((not self.statuses or row.status in self.statuses)
                and (not self.regions or row.region in self.regions)
                and row.volume_mm3 >= self.min_volume_mm3)


@dataclass(frozen=True)
class LesionOrder:
    """Sort by ``column`` (a key of :data:`SORT_KEYS`); ties by kind then id, so the order is total. ``None``: the
    session's own order (predicted lesions by decreasing peak probability, then the reference lesions)."""

    column: str | None = None
    descending: bool = True

    def __post_init__(self) -> None:
        if self.column is not None and self.column not in SORT_KEYS:
            raise InputError(f"cannot sort the lesion table by {self.column!r} (have: {', '.join(SORT_KEYS)})")


def sorted_rows(rows: Iterable[LesionRow], order: LesionOrder) -> list[LesionRow]:
    """``rows`` in ``order``; missing values (NaN, ``None``) last in both directions, ties by (kind, id)."""
    if order.column is None:
        return list(rows)
    key = SORT_KEYS[order.column]
    rows = sorted(rows, key=lambda r: r.key)
    missing = [r for r in rows if _is_missing(key(r))]
    present = [r for r in rows if not _is_missing(key(r))]
    return sorted(present, key=key, reverse=order.descending) + missing


def _is_missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


class LesionList:
    """Sorted, filtered rows of one review and the lesion in focus (``focus``: a ``(kind, id)`` or ``None``)."""

    def __init__(self, rows: Sequence[LesionRow] = (), order: LesionOrder | None = None,
                 filter: LesionFilter | None = None) -> None:  # the reader's word
        self.order = order or LesionOrder()
        self.filter = filter or LesionFilter()
        self.focus: tuple[str, int] | None = None
        self._rows: tuple[LesionRow, ...] = tuple(rows)
        self._visible: list[LesionRow] | None = None

    # -------------------------------------------------------------------------------------------- contents
    @property
    def all_rows(self) -> tuple[LesionRow, ...]:
        return self._rows

    @property
    def rows(self) -> list[LesionRow]:
        """The visible rows, in order."""
        if self._visible is None:
            self._visible = sorted_rows((r for r in self._rows if self.filter.keeps(r)), self.order)
        return self._visible

    def set_rows(self, rows: Sequence[LesionRow]) -> None:
        """New rows (a new threshold); the focus is dropped when its lesion no longer exists."""
        self._rows = tuple(rows)
        self._visible = None
        if self.focus is not None and all(r.key != self.focus for r in self._rows):
            self.focus = None

    def sort_by(self, column: str, descending: bool | None = None) -> None:
        """Sort by ``column``; ``descending=None`` flips the direction when it is already the column (a header
        clicked twice), else starts descending for numbers and ascending for words."""
        if descending is None:
            if column == self.order.column:
                descending = not self.order.descending
            else:
                descending = column not in ("kind", "status", "region")
        self.order = LesionOrder(column, bool(descending))
        self._visible = None

    def set_filter(self, statuses: Iterable[str] | None = None, regions: Iterable[str] | None = None,
                   min_volume_mm3: float | None = None) -> None:
        """Change the parts of the filter given (``None``: keep); unknown statuses or regions are refused."""
        changes: dict[str, Any] = {}
        if statuses is not None:
            changes["statuses"] = _checked(statuses, STATUSES, "status")
        if regions is not None:
            changes["regions"] = _checked(regions, REGIONS, "region")
        if min_volume_mm3 is not None:
            changes["min_volume_mm3"] = max(0.0, float(min_volume_mm3))
        self.filter = replace(self.filter, **changes)
        self._visible = None

    # -------------------------------------------------------------------------------------------- stepping
    def focused_index(self) -> int | None:
        """Index of the focused lesion among the visible rows (``None``: no focus, or filtered out)."""
        for index, row in enumerate(self.rows):
            if row.key == self.focus:
                return index
        return None

    def focus_on(self, kind: str, lesion_id: int) -> LesionRow | None:
        for row in self._rows:
            if row.key == (kind, int(lesion_id)):
                self.focus = row.key
                return row
        return None

    def next(self, status: str, backwards: bool = False) -> LesionRow | None:
        """The next visible row with ``status`` after the focused one in the sorted order (before it with
        ``backwards``), wrapping around; it becomes the focus. ``None`` when no visible row has that status."""
        if status not in STATUSES:
            raise InputError(f"status must be one of {STATUSES}, got {status!r}")
        rows = self.rows
        if not rows:
            return None
        start = self.focused_index()
        n = len(rows)
        step = -1 if backwards else 1
        first = (start + step) if start is not None else (n - 1 if backwards else 0)
        for offset in range(n):
            row = rows[(first + step * offset) % n]
            if row.status == status:
                self.focus = row.key
                return row
        return None


@dataclass(frozen=True)
class LesionLoad:
    """Count and total volume (mm³) of one set of lesions, with counts per region (all of :data:`REGIONS`)."""

    count: int = 0
    volume_mm3: float = 0.0
    by_region: dict[str, int] = field(default_factory=dict)

    @property
    def dis_regions(self) -> int:
        """How many McDonald 2017 DIS areas hold at least one lesion (DIS needs ≥ 2; Thompson et al. 2018)."""
        return sum(1 for region in DIS_REGIONS if self.by_region.get(region, 0) > 0)


@dataclass(frozen=True)
class LoadSummary:
    """The lesion load at one threshold: the prediction's (all predicted lesions, TP and FP) and the reference's
    (``None`` without a reference); ``unlabelled``: rows without a region yet (the atlas is being made)."""

    predicted: LesionLoad
    reference: LesionLoad | None
    unlabelled: int = 0


def lesion_load(rows: Iterable[LesionRow]) -> LesionLoad:
    rows = list(rows)
    by_region = {region: 0 for region in REGIONS}
    for row in rows:
        if row.region in by_region:
            by_region[row.region] += 1
    return LesionLoad(len(rows), float(math.fsum(r.volume_mm3 for r in rows)), by_region)


def load_summary(rows: Sequence[LesionRow], has_reference: bool) -> LoadSummary:
    """:class:`LoadSummary` of the rows of one threshold (``ReviewSession.lesions``)."""
    predicted = lesion_load(r for r in rows if r.kind == "predicted")
    reference = lesion_load(r for r in rows if r.kind == "reference") if has_reference else None
    return LoadSummary(predicted, reference, sum(1 for r in rows if not r.region))


def _checked(values: Iterable[str], allowed: Sequence[str], what: str) -> frozenset[str]:
    values = frozenset(str(v) for v in values)
    unknown = sorted(values - set(allowed))
    if unknown:
        raise InputError(f"unknown {what}: {', '.join(unknown)} (have: {', '.join(allowed)})")
    return values


def describe_load(summary: LoadSummary) -> str:
    """The lesion load in one line for a panel: count, volume and counts per region, the prediction's then the
    reference's, and how many McDonald 2017 DIS areas each covers (Thompson et al. 2018)."""
    from LesionSegLogic.regions import REGION_TITLES

    def one(name: str, load: LesionLoad) -> str:
        regions = ", ".join(f"{REGION_TITLES[r]} {n}" for r, n in load.by_region.items() if n)
        text = f"{name}: {load.count} lesions, {load.volume_mm3:.1f} mm³"
        return f"{text} ({regions}; DIS areas {load.dis_regions})" if regions else text

    parts = [one("Predicted", summary.predicted)]
    if summary.reference is not None:
        parts.append(one("Reference", summary.reference))
    if summary.unlabelled and (summary.predicted.count or summary.reference):
        parts.append("regions not labelled yet")
    return " · ".join(parts)
