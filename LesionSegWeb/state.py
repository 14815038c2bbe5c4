"""trame state ⇄ :class:`ReviewSession`: the thin face. Every number shown comes from the session; this module
only forwards what the user did and copies what the session says into state variables the page renders.

State variables (the page's contract; tests read and write them):

``threshold`` (slider), ``recommended`` · ``rule`` (lesion matching rule, one of ``rules``) · ``mode``
(overlay ``lesion``/``voxel``) · ``opacity`` · ``message``/``message_kind`` (``info``/``error``) ·
``case_name`` · ``has_inputs``/``has_probability``/``has_reference`` · ``models`` (select items),
``model`` · ``running``/``progress``/``progress_text`` · ``summary`` (one-line metrics text) ·
``metric_rows`` (``[{group, name, value}]``) · ``lesions`` (``[{id, status, volume, pmax}]``) ·
``curve`` (SVG paths, see :mod:`.curve`) · ``accepted`` · ``export_dir``/``exported`` ·
``path_*`` (the open fields).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from LesionSegLib.nodes import image_from_volume_node
from LesionSegLib.parameters import MATCHING_RULES, OVERLAY_MODES, ModelChoice
from LesionSegLib.runner import CancelToken, InferenceRequest, InferenceResult
from LesionSegLib.session import ReviewSession, ReviewState
from LesionSegLib.slider import ThresholdSlider

from LesionSegLogic.errors import Cancelled, LesionSegError

from .curve import curve_paths
from .files import PathGate, find_case, prediction_info
from .format import lesion_items, metric_items, summary_line
from .services import DemoCase, Services

log = logging.getLogger(__name__)


class Viewport(Protocol):
    """What the binding asks of the slice views (implemented over trame-slicer in :mod:`.viewport`)."""

    def show_volume(self, node: Any) -> None: ...

    def set_overlay_opacity(self, nodes: list[Any], opacity: float) -> None: ...


def initial_state() -> dict[str, Any]:
    return {
        "threshold": 0.5, "recommended": 0.5, "opacity": 0.6,
        "rule": "hussein", "rules": list(MATCHING_RULES), "mode": "lesion", "modes": list(OVERLAY_MODES),
        "message": "Open a case or load the demo phantom.", "message_kind": "info",
        "case_name": "", "has_inputs": False, "has_probability": False, "has_reference": False,
        "models": [], "model": None, "running": False, "progress": 0.0, "progress_text": "",
        "summary": "", "metric_rows": [], "lesions": [], "curve": curve_paths(None, None),
        "accepted": "", "export_dir": "", "exported": "",
        "demo_names": [], "demo_name": None,
        "path_case": "", "path_flair": "", "path_t2": "", "path_reference": "", "path_probability": "",
    }


@dataclass
class _Run:
    token: CancelToken
    model: str


class ReviewBinding:
    """Connects one trame ``state`` to one ``session``; ``viewport`` moves the slice views."""

    def __init__(
        self, state: Any, session: ReviewSession, viewport: Viewport, *, services: Services, gate: PathGate,
        export_dir: Path,
    ) -> None:
        self.state = state
        self.session = session
        self.slider = ThresholdSlider(session)
        self.viewport = viewport
        self.services = services
        self.gate = gate
        self.export_dir = Path(export_dir)
        self._run: _Run | None = None
        state.update(initial_state())
        state.export_dir = str(self.export_dir)
        state.rule, state.mode = session.parameters.rule, session.parameters.mode
        self.refresh_demos()
        state.change("threshold")(self._on_threshold)
        state.change("rule")(self._on_rule)
        state.change("mode")(self._on_mode)
        state.change("opacity")(self._on_opacity)
        session.updated.connect(self._on_updated)
        session.curve_changed.connect(self._on_curve)

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
        except Exception as error:  # noqa: BLE001 - the server must keep running whatever happens
            log.exception("web app action failed")
            self._say(f"internal error: {type(error).__name__}: {error}", "error")
            return False
        if text:
            self._say(text)
        return True

    def flush(self) -> None:
        self.state.flush()

    # ------------------------------------------------------------------------------------------ models
    def refresh_models(self, preferred: str | None = None) -> None:
        def load() -> None:
            models = self.services.models()
            self.state.models = [{"title": m.title, "value": m.name, "threshold": m.recommended_threshold}
                                 for m in models]
            names = [m.name for m in models]
            if preferred and preferred not in names:
                raise LesionSegError(f"model {preferred!r} is not in the zoo (have: {', '.join(names)})")
            self.state.model = preferred or (names[0] if names else None)
        self._guard(load)

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
        self.state.curve = curve_paths(None, None)
        self.state.accepted = self.state.exported = ""

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
        except Exception as error:  # noqa: BLE001 - shown in the panel; the server keeps running
            self._say(str(error) if isinstance(error, LesionSegError) else f"demo failed: {error}", "error")
            return False
        finally:
            self.state.running = False
            self.flush()
        return self.show_demo(case, with_stand_in)

    def show_demo(self, case: DemoCase, with_stand_in: bool = True) -> bool:
        def show() -> str:
            self.session.set_inputs(case.flair, t2=case.t2)
            self.session.set_reference(case.reference)
            self._after_inputs(case.name)
            if case.probability is not None and with_stand_in:
                self._use_probability(case.probability, 0.5, f"{case.name} probability")
            elif with_stand_in:
                self._use_probability(self.services.stand_in(self.session.reference, self.session.flair), 0.5,
                                      "stand-in (no model)")
            return f"Loaded the demo {case.name}."
        ok = self._guard(show)
        self.flush()
        return ok

    def open_case(self, folder: str | None = None) -> bool:
        def load() -> str:
            path = self.gate.folder(folder if folder is not None else self.state.path_case)
            case = find_case(path)
            return self._open(case.flair, case.t2, case.reference, case.probability, path.name)
        return self._guard(load)

    def open_files(self) -> bool:
        """Open the paths typed in the panel (``path_flair`` required, others optional)."""
        def load() -> str:
            s = self.state
            flair = self.gate.file(s.path_flair, "FLAIR file")
            optional = [self.gate.file(p, what) if str(p or "").strip() else None for p, what in
                        ((s.path_t2, "T2 file"), (s.path_reference, "reference file"),
                         (s.path_probability, "probability file"))]
            return self._open(flair, *optional, flair.name)
        return self._guard(load)

    def _open(self, flair: Path, t2: Path | None, reference: Path | None, probability: Path | None,
              name: str) -> str:
        self.session.set_inputs(flair, t2=t2)
        self.session.set_reference(reference)
        self._after_inputs(name)
        if probability is None:
            return f"Opened {name}."
        made_by = prediction_info(probability)  # `lesionseg predict`'s summary.json, when it is there
        if made_by.model is not None and any(item["value"] == made_by.model for item in self.state.models or []):
            self.state.model = made_by.model
        threshold = made_by.threshold if made_by.threshold is not None else self._selected_threshold()
        self.session.load_probability(probability, threshold)
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
        return 0.5

    # ------------------------------------------------------------------------------------------ inference
    async def run_model(self) -> bool:
        """Run the selected model in a worker thread (progress bar, cancel); the result goes to the session"""
        if self._run is not None:
            self._say("a model is already running", "error")
            return False
        if not self._guard(self._check_can_run):
            return False
        request = self._request()
        self._run = _Run(CancelToken(), request.model.spec)
        loop = asyncio.get_running_loop()
        self.state.running, self.state.progress, self.state.progress_text = True, 0.0, "starting"
        self._say(f"Running {request.model.spec}…")
        self.flush()

        def progress(fraction: float, text: str) -> None:
            loop.call_soon_threadsafe(self._on_progress, float(fraction), str(text))

        try:
            result = await loop.run_in_executor(
                None, lambda: self.services.runner.run(request, progress, self._run.token))
        except Cancelled:
            self._say("Inference cancelled; nothing changed.")
            return False
        except LesionSegError as error:
            self._say(str(error), "error")
            return False
        except Exception as error:  # noqa: BLE001 - a failing model must not take the server down
            log.exception("inference failed")
            self._say(f"inference failed: {type(error).__name__}: {error}", "error")
            return False
        finally:
            self._run = None
            self.state.running = False
            self.flush()
        ok = self._guard(lambda: self._apply(result))
        self.flush()
        return ok

    def _check_can_run(self) -> None:
        if not self.state.has_inputs:
            raise LesionSegError("open a case (or the demo) before running a model")
        if not self.state.model:
            raise LesionSegError("choose a model first")

    def _request(self) -> InferenceRequest:
        s = self.session
        t2 = None if s.t2_node is None else image_from_volume_node(s.t2_node, np.float32)
        return InferenceRequest(s.flair, ModelChoice(str(self.state.model)), t2)

    def _apply(self, result: InferenceResult) -> str:
        self._use_probability(result.probability, result.recommended_threshold, result.model_name)
        return f"{result.model_name or 'model'} done; threshold set to its recommended value."

    def _on_progress(self, fraction: float, text: str) -> None:
        self.state.progress = round(100.0 * fraction, 1)
        self.state.progress_text = text
        self.flush()

    def cancel(self) -> None:
        if self._run is not None:
            self._run.token.cancel()
            self._say("Cancelling…")

    # ------------------------------------------------------------------------------------------ review
    def _on_threshold(self, threshold: float, **_: Any) -> None:
        """Each value of the bound slider: live during a drag (between its ``start`` and ``end`` events), else
        a settled value (keyboard step, a state write) that also syncs the whole session."""
        if threshold is not None:
            self._guard(lambda: self.slider.change(float(threshold)) and None)

    def threshold_start(self) -> None:
        """The slider's ``start`` event: a drag begins."""
        self.slider.start()

    def threshold_end(self, threshold: float | None = None) -> None:
        """The slider's ``end`` event (the drag released, with the final value): sync the whole session."""
        self._guard(lambda: self.slider.settle(None if threshold is None else float(threshold)) and None)

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
        s = self.state
        s.threshold = review.threshold
        s.rule, s.mode = self.session.parameters.rule, review.mode
        s.recommended = self.session.recommended_threshold
        s.summary = summary_line(review.metrics, self.session.reference is not None, review.threshold,
                                 len(review.lesions))
        s.metric_rows = metric_items(review.metrics)
        s.lesions = lesion_items(review.lesions)
        s.curve = curve_paths(self.session.plot.curve if self.session.plot else None, review.threshold)
        self._on_opacity(s.opacity)  # the segments redraw themselves: the session notifies MRML

    def _overlay_nodes(self) -> list[Any]:
        return [seg.node for seg in (self.session.prediction, self.session.review) if seg is not None]

    def _on_curve(self) -> None:
        plot = self.session.plot
        self.state.curve = curve_paths(plot.curve if plot else None, self.session.threshold)

    def _on_opacity(self, opacity: float, **_: Any) -> None:
        nodes = self._overlay_nodes()
        if nodes and opacity is not None:
            self.viewport.set_overlay_opacity(nodes, float(opacity))

    def reset_threshold(self) -> None:
        self._guard(lambda: self.session.reset_to_recommended() and "Threshold back to the recommended one.")

    def jump(self, lesion_id: int, kind: str = "predicted") -> None:
        def go() -> str:
            ras = self.session.jump_to_lesion(int(lesion_id), kind=str(kind))
            return (f"{str(kind).capitalize()} lesion {int(lesion_id)} at R {ras[0]:.1f}, A {ras[1]:.1f}, "
                    f"S {ras[2]:.1f} mm.")
        self._guard(go)

    def accept(self) -> None:
        def go() -> str:
            node = self.session.accept()
            self.state.accepted = node.GetName()
            return f"Accepted as the segmentation “{node.GetName()}”."
        self._guard(go)

    def export(self) -> None:
        def go() -> str:
            if self.session.engine is None:
                raise LesionSegError("nothing to export yet: load a probability map or run a model")
            where = self.services.export(self.session, self.export_dir)
            self.state.exported = str(where)
            return f"Exported the review to {where}."
        self._guard(go)
