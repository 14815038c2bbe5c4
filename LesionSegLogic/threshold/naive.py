"""The naive path and test oracle: threshold the whole volume, label it, loop over lesions.

Everything here is written for obviousness, not speed: the full mask ``p ≥ t`` (compared in double
precision), :func:`scipy.ndimage.label`, and for every lesion a plain Python loop implementing the matching
rule of :mod:`LesionSegLogic.metrics.rules` on overlap dictionaries. :class:`ThresholdEngine` must give the
same mask, overlay, metrics and lesion rows at every threshold.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage

from LesionSegLogic.errors import ConfigError
from LesionSegLogic.image import Image
from LesionSegLogic.metrics.lesion import LesionComponent, label_components, lesion_counts
from LesionSegLogic.metrics.rules import MatchingRule
from LesionSegLogic.metrics.surface import surface_distances
from LesionSegLogic.metrics.voxel import VoxelCounts
from LesionSegLogic.threshold.inputs import EngineInputs, prepare
from LesionSegLogic.threshold.result import (
    OVERLAY_FN,
    OVERLAY_FP,
    OVERLAY_MODES,
    OVERLAY_PREDICTED,
    OVERLAY_TP,
    ThresholdResult,
)


def _triple(values: np.ndarray) -> tuple[float, float, float]:
    return (float(values[0]), float(values[1]), float(values[2]))


def _detected(
    size: int, overlaps: dict[int, int], other_outside: dict[int, float], rule: MatchingRule
) -> bool:
    """The rule for one lesion, written out: coverage test, then the leak test over the examined lesions."""
    covered = sum(overlaps.values())
    if not rule.covered_enough(covered, size):
        return False
    ranked = sorted(overlaps, key=lambda j: (-overlaps[j], -other_outside[j]))
    before = 0
    for j in ranked:
        if not before / covered < rule.gamma:
            break
        if other_outside[j] > rule.beta:
            return False
        before += overlaps[j]
    return True


def _predicted_order(labels: np.ndarray, n: int, p: np.ndarray) -> list[int]:
    """Labels sorted by decreasing maximum probability, ties by raster index of the first peak voxel."""
    keys = []
    for label, box in enumerate(ndimage.find_objects(labels, max_label=n), start=1):
        inside = labels[box] == label
        values = p[box]
        peak = values[inside].max()
        local = np.flatnonzero(inside & (values == peak))[0]
        zyx = np.array(np.unravel_index(local, inside.shape)) + [s.start for s in box]
        keys.append((-float(peak), int(np.ravel_multi_index(tuple(zyx), labels.shape)), label))
    return [label for *_, label in sorted(keys)]


def naive_at(
    inputs: EngineInputs | np.ndarray | Image,
    threshold: float,
    *,
    mode: str = "lesion",
    surface: bool = False,
    **prepare_kwargs: object,
) -> ThresholdResult:
    """The review state at ``threshold`` computed from scratch (see the module docstring)."""
    if not isinstance(inputs, EngineInputs):
        inputs = prepare(inputs, **prepare_kwargs)  # type: ignore[arg-type]
    if mode not in OVERLAY_MODES:
        raise ConfigError(f"overlay mode must be one of {OVERLAY_MODES}, got {mode!r}")
    p, rule, ref = inputs.probability, inputs.rule, inputs.reference
    vv = inputs.voxel_volume
    mask = p >= np.float64(threshold)
    pred_labels, n_pred = label_components(mask, rule, vv)
    order = _predicted_order(pred_labels, n_pred, p)
    pred_id = {label: i for i, label in enumerate(order, start=1)}  # label → row id
    pred_boxes = ndimage.find_objects(pred_labels, max_label=n_pred)
    pred_size = {label: int(np.count_nonzero(pred_labels[pred_boxes[label - 1]] == label)) for label in order}

    rows: list[LesionComponent] = []
    metrics: dict = {"threshold": float(threshold), "rule": rule.name}
    if ref is None:
        status_pred: dict[int, str | None] = {label: None for label in order}
        partners_pred: dict[int, tuple[int, ...]] = {label: () for label in order}
        metrics["voxel"] = {
            "n_predicted_voxels": int(mask.sum()),
            "predicted_volume_mm3": float(mask.sum() * vv),
        }
        metrics["lesion"] = {
            "n_predicted": n_pred,
            "predicted_volume_mm3": float(sum(pred_size.values()) * vv),
        }
        metrics["surface"] = None
    else:
        ref_labels, n_ref = label_components(ref, rule, vv)
        ref_boxes = ndimage.find_objects(ref_labels, max_label=n_ref)
        ref_size, ref_overlaps = {}, {}
        for r, box in enumerate(ref_boxes, start=1):
            inside = ref_labels[box] == r
            ref_size[r] = int(inside.sum())
            hits = pred_labels[box][inside]
            ids, counts = np.unique(hits[hits > 0], return_counts=True)
            ref_overlaps[r] = {int(j): int(c) for j, c in zip(ids, counts, strict=True)}
        pred_overlaps: dict[int, dict[int, int]] = {label: {} for label in order}
        for r, hits in ref_overlaps.items():
            for j, c in hits.items():
                pred_overlaps[j][r] = c
        pred_outside = {j: (pred_size[j] - sum(pred_overlaps[j].values())) / pred_size[j] for j in order}
        ref_outside = {r: (ref_size[r] - sum(ref_overlaps[r].values())) / ref_size[r] for r in ref_size}
        detected = {r: _detected(ref_size[r], ref_overlaps[r], pred_outside, rule) for r in ref_size}
        true_pred = {j: _detected(pred_size[j], pred_overlaps[j], ref_outside, rule) for j in order}
        status_pred = {j: "TP" if true_pred[j] else "FP" for j in order}
        partners_pred = {j: tuple(sorted(pred_overlaps[j])) for j in order}
        voxel_counts = VoxelCounts.from_masks(mask, ref)
        metrics["voxel"] = voxel_counts.as_dict()
        metrics["lesion"] = lesion_counts(np.array(list(detected.values()), dtype=bool),
                                          np.array(list(true_pred.values()), dtype=bool))
        metrics["surface"] = surface_distances(mask, ref, inputs.spacing) if surface else None

    def lesion_row(labels: np.ndarray, label: int, box: tuple, kind: str, row_id: int, status, partners):
        inside = labels[box] == label
        local = np.argwhere(inside) + [s.start for s in box]
        values = p[box][inside].astype(np.float64)
        centroid = local.mean(axis=0)
        return LesionComponent(
            id=row_id,
            kind=kind,
            n_voxels=int(inside.sum()),
            volume_mm3=float(inside.sum() * vv),
            centroid_zyx=_triple(centroid),
            centroid_lps=_triple(inputs.geometry.index_to_physical(centroid)[0]),
            max_probability=float(values.max()),
            mean_probability=float(values.mean()),
            status=status,
            partners=partners,
        )

    for label in order:
        rows.append(
            lesion_row(
                pred_labels,
                label,
                pred_boxes[label - 1],
                "predicted",
                pred_id[label],
                status_pred[label],
                partners_pred[label],
            )
        )
    if ref is not None:
        for r, box in enumerate(ref_boxes, start=1):
            partners = tuple(sorted(pred_id[j] for j in ref_overlaps[r]))
            rows.append(
                lesion_row(ref_labels, r, box, "reference", r, "TP" if detected[r] else "FN", partners)
            )

    overlay = np.zeros(p.shape, dtype=np.uint8)
    if mode == "voxel" and ref is not None:
        overlay[mask & ref] = OVERLAY_TP
        overlay[mask & ~ref] = OVERLAY_FP
        overlay[~mask & ref] = OVERLAY_FN
    elif ref is None:
        overlay[pred_labels > 0] = OVERLAY_PREDICTED
    else:  # the overlay rule: predicted lesions by status, then every voxel of a missed reference lesion FN
        pred_lut = np.zeros(n_pred + 1, dtype=np.uint8)
        for j in order:
            pred_lut[j] = OVERLAY_TP if true_pred[j] else OVERLAY_FP
        overlay = pred_lut[pred_labels]
        missed = np.zeros(n_ref + 1, dtype=bool)
        for r in ref_size:
            missed[r] = not detected[r]
        overlay[missed[ref_labels]] = OVERLAY_FN
    surface_fn = None if ref is None else (lambda: surface_distances(mask, ref, inputs.spacing))
    return ThresholdResult(
        threshold=float(threshold),
        mode=mode,
        metrics=metrics,
        _mask=lambda: mask,
        _overlay=lambda: overlay,
        _lesions=lambda: rows,
        _surface=surface_fn,
    )
