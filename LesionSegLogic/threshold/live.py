"""The live path of the threshold engine: persistent mask/overlay volumes updated by what changed.

:meth:`ThresholdEngine.at` returns independent volumes, so reading ``mask`` and ``overlay`` allocates and
fills two whole grids per call. A slider does not need that: :meth:`ThresholdEngine.live` returns a
:class:`LiveView` that owns one mask and one overlay buffer and moves them from threshold to threshold::

    live = engine.live(mode="lesion")
    update = live.set(0.42)           # a LiveUpdate
    update.metrics, update.lesions    # independent: safe to keep
    update.changed, update.bbox       # flat indices / bounding box of every voxel whose mask or overlay changed
    live.overlay, live.mask           # read-only views of the buffers, valid until the next ``set``

How an update stays small. Above the engine's floor the mask is the rank prefix ``[0, k)`` of the candidates
sorted by decreasing probability, so a move from ``k₀`` to ``k₁`` enters or removes exactly the contiguous rank
slice between them: the mask buffer is written there and nowhere else. The lesion-mode overlay value of a voxel
is a function of two small pieces of bookkeeping kept beside the buffers:

* ``values[r]`` — the value its predicted lesion gives rank ``r`` (TP/FP, or *predicted* without a reference;
  0 outside the prefix or in a component removed by the size rule), and
* ``fn[i]`` — whether reference lesion ``i`` is missed;

the voxel shows FN if it lies in a missed reference lesion (the overlay rule: a missed lesion is always
visible, see ``docs/metrics.md``), else ``values[r]``.
Per call the new ``values`` over the prefix come from the components the metrics need anyway (work ∝ ``k``,
vectorised over the candidate list, no pass over the grid); comparing them with the old ones yields exactly the
ranks of components that entered, left, merged, or changed status or size-rule fate, and comparing ``fn``
yields the reference lesions whose FN status flipped (rewritten through their precomputed flat-index lists).
Only those voxels are written and reported. In voxel mode the overlay of a rank depends on ``k`` alone, so
only the entering/leaving slice is rewritten.

Thresholds not served by the merge forest (``t ≤ min(p)``: the whole grid; ``min(p) < t < floor``: the naive
path) are rare; they are written by a whole-volume comparison (``LiveUpdate.full``) and the next forest
threshold re-synchronises the bookkeeping the same way. Results equal ``engine.at(t)`` — and so the naive
oracle — after every call, in any order of thresholds.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, Protocol

import numpy as np

from LesionSegLogic.errors import InputError, LesionSegError
from LesionSegLogic.metrics.lesion import LesionComponent
from LesionSegLogic.threshold.result import OVERLAY_FN, OVERLAY_FP, OVERLAY_MODES, OVERLAY_TP

if TYPE_CHECKING:  # pragma: no cover - typing only (engine imports this module)
    from collections.abc import Callable

    from LesionSegLogic.threshold.engine import ReferenceLayout, ThresholdState
    from LesionSegLogic.threshold.result import ThresholdResult


class LiveEngine(Protocol):
    """What a :class:`LiveView` needs of its engine: :class:`~LesionSegLogic.threshold.engine.ThresholdEngine`'s
    public live-path interface, and nothing private.

    ``candidate_order`` (flat indices by rank) and ``prefix_length(t)`` say which voxels form the mask at a forest
    threshold (``serves(t)``); ``reference_layout`` gives the reference lesions as flat-index lists and candidate
    ranks; ``state_at(t)`` the components and matching at ``t``, which ``metrics_of``, ``lesion_values_of`` (the
    lesion-mode value per rank), ``mask_of``/``overlay_of`` (whole volumes, for resynchronising) and ``rows_of``
    read; ``at`` serves the thresholds outside the forest.
    """

    shape: tuple[int, int, int]

    @property
    def candidate_order(self) -> np.ndarray: ...

    @property
    def reference_layout(self) -> ReferenceLayout | None: ...

    def prefix_length(self, threshold: float) -> int: ...

    def serves(self, threshold: float) -> bool: ...

    def state_at(self, threshold: float, previous: ThresholdState | None = None) -> ThresholdState: ...

    def metrics_of(self, state: ThresholdState, threshold: float) -> dict[str, Any]: ...

    def lesion_values_of(self, state: ThresholdState) -> np.ndarray: ...

    def mask_of(self, state: ThresholdState) -> np.ndarray: ...

    def overlay_of(self, state: ThresholdState, mode: str) -> np.ndarray: ...

    def rows_of(self, state: ThresholdState) -> list[LesionComponent]: ...

    def at(self, threshold: float, *, mode: str = "lesion", surface: bool = False) -> ThresholdResult: ...


class StaleLiveViewError(LesionSegError, RuntimeError):
    """A :class:`LiveUpdate`'s volumes were read after its :class:`LiveView` moved on to another threshold."""


@dataclass(eq=False)
class LiveUpdate:
    """What one :meth:`LiveView.set` changed, and the review state at its threshold.

    ``metrics`` (the ``evaluate`` dictionary, ``surface`` ``None``) and ``lesions`` (built on first access)
    belong to the caller. ``changed`` holds the sorted flat (raster) indices of every voxel whose mask or
    overlay value changed, ``bbox`` their bounding box as ``(z, y, x)`` slices (``None`` when nothing
    changed), ``full`` says the update was a whole-volume comparison (a threshold outside the forest, or the
    first one after it). ``mask``/``overlay`` are the view's live buffers: read-only, and readable only while
    this is the view's latest update (:class:`StaleLiveViewError` after); copy what you need to keep.
    """

    threshold: float
    mode: str
    metrics: dict[str, Any]
    changed: np.ndarray
    bbox: tuple[slice, slice, slice] | None
    full: bool
    _view: LiveView = field(repr=False)
    _generation: int = field(repr=False)
    _lesions: Callable[[], list[LesionComponent]] = field(repr=False)

    @cached_property
    def lesions(self) -> list[LesionComponent]:
        return self._lesions()

    @property
    def mask(self) -> np.ndarray:
        self._check_current()
        return self._view.mask

    @property
    def overlay(self) -> np.ndarray:
        self._check_current()
        return self._view.overlay

    def _check_current(self) -> None:
        if self._view.generation != self._generation:
            raise StaleLiveViewError(
                f"the live view has moved from threshold {self.threshold} to {self._view.threshold}; "
                "copy the mask/overlay of an update you need to keep, or use engine.at(t)"
            )


class LiveView:
    """Persistent mask/overlay volumes of one engine and overlay ``mode`` (see the module docstring).

    Made by :meth:`ThresholdEngine.live`; holds two buffers of the grid's size (bool and uint8). Before the
    first :meth:`set` the buffers show an empty mask (threshold ``None``).
    """

    def __init__(self, engine: LiveEngine, mode: str = "lesion") -> None:
        if mode not in OVERLAY_MODES:
            raise InputError(f"overlay mode must be one of {OVERLAY_MODES}, got {mode!r}")
        self._engine = engine
        self.mode = mode
        ref = engine.reference_layout
        # without a reference both modes draw predicted lesions (as engine.at does)
        self._voxel_mode = mode == "voxel" and ref is not None
        n = engine.candidate_order.size
        size = int(np.prod(engine.shape))
        self._mask = np.zeros(size, dtype=bool)
        self._overlay = np.zeros(size, dtype=np.uint8)
        self._mask_view = _read_only(self._mask.reshape(engine.shape))
        self._overlay_view = _read_only(self._overlay.reshape(engine.shape))
        self._k = 0  # rank prefix shown by the buffers (when synced)
        self._synced = True  # the bookkeeping below describes the buffers
        self._values = np.zeros(n + 1, dtype=np.uint8)  # lesion mode: value per rank; slot n: "not a candidate"
        self._fn = np.zeros(0 if ref is None else ref.n, dtype=bool)
        self._cache: tuple[int, ThresholdState, Callable[[], list[LesionComponent]]] | None = None
        self.threshold: float | None = None
        self.generation = 0
        self._ref_of_rank: np.ndarray | None = None
        if ref is not None and self._voxel_mode:
            self._in_raw = np.zeros(n, dtype=bool)
            self._in_raw[ref.raw_rank_pos] = True
        elif ref is not None:
            self._init_lesion_lists(ref)
        empty = engine.state_at(np.inf)  # the empty prefix: what the buffers show before the first set
        self._overlay[:] = engine.overlay_of(empty, mode).ravel()
        self._remember(empty)

    def _init_lesion_lists(self, ref: ReferenceLayout) -> None:
        """Per rank its reference lesion, per reference-lesion voxel its rank (``n`` if not a candidate)."""
        order = self._engine.candidate_order
        n = order.size
        self._ref_of_rank = np.full(n, -1, dtype=np.int64)
        self._ref_of_rank[ref.rank_pos] = ref.rank_label
        self._lesion_rank = np.full(ref.lesion_flat.size, n, dtype=np.int64)  # rank of each lesion voxel, or n
        if n:
            by_raster = np.argsort(order, kind="stable")
            raster = order[by_raster]
            pos = np.minimum(np.searchsorted(raster, ref.lesion_flat), n - 1)
            hit = raster[pos] == ref.lesion_flat
            self._lesion_rank[hit] = by_raster[pos[hit]]

    # public ----------------------------------------------------------------------------------------------
    @property
    def mask(self) -> np.ndarray:
        """The current mask (bool, z y x): a read-only view, overwritten by the next :meth:`set`."""
        return self._mask_view

    @property
    def overlay(self) -> np.ndarray:
        """The current overlay (uint8, z y x): a read-only view, overwritten by the next :meth:`set`."""
        return self._overlay_view

    def set(self, threshold: float) -> LiveUpdate:
        """Move the buffers to ``threshold``; returns the metrics, lesion rows and the changed voxels."""
        engine = self._engine
        threshold = float(threshold)
        if not np.isfinite(threshold):
            raise InputError(f"threshold must be a finite number, got {threshold}")
        if engine.serves(threshold):
            changed, full, metrics, rows = self._set_forest(threshold)
        else:
            changed, full, metrics, rows = self._set_other(threshold)
        self.threshold = threshold
        self.generation += 1
        return LiveUpdate(
            threshold=threshold,
            mode=self.mode,
            metrics=metrics,
            changed=changed,
            bbox=_bbox(changed, engine.shape),
            full=full,
            _view=self,
            _generation=self.generation,
            _lesions=rows,
        )

    # internals -------------------------------------------------------------------------------------------
    def _state(self, threshold: float) -> tuple[ThresholdState, Callable[[], list[LesionComponent]]]:
        """The engine state at ``threshold`` (reused when the prefix is the last one's) and its lazy rows."""
        engine = self._engine
        k = engine.prefix_length(threshold)
        if self._cache is None or self._cache[0] != k:
            # a move down in t grows the last prefix: its components are grown from the last state's
            state = engine.state_at(threshold, previous=None if self._cache is None else self._cache[1])
            rows: list[list[LesionComponent]] = []

            def build() -> list[LesionComponent]:
                if not rows:
                    rows.append(engine.rows_of(state))
                return list(rows[0])  # a fresh list per caller; the rows themselves are frozen

            self._cache = (k, state, build)
        return self._cache[1], self._cache[2]

    def _set_forest(
        self, threshold: float
    ) -> tuple[np.ndarray, bool, dict[str, Any], Callable[[], list[LesionComponent]]]:
        engine = self._engine
        state, rows = self._state(threshold)
        metrics = engine.metrics_of(state, threshold)
        if not self._synced:
            changed = self._write_full(engine.mask_of(state).ravel(), engine.overlay_of(state, self.mode).ravel())
            self._remember(state)
            return changed, True, metrics, rows
        k0, k1 = self._k, state.k
        lo, hi = min(k0, k1), max(k0, k1)
        moved = engine.candidate_order[lo:hi]  # the rank slice that entered (k1 > k0) or left the mask
        self._mask[moved] = k1 > k0
        self._k = k1
        if self._voxel_mode:
            inside = self._in_raw[lo:hi]
            if k1 > k0:
                self._overlay[moved] = np.where(inside, OVERLAY_TP, OVERLAY_FP).astype(np.uint8)
            else:
                self._overlay[moved] = np.where(inside, OVERLAY_FN, 0).astype(np.uint8)
            return np.sort(moved), False, metrics, rows
        return _sorted_union(moved, self._update_lesion_overlay(state, k0, k1)), False, metrics, rows

    def _update_lesion_overlay(self, state: ThresholdState, k0: int, k1: int) -> np.ndarray:
        """Rewrite the lesion-mode overlay where its value changed; returns those flat indices."""
        engine, ref = self._engine, self._engine.reference_layout
        flat, values = engine.candidate_order, self._values
        new = engine.lesion_values_of(state)
        ranks = np.flatnonzero(values[:k1] != new)
        if k0 > k1:
            ranks = np.concatenate([ranks, k1 + np.flatnonzero(values[k1:k0])])
        values[:k1] = new
        values[k1:k0] = 0
        flipped = np.zeros(0, dtype=np.int64)
        if ref is not None:  # the FN flags first: every voxel below is valued with the new flags and values
            assert state.detected is not None
            fn = ~state.detected
            flipped = np.flatnonzero(fn != self._fn)
            self._fn = fn
        index, value = flat[ranks], self._value_at(ranks, None if ref is None else self._ref_of_rank[ranks])  # type: ignore[index]  # the reference's rank table exists whenever ref is not None
        if flipped.size:  # reference lesions whose FN flag flipped: all their voxels
            assert ref is not None
            counts = ref.sizes[flipped]
            pos = np.repeat(ref.lesion_start[flipped] - np.r_[0, np.cumsum(counts)[:-1]], counts)
            pos += np.arange(pos.size)
            index = np.concatenate([index, ref.lesion_flat[pos]])
            value = np.concatenate([value, self._value_at(self._lesion_rank[pos], np.repeat(flipped, counts))])
        before = self._overlay[index]  # a voxel listed twice gets the same value both times
        self._overlay[index] = value
        return index[before != value]

    def _value_at(self, ranks: np.ndarray, lesions: np.ndarray | None) -> np.ndarray:
        """Overlay value of voxels by rank (``n``: not a candidate) and reference lesion (−1: none)."""
        value = self._values[ranks]
        if lesions is None:
            return value
        missed = (lesions >= 0) & self._fn[np.maximum(lesions, 0)] if self._fn.size else np.zeros(value.size, bool)
        return np.where(missed, OVERLAY_FN, value).astype(np.uint8)  # the overlay rule: a missed lesion on top

    def _set_other(
        self, threshold: float
    ) -> tuple[np.ndarray, bool, dict[str, Any], Callable[[], list[LesionComponent]]]:
        """A threshold outside the forest (whole grid, or the naive path below the floor)."""
        result = self._engine.at(threshold, mode=self.mode)
        changed = self._write_full(result.mask.ravel(), result.overlay.ravel())
        self._synced = False
        return changed, True, result.metrics, lambda: list(result.lesions)

    def _write_full(self, mask: np.ndarray, overlay: np.ndarray) -> np.ndarray:
        """Make the buffers equal to whole volumes; returns the flat indices that changed."""
        changed = np.flatnonzero((self._mask != mask) | (self._overlay != overlay))
        self._mask[changed] = mask[changed]
        self._overlay[changed] = overlay[changed]
        return changed

    def _remember(self, state: ThresholdState) -> None:
        """Bookkeeping for buffers that show the forest ``state`` (after a whole-volume write)."""
        self._k = state.k
        if not self._voxel_mode:
            self._values[:] = 0
            self._values[: state.k] = self._engine.lesion_values_of(state)
            if state.detected is not None:
                self._fn = ~state.detected
        self._synced = True


def _sorted_union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """The sorted distinct values of ``a`` and ``b`` by one sort. Not ``np.union1d``: its ``np.unique`` takes a hash
    path on integers in numpy ≥ 2.3 that measured 3 s for 1 M flat indices (and 30 s for the 4 M that a move at
    t ≈ 0.2 changes on the demo map), where a sort takes 0.25 s."""
    out = np.concatenate([a, b]).astype(np.int64, copy=False)
    out.sort()
    if out.size > 1:
        out = out[np.concatenate([[True], out[1:] != out[:-1]])]
    return out


def _read_only(array: np.ndarray) -> np.ndarray:
    view = array.view()
    view.flags.writeable = False
    return view


def _bbox(changed: np.ndarray, shape: tuple[int, ...]) -> tuple[slice, slice, slice] | None:
    """Bounding box (z, y, x slices) of sorted flat indices; ``None`` when empty."""
    if changed.size == 0:
        return None
    zyx = np.unravel_index(changed, shape)
    z, y, x = (slice(int(a.min()), int(a.max()) + 1) for a in zyx)
    return z, y, x
