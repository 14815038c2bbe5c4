"""Widget tests of the LesionSeg panel (SlicerNNUnet style: the panel with a mock session/runner, buttons clicked,
state asserted). A plain ``unittest`` module:

- inside 3D Slicer it builds the real panel from ``Resources/UI/LesionSeg.ui`` with the real parameter node
  wrapper; it runs from the module's self-test (``LesionSegTest``) and from Slicer's test runner::

      Slicer --no-splash --testing --additional-module-paths <checkout>/LesionSegExtension \\
             --python-script <checkout>/LesionSegExtension/LesionSegLib/widget_tests.py

- without Slicer, ``Testing/test_slicer_widget_fakes.py`` runs the same flows on fake qt/ctk widgets.

Nothing here imports qt, ctk or torch at module level; the fakes of the session, runner and job are plain Python
over MRML table/chart nodes, so ``Testing/test_presenter.py`` reuses them.
"""

from __future__ import annotations

import os
import sys
import unittest
from dataclasses import dataclass, field
from typing import Any

_MODULE_DIR = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
UI_FILE = os.path.join(_MODULE_DIR, "Resources", "UI", "LesionSeg.ui")
if not __package__:  # run as a script (Slicer --python-script): the module folder and the checkout's root
    sys.path[:0] = [p for p in (_MODULE_DIR, os.path.dirname(_MODULE_DIR)) if p not in sys.path]

from LesionSegLib.parameters import ReviewParameters  # noqa: E402
from LesionSegLib.tables import LesionRow  # noqa: E402
from LesionSegLogic.errors import Cancelled, LesionSegError  # noqa: E402

PARAMETER_NODE_TAG = "LesionSegWidgetTest"


def widget_test_parameter_node(scene):
    """The scripted module node the tests' parameter node wraps (a singleton: it survives a scene close)."""
    node = scene.GetSingletonNode(PARAMETER_NODE_TAG, "vtkMRMLScriptedModuleNode")
    if node is None:
        node = scene.CreateNodeByClass("vtkMRMLScriptedModuleNode")
        node.UnRegister(None)
        node.SetSingletonTag(PARAMETER_NODE_TAG)
        node = scene.AddNode(node)
    return node


# ------------------------------------------------------------------------------------------------ fakes
@dataclass
class FakeCard:
    name: str
    loss: str = "dice"
    inputs: tuple[str, ...] = ("flair",)
    recommended_threshold: float = 0.35


@dataclass
class PickableCard(FakeCard):
    """A card the auto-pick (``defaults.pick_model``) reads: the images it needs and its held-out lesion F1."""

    f1: float = 0.5

    @property
    def validation(self) -> dict[str, Any]:
        return {"at_recommended": {"mean": {"lesion_f1": self.f1}}}

    def images_needed(self) -> frozenset[str]:
        return frozenset(self.inputs)


@dataclass
class FakeJob:
    """A run that finishes when the test says so (``finish_with``/``fail_with``)."""

    fraction: float = 0.0
    lines: list[str] = field(default_factory=list)
    exit_code: int | None = None
    cancelled: bool = False

    def poll(self) -> int | None:
        return self.exit_code

    def cancel(self) -> None:
        self.cancelled = True
        self.exit_code = -15


@dataclass
class FakeResult:
    recommended_threshold: float = 0.35
    model_name: str = "fake"
    details: dict = field(default_factory=dict)


class FakeRunner:
    """Records ``start``; ``finish`` gives the result, or raises what the job ended with."""

    def __init__(self) -> None:
        self.jobs: list[FakeJob] = []
        self.error: LesionSegError | None = None
        self.result = FakeResult()

    def start(self, request, progress=None) -> FakeJob:
        self.jobs.append(FakeJob())
        return self.jobs[-1]

    def finish(self, job: FakeJob, request) -> FakeResult:
        if job.cancelled:
            raise Cancelled("inference cancelled")
        if self.error is not None:
            raise self.error
        return self.result


def lesion_row(lesion_id: int, kind: str, status: str) -> LesionRow:
    """A lesion row as the session gives it (``tables.LesionRow``)."""
    return LesionRow(lesion_id, kind, status, 12.0 * lesion_id, (float(lesion_id), 2.0, 3.0), 0.9, 0.6, "", 4)


class FakeSession:
    """Records every call the panel makes; holds real MRML table/chart nodes so views can show them."""

    def __init__(self, scene, parameters: ReviewParameters | None = None, runner: FakeRunner | None = None) -> None:
        self.scene = scene
        self.parameters = parameters or ReviewParameters()
        self.runner = runner or FakeRunner()
        self.calls: list[tuple] = []
        self.engine = None
        self.state = None
        self.threshold: float | None = None
        self.recommended_threshold = 0.5
        self.accepted_node = None
        self.flair_node = None
        self.reference = None
        self.lesions = (lesion_row(1, "predicted", "TP"), lesion_row(2, "reference", "FN"))
        self.metrics_table = scene.AddNewNodeByClass("vtkMRMLTableNode", "fake metrics")
        self.lesion_table = scene.AddNewNodeByClass("vtkMRMLTableNode", "fake lesions")
        self._write_lesions()
        self.plot = type("FakePlot", (), {"chart": scene.AddNewNodeByClass("vtkMRMLPlotChartNode", "fake chart")})()

    def _write_lesions(self) -> None:
        """The lesion table as the session writes it: one row per lesion, in ``lesions`` order."""
        if not hasattr(self.lesion_table, "GetTable"):
            return
        import vtk

        ids, kinds = vtk.vtkIntArray(), vtk.vtkStringArray()
        ids.SetName("id")
        kinds.SetName("kind")
        for lesion in self.lesions:
            ids.InsertNextValue(lesion.id)
            kinds.InsertNextValue(lesion.kind)
        self.lesion_table.GetTable().AddColumn(ids)
        self.lesion_table.GetTable().AddColumn(kinds)

    def _record(self, *call: Any) -> None:
        self.calls.append(call)

    def names(self) -> list[str]:
        return [call[0] for call in self.calls]

    def set_inputs(self, flair, t2=None, baseline=None) -> None:
        self._record("set_inputs", flair, t2, baseline)
        self.flair_node = flair

    def set_reference(self, reference) -> None:
        self._record("set_reference", reference)
        self.reference = reference

    def inference_request(self, model) -> Any:
        self._record("inference_request", model.spec, model.device)
        return ("request", model)

    def use_result(self, result: FakeResult) -> None:
        self._record("use_result", result)
        self._review(result.recommended_threshold)

    def load_probability(self, path, recommended_threshold: float = 0.5) -> None:
        self._record("load_probability", path)
        self._review(recommended_threshold)

    def _review(self, threshold: float) -> None:
        self.engine = object()
        self.recommended_threshold = threshold
        self.set_threshold(threshold)

    def set_threshold(self, threshold: float, force: bool = False) -> Any:
        self._record("set_threshold", float(threshold))
        self.threshold = self.state = float(threshold)
        return self.state

    def sync_prediction(self) -> None:
        self._record("sync_prediction")

    def set_mode(self, mode: str) -> None:
        self._record("set_mode", mode)

    def set_rule(self, rule: str) -> None:
        self._record("set_rule", rule)

    def jump_to_lesion(self, lesion_id: int, kind: str = "predicted") -> None:
        self._record("jump_to_lesion", lesion_id, kind)

    def accept(self) -> Any:
        self._record("accept")
        self.accepted_node = self.scene.AddNewNodeByClass("vtkMRMLSegmentationNode", "fake accepted")
        return self.accepted_node

    def rescore(self, edited_as: str = "prediction") -> None:
        self._record("rescore", edited_as)


class FakeLogic:
    """The module logic as the panel sees it: the real (or fake) wrapped parameter node, fake sessions."""

    def __init__(self, scene, parameter_node_factory) -> None:
        self.scene = scene
        self._factory = parameter_node_factory
        self.wrappers: list[Any] = []
        self.sessions: list[FakeSession] = []
        self.shown: list[Any] = []

    def getParameterNode(self):
        self.wrappers.append(self._factory())
        return self.wrappers[-1]

    def create_session(self, parameters: ReviewParameters) -> FakeSession:
        self.sessions.append(FakeSession(self.scene, parameters))
        return self.sessions[-1]

    def show_volume(self, node) -> None:
        self.shown.append(node)

    def connected_guis(self) -> int:
        """GUI connections held by every wrapper ever handed out (Slicer's wrapper keeps them in
        ``_parameterGUIs``): 1 while the module is shown, 0 after exit."""
        return sum(len(getattr(w, "_parameterGUIs", {})) for w in self.wrappers)


# ------------------------------------------------------------------------------------------------ environment
class SlicerPanelEnvironment:
    """Builds the real panel inside 3D Slicer (the fakes test provides another environment with the same
    methods)."""

    def build(self, test: PanelFlowTests):
        import slicer

        from LesionSegLib.widget import LesionSegPanel, LesionSegParameterNode

        slicer.mrmlScene.Clear()
        ui_widget = slicer.util.loadUI(UI_FILE)
        ui_widget.setMRMLScene(slicer.mrmlScene)
        ui_widget.show()  # Qt's "visible" is False for a child of a hidden widget (the progress bar check)
        self.ui_widget = ui_widget
        ui = slicer.util.childWidgetVariables(ui_widget)
        scene = slicer.mrmlScene
        logic = FakeLogic(scene, lambda: LesionSegParameterNode(widget_test_parameter_node(scene)))
        panel = LesionSegPanel(ui, logic, slicer.mrmlScene, cards=test.cards, ensure=test.ensure,
                               export=test.export, report_error=test.errors.append, open_editor=test.open_editor)
        return panel, logic, slicer.mrmlScene

    def add_volume(self, scene, name: str):
        return scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)

    def drag(self, panel, value: float) -> None:
        panel.on_threshold_dragged(value)  # what ctkSliderWidget.valueIsChanging calls while dragging

    def close_scene(self, scene) -> None:
        scene.Clear(0)  # what File > Close Scene does (StartCloseEvent/EndCloseEvent)

    def click_table_row(self, view, panel, model_row: int) -> None:
        panel.on_lesion_clicked(view.model().index(model_row, 0))  # what qMRMLTableView.clicked passes

    def selected_row(self, view) -> int:
        """The view row selected (QItemSelectionModel::selectedRows), −1 when none."""
        rows = view.selectionModel().selectedRows()
        return rows[0].row() if rows else -1

    def teardown(self, panel) -> None:
        panel.cleanup()
        self.ui_widget.hide()
        self.ui_widget.deleteLater()


# ------------------------------------------------------------------------------------------------ flows
class PanelFlowTests(unittest.TestCase):
    """The panel's flows; ``environment`` builds the panel (Slicer or fakes)."""

    environment: Any = SlicerPanelEnvironment()

    def setUp(self) -> None:
        self.cards = [FakeCard("dice", recommended_threshold=0.35), FakeCard("tversky", recommended_threshold=0.2)]
        self.errors: list[str] = []
        self.exported: list[str] = []
        self.edited: list[tuple] = []
        self.dependencies_ok = True
        self.panel, self.logic, self.scene = self.environment.build(self)
        self.ui = self.panel.ui

    def tearDown(self) -> None:
        self.environment.teardown(self.panel)

    # injected replacements
    def ensure(self) -> bool:
        return self.dependencies_ok

    def export(self, session, folder):
        self.exported.append(folder)
        return [os.path.join(folder, "a"), os.path.join(folder, "b")]

    def open_editor(self, segmentation, source) -> None:
        self.edited.append((segmentation, source))

    # helpers
    def choose_flair(self):
        flair = self.environment.add_volume(self.scene, "FLAIR")
        self.ui.flairSelector.setCurrentNode(flair)
        return flair

    def run_to_review(self):
        self.choose_flair()
        self.ui.applyButton.click()
        session = self.logic.sessions[-1]
        job = session.runner.jobs[-1]
        job.exit_code = 0
        self.panel.on_poll()
        return session

    # ---------------------------------------------------------------------------------------- flows
    def test_before_any_run_nothing_crashes_and_review_controls_are_disabled(self) -> None:
        self.assertFalse(self.ui.applyButton.enabled)
        for widget in (self.ui.acceptButton, self.ui.editButton, self.ui.exportButton, self.ui.recommendedButton,
                       self.ui.rescorePredictionButton, self.ui.rescoreReferenceButton, self.ui.thresholdSlider):
            self.assertFalse(widget.enabled, widget)
        for button in (self.ui.applyButton, self.ui.acceptButton, self.ui.editButton, self.ui.exportButton,
                       self.ui.recommendedButton, self.ui.rescorePredictionButton, self.ui.loadProbabilityButton):
            button.click()
        self.environment.drag(self.panel, 0.4)
        self.ui.thresholdSlider.value = 0.6
        self.ui.modeComboBox.currentText = "voxel"
        self.ui.ruleComboBox.currentText = "anima"
        self.assertEqual(self.logic.sessions, [])
        self.assertEqual(self.errors, [])
        self.assertEqual(self.edited, [])

    def test_model_list_comes_from_the_cards_and_the_choice_is_stored(self) -> None:
        box = self.ui.modelComboBox
        self.assertEqual([box.itemText(i) for i in range(box.count)], ["dice", "tversky"])
        box.currentText = "tversky"
        self.assertEqual(self.panel._parameter_node.model, "tversky")
        self.assertIn("recommended threshold: 0.20", self.ui.modelInfoLabel.text)
        self.panel.exit()
        self.panel.enter()  # reconnecting the parameter node keeps the list and the choice
        self.assertEqual([box.itemText(i) for i in range(box.count)], ["dice", "tversky"])
        self.assertEqual(box.currentText, "tversky")

    def test_the_auto_picked_model_is_selected_until_the_user_chooses_one(self) -> None:
        """Issue 12: the box follows the model the auto-pick chooses for the inputs, and the panel says why; once
        the user chose a model in the box it stays."""
        self.environment.teardown(self.panel)
        self.cards = [PickableCard("both", inputs=("flair", "t2"), f1=0.9), PickableCard("flair_only", f1=0.5)]
        self.panel, self.logic, self.scene = self.environment.build(self)
        self.ui = self.panel.ui
        box = self.ui.modelComboBox
        self.assertEqual(box.currentText, "both")  # no inputs yet: the first listed model
        self.choose_flair()
        self.assertEqual((box.currentText, self.panel._parameter_node.model), ("flair_only", "flair_only"))
        reason = self.panel.presenter.view().auto_model_reason
        self.assertIn("flair_only", reason)
        self.assertIn(reason, self.ui.modelInfoLabel.text)
        t2 = self.environment.add_volume(self.scene, "T2")
        self.ui.t2Selector.setCurrentNode(t2)
        self.assertEqual(box.currentText, "both")  # FLAIR + T2: the model that reads both
        box.currentText = "flair_only"  # the user's choice
        self.ui.t2Selector.setCurrentNode(None)
        self.ui.t2Selector.setCurrentNode(t2)
        self.assertEqual((box.currentText, self.panel._parameter_node.model), ("flair_only", "flair_only"))
        self.assertEqual(self.errors, [])

    def test_apply_cancel_apply(self) -> None:
        self.choose_flair()
        self.assertTrue(self.ui.applyButton.enabled)
        self.ui.applyButton.click()
        self.assertEqual(self.ui.applyButton.text, "Cancel")
        self.assertFalse(self.ui.flairSelector.enabled)
        self.assertTrue(self.ui.progressBar.visible)
        session = self.logic.sessions[0]
        self.assertEqual(session.calls[-1][:2], ("inference_request", "dice"))
        self.ui.applyButton.click()  # cancel
        self.assertTrue(session.runner.jobs[0].cancelled)
        self.panel.on_poll()
        self.assertEqual(self.ui.applyButton.text, "Apply")
        self.assertIn("Cancelled", self.ui.statusLabel.text)
        self.assertFalse(self.ui.acceptButton.enabled)
        self.ui.applyButton.click()  # a second run starts afresh
        self.assertEqual(len(self.logic.sessions), 2)
        self.logic.sessions[1].runner.jobs[0].exit_code = 0
        self.panel.on_poll()
        self.assertEqual(self.ui.applyButton.text, "Apply")
        self.assertTrue(self.ui.acceptButton.enabled)
        self.assertEqual(self.ui.metricsTableView.mrmlTableNode(), self.logic.sessions[1].metrics_table)

    def test_review_shows_tables_plot_and_recommended_threshold(self) -> None:
        session = self.run_to_review()
        plot_view = self.ui.plotWidget.mrmlPlotViewNode()
        self.assertIsNotNone(plot_view)
        self.assertEqual(plot_view.GetPlotChartNodeID(), session.plot.chart.GetID())
        self.assertEqual(self.ui.lesionTableView.mrmlTableNode(), session.lesion_table)
        self.assertAlmostEqual(self.ui.thresholdSlider.value, 0.35)
        self.assertTrue(self.ui.recommendedButton.enabled)
        self.assertIn("0.35", self.ui.recommendedButton.text)
        self.assertEqual(self.logic.shown, [session.flair_node])

    def test_slider_drag_updates_live_and_settle_syncs(self) -> None:
        session = self.run_to_review()
        session.calls.clear()
        self.environment.drag(self.panel, 0.5)
        self.environment.drag(self.panel, 0.55)
        self.assertEqual(session.calls, [("set_threshold", 0.5), ("set_threshold", 0.55)])
        self.ui.thresholdSlider.value = 0.6
        self.assertEqual(session.calls[-2:], [("set_threshold", 0.6), ("sync_prediction",)])
        session.calls.clear()
        self.ui.recommendedButton.click()
        self.assertIn(("set_threshold", 0.35), session.calls)
        self.assertAlmostEqual(self.ui.thresholdSlider.value, 0.35)

    def test_mode_and_rule_before_and_after_a_run(self) -> None:
        self.ui.modeComboBox.currentText = "voxel"
        self.ui.ruleComboBox.currentText = "anima"
        session = self.run_to_review()
        self.assertEqual((session.parameters.mode, session.parameters.rule), ("voxel", "anima"))
        self.ui.modeComboBox.currentText = "lesion"
        self.ui.ruleComboBox.currentText = "any-overlap"
        self.assertIn(("set_mode", "lesion"), session.calls)
        self.assertIn(("set_rule", "any-overlap"), session.calls)

    def test_lesion_click_accept_edit_rescore_export(self) -> None:
        session = self.run_to_review()
        self.environment.click_table_row(self.ui.lesionTableView, self.panel, 0)  # the column names row
        self.assertNotIn("jump_to_lesion", session.names())
        self.environment.click_table_row(self.ui.lesionTableView, self.panel, 2)  # the second lesion
        self.assertEqual([c for c in session.calls if c[0] == "jump_to_lesion"], [("jump_to_lesion", 2, "reference")])
        self.assertFalse(self.ui.rescoreReferenceButton.enabled)
        self.ui.editButton.click()  # accepts first, then opens the Segment Editor on the accepted node
        self.assertEqual(session.names().count("accept"), 1)
        self.assertEqual(self.edited, [(session.accepted_node, session.flair_node)])
        self.assertTrue(self.ui.rescoreReferenceButton.enabled)
        self.ui.rescoreReferenceButton.click()
        self.assertIn(("rescore", "reference"), session.calls)
        self.ui.outputDirectoryButton.directory = "/tmp/lesionseg-export"
        self.ui.exportButton.click()
        self.assertEqual(self.exported, ["/tmp/lesionseg-export"])
        self.assertIn("Exported 2 files", self.ui.statusLabel.text)

    def test_next_fn_and_fp_step_select_the_row_and_the_load_is_shown(self) -> None:
        session = self.run_to_review()
        self.assertTrue(self.ui.nextFnButton.enabled and self.ui.labelRegionsButton.enabled)
        self.assertIn("Predicted: 1 lesions, 12.0 mm³", self.ui.lesionLoadLabel.text)
        self.ui.nextFnButton.click()  # the one missed lesion: the second row, below the column names row
        self.assertEqual([c for c in session.calls if c[0] == "jump_to_lesion"], [("jump_to_lesion", 2, "reference")])
        self.assertEqual(self.environment.selected_row(self.ui.lesionTableView), 2)
        self.ui.nextFpButton.click()  # no false positive: said, nothing moves
        self.assertIn("no FP lesion", self.ui.statusLabel.text)
        self.assertEqual(len([c for c in session.calls if c[0] == "jump_to_lesion"]), 1)

    def test_declined_dependencies_run_nothing(self) -> None:
        self.dependencies_ok = False
        self.choose_flair()
        self.ui.applyButton.click()
        self.assertEqual(self.logic.sessions, [])
        self.assertIn("Dependencies are missing", self.ui.statusLabel.text)

    def test_scene_close_stops_the_run_and_resets_the_panel(self) -> None:
        self.run_to_review()
        self.ui.applyButton.click()  # a second run is in progress when the scene closes
        job = self.logic.sessions[-1].runner.jobs[-1]
        self.environment.close_scene(self.scene)
        self.assertTrue(job.cancelled)
        self.assertIsNone(self.panel.presenter.session)
        self.assertEqual(self.ui.applyButton.text, "Apply")
        self.assertFalse(self.ui.acceptButton.enabled)
        self.assertIsNotNone(self.ui.plotWidget.mrmlPlotViewNode())
        self.run_to_review()  # the panel works on the new scene
        self.assertTrue(self.ui.acceptButton.enabled)

    def test_enter_exit_three_times_keeps_one_connection(self) -> None:
        observations = len(self.panel.Observations)
        for _ in range(3):
            self.panel.exit()
            self.assertEqual(self.logic.connected_guis(), 0)
            self.panel.enter()
            self.assertEqual(self.logic.connected_guis(), 1)
        self.assertEqual(len(self.panel.Observations), observations)
        self.ui.modeComboBox.currentText = "voxel"
        self.assertEqual(self.panel._parameter_node.mode, "voxel")


def run_widget_tests(verbosity: int = 2) -> unittest.TestResult:
    """Run :class:`PanelFlowTests` in Slicer (the module self-test calls this)."""
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(PanelFlowTests)
    return unittest.TextTestRunner(verbosity=verbosity).run(suite)


if __name__ == "__main__":  # Slicer --python-script .../widget_tests.py
    import slicer

    slicer.util.exit(0 if run_widget_tests().wasSuccessful() else 1)
