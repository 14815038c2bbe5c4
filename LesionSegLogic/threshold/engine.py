"""``ThresholdEngine``: lesion-wise review of a probability map at any threshold, fast enough for a slider.

Built once (:mod:`LesionSegLogic.threshold.forest`): the candidate voxels ``p ≥ floor`` ranked by decreasing
probability, their merge forest, and everything about the reference (components under the rule, each
candidate's reference label). A call :meth:`ThresholdEngine.at` then costs work proportional to the number of
voxels in the mask, never a pass over the volume: a binary search gives the mask as a rank prefix, the forest
restricted to that prefix gives the components (the forest is rooted once at each tree's most probable voxel,
so a rank's component is found by pointer jumping along parents inside the prefix — no graph is built per
threshold), and ``np.bincount`` over the prefix gives sizes and the sparse overlap table that the matching rule
reads. The mask, overlay and lesion rows are built only when read, as independent volumes
(:meth:`ThresholdEngine.live` keeps persistent volumes instead and writes only the voxels that change: the
slider's path, :mod:`LesionSegLogic.threshold.live`, which uses only the engine's public live-path interface,
:class:`LesionSegLogic.threshold.live.LiveEngine`); surface distances only on request (``at(t, surface=True)``
or ``result.compute_surface()``), since they cost a pass over the surfaces.

Exactness: results equal the naive path (:func:`LesionSegLogic.threshold.naive.naive_at`) at every threshold.
For ``t ≥ floor`` the engine is used; for ``t ≤ min(p)`` the mask is the whole grid (one lesion), computed
directly; a threshold in between (below the floor) falls back to the naive path. ``floor`` defaults to
``DEFAULT_FLOOR`` (0.01), raised if more than ``max_candidates`` voxels would be candidates.

Bounded work (issue 19 item 9): the forest costs memory and time per candidate, so the number of candidates is
capped — by default by the memory the machine has available (:func:`auto_max_candidates`: at least
:data:`DEFAULT_MAX_CANDIDATES`, at most :data:`MAX_AUTO_CANDIDATES`). A map that is mostly noise (uniform noise:
half its voxels ≥ 0.5) then gets a raised floor, and a threshold below it costs a whole-volume pass.
:attr:`ThresholdEngine.bound_note` says so in words (the floor, the candidates it would take, and the measured
time of the last pass below it) for the faces to show; nothing is silently approximated. Such a pass can take
seconds: a face that must keep answering runs :meth:`ThresholdEngine.prepare` in a worker thread first (it only
reads the engine's arrays), and the ``at`` that follows hands the prepared result out.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import numpy as np
from scipy import sparse
from scipy.sparse import csgraph

from LesionSegLogic.errors import DimensionError, InputError
from LesionSegLogic.image import Image
from LesionSegLogic.metrics.lesion import LesionComponent, label_components, lesion_counts, match_lesions
from LesionSegLogic.metrics.rules import MatchingRule
from LesionSegLogic.metrics.surface import surface_distances
from LesionSegLogic.metrics.voxel import VoxelCounts
from LesionSegLogic.threshold.forest import MergeForest, build_forest
from LesionSegLogic.threshold.inputs import EngineInputs, prepare
from LesionSegLogic.threshold.live import LiveView
from LesionSegLogic.threshold.naive import naive_at
from LesionSegLogic.threshold.result import (
    OVERLAY_FN,
    OVERLAY_FP,
    OVERLAY_MODES,
    OVERLAY_PREDICTED,
    OVERLAY_TP,
    ThresholdResult,
)

DEFAULT_FLOOR = 0.01
#: the fewest candidates the fast path takes (the cap before it was memory-aware)
DEFAULT_MAX_CANDIDATES = 2_000_000
#: the most candidates :func:`auto_max_candidates` takes: the build time grows linearly with them (measured by
#: ``benchmarks/bench_threshold.py --noise``), so a larger cap is for an explicit ``max_candidates``
MAX_AUTO_CANDIDATES = 8_000_000
#: peak memory of the forest build per candidate (tracemalloc on uniform-noise maps, 0.44–1.0 M candidates:
#: 212–284 bytes; rounded up)
BUILD_BYTES_PER_CANDIDATE = 300
#: share of the available memory the build may take
MEMORY_SHARE = 0.25


def available_memory() -> int | None:
    """Bytes of memory available to new allocations (``MemAvailable`` of ``/proc/meminfo``), ``None`` if unknown."""
    try:
        with open("/proc/meminfo", encoding="ascii") as meminfo:
            for line in meminfo:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        return None
    return None


def auto_max_candidates(available: int | None = None) -> int:
    """The candidate cap for this machine: :data:`MEMORY_SHARE` of the available memory at
    :data:`BUILD_BYTES_PER_CANDIDATE`, within [:data:`DEFAULT_MAX_CANDIDATES`, :data:`MAX_AUTO_CANDIDATES`]."""
    available = available_memory() if available is None else available
    if available is None:
        return DEFAULT_MAX_CANDIDATES
    by_memory = int(available * MEMORY_SHARE) // BUILD_BYTES_PER_CANDIDATE
    return max(DEFAULT_MAX_CANDIDATES, min(MAX_AUTO_CANDIDATES, by_memory))


@dataclass(frozen=True)
class ReferenceLayout:
    """Everything about the reference that does not depend on the threshold (arrays are the engine's: read only).

    Part of the engine's live-path interface (:class:`LesionSegLogic.threshold.live.LiveEngine`)."""

    n: int  # lesions kept by the rule
    sizes: np.ndarray  # (n,) voxels
    raw_total: int  # voxels of the raw mask (voxel metrics use the raw masks)
    raw_flat: np.ndarray  # flat indices of the raw mask
    lesion_flat: np.ndarray  # flat indices of kept-lesion voxels, grouped by lesion
    lesion_start: np.ndarray  # (n + 1,) offsets into lesion_flat
    rank_pos: np.ndarray  # ranks (ascending) of candidates inside a kept lesion
    rank_label: np.ndarray  # their lesion index (0-based)
    raw_rank_pos: np.ndarray  # ranks (ascending) of candidates inside the raw mask
    rows: list[LesionComponent]  # static parts of the reference rows (status and partners filled per threshold)


@dataclass(frozen=True)
class ThresholdState:
    """Components of the mask at one threshold and their matching (:meth:`ThresholdEngine.state_at`).

    Opaque to callers except ``k`` (voxels in the mask) and ``detected`` (per reference lesion, or ``None``);
    hand it back to the engine's ``*_of`` methods."""

    k: int  # voxels in the mask (a rank prefix, or the whole grid)
    labels: np.ndarray | None  # (k,) component of each rank; None for the whole grid
    kept: np.ndarray  # component ids kept by the size rule
    compact: np.ndarray  # component id → index into kept, -1 if removed
    sizes: np.ndarray  # (len(kept),) voxels
    pairs: tuple[np.ndarray, np.ndarray, np.ndarray]  # (pred index, ref index, overlap)
    detected: np.ndarray | None
    true_pred: np.ndarray | None
    tp_voxels: int
    roots: np.ndarray | None = None  # (n_components,) top rank of each component (label order); None: whole grid


class ThresholdEngine:
    """Review a probability map at any decision threshold (see the module docstring).

    ``probability`` is a (z, y, x) array in [0, 1] or an :class:`Image`; ``spacing`` is in array order (mm);
    ``reference`` an optional binary array or :class:`Image` on the same grid; ``rule`` a preset name
    (``hussein``, ``anima``, ``any-overlap``) or a :class:`MatchingRule`. ``origin``/``direction`` (or an
    ``Image``) give physical LPS centroids. The mask is ``p ≥ t`` compared in double precision.
    """

    def __init__(
        self,
        probability: np.ndarray | Image,
        spacing: tuple[float, float, float] | None = None,
        reference: np.ndarray | Image | None = None,
        rule: str | MatchingRule = "hussein",
        *,
        floor: float | None = None,
        max_candidates: int | None = None,
        origin: tuple[float, float, float] | None = None,
        direction: np.ndarray | None = None,
    ) -> None:
        self._inputs = prepare(probability, spacing, reference, rule, origin, direction)
        p = self._inputs.probability
        if p.size == 0:
            raise DimensionError(f"probability map is empty (shape {p.shape}): nothing to review",
                                 self._inputs.geometry.name or None)
        self.shape: tuple[int, int, int] = (int(p.shape[0]), int(p.shape[1]), int(p.shape[2]))
        self.spacing = self._inputs.spacing
        self.rule: MatchingRule = self._inputs.rule
        self.geometry: Image = self._inputs.geometry
        self._voxel_volume = self._inputs.voxel_volume
        self._min_voxels = self.rule.min_voxels(self._voxel_volume)
        self.max_candidates = auto_max_candidates() if max_candidates is None else int(max_candidates)
        self.floor = _choose_floor(p, floor, self.max_candidates)
        self.p_min = float(p.min()) if p.size else 0.0
        self._would_be_candidates = (
            int(np.count_nonzero(p >= DEFAULT_FLOOR)) if floor is None and self.floor > DEFAULT_FLOOR else None
        )
        self.last_full_pass_s: float | None = None  # measured time of the last threshold below the floor
        self._prepared: tuple[float, str, ThresholdResult] | None = None  # a full pass done ahead (prepare)
        self._forest: MergeForest = build_forest(p, self.floor, self.rule.structure())
        self._neg_probability = -self._forest.probability  # prefix_length: one negation here, not one per call
        self._parent = _rooted_parents(self._forest)
        flat = self._forest.flat
        self._candidate_order = flat.view()
        self._candidate_order.flags.writeable = False
        self._zyx = np.stack(np.unravel_index(flat, self.shape), axis=1).astype(np.float64)
        self._reference = None if self._inputs.reference is None else self._build_reference()

    # construction ---------------------------------------------------------------------------------------
    def _build_reference(self) -> ReferenceLayout:
        ref = self._inputs.reference
        assert ref is not None
        p = self._inputs.probability.ravel()
        labels, n = label_components(ref, self.rule, self._voxel_volume)
        flat_labels = labels.ravel()
        lesion_flat = np.flatnonzero(flat_labels)
        lesion_of = flat_labels[lesion_flat].astype(np.int64) - 1
        order = np.argsort(lesion_of, kind="stable")
        lesion_flat, lesion_of = lesion_flat[order], lesion_of[order]
        sizes = np.bincount(lesion_of, minlength=n)
        start = np.r_[0, np.cumsum(sizes)]
        at_rank = flat_labels[self._forest.flat]
        rank_pos = np.flatnonzero(at_rank)
        raw_at_rank = ref.ravel()[self._forest.flat]
        rows = []
        if n:
            zyx = np.stack(np.unravel_index(lesion_flat, self.shape), axis=1).astype(np.float64)
            centroids = np.stack(
                [np.bincount(lesion_of, weights=zyx[:, a], minlength=n) for a in range(3)], 1
            )
            centroids /= sizes[:, None]  # type: ignore[misc]  # bincount with weights: float64
            physical = self.geometry.index_to_physical(centroids)
            values = p[lesion_flat].astype(np.float64)
            mean = np.bincount(lesion_of, weights=values, minlength=n) / sizes
            peak = np.maximum.reduceat(values, start[:-1])
            for i in range(n):
                rows.append(
                    LesionComponent(
                        id=i + 1,
                        kind="reference",
                        n_voxels=int(sizes[i]),
                        volume_mm3=float(sizes[i] * self._voxel_volume),
                        centroid_zyx=tuple(float(c) for c in centroids[i]),  # type: ignore[arg-type]  # three axes
                        centroid_lps=tuple(float(c) for c in physical[i]),  # type: ignore[arg-type]  # three axes
                        max_probability=float(peak[i]),
                        mean_probability=float(mean[i]),
                        status=None,
                    )
                )
        return ReferenceLayout(
            n=n,
            sizes=sizes.astype(np.int64),
            raw_total=int(np.count_nonzero(ref)),
            raw_flat=np.flatnonzero(ref.ravel()),
            lesion_flat=lesion_flat,
            lesion_start=start,
            rank_pos=rank_pos,
            rank_label=at_rank[rank_pos].astype(np.int64) - 1,
            raw_rank_pos=np.flatnonzero(raw_at_rank),
            rows=rows,
        )

    # the live-path interface (LesionSegLogic.threshold.live.LiveEngine) ------------------------------------
    @property
    def inputs(self) -> EngineInputs:
        """The validated inputs (probability, reference, rule, geometry): what the naive oracle takes."""
        return self._inputs

    @property
    def candidate_order(self) -> np.ndarray:
        """Flat (raster) indices of the candidates ``p ≥ floor`` by rank (decreasing ``p``, ties raster order): the
        mask at a forest threshold is the first :meth:`prefix_length` of them. Read only."""
        return self._candidate_order

    @property
    def reference_layout(self) -> ReferenceLayout | None:
        """The reference lesions as flat-index lists and candidate ranks; ``None`` without a reference."""
        return self._reference

    def prefix_length(self, threshold: float) -> int:
        """Candidates with ``p ≥ threshold`` (the mask's size at a forest threshold; ``MergeForest.prefix``)."""
        return int(np.searchsorted(self._neg_probability, -np.float64(threshold), side="right"))

    def serves(self, threshold: float) -> bool:
        """Whether ``threshold`` is served by the merge forest: its mask is a rank prefix (``t > min(p)`` and
        ``t ≥ floor``); the others (whole grid, naive fallback) only through :meth:`at`."""
        return threshold > self.p_min and threshold >= self.floor

    def state_at(self, threshold: float, previous: ThresholdState | None = None) -> ThresholdState:
        """Components and matching at ``threshold`` (a forest threshold, ``t ≤ min(p)``, or ``inf`` = empty).

        ``previous``: a state of this engine at a shorter prefix (the slider's last one): the components are then
        grown from it (:func:`_grown_components`: work on the old components and the new ranks, plus one gather),
        not recomputed over the whole prefix; the result is the same."""
        if self.p_min < threshold < self.floor:
            raise InputError(f"threshold {threshold} lies below the engine's floor {self.floor}: use at()")
        ref = self._reference
        whole = threshold <= self.p_min
        if whole:
            k = int(np.prod(self.shape))
            labels, n_comp, comp_sizes = None, (1 if k else 0), np.array([k] if k else [], dtype=np.int64)
            roots = None
        else:
            k = self.prefix_length(threshold)
            if previous is not None and previous.roots is not None and previous.labels is not None \
                    and 0 < previous.k < k:
                labels, roots = _grown_components(self._parent, previous.labels, previous.roots, k)
            else:
                labels, roots = _prefix_tops(self._parent, k)
            n_comp = int(roots.size)
            comp_sizes = np.bincount(labels, minlength=n_comp)
        kept = np.flatnonzero(comp_sizes >= self._min_voxels)
        compact = np.full(n_comp + 1, -1, dtype=np.int64)  # last slot: index -1 stays -1
        compact[kept] = np.arange(kept.size)
        sizes = comp_sizes[kept].astype(np.int64)
        empty = np.zeros(0, dtype=np.int64)
        if ref is None:
            return ThresholdState(k, labels, kept, compact, sizes, (empty, empty, empty), None, None, 0, roots)
        if whole:
            tp_voxels = ref.raw_total
            pred_of = np.zeros(ref.n, dtype=np.int64) if kept.size else np.full(ref.n, -1, dtype=np.int64)
            pair_ref = np.arange(ref.n, dtype=np.int64)
            weights = ref.sizes
        else:
            tp_voxels = int(np.searchsorted(ref.raw_rank_pos, k))
            q = int(np.searchsorted(ref.rank_pos, k))
            pred_of = compact[labels[ref.rank_pos[:q]]]  # type: ignore[index]  # set with the reference (this branch has one)
            pair_ref = ref.rank_label[:q]
            weights = None
        valid = pred_of >= 0
        key = pred_of[valid] * max(ref.n, 1) + pair_ref[valid]
        if weights is None:
            keys, overlap = np.unique(key, return_counts=True)
        else:
            keys, overlap = key, weights[valid]
        pairs = (keys // max(ref.n, 1), keys % max(ref.n, 1), overlap.astype(np.int64))
        detected, true_pred = match_lesions(ref.sizes, sizes, pairs[0], pairs[1], pairs[2], self.rule)
        return ThresholdState(k, labels, kept, compact, sizes, pairs, detected, true_pred, tp_voxels, roots)

    def metrics_of(self, state: ThresholdState, threshold: float) -> dict[str, Any]:
        """The ``evaluate`` dictionary of ``state`` (``surface`` ``None``), a new dictionary per call."""
        metrics: dict[str, Any] = {"threshold": float(threshold), "rule": self.rule.name}
        ref = self._reference
        if ref is None:
            metrics["voxel"] = {
                "n_predicted_voxels": state.k,
                "predicted_volume_mm3": float(state.k * self._voxel_volume),
            }
            metrics["lesion"] = {
                "n_predicted": int(state.kept.size),
                "predicted_volume_mm3": float(state.sizes.sum() * self._voxel_volume),
            }
        else:
            assert state.detected is not None and state.true_pred is not None
            counts = VoxelCounts.from_totals(
                state.tp_voxels, state.k, ref.raw_total, int(np.prod(self.shape))
            )
            metrics["voxel"] = counts.as_dict()
            metrics["lesion"] = lesion_counts(state.detected, state.true_pred)
        metrics["surface"] = None
        return metrics

    # public API ----------------------------------------------------------------------------------------
    @property
    def has_reference(self) -> bool:
        return self._reference is not None

    @property
    def n_candidates(self) -> int:
        """Voxels with ``p ≥ floor`` (the work a threshold above the floor can cost)."""
        return int(self._forest.flat.size)

    @property
    def bound_note(self) -> str | None:
        """What the candidate cap bounded, in words for a face to show (``None`` when the fast path covers every
        threshold from :data:`DEFAULT_FLOOR` up)."""
        if self._would_be_candidates is None:
            return None
        cost = (f"the last one took {self.last_full_pass_s:.1f} s" if self.last_full_pass_s is not None
                else "each is a whole-volume pass")
        return (f"below {self.floor:.2f} the map has more than {self.max_candidates:,} candidate voxels "
                f"({self._would_be_candidates:,} ≥ {DEFAULT_FLOOR}): thresholds there are computed exactly over "
                f"all {int(np.prod(self.shape)):,} voxels ({cost}); above it the fast path serves them")

    def needs_full_pass(self, threshold: float) -> bool:
        """Whether ``threshold`` lies below the floor (and above ``min(p)``): :meth:`at` is then a whole-volume pass
        (:attr:`bound_note`), the one case where a threshold can cost seconds."""
        return self.p_min < float(threshold) < self.floor

    def prepare(self, threshold: float, mode: str = "lesion") -> bool:
        """Do now the whole-volume pass that ``at(threshold, mode=mode)`` would do (``False``: none needed); the next
        such ``at`` call returns this result (once). Reads the engine's arrays only, so a face may run it in a worker
        thread and keep its event loop answering; one prepared result is kept (the latest)."""
        threshold = _check_threshold(threshold)
        if mode not in OVERLAY_MODES:
            raise InputError(f"overlay mode must be one of {OVERLAY_MODES}, got {mode!r}")
        if not self.needs_full_pass(threshold):
            return False
        prepared = self._prepared
        if prepared is None or prepared[:2] != (threshold, mode):
            self._prepared = (threshold, mode, self._full_pass(threshold, mode=mode))
        return True

    def is_prepared(self, threshold: float, mode: str = "lesion") -> bool:
        """Whether :meth:`prepare` holds the result of ``at(threshold, mode=mode)``."""
        prepared = self._prepared
        return prepared is not None and prepared[:2] == (float(threshold), mode)

    def _full_pass(self, threshold: float, **kwargs: Any) -> ThresholdResult:
        """A threshold below the floor: the naive path, timed for :attr:`bound_note`."""
        mode, prepared = kwargs.get("mode", "lesion"), self._prepared
        if prepared is not None and prepared[:2] == (threshold, mode) and not kwargs.get("surface"):
            self._prepared = None  # handed out once: the caller owns it
            return prepared[2]
        start = time.perf_counter()
        result = naive_at(self._inputs, threshold, **kwargs)
        self.last_full_pass_s = time.perf_counter() - start
        return result

    def metrics_at(self, threshold: float) -> dict[str, Any]:
        """Only the ``evaluate`` dictionary (no surface distances) at ``threshold`` (the sweep's step)."""
        threshold = _check_threshold(threshold)
        if self.p_min < threshold < self.floor:
            return self._full_pass(threshold).metrics
        return self.metrics_of(self.state_at(threshold), threshold)

    def at(self, threshold: float, *, mode: str = "lesion", surface: bool = False) -> ThresholdResult:
        """The review state at ``threshold`` (see :class:`ThresholdResult`).

        ``mode`` ``"lesion"`` (default) or ``"voxel"`` selects the overlay; ``surface=True`` fills
        ``metrics["surface"]`` now (otherwise it stays ``None`` until ``result.compute_surface()``).
        """
        threshold = _check_threshold(threshold)
        if mode not in OVERLAY_MODES:
            raise InputError(f"overlay mode must be one of {OVERLAY_MODES}, got {mode!r}")
        if self.p_min < threshold < self.floor:
            return self._full_pass(threshold, mode=mode, surface=surface)
        state = self.state_at(threshold)
        metrics = self.metrics_of(state, threshold)
        result = ThresholdResult(
            threshold=threshold,
            mode=mode,
            metrics=metrics,
            _mask=lambda: self.mask_of(state),
            _overlay=lambda: self.overlay_of(state, mode),
            _lesions=lambda: self.rows_of(state),
            _surface=None,
        )
        if self._reference is not None:
            ref_mask = self._inputs.reference
            result._surface = lambda: surface_distances(result.mask, ref_mask, self.spacing)  # type: ignore[arg-type]  # not None inside this branch
            if surface:
                result.compute_surface()
        return result

    def live(self, mode: str = "lesion") -> LiveView:
        """A :class:`LiveView`: persistent mask/overlay volumes moved from threshold to threshold by writing only
        the voxels that change (the slider's path; see :mod:`LesionSegLogic.threshold.live`). ``at`` keeps
        returning independent volumes."""
        return LiveView(self, mode)

    def sweep(self, thresholds: np.ndarray | list[float]) -> list[dict[str, Any]]:
        """The ``evaluate`` dictionaries (voxel and lesion blocks, no surface) at each threshold, in order."""
        return [self.metrics_at(float(t)) for t in thresholds]

    # lazy outputs --------------------------------------------------------------------------------------
    def _rank_status(self, state: ThresholdState) -> np.ndarray:
        """Per rank in the prefix: its lesion's index into ``kept`` (−1 for removed components)."""
        assert state.labels is not None
        return state.compact[state.labels]

    def mask_of(self, state: ThresholdState) -> np.ndarray:
        """The mask of ``state`` as a new bool volume."""
        if state.labels is None:
            return np.ones(self.shape, dtype=bool)
        mask = np.zeros(int(np.prod(self.shape)), dtype=bool)
        mask[self._forest.flat[: state.k]] = True
        return mask.reshape(self.shape)

    def overlay_of(self, state: ThresholdState, mode: str) -> np.ndarray:
        """The overlay of ``state`` in ``mode`` as a new uint8 volume (the overlay rule: docs/metrics.md)."""
        ref = self._reference
        overlay = np.zeros(int(np.prod(self.shape)), dtype=np.uint8)
        whole = state.labels is None
        flat = slice(None) if whole else self._forest.flat[: state.k]
        if mode == "voxel" and ref is not None:
            overlay[ref.raw_flat] = OVERLAY_FN
            if whole:
                overlay[:] = OVERLAY_FP
                overlay[ref.raw_flat] = OVERLAY_TP
            else:
                in_ref = np.zeros(state.k, dtype=bool)
                in_ref[ref.raw_rank_pos[: np.searchsorted(ref.raw_rank_pos, state.k)]] = True
                overlay[flat] = np.where(in_ref, OVERLAY_TP, OVERLAY_FP)
            return overlay.reshape(self.shape)
        # the overlay rule (docs/metrics.md): predicted components first, missed reference lesions on top
        lut = self._status_lut(state)
        if whole:
            if state.kept.size:
                overlay[:] = lut[0]
        else:
            status = lut[self._rank_status(state)]
            lesion = status > 0
            overlay[self._forest.flat[: state.k][lesion]] = status[lesion]
        if ref is not None:
            assert state.detected is not None
            for i in np.flatnonzero(~state.detected):
                overlay[ref.lesion_flat[ref.lesion_start[i] : ref.lesion_start[i + 1]]] = OVERLAY_FN
        return overlay.reshape(self.shape)

    def _status_lut(self, state: ThresholdState) -> np.ndarray:
        """Lesion-mode overlay value of each kept component (index into ``kept``), plus a last slot 0 for −1."""
        if state.true_pred is None:
            lut = np.full(state.kept.size + 1, OVERLAY_PREDICTED, dtype=np.uint8)
        else:
            lut = np.append(np.where(state.true_pred, OVERLAY_TP, OVERLAY_FP).astype(np.uint8), np.uint8(0))
        lut[-1] = 0
        return lut

    def lesion_values_of(self, state: ThresholdState) -> np.ndarray:
        """Per rank in the prefix: the value its predicted lesion gives it in lesion mode (TP/FP, or *predicted*
        without a reference; 0 in components removed by the size rule), before the FN layer goes on top."""
        return self._status_lut(state)[self._rank_status(state)]

    def rows_of(self, state: ThresholdState) -> list[LesionComponent]:
        """The lesion rows of ``state`` (predicted by decreasing peak probability, then reference), a new list."""
        ref = self._reference
        n = state.kept.size
        p = self._forest.probability
        if state.labels is None:
            volume = self._inputs.probability
            centroids = np.array([[(s - 1) / 2 for s in self.shape]] * n, dtype=np.float64)
            peaks = np.array([float(volume.max())] * n)
            means = np.array([float(volume.astype(np.float64).mean())] * n)
            order = np.arange(n)
        else:
            index = self._rank_status(state)
            inside = index >= 0
            ranks = np.flatnonzero(inside)
            idx = index[inside]
            first = np.full(n, state.k, dtype=np.int64)
            first[idx[::-1]] = ranks[::-1]
            order = np.argsort(first, kind="stable")  # by decreasing max probability, ties raster order
            peaks = p[first] if n else np.zeros(0)
            means = np.bincount(idx, weights=p[ranks], minlength=n) / np.maximum(state.sizes, 1)
            zyx = self._zyx[ranks]
            centroids = np.stack([np.bincount(idx, zyx[:, a], n) for a in range(3)], 1).astype(np.float64)
            centroids /= np.maximum(state.sizes, 1)[:, None]
        row_id = np.empty(n, dtype=np.int64)
        row_id[order] = np.arange(1, n + 1)
        physical = self.geometry.index_to_physical(centroids) if n else np.zeros((0, 3))
        pred_partners: list[list[int]] = [[] for _ in range(n)]
        ref_partners: list[list[int]] = [[] for _ in range(0 if ref is None else ref.n)]
        for j, r in zip(state.pairs[0].tolist(), state.pairs[1].tolist(), strict=True):
            pred_partners[j].append(r + 1)
            ref_partners[r].append(int(row_id[j]))
        # plain Python values in bulk (tolist), one row per lesion: the slider builds these on every move
        ids, sizes = row_id.tolist(), state.sizes.tolist()
        volumes = (state.sizes * self._voxel_volume).tolist()
        zyx_list, lps_list, peak_list, mean_list = centroids.tolist(), physical.tolist(), peaks.tolist(), means.tolist()
        statuses = [None] * n if state.true_pred is None else np.where(state.true_pred, "TP", "FP").tolist()
        rows = [
            LesionComponent(ids[j], "predicted", sizes[j], volumes[j], tuple(zyx_list[j]), tuple(lps_list[j]),
                            peak_list[j], mean_list[j], statuses[j], tuple(sorted(pred_partners[j])))
            for j in order.tolist()
        ]
        if ref is not None:
            assert state.detected is not None
            detected = state.detected.tolist()
            rows.extend(
                LesionComponent(r.id, r.kind, r.n_voxels, r.volume_mm3, r.centroid_zyx, r.centroid_lps,
                                r.max_probability, r.mean_probability, "TP" if detected[i] else "FN",
                                tuple(sorted(ref_partners[i])))
                for i, r in enumerate(ref.rows)
            )
        return rows


def _rooted_parents(forest: MergeForest) -> np.ndarray:
    """The merge forest rooted at each tree's first-ranked (most probable) candidate: ``parent[r]`` (int32) is the
    neighbour of rank ``r`` towards its tree's root, a root is its own parent.

    Why: the mask at prefix ``k`` has the components of the forest restricted to the ranks ``< k`` (an edge is
    active iff both ends are), and a connected part of a rooted tree is a subtree hanging from one top vertex.
    So the component of a rank is found by following parents while they are ``< k``
    (:func:`_prefix_components`), with no graph built per threshold. One breadth-first pass (compiled) at build.
    """
    n = forest.flat.size
    if n == 0:
        return np.zeros(0, dtype=np.int32)
    e = forest.edge_a.size
    tree_graph = sparse.csr_matrix((np.ones(e, np.int8), (forest.edge_a, forest.edge_b)), shape=(n, n))
    n_trees, tree = csgraph.connected_components(tree_graph, directed=False)
    roots = np.empty(n_trees, dtype=np.int64)
    # one rank per tree (numpy writes the last duplicate in practice: the tree's first, most probable rank; any
    # rank of the tree would do, the components do not depend on where a tree is rooted)
    roots[tree[::-1]] = np.arange(n - 1, -1, -1)
    rows = np.concatenate([forest.edge_a, np.full(roots.size, n, np.int32)])
    cols = np.concatenate([forest.edge_b, roots.astype(np.int32)])
    graph = sparse.csr_matrix((np.ones(rows.size, np.int8), (rows, cols)), shape=(n + 1, n + 1))
    _, predecessors = csgraph.breadth_first_order(graph, n, directed=False, return_predecessors=True)
    parent = predecessors[:n].astype(np.int32)
    parent[roots] = roots
    return parent


def _prefix_components(parent: np.ndarray, k: int) -> tuple[int, np.ndarray]:
    """``(n_components, label per rank < k)`` of the first ``k`` candidates (:func:`_prefix_tops`)."""
    labels, roots = _prefix_tops(parent, k)
    return int(roots.size), labels


def _prefix_tops(parent: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """``(label per rank < k, top rank per label)`` of the first ``k`` candidates, by pointer jumping on the rooted
    forest (:func:`_rooted_parents`): each rank's top vertex among the ranks ``< k``; labels number the tops in
    rank order."""
    if k == 0:
        return np.zeros(0, dtype=np.int32), np.zeros(0, dtype=np.int32)
    own = np.arange(k, dtype=np.int32)
    top = _jump(np.where(parent[:k] < k, parent[:k], own))
    is_top = top == own
    index = np.cumsum(is_top, dtype=np.int32) - 1
    return index[top], own[is_top]


def _jump(top: np.ndarray) -> np.ndarray:
    """Pointer jumping until every entry points at a fixed point (``top[top] == top``)."""
    while True:
        jumped = top[top]
        if np.array_equal(jumped, top):
            return top
        top = jumped


def _grown_components(
    parent: np.ndarray, labels0: np.ndarray, roots0: np.ndarray, k: int
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_prefix_tops` at prefix ``k`` from its result at a shorter prefix ``k0 = labels0.size`` (a slider move
    down in t). Growing a prefix only adds ranks and joins components: a top at ``k0`` stays a top unless its parent
    entered, and a new rank hangs from a new rank or from an old component. So the pointer jumping runs on the old
    tops and the new ranks only, and the old ranks follow their old top in one gather."""
    k0, m0 = labels0.size, roots0.size
    new = np.arange(k0, k, dtype=np.int64)
    nodes = np.concatenate([roots0.astype(np.int64), new])  # sorted by rank: old tops (< k0), then the new ranks
    up = parent[nodes].astype(np.int64)
    stays = (up >= k) | (up == nodes)  # a forest root, or its parent is still outside the prefix
    position = np.arange(nodes.size, dtype=np.int64)
    to_new = m0 + (up - k0)  # a parent among the new ranks
    from_old = labels0[np.minimum(up, k0 - 1)].astype(np.int64)  # a parent among the old ranks: its component
    top = np.where(stays, position, np.where(up >= k0, to_new, from_old))
    top = _jump(top)
    is_top = top == position
    index = np.cumsum(is_top, dtype=np.int32) - 1
    label_of = index[top]
    return np.concatenate([label_of[:m0][labels0], label_of[m0:]]), nodes[is_top].astype(np.int32)


def _check_threshold(threshold: float) -> float:
    threshold = float(threshold)
    if not np.isfinite(threshold):
        raise InputError(f"threshold must be a finite number, got {threshold}")
    return threshold


def _choose_floor(p: np.ndarray, floor: float | None, max_candidates: int) -> float:
    """The lowest threshold served by the forest (see the module docstring)."""
    if floor is not None:
        floor = float(floor)
        if not (np.isfinite(floor) and 0.0 <= floor <= 1.0):
            raise InputError(f"floor must lie in [0, 1], got {floor}")
        return floor
    floor = DEFAULT_FLOOR
    flat = p.ravel()
    if int(np.count_nonzero(flat >= floor)) > max_candidates > 0:
        cut = flat.size - max_candidates
        value = float(np.partition(flat, cut)[cut])
        floor = (
            float(np.nextafter(value, np.inf)) if np.count_nonzero(flat >= value) > max_candidates else value
        )
    return floor
