"""The web page's lesion table and lesion-load summary: :class:`LesionSegLib.lesion_list.LesionList` (sort,
filter, next FN/FP — shared with the desktop panel) copied into trame state variables the page renders.

State variables (the page's contract; tests read them):

``lesions`` (the visible rows, in order: ``{key, id, kind, status, volume, pmax, pmean, region, region_title,
slice}``) · ``lesion_count`` (all rows at this threshold) · ``lesion_sort``/``lesion_descending`` ·
``lesion_statuses``/``lesion_regions`` (the active filter chips; empty: all) · ``lesion_min_volume`` (mm³; smaller
lesions hidden) · ``region_choices`` (``[{value, title, short, count}]`` of the regions present) · ``lesion_focus``
(``"kind:id"`` of the lesion last jumped to) · ``lesion_scroll`` (its index among the visible rows, −1 when hidden;
the page scrolls the virtual list to it) · ``load`` (the lesion-load summary: ``{predicted, reference, regions:
[{title, predicted, reference, dis}], dis, method}``).

Every change comes from a server call with arguments (a header click, a chip, a button, the N/P keys); the
arguments are checked by :class:`LesionList` (an unknown column, status or region is refused in the panel).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Callable, Sequence
from typing import Any

from LesionSegLib.lesion_list import LesionList, LoadSummary, load_summary
from LesionSegLib.tables import LesionRow

from LesionSegLogic.errors import InputError
from LesionSegLogic.regions import DIS_REGIONS, REGION_TITLES, REGIONS

from .format import number

#: short region names for the compact table (the full title is the cell's tooltip)
REGION_SHORT: dict[str, str] = {"periventricular": "PV", "juxtacortical": "JC", "deep_white_matter": "DWM",
                                "infratentorial": "IT", "spinal_cord": "SC"}


def initial_state() -> dict[str, Any]:
    return {"lesions": [], "lesion_count": 0, "lesion_sort": "", "lesion_descending": True, "lesion_statuses": [],
            "lesion_regions": [], "lesion_min_volume": 0.0, "region_choices": [], "lesion_focus": "",
            "lesion_scroll": -1, "load": empty_load()}


def empty_load() -> dict[str, Any]:
    return {"predicted": "", "reference": "", "regions": [], "dis": "", "method": ""}


def row_item(row: LesionRow) -> dict[str, Any]:
    """One row as the page shows it: the maximum with 4 digits (rows near 1 differ), the mean with 2."""
    return {"key": f"{row.kind}:{row.id}", "id": int(row.id), "kind": row.kind or "predicted", "status": row.status,
            "volume": number(row.volume_mm3, 1), "pmax": number(row.max_probability, 4),
            "pmean": number(row.mean_probability, 2), "region": REGION_SHORT.get(row.region, ""),
            "region_title": _region_title(row),
            "slice": "" if row.slice_index < 0 else str(row.slice_index)}


def _region_title(row: LesionRow) -> str:
    title = REGION_TITLES.get(row.region, "")
    if row.region == "spinal_cord" and row.cord_level_mm is not None:
        title += f", {row.cord_level_mm:.0f} mm below the top of the image"
    return title


def load_items(summary: LoadSummary, method: str) -> dict[str, Any]:
    """The lesion-load block: totals, and counts per region (McDonald 2017 DIS areas marked)."""
    def total(load) -> str:
        if load is None:
            return ""
        return f"{load.count} lesions · {number(load.volume_mm3, 1)} mm³"

    reference = summary.reference
    rows = [{"region": region, "title": REGION_TITLES[region], "dis": region in DIS_REGIONS,
             "predicted": summary.predicted.by_region.get(region, 0),
             "reference": "" if reference is None else reference.by_region.get(region, 0)}
            for region in REGIONS
            if summary.predicted.by_region.get(region, 0) or (reference and reference.by_region.get(region, 0))]
    dis = f"DIS areas: predicted {summary.predicted.dis_regions}"
    if reference is not None:
        dis += f", reference {reference.dis_regions}"
    return {"predicted": total(summary.predicted), "reference": total(reference), "regions": rows,
            "dis": dis + " (McDonald 2017 needs ≥ 2)" if rows else "", "method": method}


class LesionTable:
    """One page's lesion table. ``jump(kind, id)`` moves the views (the binding's jump); ``guard`` runs an action and
    shows a refused one in the panel (the binding's ``_guard``)."""

    def __init__(self, state: Any, jump: Callable[[int, str], None], guard: Callable[[Callable[[], Any]], bool]
                 ) -> None:
        self.state = state
        self.list = LesionList()
        self._jump = jump
        self._guard = guard
        self.brain_maps = BrainMapsOnce()
        state.update(initial_state())

    def show(self, rows: Sequence[LesionRow], has_reference: bool, method: str = "") -> None:
        """The rows of a settled threshold: the list keeps its order, filter and focus; the summary follows."""
        self.list.set_rows(rows)
        summary = load_summary(rows, has_reference)
        self.state.load = load_items(summary, method) if rows or has_reference else empty_load()
        present = {row.region for row in rows if row.region}
        reference = summary.reference
        self.state.region_choices = [
            {"value": r, "title": REGION_TITLES[r], "short": REGION_SHORT[r],
             "count": str(summary.predicted.by_region[r]) + ("" if reference is None else f"/{reference.by_region[r]}")}
            for r in REGIONS if r in present]
        self._publish()

    def atlas_for(self, flair: Any, reference: Any, folder: Any) -> Any:
        """:func:`atlas_for_inputs` with this table's anatomy maps (loaded once per page)."""
        return atlas_for_inputs(flair, reference, folder, self.brain_maps)

    def clear(self) -> None:
        self.list.set_rows(())
        self.state.load = empty_load()
        self.state.region_choices = []
        self._publish()

    def _publish(self) -> None:
        s, table = self.state, self.list
        s.lesions = [row_item(r) for r in table.rows]
        s.lesion_count = len(table.all_rows)
        s.lesion_sort, s.lesion_descending = table.order.column or "", table.order.descending
        s.lesion_statuses, s.lesion_regions = sorted(table.filter.statuses), sorted(table.filter.regions)
        s.lesion_min_volume = table.filter.min_volume_mm3
        s.lesion_focus = "" if table.focus is None else f"{table.focus[0]}:{table.focus[1]}"
        index = table.focused_index()
        s.lesion_scroll = -1 if index is None else index

    # ------------------------------------------------------------------------------------------ user actions
    def sort(self, column: str) -> None:
        """A column header: sort by it (again: the other direction)."""
        if self._guard(lambda: self.list.sort_by(str(column))):
            self._publish()

    def toggle_status(self, status: str) -> None:
        """A status chip: show only the checked statuses (none checked: all)."""
        self._toggle("statuses", status)

    def toggle_region(self, region: str) -> None:
        """A region chip: show only the checked regions (none checked: all)."""
        self._toggle("regions", region)

    def _toggle(self, part: str, value: str) -> None:
        chosen = set(getattr(self.list.filter, part)) ^ {str(value)}
        if self._guard(lambda: self.list.set_filter(**{part: chosen})):
            self._publish()

    def set_min_volume(self, text: Any) -> None:
        """The "≥ mm³" field: hide lesions smaller than this volume (empty: no limit)."""
        def change() -> None:
            raw = str(text if text is not None else "").strip()
            try:
                value = float(raw) if raw else 0.0
            except ValueError:
                raise InputError(f"minimum lesion volume must be a number of mm³, got {raw[:20]!r}") from None
            if not math.isfinite(value):
                raise InputError("minimum lesion volume must be a finite number of mm³")
            self.list.set_filter(min_volume_mm3=value)
        if self._guard(change):
            self._publish()

    def next(self, status: str, backwards: bool = False) -> None:
        """"Next FN"/"Next FP" (keys N/P; with Shift: the previous one): the next visible lesion with ``status`` in the
        table's order after the one in focus, wrapping; the views go there (centred, zoomed, marked)."""
        def step() -> str | None:
            row = self.list.next(str(status), backwards=bool(backwards))
            if row is None:
                return f"No {status} lesion in the table (check the filters)."
            self._jump(row.id, row.kind)
            return None
        self._guard(step)
        self._publish()

    def key_next(self, key: str, shift: bool = False) -> None:
        """The N and P keys (the page's key listener): next FN and next FP; with Shift, the previous one."""
        if str(key).lower() in ("n", "p"):
            self.next("FN" if str(key).lower() == "n" else "FP", backwards=bool(shift))

    def open(self, lesion_id: int, kind: str) -> None:
        """A row clicked (or Enter on it): it becomes the focus and the views go to it."""
        self.focus(lesion_id, kind)
        self._jump(int(lesion_id), str(kind))

    def focus(self, lesion_id: int, kind: str) -> None:
        """A row was clicked: it becomes the focus (next FN/FP continue from it)."""
        self.list.focus_on(str(kind), int(lesion_id))
        self._publish()


class BrainMapsOnce:
    """The MNI152 anatomy maps (:func:`LesionSegLogic.phantom.anatomy.load_brain_maps`: seconds), loaded on first use
    and kept by one page's table for the next case (thread-safe: the atlas is made in a worker thread)."""

    def __init__(self) -> None:
        self._maps: Any = None
        self._lock = threading.Lock()

    def __call__(self) -> Any:
        from LesionSegLogic.phantom.anatomy import load_brain_maps

        with self._lock:
            if self._maps is None:
                self._maps = load_brain_maps()
            return self._maps


def atlas_for_inputs(flair: Any, reference: Any, folder: Any, maps_loader: Any = None) -> Any:
    """The region atlas for the open inputs (:func:`LesionSegLogic.regions.atlas_for_case`): a phantom's (its folder
    holds ``phantom.json``), a cord's, or a registration for a brain; ``None`` when the image's extent says neither
    brain nor cord (:func:`LesionSegLogic.anatomy.guess_anatomy`) — no region is guessed for it. ``maps_loader``:
    where the anatomy maps come from (a :class:`BrainMapsOnce`; default: loaded for this call)."""
    from LesionSegLogic.anatomy import guess_anatomy
    from LesionSegLogic.phantom.case import CASE_JSON
    from LesionSegLogic.regions import atlas_for_case

    phantom = folder is not None and (folder / CASE_JSON).is_file()
    if not phantom and guess_anatomy(flair) is None:
        return None
    return atlas_for_case(flair, reference=reference, folder=folder, maps_loader=maps_loader)
