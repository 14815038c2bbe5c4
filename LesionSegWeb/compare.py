"""Two probability maps of the same case side by side (issue 16; the teaching case of Hussein et al. 2023 and
Cabezas & Diez 2024: the same scan under two losses, each at its own threshold).

Map A is the open review (the page's own :class:`ReviewSession` and slider). **Compare** opens map B — a second map
file (typed in ``path_compare``, under the allowed folders), e.g. a model trained with another loss — into a second
``ReviewSession`` over the *same* FLAIR volume node and reference (no second image node; only B's map, its engine
and its segmentation are new). The views switch to two axial views side by side: A's overlay only in the left one
(and the coronal/sagittal views of the normal layouts), B's only in the right one (Slicer's per-view display:
``vtkMRMLDisplayNode.SetViewNodeIDs``). The two axial views are linked: paging, panning or zooming one moves the
other to the same slice, position and field of view. Each map has its own slider (``threshold`` for A,
``threshold_b`` for B); the metrics of both are shown in two columns (``compare_rows``).

Memory: B adds one float32 map as a volume node, the engine's arrays over it (the map itself, the candidate order
and merge forest above its floor) and one uint8 labelmap — not a second FLAIR node.
**Stop** removes B's nodes and goes back to the layout before.

State variables: ``comparing``, ``path_compare`` (client-set, checked), ``threshold_b`` (client-set, checked),
``compare_name``, ``compare_summary``, ``compare_rows`` (``[{name, a, b}]``).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import numpy as np
from LesionSegLib.nodes import image_from_volume_node
from LesionSegLib.parameters import ModelChoice, ReviewParameters
from LesionSegLib.runner import CancelToken, InferenceRequest
from LesionSegLib.session import ReviewSession, ReviewState

from LesionSegLogic.errors import GeometryError, LesionSegError
from LesionSegLogic.io import read_image

from .client_values import ClientValueError, check_client_value
from .format import metric_items, summary_line
from .latest import LatestValue

COMPARE_LAYOUT = "compare"
#: the singleton tag (and label) of the right-hand axial view that shows map B
COMPARE_VIEW = "Compare"
#: the left-hand (map A) axial view: the normal layouts' axial view
MAIN_AXIAL_VIEW = "Red"
SESSION_NAME = "LesionSeg B"
#: the slice node fields copied from one linked view to the other
_LINKED = ("SliceToRAS", "FieldOfView", "XYZOrigin")
#: VTK_BACKGROUND_LOCATION (vtkProperty2D.h): the display location of the slice views' FLAIR image actor
_BACKGROUND_LOCATION = 0


def initial_state() -> dict[str, Any]:
    return {"comparing": False, "path_compare": "", "threshold_b": 0.5, "compare_name": "", "compare_summary": "",
            "compare_rows": [], "compare_model": None, "compare_running": False}


def compare_layout() -> Any:
    """Two axial views side by side: A (left), B (right)."""
    from trame_slicer.views import Layout, LayoutDirection, ViewLayoutDefinition

    return Layout(LayoutDirection.Horizontal, [ViewLayoutDefinition.axial_view(MAIN_AXIAL_VIEW),
                                               ViewLayoutDefinition.axial_view(COMPARE_VIEW)])


def metric_columns(a: dict, b: dict) -> list[dict[str, str]]:
    """``[{name, a, b}]``: the page's metric rows of both maps, in the page's order (rows either map has)."""
    left = {row["group"] + "." + row["key"]: row for row in metric_items(a)}
    right = {row["group"] + "." + row["key"]: row for row in metric_items(b)}
    keys = list(left) + [k for k in right if k not in left]
    return [{"key": k, "name": (left.get(k) or right[k])["name"], "a": left[k]["value"] if k in left else "—",
             "b": right[k]["value"] if k in right else "—"} for k in keys]


class SideBySide:
    """The compare mode of one page. ``binding``: the page's :class:`.state.ReviewBinding` (map A);
    ``slicer_app``: trame-slicer's app (scene, views); ``layout_manager``: where the compare layout is shown."""

    def __init__(self, binding: Any, slicer_app: Any, layout_manager: Any) -> None:
        self.binding = binding
        self.state = binding.state
        self.scene = slicer_app.scene
        self.views = slicer_app.view_manager
        self.layout_manager = layout_manager
        self.session: ReviewSession | None = None  # map B
        self._previous_layout: str | None = None
        self._linking = False
        self._observers: list[tuple[Any, int]] = []
        self._thresholds: LatestValue[float] = LatestValue(self._show_threshold)
        self.state.update(initial_state())
        self.state.change("threshold_b")(self._on_threshold)
        binding.session.updated.connect(self._on_a_updated)

    # ------------------------------------------------------------------------------------------ start / stop
    def start(self, path: str | None = None) -> bool:
        """Open map B (default: ``path_compare``) beside the open review; a bad map is named and nothing changes."""
        def go() -> str:
            self._require_a()
            raw = path if path is not None else self.state.path_compare
            file = self.binding.gate.file(raw, "second probability map")
            image = read_image(file, role="probability")  # as an Image: no file-backed node beside B's map node
            return self._open_b(image, None, compare_source(file), str(file))
        return self.binding._guard(go)

    def start_run(self) -> None:
        """The "Run as map B" button: :meth:`run_model` as a task (the page keeps answering while it runs)."""
        self.binding._spawn(self.run_model())

    async def run_model(self) -> bool:
        """Run the model chosen in ``compare_model`` on map A's inputs (the app's runner, in a worker thread) and
        show its map as map B at the model's recommended threshold; map A stays as it is meanwhile."""
        a, model = self.binding.session, self.state.compare_model
        if not self.binding._guard(self._require_a) or not model:
            if not model:
                self.binding._say("choose the model for map B first", "error")
            return False
        t2 = None if a.t2_node is None else image_from_volume_node(a.t2_node, np.float32)
        request, flair_node = InferenceRequest(a.flair, ModelChoice(str(model)), t2), a.flair_node
        self.state.compare_running = True
        self.binding._say(f"Running {model} for map B…")
        self.binding.flush()
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(
                None, lambda: self.binding.services.runner.run(request, None, CancelToken()))
        except Exception as error:  # a failing model must not take the server down
            self.binding._say(str(error) if isinstance(error, LesionSegError) else f"map B's model failed: {error}",
                              "error")
            return False
        finally:
            self.state.compare_running = False
            self.binding.flush()
        if flair_node is not self.binding.session.flair_node:
            self.binding._say(f"{model} finished on a case that is no longer open; map B dropped.", "error")
            return False
        name = result.model_name or str(model)
        ok = self.binding._guard(lambda: self._open_b(result.probability, float(result.recommended_threshold),
                                                      name, name))
        self.binding.flush()
        return ok

    def _require_a(self) -> None:
        a = self.binding.session
        if a.engine is None or a.flair_node is None:
            raise LesionSegError("open a case with a probability map first (map A), then compare a second map")

    def _open_b(self, image: Any, threshold: float | None, name: str, source: str) -> str:
        """Show ``image`` (on map A's grid) as map B at ``threshold`` (``None``: map A's threshold)."""
        a = self.binding.session
        if not image.same_grid(a.flair):
            raise GeometryError("the second probability map is not on the FLAIR grid of map A", source)
        b = self.session or ReviewSession(self.scene, parameters=ReviewParameters(rule=a.parameters.rule,
                                                                                  mode=a.parameters.mode),
                                          name=SESSION_NAME)
        b.set_inputs(a.flair_node)  # the same image node: no second FLAIR in the scene
        b.set_reference(None if a.reference is None else a.flair.with_array(np.asarray(a.reference, np.uint8)))
        start = threshold if threshold is not None else (a.threshold if a.threshold is not None else 0.5)
        b.load_probability(image, start)
        b.model_name = name
        if self.session is None:
            b.updated.connect(self._on_b_updated)
        self.session = b
        self._show()
        self.state.compare_name = name
        self._on_b_updated(b.state)
        return f"Comparing with {name}: left map A, right map B; each has its own slider."

    def _show(self) -> None:
        if COMPARE_LAYOUT not in self.layout_manager.get_layout_ids():
            self.layout_manager.register_layout(COMPARE_LAYOUT, compare_layout(), lazy_initialization=True)
        if self.layout_manager.layout_id != COMPARE_LAYOUT:
            self._previous_layout = self.layout_manager.layout_id
        self.layout_manager.set_layout(COMPARE_LAYOUT)
        right = self.views.get_view(COMPARE_VIEW)
        flair_node = self.binding.session.flair_node
        right.set_background_volume_id(flair_node.GetID())
        right.render_window().SetMultiSamples(0)  # as the other slice views (.viewport)
        background_first(right)
        annotations = getattr(self.binding.viewport, "annotations", None)
        if annotations is not None:  # orientation letters, slice number, W/L as in the other views
            annotations.show([right], flair_node)
        self._restrict_overlays()
        self._link()
        self._copy(self._slice_node(MAIN_AXIAL_VIEW), self._slice_node(COMPARE_VIEW))
        self.state.comparing = True
        self.state.threshold_b = self.session.threshold

    def stop(self) -> None:
        """Back to the one-map review: B's nodes removed, A's overlays in every view, the layout before."""
        self._unlink()
        if self.session is not None:
            prefix = f"{SESSION_NAME} "
            doomed = [self.scene.GetNthNode(i) for i in range(self.scene.GetNumberOfNodes())]
            for node in doomed:
                if node is not None and (node.GetName() or "").startswith(prefix):
                    self.scene.RemoveNode(node)
            self.session = None
        for node in self._overlays(self.binding.session):
            node.GetDisplayNode().RemoveAllViewNodeIDs()
        if self.layout_manager.layout_id == COMPARE_LAYOUT and self._previous_layout:
            self.layout_manager.set_layout(self._previous_layout)
        self.state.update({**initial_state(), "path_compare": self.state.path_compare,
                           "compare_model": self.state.compare_model})

    # ------------------------------------------------------------------------------------------ views
    def _slice_node(self, tag: str) -> Any:
        return self.scene.GetSingletonNode(tag, "vtkMRMLSliceNode")

    @staticmethod
    def _overlays(session: ReviewSession | None) -> list[Any]:
        if session is None:
            return []
        nodes = [seg.node for seg in (session.prediction, session.review) if seg is not None]
        return [node for node in nodes if node.GetDisplayNode() is not None]

    def _restrict_overlays(self) -> None:
        """A's segmentations in every slice view but B's; B's only in B's view."""
        compare_id = self._slice_node(COMPARE_VIEW).GetID()
        others = [self.scene.GetNthNodeByClass(i, "vtkMRMLSliceNode").GetID()
                  for i in range(self.scene.GetNumberOfNodesByClass("vtkMRMLSliceNode"))]
        others = [node_id for node_id in others if node_id != compare_id]
        for node in self._overlays(self.binding.session):
            display = node.GetDisplayNode()
            display.RemoveAllViewNodeIDs()
            for node_id in others:
                display.AddViewNodeID(node_id)
        opacity = float(self.state.opacity or 0.6)
        for node in self._overlays(self.session):
            display = node.GetDisplayNode()
            display.SetViewNodeIDs([compare_id])
            display.SetOpacity(opacity)

    def _link(self) -> None:
        """Each axial view follows the other (slice, pan, zoom)."""
        if self._observers:
            return
        left, right = self._slice_node(MAIN_AXIAL_VIEW), self._slice_node(COMPARE_VIEW)
        for source, target in ((left, right), (right, left)):
            tag = source.AddObserver("ModifiedEvent", lambda *_, s=source, t=target: self._copy(s, t))
            self._observers.append((source, tag))

    def _unlink(self) -> None:
        for node, tag in self._observers:
            node.RemoveObserver(tag)
        self._observers.clear()

    def _copy(self, source: Any, target: Any) -> None:
        if self._linking or source is None or target is None:
            return
        self._linking = True
        try:
            same = (np.allclose(_matrix(source), _matrix(target)) and
                    np.allclose(source.GetFieldOfView(), target.GetFieldOfView()) and
                    np.allclose(source.GetXYZOrigin(), target.GetXYZOrigin()))
            if not same:
                modified = target.StartModify()
                target.GetSliceToRAS().DeepCopy(source.GetSliceToRAS())
                target.SetFieldOfView(*source.GetFieldOfView())
                target.SetXYZOrigin(*source.GetXYZOrigin())
                target.UpdateMatrices()
                target.EndModify(modified)
        finally:
            self._linking = False

    # ------------------------------------------------------------------------------------------ slider B
    def _on_threshold(self, threshold_b: Any = None, **_: Any) -> None:
        try:
            value = check_client_value("threshold_b", threshold_b, self.state)
        except ClientValueError:
            return  # the one validator reverts it and says why
        if self.session is None or self.session.engine is None or self.session.threshold == value:
            return
        self._thresholds.submit(float(value))

    def _show_threshold(self, threshold: float) -> None:
        with self.state:
            self.binding._guard(lambda: self.session is not None and self.session.set_threshold(threshold) and None)

    def _on_b_updated(self, review: ReviewState) -> None:
        b = self.session
        if b is None or review is None:
            return
        if not self._thresholds.pending:
            self.state.threshold_b = review.threshold
        self.state.compare_summary = summary_line(review.metrics, b.reference is not None, review.threshold)
        self._rows()

    def _on_a_updated(self, _review: ReviewState) -> None:
        if self.session is not None:
            self._rows()

    def _rows(self) -> None:
        a, b = self.binding.session, self.session
        self.state.compare_rows = metric_columns(a.metrics if a is not None else {}, b.metrics if b else {})


def background_first(view: Any) -> None:
    """Put the view's background image actor (the FLAIR slice) first among its renderer's props.

    A slice view made after the segmentations exist (the compare view) gets the segmentation actors before the
    FLAIR slice actor, which is added only when the view gets its background volume; the overlay is then blended over
    black instead of over the FLAIR (measured: an FN lesion 0.5-blended drew (19, 45, 128) instead of the main
    view's (140, 166, 249)). Re-adding the props with the background one first gives the main views' order."""
    renderer = view.first_renderer()
    props = renderer.GetViewProps()
    items = [props.GetItemAsObject(i) for i in range(props.GetNumberOfItems())]
    background = [p for p in items
                  if p.IsA("vtkActor2D") and p.GetProperty().GetDisplayLocation() == _BACKGROUND_LOCATION]
    if not background or items[:len(background)] == background:
        return
    renderer.RemoveAllViewProps()
    for prop in background + [p for p in items if p not in background]:
        renderer.AddViewProp(prop)


def _matrix(node: Any) -> np.ndarray:
    matrix = node.GetSliceToRAS()
    return np.array([[matrix.GetElement(r, c) for c in range(4)] for r in range(4)])


def compare_source(path: str | Path) -> str:
    """``folder/name`` of a map file (what the page shows above map B's slider)."""
    path = Path(path)
    return f"{path.parent.name}/{path.name}"
