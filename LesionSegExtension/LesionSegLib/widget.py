"""The desktop panel: binds ``Resources/UI/LesionSeg.ui`` to a parameter node and forwards events to a
:class:`ReviewSession`. Imported only inside 3D Slicer (it uses qt and slicer's GUI helpers)."""

from __future__ import annotations

from typing import Annotated

import qt
import slicer
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.util import VTKObservationMixin

from LesionSegLogic.errors import Cancelled, LesionSegError

from .dependencies import ensure_dependencies, slicer_installer
from .export import export_review
from .parameters import ModelChoice
from .runner import InferenceResult
from .slider import ThresholdSlider

POLL_MS = 200


@parameterNodeWrapper
class LesionSegParameterNode:
    flair: slicer.vtkMRMLScalarVolumeNode
    t2: slicer.vtkMRMLScalarVolumeNode
    baseline: slicer.vtkMRMLScalarVolumeNode
    reference: slicer.vtkMRMLNode
    model: str = ""
    device: Annotated[str, Choice(["auto", "cpu", "cuda"])] = "auto"
    threshold: Annotated[float, WithinRange(0.0, 1.0)] = 0.5
    mode: Annotated[str, Choice(["lesion", "voxel"])] = "lesion"
    rule: Annotated[str, Choice(["hussein", "anima", "any-overlap"])] = "hussein"


class LesionSegPanel(VTKObservationMixin):
    """Everything the panel does; ``logic.create_session()`` gives a session over ``slicer.mrmlScene``."""

    def __init__(self, ui, logic, parameter_node_factory) -> None:
        VTKObservationMixin.__init__(self)
        self.ui = ui
        self.logic = logic
        self._parameter_node_factory = parameter_node_factory
        self._parameter_node = None
        self._gui_tag = None
        self.session = None
        self.slider: ThresholdSlider | None = None
        self.job = None
        self._request = None
        self._timer = qt.QTimer()
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self._poll)
        self._fill_models()
        ui.applyButton.clicked.connect(self.on_apply)
        ui.loadProbabilityButton.clicked.connect(self.on_load_probability)
        # tracking off: valueIsChanging while the handle is dragged (live review), valueChanged once it settles
        # (release, arrow keys, typed value, the Recommended button): then the whole session is synced.
        ui.thresholdSlider.tracking = False
        ui.thresholdSlider.valueIsChanging.connect(self.on_threshold_dragged)
        ui.thresholdSlider.valueChanged.connect(self.on_threshold_settled)
        ui.recommendedButton.clicked.connect(self.on_recommended)
        ui.modeComboBox.currentTextChanged.connect(lambda mode: self._guarded(self.session.set_mode, mode))
        ui.ruleComboBox.currentTextChanged.connect(lambda rule: self._guarded(self.session.set_rule, rule))
        ui.modelComboBox.currentIndexChanged.connect(self._show_model_info)
        ui.lesionTableView.clicked.connect(self.on_lesion_clicked)
        ui.acceptButton.clicked.connect(self.on_accept)
        ui.editButton.clicked.connect(self.on_edit)
        ui.rescorePredictionButton.clicked.connect(lambda: self._guarded(self.session.rescore, "prediction"))
        ui.rescoreReferenceButton.clicked.connect(lambda: self._guarded(self.session.rescore, "reference"))
        ui.exportButton.clicked.connect(self.on_export)
        self.enter()

    # parameter node ------------------------------------------------------------------------------------
    def enter(self) -> None:
        self._parameter_node = self._parameter_node_factory()
        if self._gui_tag is None:
            self._gui_tag = self._parameter_node.connectGui(self.ui)

    def exit(self) -> None:
        if self._gui_tag is not None and self._parameter_node is not None:
            self._parameter_node.disconnectGui(self._gui_tag)
            self._gui_tag = None

    def cleanup(self) -> None:
        self._cancel_job()
        self.exit()
        self.removeObservers()

    # model list ----------------------------------------------------------------------------------------
    def _fill_models(self) -> None:
        from LesionSegLogic.zoo import list_models  # noqa: PLC0415

        self._cards = {}
        for entry in list_models():
            if entry.card is not None:
                self._cards[entry.card.name] = entry.card
                self.ui.modelComboBox.addItem(entry.card.name)

    def _show_model_info(self, *_args) -> None:
        card = self._cards.get(self.ui.modelComboBox.currentText)
        self.ui.modelInfoLabel.text = "" if card is None else (
            f"loss: {card.loss}; inputs: {', '.join(card.inputs)}; "
            f"recommended threshold: {card.recommended_threshold:.2f}")

    # run -----------------------------------------------------------------------------------------------
    def _new_session(self):
        node = self._parameter_node
        self.session = self.logic.create_session()
        self.slider = ThresholdSlider(self.session)
        self.session.set_inputs(node.flair, t2=node.t2, baseline=node.baseline)
        if node.reference is not None:
            self.session.set_reference(node.reference)
        self.ui.metricsTableView.setMRMLTableNode(None)
        return self.session

    def on_apply(self) -> None:
        if self.job is not None:
            self._cancel_job()
            return
        if not ensure_dependencies(slicer_installer()):
            self.ui.statusLabel.text = "Dependencies are missing: nothing was run."
            return
        try:
            session = self._new_session()
            self._request = session.inference_request(ModelChoice(self._parameter_node.model,
                                                                  self._parameter_node.device))
            self.job = session.runner.start(self._request, None)
        except LesionSegError as error:
            slicer.util.errorDisplay(str(error))
            return
        self.ui.applyButton.text = "Cancel"
        self.ui.progressBar.visible = True
        self.ui.progressBar.value = 0
        self._timer.start()

    def _poll(self) -> None:
        self.ui.progressBar.value = int(100 * self.job.fraction)
        if self.job.lines:
            self.ui.statusLabel.text = self.job.lines[-1]
        if self.job.poll() is None:
            return
        self._timer.stop()
        job, self.job = self.job, None
        self._reset_run_controls()
        try:
            result: InferenceResult = self.session.runner.finish(job, self._request)
            self.session.use_result(result)
        except Cancelled:
            self.ui.statusLabel.text = "Cancelled."
            return
        except LesionSegError as error:
            slicer.util.errorDisplay(str(error))
            return
        self._show_review()

    def _cancel_job(self) -> None:
        if self.job is not None:
            self.job.cancel()

    def _reset_run_controls(self) -> None:
        self.ui.applyButton.text = "Apply"
        self.ui.progressBar.visible = False

    def on_load_probability(self) -> None:
        try:
            session = self._new_session()
            card = self._cards.get(self._parameter_node.model)
            session.load_probability(self.ui.probabilityPathLineEdit.currentPath,
                                     card.recommended_threshold if card else 0.5)
        except LesionSegError as error:
            slicer.util.errorDisplay(str(error))
            return
        self._show_review()

    # review --------------------------------------------------------------------------------------------
    def _show_review(self) -> None:
        session = self.session
        self.ui.metricsTableView.setMRMLTableNode(session.metrics_table)
        self.ui.lesionTableView.setMRMLTableNode(session.lesion_table)
        self.ui.plotWidget.mrmlPlotViewNode().SetPlotChartNodeID(session.plot.chart.GetID())
        slicer.util.setSliceViewerLayers(background=session.flair_node, fit=True)
        self._parameter_node.threshold = session.threshold

    def on_threshold_dragged(self, value: float) -> None:
        if self.slider is not None:
            self._guarded(self.slider.drag, float(value))

    def on_threshold_settled(self, value: float) -> None:
        if self.slider is not None:
            self._guarded(self.slider.settle, float(value))

    def on_recommended(self) -> None:
        if self.session is not None and self.session.engine is not None:
            self._parameter_node.threshold = self.session.recommended_threshold

    def on_lesion_clicked(self, index) -> None:
        table = self.session.lesion_table.GetTable()
        lesion_id = int(table.GetColumnByName("id").GetValue(index.row()))
        kind = table.GetColumnByName("kind").GetValue(index.row())
        self._guarded(self.session.jump_to_lesion, lesion_id, kind)

    # edit & export -------------------------------------------------------------------------------------
    def on_accept(self) -> None:
        self._guarded(self.session.accept)

    def on_edit(self) -> None:
        if self.session is None or self.session.accepted_node is None:
            self.on_accept()
        slicer.util.selectModule("SegmentEditor")
        editor = slicer.modules.segmenteditor.widgetRepresentation().self().editor
        editor.setSegmentationNode(self.session.accepted_node)
        editor.setSourceVolumeNode(self.session.flair_node)

    def on_export(self) -> None:
        folder = self.ui.outputDirectoryButton.directory
        files = self._guarded(export_review, self.session, folder)
        if files is not None:
            self.ui.statusLabel.text = f"Exported to {folder}"

    def _guarded(self, function, *args):
        if self.session is None:
            return None
        try:
            with slicer.util.tryWithErrorDisplay("LesionSeg failed", waitCursor=True):
                return function(*args)
        except LesionSegError:
            return None
