"""trame state ⇄ :class:`ReviewSession`: the thin face. Every number shown comes from the session; this module
only forwards what the user did and copies what the session says into state variables the page renders.

State variables (the page's contract; tests read and write them):

``threshold`` (slider), ``recommended`` (``None`` until a model or its ``summary.json`` gave one),
``recommended_by`` · ``rule`` (lesion matching rule, one of ``rules``) · ``mode``
(overlay ``lesion``/``voxel``) · ``opacity`` · ``message``/``message_kind`` (``info``/``warning``/``error``) ·
``case_name`` · ``has_inputs``/``has_probability``/``has_reference`` · ``models`` (select items),
``model`` · ``running``/``cancelling``/``progress``/``progress_text`` · ``summary`` (one-line metrics text) ·
``metric_rows`` (``[{group, name, value}]``) · ``lesions`` (``[{id, status, volume, pmax}]``) ·
``curve`` (SVG paths, see :mod:`.curve`) · ``accepted`` (name of the accepted segmentation),
``accepted_visible``/``accepted_opacity`` · ``edit_tool`` (one of ``edit_tools``: brush/erase on the accepted
segmentation), ``can_undo`` · ``export_dir``/``exported`` · ``path_*`` (the open fields).

Long work (a model run, a demo being generated) runs as a task on the server's event loop with the heavy part
in a worker thread, so the trigger that started it returns at once and the page keeps answering (slider,
opacity, Cancel) while it runs. Slider values are coalesced (:class:`.latest.LatestValue`): only the newest is
processed; the lesion list is sent when the slider rests (counts and metrics follow live).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from LesionSegLib.dicom_source import is_dicom_review
from LesionSegLib.inputs import checked_inputs, reference_mask
from LesionSegLib.nodes import image_from_volume_node
from LesionSegLib.parameters import MATCHING_RULES, OVERLAY_MODES, ModelChoice
from LesionSegLib.runner import NNUNET_LABEL, CancelToken, InferenceRequest, InferenceResult
from LesionSegLib.session import ReviewSession, ReviewState
from LesionSegLib.slider import ThresholdSlider

from LesionSegLogic.defaults import DEFAULT_RULE, FALLBACK_THRESHOLD
from LesionSegLogic.errors import Cancelled, GeometryError, LesionSegError

from .client_values import CheckedState, check_client_value
from .compare import initial_state as compare_state
from .curve import FRAME as CURVE_FRAME
from .curve import curve_paths
from .editing import EDIT_TOOLS, AcceptedEditor
from .files import CaseFiles, PathGate, check_openable, prediction_info
from .format import metric_items, summary_line
from .latest import LatestValue
from .lesion_table import LesionTable
from .review_folders import ReviewFolders
from .review_folders import initial_state as review_folder_state
from .services import DemoCase, Services

log = logging.getLogger(__name__)


class Viewport(Protocol):
    """What the binding asks of the slice views (implemented over trame-slicer in :mod:`.viewport`)."""

    def show_volume(self, node: Any) -> None: ...

    def set_overlay_opacity(self, nodes: list[Any], opacity: float) -> None: ...

    def set_visible(self, node: Any, visible: bool) -> None: ...

    def redraw_only_changed(self, changed: Callable[[], Any], volume_node: Any,
                            segmentations: Callable[[], list[Any]], dragging: bool = False,
                            ) -> AbstractContextManager[None]: ...

    def redraw_stale(self) -> None: ...


def initial_state() -> dict[str, Any]:
    return {
        **review_folder_state(),  # saved reviews, notes, report (issue 16, :mod:`.review_folders`)
        **compare_state(),  # a second map side by side (issue 16, :mod:`.compare`)
        "threshold": FALLBACK_THRESHOLD, "recommended": None, "recommended_by": "", "opacity": 0.6,
        "rule": DEFAULT_RULE, "rules": list(MATCHING_RULES), "mode": OVERLAY_MODES[0], "modes": list(OVERLAY_MODES),
        "message": "Open a case or load the demo phantom.", "message_kind": "info",
        "case_name": "", "has_inputs": False, "has_probability": False, "has_reference": False,
        "models": [], "model": None, "model_reason": "", "running": False, "cancelling": False, "progress": 0.0,
        "progress_text": "",
        "summary": "", "bound_note": "", "metric_rows": [], "lesions": [], "curve": curve_paths(None),
        "accepted": "", "accepted_visible": True, "accepted_opacity": 1.0, "export_dir": "", "exported": "",
        "edit_tool": "none", "edit_tools": list(EDIT_TOOLS), "can_undo": False,
        "demo_names": [], "demo_name": None,
        "path_case": "", "path_flair": "", "path_t2": "", "path_reference": "", "path_probability": "",
        # models the user brings (nnU-Net folder, ONNX), another tool's map format, DICOM export (issue 13)
        "path_model": "", "model_labels": [], "model_label": None,
        "probability_channel": None, "probability_scale": None,
        "has_dicom": False, "export_dicom_seg": False, "export_dicom_pmap": False,
    }


@dataclass
class _Run:
    token: CancelToken
    model: str
    flair_node: Any  # the inputs it was started on: a result for other inputs is dropped


class ReviewBinding:
    """Connects one trame ``state`` to one ``session``; ``viewport`` moves the slice views."""

    def __init__(
        self, state: Any, session: ReviewSession, viewport: Viewport, *, services: Services, gate: PathGate,
        export_dir: Path, editor: AcceptedEditor | None = None,
    ) -> None:
        self.state = state
        self.session = session
        self.slider = ThresholdSlider(session)
        self.viewport = viewport
        self.services = services
        self.gate = gate
        self.export_dir = Path(export_dir)
        self.editor = editor
        self._run: _Run | None = None
        self._models: list[Any] = []
        self._added: list[Any] = []  # models the user added (ModelInfo with .external), kept across refreshes
        self._model_pinned = False  # the user named a model (--model): keep it
        self._auto_model: str | None = None  # the last model selected for the user (recommended)
        self._recommended: tuple[float, str] | None = None  # (threshold, by whom) when a model gave one
        self._thresholds: LatestValue[float] = LatestValue(self._show_threshold)
        self._wanted: float | None = None  # the newest slider value the page sent
        self._tasks: set[asyncio.Task] = set()
        state.update(initial_state())
        state.export_dir = str(self.export_dir)
        state.rule, state.mode = session.parameters.rule, session.parameters.mode
        self.refresh_demos()
        #: every client-set value is checked (one validator, .client_values) before its handler sees it
        self.checked = CheckedState(state, {
            "threshold": self._on_threshold, "rule": self._on_rule, "mode": self._on_mode,
            "opacity": self._on_opacity, "accepted_visible": self._on_accepted_display,
            "accepted_opacity": self._on_accepted_display, "edit_tool": self._on_edit_tool,
            "model": self._on_model,
        }, refused=lambda text: self._say(text, "error"))
        if editor is not None:
            editor.on_change(self._on_edited)
        session.updated.connect(self._on_updated)
        session.curve_changed.connect(self._on_curve)
        #: the lesion table (sort, filter, next FN/FP) and the lesion-load summary (:mod:`.lesion_table`)
        self.lesion_table = LesionTable(state, self.jump, self._guard)
        #: save/open the review, per-lesion notes, the HTML report (:mod:`.review_folders`)
        self.folders = ReviewFolders(self)
        #: the side-by-side mode (:class:`.compare.SideBySide`; the app sets it: it needs the layout manager)
        self.compare: Any = None
        self._case_folder: Path | None = None  # the open case's folder (a phantom's phantom.json gives its regions)

    # ------------------------------------------------------------------------------------------ messages
    def _say(self, text: str, kind: str = "info") -> None:
        self.state.message, self.state.message_kind = text, kind

    def _guard(self, action: Callable[[], str | None]) -> bool:
        """Run ``action``; a LesionSeg error (or any bug) becomes a message in the panel, never a crash."""
        try:
            text = action()
        except LesionSegError as error:
            self._say(str(error), "error")
            return False
        except Exception as error:  # the server must keep running whatever happens
            log.exception("web app action failed")
            self._say(f"internal error: {type(error).__name__}: {error}", "error")
            return False
        if text:
            self._say(text)
        return True

    def flush(self) -> None:
        self.state.flush()

    def _spawn(self, work: Any) -> None:
        """Run the coroutine ``work`` as a task on the server loop: the trigger that asked for it returns at once,
        so this tab's next messages (slider, Cancel) are not queued behind it."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # ------------------------------------------------------------------------------------------ models
    def refresh_models(self, preferred: str | None = None) -> None:
        """The zoo in the model select; ``preferred`` (``--model``) stays selected, else the recommended model
        for the open inputs (:func:`LesionSegLogic.defaults.recommended_model`) is, again after every open."""
        def load() -> None:
            self._models = self.services.models()
            self._show_models()
            names = [m.name for m in self._models]
            if preferred and preferred not in names:
                raise LesionSegError(f"model {preferred!r} is not in the zoo (have: {', '.join(names)})")
            self._model_pinned = preferred is not None
            self.state.model = self._auto_model = preferred or self._recommended_model()
            self._on_model(self.state.model)
        self._guard(load)

    def _show_models(self) -> None:
        """The select's items: the zoo, then the models the user added (labelled "nnU-Net: …", "ONNX: …")."""
        self.state.models = [{"title": m.title, "value": m.name, "threshold": m.recommended_threshold}
                             for m in [*self._models, *self._added]]

    def _selected_info(self) -> Any:
        return next((m for m in [*self._models, *self._added] if m.name == self.state.model), None)

    def add_model(self) -> bool:
        """The "Add model" button: the nnU-Net v2 model folder or ONNX model typed in ``path_model`` — only from the
        folders the app may read (``PathGate.model``: the path and every file the model reads) — joins the model
        select, labelled by kind, and is selected. Running it goes through the same runner as a zoo model
        (``Predictor.load``: nnU-Net's own predictor for a folder)."""
        from .services import external_model_info

        def add() -> str:
            info = external_model_info(self.gate.model(self.state.path_model))
            self._added = [m for m in self._added if m.name != info.name] + [info]
            self._show_models()
            self.state.model = info.name
            self._model_pinned = True  # the user chose it: a new case keeps it
            self._on_model(info.name)
            if info.labels:
                return (f"Added {info.external.title}; its dataset has {len(info.labels)} foreground labels "
                        f"({', '.join(info.labels)}): choose the lesion label.")
            return f"Added {info.external.title}."
        return self._guard(add)

    def _on_model(self, model: str | None = None, **_: Any) -> None:
        """The model select: a multi-label nnU-Net model asks for its lesion label (``model_labels``)."""
        info = self._selected_info()
        labels = list(info.labels) if info is not None else []
        if labels != list(self.state.model_labels or []):
            self.state.model_labels = labels
            self.state.model_label = None

    def _recommended_model(self) -> str | None:
        """The zoo model for the open inputs (FLAIR [+ T2] [+ baseline], anatomy guessed from the FLAIR's extent;
        brain FLAIR before anything is open) by the faces' one auto-pick
        (:func:`LesionSegLogic.defaults.pick_model`), its reason in ``state.model_reason``; the first model when no
        card says (cards missing)."""
        from LesionSegLogic.anatomy import guess_anatomy
        from LesionSegLogic.defaults import pick_model

        inputs = {"flair"} | {role for role, node in (("t2", self.session.t2_node),
                                                      ("baseline", getattr(self.session, "baseline_node", None)))
                              if node is not None}
        guessed = guess_anatomy(self.session.flair) if self.session.flair is not None else None
        anatomy = guessed or "brain"
        source = "guessed from the FLAIR's field of view" if guessed else "assumed"
        cards = [m.card for m in self._models if m.card is not None]
        pick = pick_model(cards, inputs, anatomy, source) or pick_model(cards, inputs, None)
        self.state.model_reason = f"auto-picked {pick.reason}" if pick is not None else ""
        if pick is not None:
            return pick.name
        return self._models[0].name if self._models else None

    def refresh_demos(self) -> None:
        def load() -> None:
            names = self.services.demos.names() if self.services.demos is not None else []
            self.state.demo_names = names
            if self.state.demo_name not in names:
                self.state.demo_name = names[0] if names else None
        self._guard(load)

    # ------------------------------------------------------------------------------------------ inputs
    def _after_inputs(self, name: str) -> None:
        self.viewport.show_volume(self.session.flair_node)
        self.state.case_name = name
        self.state.has_inputs = True
        self.state.has_probability = False
        self.state.has_reference = self.session.reference is not None
        self.state.summary, self.state.metric_rows, self.state.lesions = "", [], []
        self.lesion_table.clear()
        self.folders.clear()
        if self.compare is not None:  # map B belonged to the case that was open
            self.compare.stop()
        self._label_regions_later()
        self.state.curve = curve_paths(None)
        self.state.accepted = self.state.exported = ""
        self.state.edit_tool, self.state.can_undo = "none", False
        self.state.has_dicom = is_dicom_review(self.session)  # the FLAIR came from a DICOM series folder
        if not self._model_pinned and self.state.model == self._auto_model:  # not changed by the user
            self.state.model = self._auto_model = self._recommended_model()
        self._recommended = None
        self.state.recommended, self.state.recommended_by = None, ""

    def start_demo(self) -> None:
        """The "Load demo" button: :meth:`load_demo` as a task."""
        self._spawn(self.load_demo())

    async def load_demo(self, name: str | None = None, with_stand_in: bool = True) -> bool:
        """A demo phantom (flair + lesions; generated in a worker thread the first time), with a model-free
        stand-in probability map unless ``with_stand_in`` is false (then run a model)."""
        name = name or self.state.demo_name
        if self.services.demos is None or not name:
            self._say("no demo cases in this installation", "error")
            return False
        self.state.running, self.state.progress_text = True, f"preparing {name}"
        self._say(f"Preparing the demo {name} (the first time takes about half a minute)…")
        self.flush()
        loop = asyncio.get_running_loop()
        try:
            case = await loop.run_in_executor(None, self.services.demos.load, name)
        except Exception as error:  # shown in the panel; the server keeps running
            self._say(str(error) if isinstance(error, LesionSegError) else f"demo failed: {error}", "error")
            return False
        finally:
            self.state.running = False
            self.flush()
        return self.show_demo(case, with_stand_in)

    def show_demo(self, case: DemoCase, with_stand_in: bool = True) -> bool:
        """Show a demo case. Everything is checked (inputs, reference, the map and its grid) before the session is
        touched: a demo that cannot be shown leaves the open review as it was, working (issue 18 item 9)."""
        def show() -> str:
            flair, t2, _ = checked_inputs(case.flair, case.t2, None)
            reference = reference_mask(None, case.reference, None, flair)
            probability, made_by = None, ""
            if case.probability is not None and with_stand_in:
                probability, made_by = case.probability, f"{case.name} probability"
            elif with_stand_in:
                probability, made_by = self.services.stand_in(reference, flair), "stand-in (no model)"
            if probability is not None and not probability.same_grid(flair):
                raise GeometryError(f"the demo {case.name}'s probability map is not on its FLAIR grid")
            self.session.set_inputs(flair, t2=t2)
            self.session.set_reference(case.reference)
            self._case_folder = None
            self._after_inputs(case.name)
            if probability is not None:
                self._use_probability(probability, FALLBACK_THRESHOLD, made_by)
            return f"Loaded the demo {case.name}."
        ok = self._guard(show)
        self.flush()
        return ok

    def open_case(self, folder: str | None = None) -> bool:
        def load() -> str:
            raw = folder if folder is not None else self.state.path_case
            case = self.gate.case(raw)  # every file of the folder checked (links out, detached data)
            check_openable(case)
            return self._open(case.flair, case.t2, case.reference, case.probability, self.gate.folder(raw).name)
        return self._guard(load)

    def open_files(self) -> bool:
        """Open the paths typed in the panel (``path_flair`` required, others optional). Every file is read and
        checked before the session is touched: a bad one is named in the panel and the open review stays."""
        def load() -> str:
            s = self.state
            flair = self.gate.image(s.path_flair, "FLAIR file")
            t2 = self.gate.image(s.path_t2, "T2 file") if str(s.path_t2 or "").strip() else None
            optional = [self.gate.file(p, what) if str(p or "").strip() else None for p, what in
                        ((s.path_reference, "reference file"), (s.path_probability, "probability file"))]
            fmt = {key: check_client_value(f"probability_{key}", s[f"probability_{key}"], s)  # the fields' clean values
                   for key in ("channel", "scale")}
            formatted = check_openable(CaseFiles(flair, t2, *optional), fmt)
            return self._open(flair, t2, *optional, flair.name, formatted)
        return self._guard(load)

    def _open(self, flair: Path, t2: Path | None, reference: Path | None, probability: Path | None,
              name: str, formatted: Any = None) -> str:
        """``formatted``: the map as read with the panel's channel/scale (another tool's 4-D or integer map)."""
        self.session.set_inputs(flair, t2=t2)
        self.session.set_reference(reference)
        self._case_folder = Path(flair).parent  # lesion regions: a phantom's folder describes its anatomy
        self._after_inputs(name)
        if probability is None:
            return f"Opened {name}."
        made_by = prediction_info(probability)  # `lesionseg predict`'s summary.json, when it is there
        if made_by.model is not None and any(item["value"] == made_by.model for item in self.state.models or []):
            self.state.model = made_by.model
        threshold = made_by.threshold if made_by.threshold is not None else self._selected_threshold()
        if made_by.threshold is not None:
            self._recommended = (made_by.threshold, made_by.model or "the prediction's summary.json")
        self.session.load_probability(probability if formatted is None else formatted, threshold)
        if formatted is not None:
            self.session.source_files["probability"] = probability  # the export's provenance names the file
        self.session.model_name = made_by.model or probability.name
        self.state.has_probability = True
        if made_by.threshold is None:
            return f"Opened {name}."
        return f"Opened {name}; threshold {threshold:.2f} as recorded by {made_by.model or 'the prediction'}."

    def _use_probability(self, image, recommended: float, model_name: str) -> None:
        self.session.load_probability(image, recommended)
        self.session.model_name = model_name
        self.state.has_probability = True

    def _selected_threshold(self) -> float:
        for item in self.state.models or []:
            if item["value"] == self.state.model:
                return float(item["threshold"])
        return FALLBACK_THRESHOLD

    # ------------------------------------------------------------------------------------------ inference
    def start_run(self) -> None:
        """The "Run" button: :meth:`run_model` as a task (the page keeps answering while it runs)."""
        self._spawn(self.run_model())

    async def run_model(self) -> bool:
        """Run the selected model in a worker thread (progress bar, cancel); the result goes to the session.
        Until it is applied nothing of the open review changes: a cancelled or failed run leaves it as it was."""
        if self._run is not None:
            self._say("a model is already running", "error")
            return False
        if not self._guard(self._check_can_run):
            return False
        request = self._request_or_none()
        if request is None:
            return False
        run = self._run = _Run(CancelToken(), request.model.spec, self.session.flair_node)
        loop = asyncio.get_running_loop()
        self.state.running, self.state.progress, self.state.progress_text = True, 0.0, "starting"
        self.state.cancelling = False
        self._say(f"Running {request.model.spec}…")
        self.flush()

        def progress(fraction: float, text: str) -> None:
            loop.call_soon_threadsafe(self._on_progress, float(fraction), str(text))

        try:
            result = await loop.run_in_executor(None, lambda: self.services.runner.run(request, progress, run.token))
            if run.token.cancelled:  # cancelled after the last check: the result is not wanted either
                raise Cancelled("inference cancelled")
        except Cancelled:
            self._say("Inference cancelled; the review is unchanged.")
            return False
        except LesionSegError as error:
            self._say(str(error), "error")
            return False
        except Exception as error:  # a failing model must not take the server down
            log.exception("inference failed")
            self._say(f"inference failed: {type(error).__name__}: {error}", "error")
            return False
        finally:
            self._run = None
            self.state.running = self.state.cancelling = False
            self.flush()
        if run.flair_node is not self.session.flair_node:
            self._say(f"{run.model} finished on a case that is no longer open; result dropped.", "error")
            self.flush()
            return False
        ok = self._guard(lambda: self._apply(result))
        self.flush()
        return ok

    def _check_can_run(self) -> None:
        if not self.state.has_inputs:
            raise LesionSegError("open a case (or the demo) before running a model")
        if not self.state.model:
            raise LesionSegError("choose a model first")

    def _request(self) -> InferenceRequest:
        """The run's request; a model the user added carries its lesion label (refused here, before anything runs,
        when a multi-label nnU-Net dataset has none chosen)."""
        s = self.session
        t2 = None if s.t2_node is None else image_from_volume_node(s.t2_node, np.float32)
        info = self._selected_info()
        label = info.external.check_label(self.state.model_label) if info is not None and info.external else None
        extra = {NNUNET_LABEL: label} if label else {}
        return InferenceRequest(s.flair, ModelChoice(str(self.state.model), extra=extra), t2)

    def _request_or_none(self) -> InferenceRequest | None:
        made: list[InferenceRequest] = []
        return made[0] if self._guard(lambda: made.append(self._request())) else None

    def _apply(self, result: InferenceResult) -> str | None:
        """Show a finished run; the predictor's warnings (anatomy mismatch, ignored inputs) in the panel."""
        self._recommended = (float(result.recommended_threshold), result.model_name or "the model")
        self._use_probability(result.probability, result.recommended_threshold, result.model_name)
        warnings = [str(w) for w in (result.details or {}).get("warnings") or []]
        if warnings:
            self._say(f"{result.model_name or 'model'} done, with a warning: {' '.join(warnings)}", "warning")
            return None
        return f"{result.model_name or 'model'} done; threshold set to its recommended value."

    def _on_progress(self, fraction: float, text: str) -> None:
        self.state.progress = round(100.0 * fraction, 1)
        self.state.progress_text = text
        self.flush()

    def cancel(self) -> None:
        """The "Cancel" button: ask the running model to stop (it checks between patches)."""
        if self._run is not None and not self._run.token.cancelled:
            self._run.token.cancel()
            self.state.cancelling = True
            self._say("Cancelling…")
            self.flush()

    # ------------------------------------------------------------------------------------------ review
    def _on_threshold(self, threshold: float, **_: Any) -> None:
        """Each value of the bound slider, coalesced: only the newest value is processed, live during a drag
        (between its ``start`` and ``end`` events), else settled (keyboard step, state write: the whole session
        is synced). The session's own value coming back (Reset, a new map) is not processed again."""
        if threshold is None:
            return
        if not self._thresholds.pending and self.session.threshold == float(threshold):
            return
        self._wanted = float(threshold)
        self._thresholds.submit(float(threshold))

    def _show_threshold(self, threshold: float) -> None:
        """One slider value → session; each view that shows a changed voxel redraws once, the others not at all.
        The state is pushed to the page when done (this may run in a task, outside any message). A value below
        the engine's floor is first computed off the loop (:meth:`_full_pass_off_loop`)."""
        if self._full_pass_off_loop(threshold, lambda: self._wanted != threshold or self._thresholds.submit(threshold)):
            return
        with self.state, self.viewport.redraw_only_changed(self._changed_box, self.session.flair_node,
                                                           self._overlay_nodes, dragging=self.slider.dragging):
            self._guard(lambda: self.slider.change(threshold) and None)

    def _full_pass_off_loop(self, threshold: float, then: Callable[[], Any]) -> bool:
        """A threshold below the engine's floor (``ThresholdEngine.bound_note``) costs a whole-volume pass: seconds
        on a big noisy map. Run it in a worker thread (``ThresholdEngine.prepare``: it only reads the engine) and
        call ``then`` on the loop when it is done, so the page keeps answering (slider, Cancel, other tabs).
        ``False``: nothing to do ahead (the forest serves it, it is prepared, or no loop runs: scripts and
        in-process tests compute in place)."""
        engine, mode = self.session.engine, self.session.parameters.mode
        if engine is None or not engine.needs_full_pass(threshold) \
                or engine.is_prepared(threshold, mode):
            return False
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return False

        async def work() -> None:
            failed: Exception | None = None
            try:
                await loop.run_in_executor(None, engine.prepare, threshold, mode)
            except Exception as error:  # reported in the panel as every action's errors are
                failed = error
            if failed is not None:
                with self.state:
                    self._guard(lambda: _raise(failed))
            elif self.session.engine is engine:
                with self.state:
                    then()

        self.state.bound_note = f"t = {threshold:.2f}: computing over the whole volume (below the engine's floor)…"
        self.flush()
        self._spawn(work())
        return True

    def _changed_box(self) -> Any:
        """The (z, y, x) box of voxels the last update changed (``ReviewState.changed_bbox``; ``None``: nothing)."""
        review = self.session.state
        return None if review is None else review.changed_bbox

    def threshold_start(self) -> None:
        """The slider's ``start`` event: a drag begins."""
        self.slider.start()

    def threshold_end(self, threshold: float | None = None) -> None:
        """The slider's ``end`` event (the drag released, with the final value): sync the whole session and
        send the lesion list."""
        self._thresholds.discard()
        if threshold is not None and self._full_pass_off_loop(float(threshold), lambda: self.threshold_end(threshold)):
            return
        with self.viewport.redraw_only_changed(self._changed_box, self.session.flair_node, self._overlay_nodes):
            self._guard(lambda: self.slider.settle(None if threshold is None else float(threshold)) and None)
        self.viewport.redraw_stale()
        self._send_lesions()

    def _send_lesions(self) -> None:
        atlas = self.session.region_atlas
        self.lesion_table.show(self.session.lesions, self.session.reference is not None,
                               "" if atlas is None else atlas.method)
        self.folders.show_notes()

    def label_regions(self) -> bool:
        """Label the lesions' regions now (in place): :meth:`.lesion_table.LesionTable.atlas_for` the open inputs."""
        def go() -> None:
            self.session.set_region_atlas(self.lesion_table.atlas_for(self.session.flair, self.session.reference,
                                                                      self._case_folder))
            self._send_lesions()
        return self._guard(go)

    def label_regions_pending(self) -> None:
        """Start the region labelling that :meth:`_label_regions_later` could not start (no loop was running)."""
        if getattr(self, "_regions_pending", False):
            self._label_regions_later()

    def _label_regions_later(self) -> None:
        """Label the lesions' regions in a worker thread (a real brain scan is registered to MNI152: seconds); the
        rows get their regions when it is done, if the same inputs are still open. Without a running loop (scripts,
        in-process tests) nothing starts: call :meth:`label_regions` (or :meth:`label_regions_pending` once the
        server runs: the app does for the case it opens at start)."""
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self._regions_pending = True
            return
        self._regions_pending = False
        session, flair_node, folder = self.session, self.session.flair_node, self._case_folder
        flair, reference = session.flair, session.reference

        async def work() -> None:
            try:
                atlas = await loop.run_in_executor(None, self.lesion_table.atlas_for, flair, reference, folder)
            except Exception as error:  # the review works without regions; say why
                log.warning("lesion regions failed: %s", error)
                with self.state:
                    self._say(f"Lesion regions are not available: {error}", "warning")
                return
            if atlas is not None and session.flair_node is flair_node:
                with self.state:
                    session.set_region_atlas(atlas)
                    self._send_lesions()
        self._spawn(work())

    def _on_rule(self, rule: str, **_: Any) -> None:
        """The "Matching rule" select: the session rebuilds its engine (metrics, lesions, overlay, curve) at the
        current threshold; an unknown rule is refused in the panel and the select goes back."""
        if rule is None or rule == self.session.parameters.rule:
            return
        if not self._guard(lambda: self.session.set_rule(str(rule)) or f"Matching rule: {rule}."):
            self.state.rule = self.session.parameters.rule

    def _on_mode(self, mode: str, **_: Any) -> None:
        """The "Overlay mode" toggle: lesion-wise or voxel-wise TP/FP/FN colouring (the session redraws)."""
        if mode is None or mode == self.session.parameters.mode:
            return
        if not self._guard(lambda: self.session.set_mode(str(mode)) or f"Overlay mode: {mode}-wise."):
            self.state.mode = self.session.parameters.mode

    def _on_updated(self, review: ReviewState) -> None:
        """Copy what the session shows into the page. The curve marker moves client side (from ``threshold``);
        during a drag the lesion list waits for the release (the summary's counts are live)."""
        s = self.state
        if not self._thresholds.pending:  # a newer value is on its way: do not send the slider back
            s.threshold = review.threshold
        s.rule, s.mode = self.session.parameters.rule, review.mode
        s.recommended, s.recommended_by = self._recommended or (None, "")
        s.summary = summary_line(review.metrics, self.session.reference is not None, review.threshold)
        s.bound_note = self.session.bound_note or ""  # what the engine bounded (the floor, the cost below it)
        s.metric_rows = metric_items(review.metrics)
        if not self.slider.dragging:
            self._send_lesions()
        self._on_opacity(s.opacity)  # new overlay nodes take the panel's opacity; the session notifies MRML

    def _overlay_nodes(self) -> list[Any]:
        return [seg.node for seg in (self.session.prediction, self.session.review) if seg is not None]

    def _on_curve(self) -> None:
        plot = self.session.plot
        self.state.curve = curve_paths(plot.curve if plot else None)

    def _on_opacity(self, opacity: float, **_: Any) -> None:
        nodes = self._overlay_nodes()
        if nodes and opacity is not None:
            self.viewport.set_overlay_opacity(nodes, float(opacity))

    def curve_click(self, fraction: Any) -> None:
        """A click on the threshold curve at ``fraction`` of its width: the threshold under it
        (:meth:`.curve.CurveFrame.threshold_at`), set as an arrow-key step sets it."""
        self._guard(lambda: self._on_threshold(CURVE_FRAME.threshold_at(fraction)))

    def reset_threshold(self) -> None:
        self._guard(lambda: self.session.reset_to_recommended() and "Threshold back to the recommended one.")

    def jump(self, lesion_id: int, kind: str = "predicted") -> None:
        def go() -> str:
            ras = self.session.jump_to_lesion(int(lesion_id), kind=str(kind))
            return (f"{str(kind).capitalize()} lesion {int(lesion_id)} at R {ras[0]:.1f}, A {ras[1]:.1f}, "
                    f"S {ras[2]:.1f} mm.")
        self._guard(go)

    def accept(self) -> None:
        """Copy the current mask into an editable segmentation drawn as an outline over the live review."""
        def go() -> str:
            node = self.session.accept()
            self.state.accepted = node.GetName()
            self._on_accepted_display(self.state.accepted_visible, self.state.accepted_opacity)
            if self.editor is not None:
                self.editor.edit(node, self.session.flair_node)
                self.state.edit_tool, self.state.can_undo = "none", False
            return f"Accepted as the segmentation “{node.GetName()}” (outline); the review keeps following the slider."
        self._guard(go)

    def _on_accepted_display(self, accepted_visible: bool, accepted_opacity: float, **_: Any) -> None:
        node = self.session.accepted_node
        if node is None:
            return
        self.viewport.set_visible(node, bool(accepted_visible))
        if accepted_opacity is not None:
            self.viewport.set_overlay_opacity([node], float(accepted_opacity))

    def _on_edit_tool(self, edit_tool: str, **_: Any) -> None:
        """The edit toggle: brush or erase the accepted segmentation in the slice views, or neither."""
        if self.editor is not None and edit_tool is not None:
            self._guard(lambda: self.editor.set_tool(str(edit_tool)))

    def _on_edited(self) -> None:
        with self.state:
            self.state.can_undo = self.editor.can_undo

    def undo_edit(self) -> None:
        """Undo the last brush or erase stroke."""
        if self.editor is not None and self.editor.undo():
            self._say("Undid the last edit.")

    def rescore(self) -> None:
        """Score the accepted (possibly edited) segmentation against the reference as a fixed prediction."""
        def go() -> str:
            self.session.rescore("prediction")
            self._send_lesions()
            return "Re-scored the accepted segmentation as the prediction (a fixed mask: the slider has no effect " \
                   "until a probability map is loaded or a model runs)."
        self._guard(go)

    def export(self) -> None:
        def go() -> str:
            if self.session.engine is None:
                raise LesionSegError("nothing to export yet: load a probability map or run a model")
            dicom = {k: True for k in ("dicom_seg", "dicom_pmap") if self.state[f"export_{k}"]}
            where = self.services.export(self.session, self.export_dir, **dicom)  # DICOM: refused unless DICOM in
            self.state.exported = str(where)
            return f"Exported the review to {where}."
        self._guard(go)


def _raise(error: BaseException) -> None:
    raise error
