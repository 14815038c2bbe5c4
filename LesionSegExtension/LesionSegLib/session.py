"""ReviewSession — one review of one case over an MRML scene; the ONE place of LesionSeg that knows MRML.

Used by the desktop module (``LesionSeg.py`` → :mod:`.widget`) and the web app alike; no Qt, no GUI state.
Typical use::

    session = ReviewSession(scene, runner=InProcessRunner(), view_controller=SliceViewJumper(scene))
    session.set_inputs(flair_node_or_path, t2=None, baseline=None)
    session.set_reference(reference_segmentation_node_or_labelmap_or_path)   # optional
    session.run_inference(ModelChoice("unet-tversky"))     # or session.load_probability("probability.nii.gz")
    session.set_threshold(0.35)        # prediction + TP/FP/FN segments, metrics, lesion table, curve marker
    session.preview_threshold(0.34)    # a slider drag: segments, metrics, marker; the lesion table waits
    session.jump_to_lesion(3)          # centre the slice views on lesion 3
    accepted = session.accept()        # an ordinary editable segmentation (open it in the Segment Editor)
    session.rescore(edited_as="prediction")                  # after edits
    export_review(session, "out/")     # .seg.nrrd, mask NIfTI, metrics CSV/JSON, lesions CSV, curve PNG

Nodes it creates (attributes): ``probability_node`` (scalar volume), ``prediction`` (segmentation node
"LesionSeg prediction", one segment), ``review`` ("LesionSeg review": TP green / FP red / FN blue, only with a
reference), ``metrics_table``, ``lesion_table``, ``plot`` (:class:`ThresholdCurvePlot`, ``plot.chart``). Every
created node goes under the FLAIR's study in the subject hierarchy.

Signals (:class:`Signal`): ``threshold_changed(float)``, ``updated(ReviewState)``, ``progress(float, str)``,
``curve_changed()``.

``bound_note``: what the engine's candidate cap bounded (``ThresholdEngine.bound_note``: the floor below which a
threshold is a whole-volume pass, and what the last one cost), ``None`` when nothing was bounded; the faces show it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from functools import cache, cached_property, partial
from pathlib import Path
from typing import Any

import numpy as np
import slicer

from LesionSegLogic.defaults import FALLBACK_THRESHOLD
from LesionSegLogic.errors import InputError, LesionSegError
from LesionSegLogic.image import Image

from .inputs import checked_inputs, is_node, reference_mask, volume_node
from .nodes import add_volume_node, image_from_volume_node, update_volume_node
from .parameters import (
    PREDICTION_SEGMENTS,
    REVIEW_SEGMENTS,
    EditedAs,
    ModelChoice,
    OverlayMode,
    ReviewParameters,
)
from .plot import Curve, ThresholdCurvePlot
from .runner import CancelToken, InferenceRequest, InferenceResult, InferenceRunner
from .segmentation import SharedLabelmapSegmentation, add_mask_segmentation, merged_mask
from .signal import Signal
from .tables import LesionRow, lesion_rows, write_lesion_table, write_metrics_table
from .views import ViewController

EngineFactory = Callable[..., Any]


def default_engine_factory(probability: Image, spacing, reference=None, rule: str = "hussein"):
    """``LesionSegLogic.threshold.ThresholdEngine`` on the probability ``Image`` (physical centroids)."""
    from LesionSegLogic.threshold import ThresholdEngine  # other layer, imported on use

    return ThresholdEngine(probability, spacing, reference=reference, rule=rule)


#: A (z, y, x) box of voxels, as slices.
Box = tuple[slice, slice, slice]


@dataclass(frozen=True, eq=False)
class ReviewState:
    """What the review shows at one threshold (one :meth:`ReviewSession.set_threshold`).

    ``metrics`` (the ``evaluate`` dictionary) is built with the update; ``lesions`` (the lesion table's rows) on
    first access (a slider drag does not read them: :meth:`ReviewSession.preview_threshold`), from the engine's
    state at this threshold, so they are exact whenever they are read.
    ``changed_bbox``: the (z, y, x) box of the voxels whose displayed label changed in this update (the review
    overlay with a reference, else the prediction); ``None`` when none did. ``full``: the update rewrote the whole
    labelmap (first display, a mode/rule/map change, a threshold outside the engine's merge forest);
    ``changed_bbox`` then spans the grid (or is ``None`` if nothing differed).

    ``mask`` (bool) and ``overlay`` (uint8; ``None`` without a reference) are independent arrays made on first
    access, never stale: a copy of the session's live buffers while this state is still what they show, else
    recomputed by the engine at this threshold (exact, slower). ``result`` is the engine's ``ThresholdResult`` at
    this threshold (``engine.at``), made on first access.
    """

    threshold: float
    mode: OverlayMode
    metrics: dict
    _rows: Callable[[], tuple[LesionRow, ...]] = field(repr=False)
    changed_bbox: Box | None
    full: bool
    _engine: Any = field(repr=False)
    _update: Any = field(repr=False)  # the LiveUpdate whose buffers the views showed
    _has_reference: bool = field(repr=False, default=True)

    @cached_property
    def lesions(self) -> tuple[LesionRow, ...]:
        return self._rows()

    @cached_property
    def result(self) -> Any:
        return self._engine.at(self.threshold, mode=self.mode)

    @cached_property
    def mask(self) -> np.ndarray:
        return np.array(self._current("mask"), dtype=bool)

    @cached_property
    def overlay(self) -> np.ndarray | None:
        return np.array(self._current("overlay"), dtype=np.uint8) if self._has_reference else None

    def _current(self, name: str) -> np.ndarray:
        from LesionSegLogic.threshold import StaleLiveViewError  # other layer, imported on use

        try:
            return getattr(self._update, name)
        except StaleLiveViewError:  # the live view moved on since: ask the engine
            return getattr(self.result, name)


class ReviewSession:
    """One review: inputs → probability map → live threshold with TP/FP/FN overlay, metrics, curve, export.

    ``scene``: an ``vtkMRMLScene``. ``runner``: an :class:`InferenceRunner` (only needed for
    :meth:`run_inference`). ``view_controller``: receives :meth:`jump_to_lesion` points. ``engine_factory``:
    builds the threshold engine (default ``LesionSegLogic.threshold.ThresholdEngine``).
    """

    def __init__(
        self,
        scene,
        *,
        runner: InferenceRunner | None = None,
        view_controller: ViewController | None = None,
        parameters: ReviewParameters | None = None,
        engine_factory: EngineFactory = default_engine_factory,
        name: str = "LesionSeg",
    ) -> None:
        self.scene = scene
        self.runner = runner
        self.view_controller = view_controller
        self.parameters = parameters or ReviewParameters()
        self._engine_factory = engine_factory
        self.name = name
        self.threshold_changed = Signal()
        self.updated = Signal()
        self.progress = Signal()
        self.curve_changed = Signal()
        self.flair_node = self.t2_node = self.baseline_node = None
        self.flair: Image | None = None
        #: the path the FLAIR was read from (``None``: a node or an in-memory image), see :meth:`set_inputs`
        self.flair_source: Path | None = None
        self.reference: np.ndarray | None = None
        self.reference_source = None
        #: role (``probability``, ``reference``) → the file the map was read from, for an export's provenance (the
        #: session keeps no file-backed node of maps read from paths)
        self.source_files: dict[str, Path] = {}
        self.probability: Image | None = None
        self.probability_node = None
        self.recommended_threshold = FALLBACK_THRESHOLD
        self.model_name = ""
        self.engine = None
        self.state: ReviewState | None = None
        self._table_state: ReviewState | None = None  # the state whose rows the lesion table holds
        self._live: dict[str, Any] = {}  # one LiveView per overlay mode, made on first use; reset with the engine
        self._mirrors: dict[str, tuple[Any, int]] = {}  # labelmap → (LiveView, generation) whose buffer it equals
        self._prediction_stale = False
        self.prediction: SharedLabelmapSegmentation | None = None
        self.review: SharedLabelmapSegmentation | None = None
        self.metrics_table = None
        self.lesion_table = None
        self.plot: ThresholdCurvePlot | None = None
        self.accepted_node = None
        #: where each lesion lies (``LesionSegLogic.regions.RegionAtlas``; ``None``: rows have no region yet), see
        #: :meth:`set_region_atlas`
        self.region_atlas = None
        self._reference_regions: tuple | None = None  # (atlas, reference, rule, regions) of the last rows

    # ------------------------------------------------------------------------------------------ inputs
    def set_inputs(self, flair, t2=None, baseline=None) -> None:
        """FLAIR (required), T2 and baseline FLAIR (optional): volume nodes, file paths or ``Image``s. Files are
        read with the CLI's checks and the T2/baseline must cover the FLAIR (``inputs.checked_inputs``) before
        anything of the open review changes. ``flair_source`` keeps the path a FLAIR was read from (a DICOM series
        folder makes the review exportable as DICOM SEG: ``export.dicom_source``)."""
        source = Path(flair) if isinstance(flair, str | os.PathLike) else None
        flair, t2, baseline = checked_inputs(flair, t2, baseline)
        self.flair_source = source
        self.flair_node = volume_node(self.scene, flair, "FLAIR")
        self.flair = image_from_volume_node(self.flair_node, np.float32)
        self.t2_node = None if t2 is None else volume_node(self.scene, t2, "T2")
        self.baseline_node = None if baseline is None else volume_node(self.scene, baseline, "Baseline FLAIR")
        self._drop_results()

    def set_reference(self, reference) -> None:
        """Reference lesions (segmentation node, labelmap/scalar volume node, file, ``Image``) or ``None``."""
        self._require_inputs()
        if reference is None:
            self.reference, self.reference_source = None, None
        else:
            self.reference = reference_mask(self.scene, reference, self.flair_node, self.flair)
            self.reference_source = reference if is_node(reference) else None
        _remember_source(self.source_files, "reference", reference)
        if self.probability is not None:
            self._rebuild_engine()

    def _require_inputs(self) -> None:
        if self.flair is None:
            raise InputError("no FLAIR volume: call set_inputs first")

    def _require_probability(self) -> None:
        if self.engine is None or self.probability is None:
            raise InputError("no probability map: run inference or load one first")

    # ------------------------------------------------------------------------------------------ probability
    def run_inference(self, model: ModelChoice, cancel: CancelToken | None = None) -> None:
        """Run the injected runner on the inputs; keeps the probability map as a node and in the engine."""
        if self.runner is None:
            raise LesionSegError("this session has no inference runner")
        request = self.inference_request(model)
        self.use_result(self.runner.run(request, lambda f, m: self.progress.emit(f, m), cancel))

    def inference_request(self, model: ModelChoice) -> InferenceRequest:
        """The request a runner needs for the current inputs (GUIs that poll a job build it themselves)."""
        self._require_inputs()
        images = {k: None if n is None else image_from_volume_node(n, np.float32)
                  for k, n in (("t2", self.t2_node), ("baseline", self.baseline_node))}
        return InferenceRequest(self.flair, model, images["t2"], images["baseline"])

    def use_result(self, result: InferenceResult) -> None:
        """Show a finished inference: probability node + engine, threshold at the recommended value."""
        self._require_inputs()
        if result.probability.shape != self.flair.shape:
            raise InputError("probability map is not on the FLAIR grid", result.probability.name or None)
        self.model_name = result.model_name
        self.source_files.pop("probability", None)  # made here, not read from a file
        self._set_probability(self.flair.with_array(np.asarray(result.probability.array, np.float32),
                                                    name="probability"), result.recommended_threshold)

    def load_probability(self, probability, recommended_threshold: float = FALLBACK_THRESHOLD) -> None:
        """Use an existing probability map (node, file or ``Image``) on the FLAIR grid."""
        self._require_inputs()
        if isinstance(probability, Image):
            image = probability
        else:
            image = image_from_volume_node(volume_node(self.scene, probability, f"{self.name} probability",
                                                       role="probability"))
        array = np.asarray(image.array, dtype=np.float32)
        if not np.all(np.isfinite(array)) or array.min() < 0 or array.max() > 1:
            raise InputError("probability map must hold finite values in [0, 1]", image.name or None)
        if not image.same_grid(self.flair):
            raise InputError("probability map is not on the FLAIR grid", image.name or None)
        self._set_probability(self.flair.with_array(array, name="probability"), recommended_threshold)
        _remember_source(self.source_files, "probability", probability)

    def _set_probability(self, probability: Image, recommended_threshold: float) -> None:
        self.probability = probability
        self.recommended_threshold = float(recommended_threshold)
        if self.probability_node is None:
            self.probability_node = add_volume_node(self.scene, probability, f"{self.name} probability")
            self._place(self.probability_node)
        else:
            update_volume_node(self.probability_node, probability)
        self._rebuild_engine()
        self.set_threshold(self.recommended_threshold)

    def _rebuild_engine(self, keep_threshold: bool = False) -> None:
        assert self.probability is not None
        probability = self.probability
        self.engine = self._engine_factory(
            probability, probability.spacing, reference=self.reference, rule=self.parameters.rule
        )
        self._live.clear()
        self._mirrors.clear()
        self._ensure_nodes()
        self._update_curve()
        if keep_threshold and self.state is not None:
            self.set_threshold(self.state.threshold, force=True)

    # ------------------------------------------------------------------------------------------ nodes
    def _ensure_nodes(self) -> None:
        if self.prediction is None:
            self.prediction = SharedLabelmapSegmentation(
                self.scene, f"{self.name} prediction", self.flair_node, PREDICTION_SEGMENTS)
            self._place(self.prediction.node)
        if self.reference is not None and self.review is None:
            self.review = SharedLabelmapSegmentation(
                self.scene, f"{self.name} review", self.flair_node, REVIEW_SEGMENTS)
            self._place(self.review.node)
        if self.review is not None:
            self.review.set_visible(self.reference is not None)
            self.prediction.set_visible(self.reference is None)
        if self.metrics_table is None:
            self.metrics_table = self.scene.AddNewNodeByClass("vtkMRMLTableNode", f"{self.name} metrics")
            self.lesion_table = self.scene.AddNewNodeByClass("vtkMRMLTableNode", f"{self.name} lesions")
            self.plot = ThresholdCurvePlot(self.scene, f"{self.name} threshold curve")
            for node in (self.metrics_table, self.lesion_table, self.plot.chart):
                self._place(node)

    def _place(self, node) -> None:
        """Put ``node`` next to the FLAIR in the subject hierarchy (its study), when there is one."""
        hierarchy = slicer.vtkMRMLSubjectHierarchyNode.GetSubjectHierarchyNode(self.scene)
        if hierarchy is None or self.flair_node is None:
            return
        flair_item = hierarchy.GetItemByDataNode(self.flair_node)
        if not flair_item:
            return
        parent = hierarchy.GetItemParent(flair_item)
        if not parent or parent == hierarchy.GetSceneItemID():
            return
        item = hierarchy.GetItemByDataNode(node)
        if item:  # desktop Slicer's subject hierarchy plugins create items for new nodes
            hierarchy.SetItemParent(item, parent)
        else:  # bare MRML (slicer-core): nobody did
            hierarchy.CreateItem(parent, node)

    def _drop_results(self) -> None:
        self.region_atlas = None
        self.engine = None
        self.state = None
        self._table_state = None
        self._live.clear()
        self._mirrors.clear()

    # ------------------------------------------------------------------------------------------ threshold
    def set_threshold(self, threshold: float, force: bool = False) -> ReviewState:
        """Show the review at ``threshold``: segments + tables + curve marker, writing only what changed.

        The engine's live path (one ``LiveView`` per overlay mode) moves persistent mask/overlay buffers and lists
        the voxels that changed; only those are written into the displayed labelmap (the review overlay with a
        reference, else the prediction). The hidden prediction segment waits for :meth:`sync_prediction`.
        A lesion table left behind by :meth:`preview_threshold` at the same threshold is completed.
        """
        state = self._move(threshold, force)
        self._sync_lesion_table()
        return state

    def preview_threshold(self, threshold: float) -> ReviewState:
        """A slider-drag step: like :meth:`set_threshold` (segments, metrics table, curve marker, ``updated``) but
        the lesion rows are not built and the lesion table waits for the next :meth:`set_threshold` or
        :meth:`sync_prediction` (the value settling). With thousands of predicted lesions (low thresholds) the
        rows and their table cost more than the rest of the step; ``state.lesions`` still gives them on demand."""
        return self._move(threshold, False)

    def _move(self, threshold: float, force: bool) -> ReviewState:
        self._require_probability()
        threshold = float(threshold)
        if not 0.0 <= threshold <= 1.0:
            raise InputError(f"threshold must be between 0 and 1, got {threshold}")
        current = self.state
        if not force and current is not None and current.threshold == threshold and current._engine is self.engine:
            return current
        mode = self.parameters.mode
        live = self._live_view(mode)
        update = live.set(threshold)
        if self.reference is not None:
            bbox, full = self._show(self.review, "review", live, update, live.overlay)
            self._prediction_stale = True  # hidden behind the review; refreshed by sync_prediction()
        else:
            bbox, full = self._show(self.prediction, "prediction", live, update, live.mask.view(np.uint8))
            self._prediction_stale = False
        rows = cache(partial(self._rows_of, update, lambda: state.mask, self.region_atlas))  # built once, shared
        write_metrics_table(self.metrics_table, update.metrics)
        self.plot.set_current(threshold)
        self.state = state = ReviewState(threshold, mode, dict(update.metrics), rows, bbox, full, self.engine,
                                         update, self.reference is not None)
        self.threshold_changed.emit(threshold)
        self.updated.emit(self.state)
        return self.state

    def _rows_of(self, update, mask: Callable[[], np.ndarray], atlas) -> tuple[LesionRow, ...]:
        """The lesion rows of one update; with a region atlas, each lesion's region (``regions.regions_by_row``:
        components numbered as the engine's matching rule numbers them)."""
        if atlas is None:
            return tuple(lesion_rows(update.lesions))
        from LesionSegLogic.metrics.lesion import label_components  # other layer, imported on use
        from LesionSegLogic.regions import reference_regions_of, regions_by_row

        rule, voxel_volume, reference = self.engine.rule, self.flair.voxel_volume, self.reference
        label = lambda m: label_components(m, rule, voxel_volume)  # noqa: E731 - the engine's numbering
        known = self._reference_regions  # the reference's regions do not move with the threshold: once per pair
        if reference is not None and (known is None or known[0] is not atlas or known[1] is not reference
                                      or known[2] is not rule):
            known = self._reference_regions = (atlas, reference, rule, reference_regions_of(atlas, reference, label))
        regions = regions_by_row(atlas, update.lesions, mask(), reference, label,
                                 None if reference is None else known[3])
        return tuple(lesion_rows(update.lesions, regions, atlas.cord_top_mm))

    def set_region_atlas(self, atlas) -> None:
        """Label the lesions with ``atlas`` (``LesionSegLogic.regions.atlas_for_case``; ``None``: no regions) from
        now on; the current rows are rebuilt with their regions."""
        self.region_atlas = atlas
        if self.state is not None:
            self.set_threshold(self.state.threshold, force=True)

    def _live_view(self, mode: str):
        """The engine's ``LiveView`` for ``mode`` (made on first use; dropped when the engine is rebuilt)."""
        if mode not in self._live:
            self._live[mode] = self.engine.live(mode)
        return self._live[mode]

    def _show(self, segmentation: SharedLabelmapSegmentation, key: str, live, update,
              labels: np.ndarray) -> tuple[Box | None, bool]:
        """Make ``segmentation`` show ``labels`` (a live buffer): only the update's changed voxels when the labelmap
        equals this view's buffer as it was before ``update``, else (and for full updates) the whole volume."""
        mirrored = self._mirrors.pop(key, None)
        if update.full or mirrored is None or mirrored[0] is not live or mirrored[1] != live.generation - 1:
            whole = segmentation.update(labels)
            bbox, full = (tuple(slice(0, n) for n in segmentation.shape) if whole else None), True
        else:
            index = update.changed
            bbox, full = segmentation.update_at(index, labels.reshape(-1)[index]), False
        self._mirrors[key] = (live, live.generation)
        return bbox, full  # type: ignore[return-value]

    def _sync_lesion_table(self) -> None:
        """Write the current state's lesion rows into the lesion table unless it holds them already."""
        if self.state is not None and self._table_state is not self.state:
            write_lesion_table(self.lesion_table, self.state.lesions)
            self._table_state = self.state

    @property
    def lesion_table_current(self) -> bool:
        """Whether the lesion table shows the current threshold (``False`` during a :meth:`preview_threshold` drag)."""
        return self.state is None or self._table_state is self.state

    @property
    def bound_note(self) -> str | None:
        """What the engine's candidate cap bounded, in words (``ThresholdEngine.bound_note``), or ``None``."""
        return getattr(self.engine, "bound_note", None)

    def sync_prediction(self) -> None:
        """Bring what a slider drag deferred up to the current threshold: the lesion table and the (hidden)
        prediction segmentation; called when a slider drag ends, and by accept/export. Without a reference the
        prediction is always current."""
        self._sync_lesion_table()
        if self._prediction_stale and self.state is not None:
            self.prediction.update(self.state.mask.view(np.uint8))
            self._mirrors.pop("prediction", None)
            self._prediction_stale = False

    def compute_surface(self) -> dict:
        """Fill the surface distances (HD, HD95, ASD): slow on big volumes, so not on every slider move."""
        self._require_probability()
        result = self.state.result
        surface = result.compute_surface()
        metrics = {**self.state.metrics, "surface": surface}
        write_metrics_table(self.metrics_table, metrics)
        tabled = self._table_state is self.state
        self.state = replace(self.state, metrics=metrics)
        if tabled:
            self._table_state = self.state
        return surface or {}

    def reset_to_recommended(self) -> ReviewState:
        """Back to the model's recommended threshold (the slider's starting point)."""
        return self.set_threshold(self.recommended_threshold)

    def set_mode(self, mode: OverlayMode) -> None:
        self.parameters = replace(self.parameters, mode=mode)
        if self.state is not None:
            self.set_threshold(self.state.threshold, force=True)

    def set_rule(self, rule: str) -> None:
        self.parameters = replace(self.parameters, rule=rule)
        if self.probability is not None:
            self._rebuild_engine(keep_threshold=True)

    @property
    def threshold(self) -> float | None:
        return None if self.state is None else self.state.threshold

    @property
    def metrics(self) -> dict:
        return {} if self.state is None else self.state.metrics

    @property
    def lesions(self) -> tuple[LesionRow, ...]:
        return () if self.state is None else self.state.lesions

    # ------------------------------------------------------------------------------------------ curve
    def curve_thresholds(self) -> np.ndarray:
        step = self.parameters.curve_step
        return np.round(np.arange(step, 1.0 - 1e-9, step), 6)

    def _update_curve(self) -> None:
        thresholds = self.curve_thresholds()
        metrics = sweep_metrics(self.engine, thresholds)
        self.plot.set_curve(Curve.from_metrics(thresholds, metrics))
        self.curve_changed.emit()

    # ------------------------------------------------------------------------------------------ lesions
    def jump_to_lesion(self, lesion_id: int, kind: str = "predicted") -> tuple[float, float, float]:
        """RAS centre of lesion ``lesion_id`` of ``kind`` (``"predicted"`` or ``"reference"``, as in the
        lesion table); moves the injected views there."""
        for row in self.lesions:
            if row.id == int(lesion_id) and row.kind in (kind, ""):
                if self.view_controller is not None:
                    show = getattr(self.view_controller, "show_lesion", None)  # centre, zoom and mark it
                    if show is not None:
                        show(row.centroid_ras, row.diameter_mm)
                    else:
                        self.view_controller.jump_to(row.centroid_ras)
                return row.centroid_ras
        raise InputError(f"no {kind} lesion with id {lesion_id} at the current threshold")

    # ------------------------------------------------------------------------------------------ annotate
    def accept(self, name: str | None = None):
        """Copy the prediction at the current threshold into a new, ordinary, editable segmentation node, drawn
        in the slice views as an OUTLINE (2-D fill off): the live TP/FP/FN review stays visible under it and
        keeps following the threshold. An earlier accepted node stays in the scene, hidden."""
        self._require_probability()
        self.sync_prediction()
        return self.accept_mask(self.state.mask, name or f"{self.name} accepted (t={self.state.threshold:.2f})")

    def accept_mask(self, mask: np.ndarray, name: str):
        """:meth:`accept` of a given mask on the FLAIR grid (a saved review's accepted, edited segmentation)."""
        self._require_inputs()
        if tuple(mask.shape) != tuple(self.flair.shape):
            raise InputError(f"accepted mask {tuple(mask.shape)} is not on the FLAIR grid {tuple(self.flair.shape)}")
        label = name
        if self.accepted_node is not None and self.accepted_node.GetDisplayNode() is not None:
            self.accepted_node.GetDisplayNode().SetVisibility(False)
        self.accepted_node, _ = add_mask_segmentation(
            self.scene, label, np.asarray(mask, dtype=bool), self.flair_node, PREDICTION_SEGMENTS[0])
        display = self.accepted_node.GetDisplayNode()
        display.SetVisibility2DFill(False)
        display.SetVisibility2DOutline(True)
        self._place(self.accepted_node)
        return self.accepted_node

    def rescore(self, edited_as: EditedAs = "prediction", node=None) -> ReviewState:
        """Recompute everything after edits.

        ``edited_as="prediction"``: the edited segmentation (default: the accepted one) is scored against the
        reference as a fixed mask; ``"reference"``: it becomes the reference and the probability map is
        re-thresholded against it."""
        node = node if node is not None else self.accepted_node
        if node is None:
            raise InputError("nothing to re-score: accept the prediction or pass an edited segmentation node")
        edited = merged_mask(node, self.flair_node, self.scene)
        if edited_as == "reference":
            self.reference = edited
            self.reference_source = node
            self.source_files.pop("reference", None)  # the reference shown is the edit, not the file's
            self._rebuild_engine(keep_threshold=True)
            return self.state
        if edited_as != "prediction":
            raise InputError(f"edited_as must be 'prediction' or 'reference', got {edited_as!r}")
        if self.reference is None:
            raise InputError("re-scoring an edited prediction needs a reference")
        # A binary map through the same engine: every threshold in (0, 1) gives the edited mask.
        self.probability = self.flair.with_array(edited.astype(np.float32), name="edited prediction")
        self.source_files.pop("probability", None)  # the map shown is the edit, not the file's
        update_volume_node(self.probability_node, self.probability)
        self._rebuild_engine()
        return self.set_threshold(0.5, force=True)


def sweep_metrics(engine, thresholds: Sequence[float]) -> list[dict]:
    """The engine's metrics at each threshold (``ThresholdEngine.sweep``: the ``evaluate`` dictionaries)."""
    return engine.sweep([float(t) for t in thresholds])


def _remember_source(sources: dict[str, Path], role: str, value: Any) -> None:
    """Record the file ``value`` was read from under ``role`` (or forget the role for a node, image or ``None``)."""
    if isinstance(value, str | os.PathLike):
        sources[role] = Path(value)
    else:
        sources.pop(role, None)
