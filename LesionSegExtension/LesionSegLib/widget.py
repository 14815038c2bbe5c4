"""The desktop panel: binds ``Resources/UI/LesionSeg.ui`` to the parameter node and to :class:`PanelPresenter`.

Imported only inside 3D Slicer (qt, slicer's GUI helpers). Opening the panel imports only what a stock Slicer
ships (numpy, scipy, SimpleITK, VTK, qt/ctk/slicer): the model list comes from the cards (``zoo.catalog``, no
torch); the session, the runner and the exporter are imported when first used, after ``ensure_dependencies``
(checked without Slicer by ``Testing/test_slicer_widget_fakes.py``). Every decision is the presenter's.

The parameter node (Slicer's ``parameterNodeWrapper``, ``Base/Python/slicer/parameterNodeWrapper``; the
accepted type/widget pairs are the table in ``Testing/slicer_gui_connectors.json``):

- ``model`` is stored in the node but NOT bound in the ``.ui``: ``QComboBoxToStringableConnector`` needs a
  ``Choice`` and clears the box, so the panel fills the model list itself and writes the choice back — a zoo name,
  or the path of a model the user added ("Add model": an nnU-Net v2 folder or an ONNX model, listed as
  "nnU-Net: …"/"ONNX: …"), which is added again when the node is read back; ``model_label`` (the lesion label of a
  multi-label nnU-Net model) likewise;
- ``reference`` is ``Union[vtkMRMLSegmentationNode, vtkMRMLLabelMapVolumeNode, None]``: the node combo box
  connector instantiates every class of the union for ``nodeTypes`` (``vtkMRMLNode`` is abstract), and the
  union serializer can write the default ``None`` only when ``None`` is part of the union.
"""

from typing import Annotated, Union

import qt
import slicer
import vtk
from slicer.parameterNodeWrapper import Choice, WithinRange, parameterNodeWrapper
from slicer.util import VTKObservationMixin

from LesionSegLogic.defaults import FALLBACK_THRESHOLD
from LesionSegLogic.lesion_notes import NOTE_SUGGESTIONS
from LesionSegLogic.zoo.catalog import list_cards

from .dependencies import ensure_dependencies, slicer_installer
from .parameters import DEVICES, MATCHING_RULES, OVERLAY_MODES, ReviewParameters
from .presenter import MAP_CHANNELS, MAP_SCALES, PanelPresenter, PanelView, table_row
from .views import panel_plot_view_node

POLL_MS = 200
#: the first item of the lesion-label box: a multi-label nnU-Net model runs only once the user picked a label
LABEL_PROMPT = "(choose the lesion label)"
_DEFAULTS = ReviewParameters()


@parameterNodeWrapper
class LesionSegParameterNode:
    flair: slicer.vtkMRMLScalarVolumeNode
    t2: slicer.vtkMRMLScalarVolumeNode
    baseline: slicer.vtkMRMLScalarVolumeNode
    # typing.Union, not "|": get_type_hints must evaluate it on the Python of older Slicer releases
    reference: Union[slicer.vtkMRMLSegmentationNode, slicer.vtkMRMLLabelMapVolumeNode, None]  # noqa: UP007
    model: str = ""
    model_label: str = ""
    device: Annotated[str, Choice(list(DEVICES))] = DEVICES[0]
    threshold: Annotated[float, WithinRange(0.0, 1.0)] = FALLBACK_THRESHOLD
    mode: Annotated[str, Choice(list(OVERLAY_MODES))] = _DEFAULTS.mode
    rule: Annotated[str, Choice(list(MATCHING_RULES))] = _DEFAULTS.rule


def export_review(session, folder):
    """The exporter, imported on use: it needs matplotlib and nibabel (installed by ``ensure_dependencies``)."""
    from .export import export_review as export

    return export(session, folder)


def locate_dicom_file(uid: str) -> str:
    """The file of a DICOM instance in Slicer's DICOM database (``ctkDICOMDatabase::fileForInstance``), "" when
    there is no open database: how the export finds the series of a volume the DICOM module loaded."""
    database = getattr(slicer, "dicomDatabase", None)
    if database is None or not database.isOpen:
        return ""
    return database.fileForInstance(uid) or ""


def open_in_segment_editor(segmentation_node, source_node) -> None:
    slicer.util.selectModule("SegmentEditor")
    editor = slicer.modules.segmenteditor.widgetRepresentation().self().editor
    editor.setSegmentationNode(segmentation_node)
    editor.setSourceVolumeNode(source_node)


class LesionSegPanel(VTKObservationMixin):
    """The panel. ``logic`` gives ``getParameterNode()`` (wrapped), ``create_session(parameters)`` and
    ``show_volume(node)``; ``is_entered()`` says whether the module is shown (scene close re-creates the parameter
    node then, as the template does); the other arguments replace Slicer's installer, exporter, error dialog
    and Segment Editor (tests pass mocks)."""

    def __init__(self, ui, logic, scene, *, is_entered=lambda: True, cards=None, ensure=None, export=None,
                 report_error=None, open_editor=None) -> None:
        VTKObservationMixin.__init__(self)
        self.ui = ui
        self.logic = logic
        self.scene = scene
        self._parameter_node = None
        self._gui_tag = None
        self._is_entered = is_entered
        self._open_editor = open_editor or open_in_segment_editor
        self.presenter = PanelPresenter(
            list_cards() if cards is None else cards,
            logic.create_session,
            ensure or (lambda: ensure_dependencies(slicer_installer())),
            export or export_review,
            report_error or slicer.util.errorDisplay,
            locate_dicom=locate_dicom_file,
        )
        self._model_specs: list[str] = []  # the model box's items, in order: zoo name or added model's path
        # the model the panel chose itself (the first listed, then the auto-pick for the inputs: issue 12), which
        # the auto-pick may replace; None once the user chose one in the box
        self._auto_spec: str | None = None
        self._choosing = False  # the panel, not the user, is changing the box
        self._timer = qt.QTimer()
        self._timer.setInterval(POLL_MS)
        self._timer.timeout.connect(self.on_poll)
        self._fill_models()
        for box, choices in ((ui.mapChannelComboBox, MAP_CHANNELS), (ui.mapScaleComboBox, MAP_SCALES)):
            _show_choices(box, tuple(choices), "")
        ui.applyButton.clicked.connect(self.on_apply)
        ui.loadProbabilityButton.clicked.connect(self.on_load_probability)
        # tracking off (ctkSliderWidget.cpp): a mouse drag emits only valueIsChanging (live review), its release
        # valueChanged; any other change (arrow keys, typed value, the Recommended button) emits valueIsChanging
        # then valueChanged. valueChanged syncs the whole session.
        ui.thresholdSlider.tracking = False
        ui.thresholdSlider.valueIsChanging.connect(self.on_threshold_dragged)
        ui.thresholdSlider.valueChanged.connect(self.on_threshold_settled)
        ui.recommendedButton.clicked.connect(self.on_recommended)
        ui.modeComboBox.currentTextChanged.connect(self.on_mode)
        ui.ruleComboBox.currentTextChanged.connect(self.on_rule)
        ui.modelComboBox.currentTextChanged.connect(self.on_model)
        ui.addModelButton.clicked.connect(self.on_add_model)
        ui.modelLabelComboBox.currentTextChanged.connect(self.on_model_label)
        ui.deviceComboBox.currentTextChanged.connect(self.on_device)
        ui.lesionTableView.clicked.connect(self.on_lesion_clicked)
        ui.nextFnButton.clicked.connect(lambda *_: self.on_next_lesion("FN"))
        ui.nextFpButton.clicked.connect(lambda *_: self.on_next_lesion("FP"))
        ui.labelRegionsButton.clicked.connect(self.on_label_regions)
        ui.acceptButton.clicked.connect(self.on_accept)
        ui.editButton.clicked.connect(self.on_edit)
        ui.rescorePredictionButton.clicked.connect(self.on_rescore_prediction)
        ui.rescoreReferenceButton.clicked.connect(self.on_rescore_reference)
        ui.exportButton.clicked.connect(self.on_export)
        ui.saveReviewButton.clicked.connect(self.on_save_review)
        ui.openReviewButton.clicked.connect(self.on_open_review)
        ui.exportReportButton.clicked.connect(self.on_export_report)
        ui.noteLesionButton.clicked.connect(self.on_note_lesion)
        _show_choices(ui.lesionNoteComboBox, NOTE_SUGGESTIONS, "")
        self.presenter.changed.connect(self.render)
        self.presenter.review_started.connect(self.show_review)
        self.addObserver(scene, scene.StartCloseEvent, self.on_scene_start_close)
        self.addObserver(scene, scene.EndCloseEvent, self.on_scene_end_close)
        self._attach_plot_view()
        self.initialize_parameter_node()

    # parameter node (Utilities/Templates/Modules/Scripted/TemplateKey.py) -------------------------------
    def initialize_parameter_node(self) -> None:
        self.set_parameter_node(self.logic.getParameterNode())

    def set_parameter_node(self, node) -> None:
        """Disconnect the GUI from the wrapper that connected it, then connect the new one (one at a time)."""
        self._release_parameter_node()
        self._parameter_node = node
        if node is not None:
            self._gui_tag = node.connectGui(self.ui)
            self.addObserver(node, vtk.vtkCommand.ModifiedEvent, self.on_parameters_modified)
            self._select_model(node.model)
            self.on_parameters_modified()

    def enter(self) -> None:
        self.initialize_parameter_node()

    def exit(self) -> None:
        self._release_parameter_node()

    def _release_parameter_node(self) -> None:
        """Disconnect the GUI from the very wrapper that connected it and stop observing its node."""
        node = self._parameter_node
        if node is None:
            return
        if self._gui_tag is not None:
            node.disconnectGui(self._gui_tag)
            self._gui_tag = None
        if self.hasObserver(node, vtk.vtkCommand.ModifiedEvent, self.on_parameters_modified):
            self.removeObserver(node, vtk.vtkCommand.ModifiedEvent, self.on_parameters_modified)

    def cleanup(self) -> None:
        self._timer.stop()
        self.presenter.stop()
        self.exit()
        self.removeObservers()

    def on_parameters_modified(self, *_args) -> None:
        node = self._parameter_node
        if node is None:
            return
        self.presenter.set_mode(node.mode)
        self.presenter.set_rule(node.rule)
        self.presenter.select_device(node.device)
        self.presenter.set_inputs(node.flair, t2=node.t2, baseline=node.baseline, reference=node.reference)

    # scene close ------------------------------------------------------------------------------------------
    def on_scene_start_close(self, *_args) -> None:
        """The scene's nodes are about to go: stop the run, drop the review and the parameter node."""
        self._timer.stop()
        self.set_parameter_node(None)
        self.presenter.scene_closed()
        self.ui.metricsTableView.setMRMLTableNode(None)
        self.ui.lesionTableView.setMRMLTableNode(None)

    def on_scene_end_close(self, *_args) -> None:
        self._attach_plot_view()
        if self._is_entered():
            self.initialize_parameter_node()

    def _attach_plot_view(self) -> None:
        self.ui.plotWidget.setMRMLPlotViewNode(panel_plot_view_node(self.scene))

    # model list -------------------------------------------------------------------------------------------
    def _fill_models(self) -> None:
        """The zoo by name, then the added models by their label (``PanelPresenter.model_items``)."""
        box = self.ui.modelComboBox
        items = self.presenter.model_items()
        self._model_specs = []  # no selection is reported while the box is refilled
        box.clear()
        for text, _spec in items:
            box.addItem(text)
        self._model_specs = [spec for _text, spec in items]

    def _select_model(self, spec: str, *, auto: bool = False) -> None:
        """Show the parameter node's model; a model path not listed yet is added again (it was added in an earlier
        session of this scene); an empty or unknown one becomes the first listed model. ``auto``: the panel's own
        choice (the auto-pick), which a later auto-pick may replace; so is the first listed model, and the model
        the panel chose itself before."""
        if spec and spec not in self._model_specs and spec not in self.presenter.cards \
                and self.presenter.add_model(spec) is not None:
            self._fill_models()
        box = self.ui.modelComboBox
        index = self._model_specs.index(spec) if spec in self._model_specs else -1
        if index < 0 and box.count > 0:
            index = 0
        shown = self._model_specs[index] if 0 <= index < len(self._model_specs) else ""
        self._auto_spec = shown if shown and (auto or shown != spec or spec == self._auto_spec) else None
        self._choosing = True
        try:
            box.currentIndex = index
            self.on_model(box.currentText)
        finally:
            self._choosing = False
        if self._parameter_node is not None and self._parameter_node.model_label:
            self.on_model_label(self._parameter_node.model_label)

    def on_model(self, text: str) -> None:
        """The box shows names and labels; the node and the presenter get the model (zoo name or path)."""
        index = self.ui.modelComboBox.findText(text) if text else -1
        if not 0 <= index < len(self._model_specs):
            return  # the box is being refilled
        spec = self._model_specs[index]
        if not self._choosing:
            self._auto_spec = None  # the user's choice: the auto-pick no longer changes the box
        if self._parameter_node is not None and self._parameter_node.model != spec:
            self._parameter_node.model = spec
        self.presenter.select_model(spec)

    def on_add_model(self, *_args) -> None:
        """"Add model": the folder or ``.onnx`` file in the path box joins the list and is selected."""
        spec = self.presenter.add_model(self.ui.modelPathLineEdit.currentPath)
        if spec is not None:
            self._fill_models()
            self._select_model(spec)

    def on_model_label(self, label: str) -> None:
        if label in self.presenter.view().model_labels:
            if self._parameter_node is not None and self._parameter_node.model_label != label:
                self._parameter_node.model_label = label
            self.presenter.select_label(label)

    def on_device(self, device: str) -> None:
        if device in DEVICES:
            self.presenter.select_device(device)

    # actions ----------------------------------------------------------------------------------------------
    def on_apply(self, *_args) -> None:
        self.presenter.apply()
        if self.presenter.job is not None:
            self._timer.start()

    def on_poll(self) -> None:
        if not self.presenter.poll():
            self._timer.stop()

    def on_load_probability(self, *_args) -> None:
        self.presenter.load_probability(self.ui.probabilityPathLineEdit.currentPath,
                                        MAP_CHANNELS.get(self.ui.mapChannelComboBox.currentText),
                                        MAP_SCALES.get(self.ui.mapScaleComboBox.currentText))

    def on_threshold_dragged(self, value) -> None:
        self.presenter.threshold_dragged(float(value))

    def on_threshold_settled(self, value) -> None:
        self.presenter.threshold_settled(float(value))

    def on_recommended(self, *_args) -> None:
        value = self.presenter.recommended_threshold()
        if value is not None:
            self._move_slider(value)

    def on_mode(self, mode: str) -> None:
        self.presenter.set_mode(mode)

    def on_rule(self, rule: str) -> None:
        self.presenter.set_rule(rule)

    def on_next_lesion(self, status: str) -> None:
        """"Next FN"/"Next FP": the presenter steps (views centred, zoomed, marked); the table selects that row."""
        self.presenter.next_lesion(status)
        self._select_lesion_row(self.presenter.view().lesion_row)

    def on_label_regions(self, *_args) -> None:
        self.presenter.label_regions()

    def _select_lesion_row(self, row: int) -> None:
        """Select and scroll to table node row ``row`` (the model has a names row first unless the node uses its
        column titles as the header: :func:`table_row`; the view shows the model through its sort proxy)."""
        view = self.ui.lesionTableView
        table = view.mrmlTableNode()
        if table is None or row < 0:
            return
        model_row = row if table.GetUseColumnTitleAsColumnHeader() else row + 1
        index = view.sortFilterProxyModel().mapFromSource(view.tableModel().index(model_row, 0))
        view.selectRow(index.row())
        view.scrollTo(index)

    def on_lesion_clicked(self, index) -> None:
        """``qMRMLTableView.clicked`` gives an index of its sort proxy: map it to the table model, then to the
        table node's row."""
        view = self.ui.lesionTableView
        table = view.mrmlTableNode()
        if table is not None:
            model_row = view.sortFilterProxyModel().mapToSource(index).row()
            self.presenter.lesion_clicked(table_row(model_row, table.GetUseColumnTitleAsColumnHeader()))

    def on_accept(self, *_args) -> None:
        self.presenter.accept()

    def on_edit(self, *_args) -> None:
        nodes = self.presenter.edit()
        if nodes is not None:
            self._open_editor(*nodes)

    def on_rescore_prediction(self, *_args) -> None:
        self.presenter.rescore("prediction")

    def on_rescore_reference(self, *_args) -> None:
        self.presenter.rescore("reference")

    def on_export(self, *_args) -> None:
        self.presenter.export(self.ui.outputDirectoryButton.directory,
                              self.ui.exportFormatComboBox.currentText or "NIfTI")

    def on_save_review(self, *_args) -> None:
        self.presenter.save_review(self.ui.outputDirectoryButton.directory)

    def on_open_review(self, *_args) -> None:
        self.presenter.open_review(self.ui.reviewFolderButton.directory)

    def on_export_report(self, *_args) -> None:
        self.presenter.export_report(self.ui.outputDirectoryButton.directory)

    def on_note_lesion(self, *_args) -> None:
        self.presenter.note_focused(self.ui.lesionNoteComboBox.currentText)

    # drawing ----------------------------------------------------------------------------------------------
    def _move_slider(self, value: float) -> None:
        """Through the parameter node when the GUI is connected (the wrapper moves the slider, whose
        valueChanged settles the session); straight to the slider otherwise."""
        if self._parameter_node is not None and self._gui_tag is not None:
            self._parameter_node.threshold = float(value)
        else:
            self.ui.thresholdSlider.value = float(value)

    def show_review(self, session) -> None:
        self.ui.metricsTableView.setMRMLTableNode(session.metrics_table)
        self.ui.lesionTableView.setMRMLTableNode(session.lesion_table)
        plot_view = self.ui.plotWidget.mrmlPlotViewNode()
        if plot_view is None:  # the widget lost its node (scene change): attach the panel's again
            self._attach_plot_view()
            plot_view = self.ui.plotWidget.mrmlPlotViewNode()
        plot_view.SetPlotChartNodeID(session.plot.chart.GetID())
        if session.threshold is not None:
            self._move_slider(session.threshold)
        self.logic.show_volume(session.flair_node)

    def render(self, view: PanelView) -> None:
        ui = self.ui
        ui.statusLabel.text = view.status
        ui.applyButton.text = view.apply_text
        ui.applyButton.enabled = view.apply_enabled
        for widget in (ui.flairSelector, ui.t2Selector, ui.baselineSelector, ui.referenceSelector,
                       ui.modelComboBox, ui.deviceComboBox, ui.modelPathLineEdit, ui.addModelButton,
                       ui.modelLabelComboBox):
            widget.enabled = view.inputs_enabled
        labels = (LABEL_PROMPT, *view.model_labels) if view.model_labels else ()  # no label chosen for the user
        _show_choices(ui.modelLabelComboBox, labels, self.presenter.model_label or LABEL_PROMPT)
        ui.modelLabelComboBox.visible = ui.modelLabelComboBoxLabel.visible = bool(view.model_labels)
        _show_choices(ui.exportFormatComboBox, view.export_formats, ui.exportFormatComboBox.currentText)
        ui.loadProbabilityButton.enabled = view.load_probability_enabled
        ui.progressBar.visible = view.progress_visible
        ui.progressBar.value = view.progress_percent
        for widget in (ui.thresholdSlider, ui.lesionTableView, ui.metricsTableView):
            widget.enabled = view.review_enabled
        for widget in (ui.nextFnButton, ui.nextFpButton, ui.labelRegionsButton):
            widget.enabled = view.review_enabled
        ui.lesionLoadLabel.text = view.lesion_load
        ui.recommendedButton.enabled = view.recommended_enabled
        ui.recommendedButton.text = view.recommended_text
        ui.acceptButton.enabled = view.accept_enabled
        ui.editButton.enabled = view.edit_enabled
        ui.rescorePredictionButton.enabled = view.rescore_prediction_enabled
        ui.rescoreReferenceButton.enabled = view.rescore_reference_enabled
        ui.exportButton.enabled = view.export_enabled
        for widget in (ui.saveReviewButton, ui.exportReportButton, ui.noteLesionButton):
            widget.enabled = view.export_enabled  # a review is open
        ui.openReviewButton.enabled = view.inputs_enabled  # not while a model runs
        ui.modelInfoLabel.text = view.model_info  # the model's card, then which model the auto-pick chose and why
        if self._auto_spec is not None and view.auto_model in self._model_specs and view.auto_model != self._auto_spec:
            self._select_model(view.auto_model, auto=True)  # the user has not chosen a model: the one for the inputs


def _show_choices(box, choices, current: str) -> None:
    """Refill ``box`` with ``choices`` when they changed (keeping ``current`` when it is still one of them)."""
    if [box.itemText(i) for i in range(box.count)] == list(choices):
        return
    box.clear()
    for choice in choices:
        box.addItem(choice)
    if current in choices:
        box.currentIndex = list(choices).index(current)
