"""Child-process entry of ``Testing/test_slicer_widget_fakes.py``: fakes installed, heavy packages blocked, then

- ``module``: load ``LesionSeg.py`` as Slicer does, set the widget up, enter/exit, and report what it built;
- ``flows``: run ``LesionSegLib.widget_tests.PanelFlowTests`` (the in-Slicer widget tests) on the fake widgets;
- ``parameters``: describe the panel's parameter node and the ``.ui`` bindings for the connector check.

``--slicer-source DIR`` (first arguments) uses Slicer's own parameterNodeWrapper from a Slicer source checkout
instead of the table-driven fake. Prints one JSON object on the last line of stdout.
"""

from __future__ import annotations

import importlib.util
import io
import json
import sys
import types
import unittest
from dataclasses import asdict
from pathlib import Path

import fake_gui

ROOT = Path(__file__).resolve().parents[2]
MODULE = ROOT / "LesionSegExtension"
_SOURCE = sys.argv[2] if sys.argv[1:2] == ["--slicer-source"] else None
ARGS = sys.argv[3:] if _SOURCE else sys.argv[1:]
slicer = fake_gui.install(_SOURCE)


def loaded_blocked() -> list[str]:
    return sorted({name.split(".")[0] for name in sys.modules} & set(fake_gui.BLOCKED))


def load_module_file():
    spec = importlib.util.spec_from_file_location("LesionSeg", MODULE / "LesionSeg.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["LesionSeg"] = module
    spec.loader.exec_module(module)
    return module


def run_module() -> dict:
    module = load_module_file()
    module.LesionSeg(types.SimpleNamespace())
    parent = types.SimpleNamespace(isEntered=True)
    widget = module.LesionSegWidget(parent)
    widget.setup()
    for _ in range(3):
        widget.enter()
        widget.exit()
    widget.enter()
    box = widget.ui.modelComboBox
    report = {
        "logic_class": type(widget.logic).__name__,
        "logic_module_name": widget.logic.moduleName,
        "models": [box.itemText(i) for i in range(box.count)],
        "stored_model": widget.panel._parameter_node.model,
        "plot_view": widget.ui.plotWidget.mrmlPlotViewNode().GetClassName(),
        "apply_enabled": widget.ui.applyButton.enabled,
        "status": widget.ui.statusLabel.text,
        "mode_slots": len(widget.ui.modeComboBox.currentIndexChanged.slots),
    }
    widget.cleanup()
    report["blocked_loaded"] = loaded_blocked()
    return report


def run_review(folder: str) -> dict:
    """The real module logic and session: load a probability map file for a FLAIR and review it, with the heavy
    packages blocked (reviewing a map needs none of them)."""
    import numpy as np
    import SimpleITK as sitk

    module = load_module_file()
    widget = module.LesionSegWidget(types.SimpleNamespace(isEntered=True))
    widget.setup()
    widget.enter()
    zz, yy, xx = np.indices((10, 14, 12))
    probability = np.exp(-((zz - 4) ** 2 + (yy - 5) ** 2 + (xx - 6) ** 2) / 6.0).astype(np.float32)
    paths = {}
    for name, array in (("flair", 100 + 50 * probability), ("probability", probability)):
        image = sitk.GetImageFromArray(array.astype(np.float32))
        image.SetSpacing((1.2, 1.0, 2.0))
        paths[name] = str(Path(folder) / f"{name}.nii.gz")
        sitk.WriteImage(image, paths[name])
    from LesionSegLib.nodes import load_volume_node

    flair = load_volume_node(slicer.mrmlScene, paths["flair"], "FLAIR")
    ui, panel = widget.ui, widget.panel
    ui.flairSelector.setCurrentNode(flair)
    ui.probabilityPathLineEdit.currentPath = paths["probability"]
    ui.loadProbabilityButton.click()
    session = panel.presenter.session
    report = {"state": panel.presenter.state.value, "recommended_enabled": ui.recommendedButton.enabled,
              "metrics_bound": ui.metricsTableView.mrmlTableNode() is session.metrics_table,
              "chart_bound": ui.plotWidget.mrmlPlotViewNode().GetPlotChartNodeID() == session.plot.chart.GetID(),
              "shown": [n.GetName() for n in slicer.util.shown_volumes], "start": session.threshold}
    ui.thresholdSlider.valueIsChanging.emit(0.3)
    report["dragged"] = session.threshold
    ui.thresholdSlider.value = 0.7
    report["settled"] = session.threshold
    ui.modeComboBox.currentText = "voxel"
    report["mode"] = session.parameters.mode
    report["predicted_voxels"] = int(session.state.mask.sum())
    report["expected_voxels"] = int((probability >= 0.7).sum())
    widget.cleanup()
    report["blocked_loaded"] = loaded_blocked()
    return report


class FakeEnvironment:
    """Builds the panel on fake widgets over a fresh slicer-core scene."""

    def build(self, test):
        from LesionSegLib.widget import LesionSegPanel, LesionSegParameterNode
        from LesionSegLib.widget_tests import UI_FILE, FakeLogic, widget_test_parameter_node

        scene = slicer.vtkMRMLScene()
        ui = slicer.util.childWidgetVariables(slicer.util.loadUI(UI_FILE))
        logic = FakeLogic(scene, lambda: LesionSegParameterNode(widget_test_parameter_node(scene)))
        panel = LesionSegPanel(ui, logic, scene, cards=test.cards, ensure=test.ensure, export=test.export,
                               report_error=test.errors.append, open_editor=test.open_editor)
        return panel, logic, scene

    def add_volume(self, scene, name):
        return scene.AddNewNodeByClass("vtkMRMLScalarVolumeNode", name)

    def drag(self, panel, value):
        panel.ui.thresholdSlider.valueIsChanging.emit(value)  # the signal ctkSliderWidget emits while dragging

    def close_scene(self, scene):
        scene.Clear(0)

    def click_table_row(self, view, panel, model_row):
        view.clicked.emit(view.model().index(model_row, 0))

    def selected_row(self, view):
        return getattr(view, "selected_row", -1)

    def teardown(self, panel):
        panel.cleanup()


def run_flows() -> dict:
    from LesionSegLib import widget_tests

    class FakePanelFlowTests(widget_tests.PanelFlowTests):
        environment = FakeEnvironment()

        def test_fake_widget_slots_do_not_grow_over_enter_exit(self) -> None:
            before = {name: len(getattr(self.ui, name).currentIndexChanged.slots)
                      for name in ("modeComboBox", "ruleComboBox", "deviceComboBox")}
            for _ in range(3):
                self.panel.exit()
                self.panel.enter()
            after = {name: len(getattr(self.ui, name).currentIndexChanged.slots) for name in before}
            self.assertEqual(before, after)

    stream = io.StringIO()
    suite = unittest.defaultTestLoader.loadTestsFromTestCase(FakePanelFlowTests)
    result = unittest.TextTestRunner(stream=stream, verbosity=2).run(suite)
    return {
        "run": result.testsRun,
        "failures": [f"{test.id()}: {text}" for test, text in result.failures + result.errors],
        "log": stream.getvalue()[-4000:],
        "blocked_loaded": loaded_blocked(),
    }


def run_parameters() -> dict:
    import xml.etree.ElementTree as ET

    from LesionSegLib.widget import LesionSegParameterNode
    from LesionSegLib.widget_tests import UI_FILE

    bound = {}
    for element in ET.parse(UI_FILE).getroot().iter("widget"):
        for prop in element.findall("property"):
            if prop.get("name") == "SlicerParameterName":
                bound[prop.find("string").text] = element.get("class")
    return {
        "parameters": [asdict(p) for p in LesionSegParameterNode.allParameters.values()],
        "bound": bound,
        "blocked_loaded": loaded_blocked(),
    }


if __name__ == "__main__":
    mode, *args = ARGS
    report = {"module": run_module, "flows": run_flows, "parameters": run_parameters, "review": run_review}[mode](*args)
    print(json.dumps(report, default=str))
