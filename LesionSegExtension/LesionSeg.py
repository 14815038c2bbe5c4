"""LesionSeg — 3D Slicer scripted module: MS lesion segmentation with a live, lesion-wise threshold review.

A thin shell (Module / Widget / Logic / Test, per Slicer's scripted-module template). The panel's
behaviour is in ``LesionSegLib.widget``; everything that touches MRML is
``LesionSegLib.session.ReviewSession`` (Qt-free).
"""

import os
import sys

import slicer
from slicer.ScriptedLoadableModule import (
    ScriptedLoadableModule,
    ScriptedLoadableModuleLogic,
    ScriptedLoadableModuleTest,
    ScriptedLoadableModuleWidget,
)

_MODULE_DIR = os.path.dirname(os.path.abspath(__file__))


def _ensure_import_paths():
    """Make ``LesionSegLib`` (next to this file) and ``LesionSegLogic`` (installed next to it, or one folder
    up in a source checkout) importable; only paths that are missing are added."""
    try:
        import LesionSegLogic  # noqa: F401
    except ImportError:
        for candidate in (_MODULE_DIR, os.path.dirname(_MODULE_DIR)):
            if os.path.isdir(os.path.join(candidate, "LesionSegLogic")) and candidate not in sys.path:
                sys.path.append(candidate)
                break
    if _MODULE_DIR not in sys.path:
        sys.path.append(_MODULE_DIR)


class LesionSeg(ScriptedLoadableModule):
    def __init__(self, parent):
        ScriptedLoadableModule.__init__(self, parent)
        self.parent.title = "LesionSeg"
        self.parent.categories = ["Segmentation"]
        self.parent.dependencies = ["Segmentations", "Tables", "Plots"]
        self.parent.contributors = ["LesionSeg contributors"]
        self.parent.helpText = (
            "Segment multiple-sclerosis lesions in FLAIR/T2 MRI and review the result with a live threshold "
            "slider, lesion-wise TP/FP/FN overlays, metrics and a threshold curve. "
            '<a href="https://github.com/lesionseg/lesionseg/blob/main/docs/slicer.md">Documentation</a>.'
        )
        self.parent.acknowledgementText = "Models trained with the losses of the seed papers (see README)."


class LesionSegWidget(ScriptedLoadableModuleWidget):
    def setup(self):
        ScriptedLoadableModuleWidget.setup(self)
        _ensure_import_paths()
        from LesionSegLib.widget import LesionSegPanel

        ui_widget = slicer.util.loadUI(self.resourcePath("UI/LesionSeg.ui"))
        self.layout.addWidget(ui_widget)
        self.ui = slicer.util.childWidgetVariables(ui_widget)
        ui_widget.setMRMLScene(slicer.mrmlScene)
        self.logic = LesionSegModuleLogic()
        self.panel = LesionSegPanel(self.ui, self.logic, slicer.mrmlScene, is_entered=lambda: self.parent.isEntered)
        self.layout.addStretch(1)

    def enter(self):
        self.panel.enter()

    def exit(self):
        self.panel.exit()

    def cleanup(self):
        self.panel.cleanup()


class LesionSegModuleLogic(ScriptedLoadableModuleLogic):
    """Parameter node, review sessions bound to Slicer's scene/views. Not named ``LesionSegLogic`` (the library
    package); ``ScriptedLoadableModuleLogic`` derives the parameter node's module name from the class name, so
    it is set back to ``LesionSeg`` (scenes saved before the rename keep their parameter node)."""

    def __init__(self, parent=None):
        ScriptedLoadableModuleLogic.__init__(self, parent)
        self.moduleName = "LesionSeg"

    def getParameterNode(self):
        from LesionSegLib.widget import LesionSegParameterNode

        return LesionSegParameterNode(super().getParameterNode())

    def create_session(self, parameters=None):
        _ensure_import_paths()
        from LesionSegLib.lesion_focus import LesionFocus
        from LesionSegLib.runner import SubprocessRunner
        from LesionSegLib.session import ReviewSession

        return ReviewSession(slicer.mrmlScene, runner=SubprocessRunner(), parameters=parameters,
                             view_controller=LesionFocus(slicer.mrmlScene))

    def show_volume(self, node):
        slicer.util.setSliceViewerLayers(background=node, fit=True)


class LesionSegTest(ScriptedLoadableModuleTest):
    """Self-test inside Slicer: the panel's widget tests (mock session/runner), then the review workflow on a
    phantom with a zoo model (after the dependency check)."""

    def setUp(self):
        slicer.mrmlScene.Clear()

    def runTest(self):
        self.setUp()
        _ensure_import_paths()
        from LesionSegLib.dependencies import ensure_dependencies, slicer_installer
        from LesionSegLib.selftest import run_review_self_test
        from LesionSegLib.widget_tests import run_widget_tests

        self.assertTrue(run_widget_tests().wasSuccessful(), "LesionSeg widget tests failed (see the log)")
        self.delayDisplay("LesionSeg widget tests passed")
        self.setUp()
        if not ensure_dependencies(slicer_installer()):
            self.delayDisplay("Dependencies were not installed: the review self-test did not run")
            return
        report = run_review_self_test(slicer.mrmlScene)
        self.delayDisplay(f"LesionSeg self-test passed: {report}")
