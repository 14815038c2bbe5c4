"""What the LesionSeg panel shows and does in each state — Qt-free, so every face behaves the same and plain
pytest checks it (``Testing/test_presenter.py``).

A face (the desktop widget, later the web page) forwards user actions to :class:`PanelPresenter` and draws the
:class:`PanelView` it publishes through :attr:`PanelPresenter.changed`; it never decides anything itself.

States (:class:`PanelState`, derived from what the presenter holds, never stored apart from it):

- ``idle``: no FLAIR chosen — Apply and "load probability" are disabled;
- ``ready``: a FLAIR is chosen and nothing is under review — Apply runs the chosen model;
- ``running`` / ``cancelling``: a model runs in a child process (Apply turns into Cancel; inputs are locked);
  a review that was open before the run stays usable and is replaced only when the new run succeeds;
- ``reviewing``: a probability map is under review (slider, overlay mode, matching rule, tables, curve, export);
- ``accepted``: the prediction was copied into an editable segmentation (edit in the Segment Editor, re-score).

Every action is safe in every state: an action that does not apply (the slider before any run, Accept with no
review, Cancel when nothing runs) does nothing. Bad input (:class:`LesionSegError`) is reported through
``report_error`` and shown as the status; nothing the user had is dropped.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path
from typing import Any, Protocol

from LesionSegLogic.defaults import defaults_for_map, pick_model
from LesionSegLogic.errors import Cancelled, LesionSegError

from .dicom_source import dicom_source, is_dicom_review
from .lesion_panel import LesionNavigator
from .parameters import MATCHING_RULES, OVERLAY_MODES, ModelChoice, ReviewParameters
from .review_notes import ReviewNotes
from .signal import Signal
from .slider import ThresholdSlider


class PanelState(str, Enum):
    IDLE = "idle"
    READY = "ready"
    RUNNING = "running"
    CANCELLING = "cancelling"
    REVIEWING = "reviewing"
    ACCEPTED = "accepted"


RUN_STATES = (PanelState.RUNNING, PanelState.CANCELLING)
REVIEW_STATES = (PanelState.REVIEWING, PanelState.ACCEPTED)


class CardInfo(Protocol):
    """The part of a model card the panel shows (``LesionSegLogic.zoo.ModelCard`` has it)."""

    name: str
    loss: str
    inputs: tuple[str, ...]
    recommended_threshold: float


class Job(Protocol):
    """A running inference (``runner.SubprocessJob``)."""

    fraction: float
    lines: list[str]

    def poll(self) -> int | None: ...

    def cancel(self) -> None: ...


@dataclass(frozen=True)
class PanelInputs:
    """What the user picked (volume/segmentation nodes; ``None`` when not chosen)."""

    flair: Any = None
    t2: Any = None
    baseline: Any = None
    reference: Any = None


@dataclass(frozen=True)
class PanelView:
    """Everything a face draws: texts and what is enabled/visible."""

    state: PanelState
    status: str
    apply_text: str
    apply_enabled: bool
    inputs_enabled: bool
    load_probability_enabled: bool
    progress_visible: bool
    progress_percent: int
    review_enabled: bool
    recommended_enabled: bool
    recommended_text: str
    accept_enabled: bool
    edit_enabled: bool
    rescore_prediction_enabled: bool
    rescore_reference_enabled: bool
    export_enabled: bool
    model_info: str
    bound_note: str = ""  #: what the threshold engine bounded (``ReviewSession.bound_note``), also in ``status``
    #: the lesion labels to choose from (a multi-label nnU-Net model), empty otherwise (the choice is then hidden)
    model_labels: tuple[str, ...] = ()
    #: the export formats the review offers (:data:`EXPORT_FORMATS`; the DICOM ones only for DICOM inputs)
    export_formats: tuple[str, ...] = ()
    #: the zoo model the faces' one auto-pick (:func:`LesionSegLogic.defaults.pick_model`) chooses for the chosen
    #: inputs, and why (also at the end of ``model_info``); empty before a FLAIR is chosen or without cards
    auto_model: str = ""
    auto_model_reason: str = ""
    #: the lesion load (count, volume, regions; :func:`.lesion_list.describe_load`) and the table row of the lesion
    #: "Next FN/FP" last went to (−1: none)
    lesion_load: str = ""
    lesion_row: int = -1


STATUS = {
    PanelState.IDLE: "Choose a FLAIR volume (T2, baseline and reference are optional), a model, then Apply.",
    PanelState.READY: "Ready: Apply runs the chosen model on the inputs.",
    PanelState.RUNNING: "Running…",
    PanelState.CANCELLING: "Cancelling…",
    PanelState.REVIEWING: "Reviewing: move the threshold; click a lesion to centre the views on it.",
    PanelState.ACCEPTED: "Accepted: edit the segmentation in the Segment Editor, then re-score.",
}
NO_MODEL = "Choose a model first."
#: how "Load probability map" reads another tool's map (``read_image``'s ``channel``/``scale``, the CLI's
#: ``--channel``/``--scale``): the choice shown → the value (``None``: a 3-D map / the scale detected and said)
MAP_CHANNELS: dict[str, int | None] = {"3-D map": None, **{f"channel {k}": k for k in range(4)}}
MAP_SCALES: dict[str, float | None] = {"detect": None, "÷ 255": 255.0, "÷ 1000": 1000.0}
#: the export choices: what the review export always writes (NIfTI mask, Slicer segmentation, tables, curve) and,
#: for DICOM inputs, the DICOM objects beside it — format name → ``export_review`` keywords
EXPORT_FORMATS: dict[str, tuple[str, ...]] = {
    "NIfTI": (),
    "NIfTI + DICOM SEG": ("dicom_seg",),
    "NIfTI + DICOM SEG + Parametric Map": ("dicom_seg", "dicom_pmap"),
}
NO_DEPENDENCIES = "Dependencies are missing: nothing was run."
CANCELLED = "Cancelled: the previous review (if any) is unchanged."


def table_row(model_row: int, column_titles_as_header: bool) -> int:
    """The ``vtkTable`` row shown in row ``model_row`` of a (not transposed) ``qMRMLTableView``'s model.

    ``qMRMLTableModel::mrmlTableRowIndex``: unless the table node uses its column titles as the header
    (``UseColumnTitleAsColumnHeader``, off by default), the model's first row shows the column names, so model
    row ``r`` is table row ``r - 1`` (``-1``: the names row)."""
    return model_row if column_titles_as_header else model_row - 1


def model_info(card: CardInfo | None) -> str:
    """The line under the model list (empty when no model is chosen)."""
    if card is None:
        return ""
    if getattr(card, "kind", "zoo") != "zoo":  # a model the user added (LesionSegLogic.external.model_entry)
        return (f"{card.title} — {card.spec}; inputs: {', '.join(card.inputs)}; "
                f"recommended threshold: {card.recommended_threshold:.2f}")
    return (f"loss: {card.loss or 'n/a'}; inputs: {', '.join(card.inputs)}; "
            f"recommended threshold: {card.recommended_threshold:.2f}")


class PanelPresenter:
    """The panel's behaviour.

    ``cards``: the zoo's model cards (listed without torch). ``create_session(parameters)``: a new
    ``ReviewSession`` (with its runner) for one run or loaded map. ``ensure_dependencies()``: asks once and
    installs what a run/export needs; False when the user declined. ``export(session, folder)``: writes the
    review and returns the files (``export(session, folder, dicom_seg=SERIES, dicom_pmap=SERIES)`` when a DICOM
    format is chosen). ``report_error(message)``: shows an error to the user. ``locate_dicom(uid)``: the file of a
    DICOM instance (desktop: ``slicer.dicomDatabase.fileForInstance``), to find the series of a FLAIR that Slicer's
    DICOM module loaded.
    """

    def __init__(
        self,
        cards: Sequence[CardInfo],
        create_session: Callable[[ReviewParameters], Any],
        ensure_dependencies: Callable[[], bool],
        export: Callable[[Any, str], Sequence[Any]],
        report_error: Callable[[str], None] = lambda message: None,
        parameters: ReviewParameters | None = None,
        locate_dicom: Callable[[str], str] | None = None,
    ) -> None:
        self.cards = {card.name: card for card in cards}
        #: models the user added (nnU-Net v2 folders, ONNX), by their resolved path (the spec the runner gets)
        self.added: dict[str, Any] = {}
        self.model_label = ""
        self._locate_dicom = locate_dicom
        self._create_session = create_session
        self._ensure_dependencies = ensure_dependencies
        self._export = export
        self._report_error = report_error
        self.parameters = parameters or ReviewParameters()
        self.inputs = PanelInputs()
        self.model = ""
        self.device = "auto"
        self.session: Any = None
        self.slider: ThresholdSlider | None = None
        self.recommended: float | None = None
        self.job: Job | None = None
        self._pending: Any = None
        self._request: Any = None
        self._cancelling = False
        self._message = ""
        #: ``changed(PanelView)`` after every action; ``review_started(session)`` when a new review is shown
        #: (the face binds its tables/plot and moves its slider to ``session.threshold``)
        self.changed = Signal()
        self.review_started = Signal()
        #: the reader's notes on lesions, by lesion identity (saved with the review, listed in the report)
        self.notes = ReviewNotes()
        #: "Next FN/FP", the lesion load and the regions of the review (:mod:`.lesion_panel`)
        self.lesions = LesionNavigator()

    # ---------------------------------------------------------------------------------------------- state
    @property
    def state(self) -> PanelState:
        if self.job is not None:
            return PanelState.CANCELLING if self._cancelling else PanelState.RUNNING
        if self.session is not None:
            return PanelState.ACCEPTED if self.session.accepted_node is not None else PanelState.REVIEWING
        return PanelState.READY if self.inputs.flair is not None else PanelState.IDLE

    def auto_pick(self) -> Any:
        """The zoo model for the chosen inputs (:func:`LesionSegLogic.defaults.pick_model`; a brain image is assumed
        first, as the web app does when the field of view does not say), ``None`` without a FLAIR or a fitting card."""
        if self.inputs.flair is None:
            return None
        roles = {role for role, node in (("flair", self.inputs.flair), ("t2", self.inputs.t2),
                                         ("baseline", self.inputs.baseline)) if node is not None}
        cards = [c for c in self.cards.values() if hasattr(c, "images_needed")]
        return pick_model(cards, roles, "brain", "assumed") or pick_model(cards, roles, None)

    def view(self) -> PanelView:
        state = self.state
        pick = self.auto_pick()
        running = state in RUN_STATES
        reviewing = self.session is not None
        accepted = reviewing and self.session.accepted_node is not None
        can_start = state not in RUN_STATES and self.inputs.flair is not None
        if state is PanelState.RUNNING and self.job is not None and self.job.lines:
            status = self.job.lines[-1]
        elif self._message:
            status = self._message
        elif can_start and not self.model:
            status = NO_MODEL
        else:
            status = STATUS[state]
        has_recommended = reviewing and self.recommended is not None
        bound_note = (getattr(self.session, "bound_note", None) or "") if reviewing else ""
        if bound_note and not running:  # the cap and what a threshold below the floor costs: said, not hidden
            status = f"{status} Note: {bound_note}."
        return PanelView(
            state=state,
            status=status,
            apply_text="Cancel" if running else "Apply",
            apply_enabled=state is PanelState.RUNNING or (can_start and bool(self.model)),
            inputs_enabled=not running,
            load_probability_enabled=can_start,
            progress_visible=running,
            progress_percent=int(round(100 * self.job.fraction)) if self.job is not None else 0,
            review_enabled=reviewing,
            recommended_enabled=has_recommended,
            recommended_text=f"Recommended ({self.recommended:.2f})" if has_recommended else "Recommended",
            accept_enabled=reviewing,
            edit_enabled=reviewing,
            rescore_prediction_enabled=accepted and self.session.reference is not None,
            rescore_reference_enabled=accepted,
            export_enabled=reviewing,
            model_info=" · ".join(t for t in (model_info(self.cards.get(self.model) or self.added.get(self.model)),
                                              pick.reason if pick else "") if t),
            auto_model=pick.name if pick else "",
            auto_model_reason=pick.reason if pick else "",
            lesion_load=self.lesions.load_text(self.session) if reviewing else "",
            lesion_row=self.lesions.row(self.session) if reviewing else -1,
            bound_note=bound_note,
            model_labels=self._labels(),
            export_formats=tuple(f for f, keys in EXPORT_FORMATS.items()
                                 if not keys or (reviewing and is_dicom_review(self.session))),
        )

    def _publish(self, message: str = "") -> None:
        self._message = message
        self.changed.emit(self.view())

    def _attempt(self, function: Callable[..., Any], *args: Any) -> tuple[bool, Any]:
        """``(True, result)``, or ``(False, None)`` after reporting a :class:`LesionSegError`."""
        try:
            return True, function(*args)
        except LesionSegError as error:
            self._report_error(str(error))
            self._publish(str(error))
            return False, None

    # ---------------------------------------------------------------------------------------------- inputs
    def set_inputs(self, flair: Any = None, t2: Any = None, baseline: Any = None, reference: Any = None) -> None:
        """The user's picks. A new reference re-scores the open review; other inputs take effect on Apply."""
        old_reference = self.inputs.reference
        self.inputs = PanelInputs(flair, t2, baseline, reference)
        changed = self.session is not None and reference is not old_reference
        if changed and not self._attempt(self.session.set_reference, reference)[0]:
            return
        self._publish()

    def select_model(self, name: str) -> None:
        """A model of the zoo or one added (its path); unknown names are kept (Apply then says what is wrong)."""
        self.model = str(name or "")
        if self.model_label not in self._labels():
            self.model_label = ""
        self._publish()

    def model_items(self) -> list[tuple[str, str]]:
        """``(text shown, model)`` of every model the picker lists: the zoo by name, then the added models by their
        label ("nnU-Net: Dataset501_MS (fold 0)", "ONNX: name")."""
        return [(name, name) for name in sorted(self.cards)] + [(e.title, spec) for spec, e in self.added.items()]

    def add_model(self, path: str) -> str | None:
        """Add an nnU-Net v2 model folder or an ONNX model (read without torch:
        :func:`LesionSegLogic.external.model_entry.describe_model`) and select it; its path (returned) is what
        the runner gets, exactly as ``lesionseg predict --model PATH``. A bad path is reported, nothing changes."""
        from LesionSegLogic.external.model_entry import describe_model  # json only, no torch

        if not str(path or "").strip():
            self._publish("Choose an nnU-Net model folder or an ONNX model first.")
            return None
        ok, entry = self._attempt(describe_model, str(path).strip())
        if not ok:
            return None
        self.added[entry.spec] = entry
        self.model_label = ""
        self.select_model(entry.spec)
        if entry.needs_label:
            self._publish(f"Added {entry.title}: choose its lesion label ({', '.join(entry.labels)}).")
        else:
            self._publish(f"Added {entry.title}.")
        return entry.spec

    def select_label(self, label: str) -> None:
        """The lesion label of a multi-label nnU-Net model (values it does not list are ignored)."""
        self.model_label = label if label in self._labels() else ""
        self._publish()

    def _labels(self) -> tuple[str, ...]:
        entry = self.added.get(self.model)
        return tuple(entry.labels) if entry is not None and entry.needs_label else ()

    def _model_choice(self) -> ModelChoice:
        """The run's model; an added multi-label nnU-Net model without its lesion label is refused here (a clear
        error naming the labels), before anything starts."""
        from .runner import NNUNET_LABEL

        entry = self.added.get(self.model)
        label = entry.check_label(self.model_label or None) if entry is not None else None
        return ModelChoice(self.model, self.device, extra={NNUNET_LABEL: label} if label else {})

    def select_device(self, device: str) -> None:
        self.device = device
        self._publish()

    def set_mode(self, mode: str) -> None:
        """Overlay mode; remembered before any run and used by the next review. Values outside the vocabulary
        (a combo box that is being refilled reports ``""``) are ignored."""
        if mode in OVERLAY_MODES and mode != self.parameters.mode:
            self.parameters = replace(self.parameters, mode=mode)
            if self.session is not None:
                self._attempt(self.session.set_mode, mode)
        self._publish()

    def set_rule(self, rule: str) -> None:
        """Lesion matching rule; as :meth:`set_mode`."""
        if rule in MATCHING_RULES and rule != self.parameters.rule:
            self.parameters = replace(self.parameters, rule=rule)
            if self.session is not None:
                self._attempt(self.session.set_rule, rule)
        self._publish()

    # ---------------------------------------------------------------------------------------------- run
    def apply(self) -> None:
        """Run the chosen model (or cancel the run in progress). The open review, if any, stays until the new
        run succeeds."""
        state = self.state
        if state is PanelState.RUNNING:
            self.cancel()
            return
        if state is PanelState.CANCELLING or self.inputs.flair is None:
            self._publish()
            return
        if not self.model:
            self._publish(NO_MODEL)
            return
        if not self._ensure_dependencies():
            self._publish(NO_DEPENDENCIES)
            return
        ok, started = self._attempt(self._start)
        if ok:
            self._pending, self._request, self.job = started
            self._cancelling = False
            self._publish()

    def _start(self):
        session = self._new_session()
        request = session.inference_request(self._model_choice())
        return session, request, session.runner.start(request, None)

    def _new_session(self):
        session = self._create_session(self.parameters)
        session.set_inputs(self.inputs.flair, t2=self.inputs.t2, baseline=self.inputs.baseline)
        if self.inputs.reference is not None:
            session.set_reference(self.inputs.reference)
        return session

    def cancel(self) -> None:
        """Stop the run in progress (nothing happens when nothing runs)."""
        if self.job is None or self._cancelling:
            return
        self._cancelling = True
        self._publish()
        self.job.cancel()

    def poll(self) -> bool:
        """Called by the face's timer while a run is in progress: progress, then the result. Returns True while
        the face should keep polling."""
        if self.job is None:
            return False
        if self.job.poll() is None:
            self._publish()
            return True
        job, session, request = self.job, self._pending, self._request
        self.job = self._pending = self._request = None
        self._cancelling = False
        try:
            result = session.runner.finish(job, request)
            session.use_result(result)
        except Cancelled:
            self._publish(CANCELLED)
            return False
        except LesionSegError as error:
            self._report_error(str(error))
            self._publish(str(error))
            return False
        self._show(session, getattr(result, "recommended_threshold", None))
        warnings = (getattr(result, "details", None) or {}).get("warnings") or []
        if warnings:  # e.g. a brain model on a spinal-cord image: said, never silent (issue 15 item 5)
            self._publish("Warning: " + " ".join(str(w) for w in warnings))
        return False

    def load_probability(self, path: str, channel: int | None = None, scale: float | None = None) -> None:
        """Review an existing probability map on the FLAIR grid, at the threshold of the project's one policy
        (:func:`LesionSegLogic.defaults.defaults_for_map`: the ``summary.json`` that ``lesionseg predict`` wrote
        beside the map, else the fallback). Only a threshold a model recommended there enables "Recommended";
        the status says where the threshold came from. ``channel``/``scale``: another tool's 4-D softmax or
        integer map (:data:`MAP_CHANNELS`, :data:`MAP_SCALES`), read as ``lesionseg app --channel/--scale`` does."""
        if self.state in RUN_STATES or self.inputs.flair is None:
            self._publish()
            return
        if not str(path or "").strip():
            self._publish("Choose a probability map file first.")
            return

        chosen = defaults_for_map(path, rule=self.parameters.rule)

        def load():
            from LesionSegLogic.io import read_image  # SimpleITK: imported on use
            from LesionSegLogic.io.read import read_header

            if Path(path).is_file():  # a softmax without channel: the reader's message says how many there are
                read_header(path, role="probability", channel=channel)
            session = self._new_session()
            if channel is None and scale is None:
                session.load_probability(path, chosen.threshold)
                return session

            session.load_probability(read_image(path, role="probability", channel=channel, scale=scale),
                                     chosen.threshold)
            session.source_files["probability"] = Path(path)  # the export's provenance names the file
            return session

        ok, session = self._attempt(load)
        if ok:
            self._show(session, chosen.threshold if chosen.recommended else None)
            self._publish(f"Opened the map at {chosen.describe()}.")

    def _show(self, session: Any, recommended: float | None) -> None:
        self.session = session
        self.slider = ThresholdSlider(session)
        self.recommended = None if recommended is None else float(recommended)
        self.notes.clear()  # notes belong to the review they were written on (a saved review brings its own)
        self._publish()
        self.review_started.emit(session)

    # ---------------------------------------------------------------------------------------------- review
    def threshold_dragged(self, value: float) -> None:
        """A slider value while its handle is dragged: live review only."""
        if self.slider is not None:
            self._attempt(self.slider.drag, float(value))

    def threshold_settled(self, value: float) -> None:
        """A slider value that settled (release, keyboard, typed, Recommended): the whole session is synced."""
        if self.slider is not None and self._attempt(self.slider.settle, float(value))[0]:
            self._publish()

    def recommended_threshold(self) -> float | None:
        """The value the slider should move to for "Recommended" (``None``: no model gave one)."""
        return self.recommended if self.session is not None else None

    def lesion_clicked(self, row: int) -> None:
        """Row ``row`` of the lesion table node (same order as ``session.lesions``; see :func:`table_row`): centre
        the views on that lesion. Rows that are not lesions (``-1``: the column names) do nothing."""
        if self.session is None:
            return
        lesions = self.session.lesions
        if 0 <= row < len(lesions):
            self.lesions.clicked(self.session, row)
            self._attempt(self.session.jump_to_lesion, lesions[row].id, lesions[row].kind)

    def next_lesion(self, status: str, backwards: bool = False) -> None:
        """"Next FN"/"Next FP": the next lesion with ``status`` in the lesion table after the one last shown,
        wrapping; the views centre on it, zoom in and mark it (``view().lesion_row``: its table row)."""
        if self.session is not None and self._attempt(self.lesions.next, self.session, status, backwards)[0]:
            self._publish()

    def label_regions(self) -> None:
        """"Label regions": each lesion's McDonald 2017 region (a registration for real brain scans: seconds)."""
        if self.session is None:
            return
        ok, method = self._attempt(self.lesions.label_regions, self.session)
        if ok:
            self._publish(f"Regions: {method}.")

    # ---------------------------------------------------------------------------------------------- edit
    def accept(self) -> Any:
        """Copy the prediction at the current threshold into an editable segmentation (``None``: no review)."""
        if self.session is None:
            return None
        ok, node = self._attempt(self.session.accept)
        if ok:
            self._publish()
        return node

    def edit(self) -> tuple[Any, Any] | None:
        """``(segmentation node, source volume node)`` for the Segment Editor, accepting first when needed."""
        if self.session is None:
            return None
        if self.session.accepted_node is None and self.accept() is None:
            return None
        return self.session.accepted_node, self.session.flair_node

    def rescore(self, edited_as: str) -> None:
        """Re-score after edits (``"prediction"`` or ``"reference"``); only once something was accepted."""
        if self.session is None or self.session.accepted_node is None:
            return
        if self._attempt(self.session.rescore, edited_as)[0]:
            self._publish()

    def export(self, folder: str, export_format: str = "NIfTI") -> Sequence[Any]:
        """Write the review into ``folder`` (after the dependency check: export needs matplotlib/nibabel). A DICOM
        ``export_format`` (:data:`EXPORT_FORMATS`) adds the DICOM SEG (and Parametric Map) referencing the series
        the FLAIR came from (:func:`.dicom_source.dicom_source`); refused with a clear message for other inputs."""
        if self.session is None:
            return ()
        if not str(folder or "").strip():
            self._publish("Choose an output folder first.")
            return ()
        if export_format not in EXPORT_FORMATS:
            self._publish(f"Unknown export format {export_format!r}; choose one of {', '.join(EXPORT_FORMATS)}.")
            return ()
        dicom: dict[str, Any] = {}
        if EXPORT_FORMATS[export_format]:
            ok, series = self._attempt(dicom_source, self.session, self._locate_dicom)
            if not ok:
                return ()
            dicom = dict.fromkeys(EXPORT_FORMATS[export_format], series)
        if not self._ensure_dependencies():
            self._publish(NO_DEPENDENCIES)
            return ()
        ok, files = self._attempt(lambda: self._export(self.session, folder, **dicom))
        if not ok:
            return ()
        self._publish(f"Exported {len(files)} files to {folder}")
        return files

    # ---------------------------------------------------------------------------------------------- saved review
    def save_review(self, folder: str) -> Path | None:
        """Save the whole review (:func:`.saved_review.save_review`) into a new ``saved-review-NNN`` folder under
        ``folder``, with the notes; returns that folder (``None``: nothing saved)."""
        if self.session is None:
            return None
        if not str(folder or "").strip():
            self._publish("Choose an output folder first.")
            return None
        from .saved_review import numbered, save_review  # matplotlib/nibabel: after the check

        target = numbered(folder, "saved-review")
        ok, _ = self._attempt(lambda: save_review(self.session, target, notes=self.notes.by_key))
        if ok:
            self._publish(f"Saved the review to {target}.")
        return target if ok else None

    def open_review(self, folder: str) -> bool:
        """Reopen a saved review (:func:`.saved_review.open_review`: every file's sha256 checked first) in a new
        session: threshold, rule, overlay mode, accepted segmentation and notes as saved."""
        if self.state in RUN_STATES:
            self._publish()
            return False
        if not str(folder or "").strip():
            self._publish("Choose a saved review folder first.")
            return False
        from .saved_review import open_review

        def load():
            session = self._create_session(self.parameters)
            return session, open_review(session, folder)

        ok, opened = self._attempt(load)
        if not ok:
            return False
        session, review = opened
        self.parameters = session.parameters
        self.inputs = PanelInputs(session.flair_node, session.t2_node, session.baseline_node, session.reference_source)
        self._show(session, review.recommended_threshold)
        self.notes.replace(review.notes)
        self._publish(f"Opened the saved review {Path(folder).name} at threshold {review.threshold:.2f}"
                      + (f" with {len(review.notes)} notes." if review.notes else "."))
        return True

    def export_report(self, folder: str) -> Path | None:
        """The HTML report of the review (:func:`.review_report.export_report`) as ``report-NNN.html`` in
        ``folder``; returns its path."""
        if self.session is None:
            return None
        if not str(folder or "").strip():
            self._publish("Choose an output folder first.")
            return None
        if not self._ensure_dependencies():
            self._publish(NO_DEPENDENCIES)
            return None
        from .review_report import export_report
        from .saved_review import numbered

        path = numbered(folder, "report", ".html")
        ok, _ = self._attempt(lambda: export_report(self.session, path, self.notes.by_key))
        if ok:
            self._publish(f"Wrote the report {path}.")
        return path if ok else None

    def note_focused(self, text: str) -> None:
        """:meth:`note_lesion` on the lesion in focus (the row last clicked or reached by Next FN/FP)."""
        if self.session is None:
            return
        row = self.lesions.row(self.session)
        if row < 0:
            self._publish("Click a lesion in the table first, then choose its note.")
            return
        self.note_lesion(row, text)

    def note_lesion(self, row: int, text: str) -> None:
        """Note ``text`` ("confirmed", "artefact", …; empty: none) on the lesion in row ``row`` of the lesion table
        (same order as ``session.lesions``); kept by the lesion's identity, saved with the review."""
        if self.session is None:
            return
        lesions = self.session.lesions
        if 0 <= row < len(lesions):
            ok, _ = self._attempt(self.notes.set, lesions[row], text, self.session.flair.voxel_volume)
            if ok:
                self._publish(f"Note on {lesions[row].kind} lesion {lesions[row].id}: {text or '(none)'}.")

    # ---------------------------------------------------------------------------------------------- scene
    def scene_closed(self) -> None:
        """The scene was closed: its nodes are gone, so the run, the review and the picks are dropped."""
        self.stop()
        self.session = self.slider = self.recommended = None
        self.inputs = PanelInputs()
        self._publish()

    def stop(self) -> None:
        """Kill a run in progress without waiting for its result (module cleanup, scene close)."""
        job, self.job, self._pending, self._request = self.job, None, None, None
        self._cancelling = False
        if job is not None:
            job.cancel()
