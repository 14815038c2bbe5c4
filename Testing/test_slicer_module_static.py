"""Static checks that would catch a broken desktop module (desktop Slicer cannot run here)."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
MODULE = ROOT / "LesionSegExtension"
LIB = MODULE / "LesionSegLib"
UI_FILE = MODULE / "Resources" / "UI" / "LesionSeg.ui"
FAKES = Path(__file__).resolve().parent / "slicer_fakes"
sys.path.insert(0, str(FAKES))
import connector_rules  # noqa: E402

#: every widget the panel touches, with the class it must have in the .ui file
EXPECTED_WIDGETS = {
    "flairSelector": "qMRMLNodeComboBox", "t2Selector": "qMRMLNodeComboBox",
    "baselineSelector": "qMRMLNodeComboBox", "referenceSelector": "qMRMLNodeComboBox",
    "modelComboBox": "QComboBox", "modelInfoLabel": "QLabel", "deviceComboBox": "QComboBox",
    "probabilityPathLineEdit": "ctkPathLineEdit", "loadProbabilityButton": "QPushButton",
    "applyButton": "QPushButton", "progressBar": "QProgressBar", "statusLabel": "QLabel",
    "thresholdSlider": "ctkSliderWidget", "recommendedButton": "QPushButton", "modeComboBox": "QComboBox",
    "ruleComboBox": "QComboBox", "metricsTableView": "qMRMLTableView", "lesionTableView": "qMRMLTableView",
    "plotWidget": "qMRMLPlotWidget", "acceptButton": "QPushButton", "editButton": "QPushButton",
    "rescorePredictionButton": "QPushButton", "rescoreReferenceButton": "QPushButton",
    "outputDirectoryButton": "ctkDirectoryButton", "exportButton": "QPushButton",
    "modelPathLineEdit": "ctkPathLineEdit", "addModelButton": "QPushButton", "modelLabelComboBox": "QComboBox",
    "modelLabelComboBoxLabel": "QLabel", "exportFormatComboBox": "QComboBox",
    "mapChannelComboBox": "QComboBox", "mapScaleComboBox": "QComboBox",
    "nextFnButton": "QPushButton", "nextFpButton": "QPushButton", "labelRegionsButton": "QPushButton",
    "lesionLoadLabel": "QLabel",
    "reviewFolderButton": "ctkDirectoryButton", "saveReviewButton": "QPushButton", "openReviewButton": "QPushButton",
    "exportReportButton": "QPushButton", "lesionNoteComboBox": "QComboBox", "noteLesionButton": "QPushButton",
}
#: modules allowed to use Qt / Slicer GUI (imported only inside Slicer)
GUI_FILES = {"widget.py", "widget_tests.py"}
GUI_IMPORTS = re.compile(
    r"^(qt|ctk|PythonQt|qSlicer\w*|slicer\.(util|ScriptedLoadableModule|parameterNodeWrapper|qSlicer\w*))(\.|$)"
)


def python_files() -> list[Path]:
    return sorted(p for p in MODULE.rglob("*.py") if "__pycache__" not in p.parts)


def ui_widgets() -> dict[str, str]:
    return {w.get("name"): w.get("class") for w in ET.parse(UI_FILE).getroot().iter("widget")}


def test_every_python_file_compiles() -> None:
    for path in python_files():
        compile(path.read_text(encoding="utf-8"), str(path), "exec")


def used_ui_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        parent = getattr(node, "value", None)
        if isinstance(node, ast.Attribute) and isinstance(parent, ast.Attribute) and parent.attr == "ui":
            names.add(node.attr)
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "ui":
            names.add(node.attr)
    return names - {"setMRMLScene"}


def test_every_widget_the_module_uses_exists_in_the_ui_with_its_class() -> None:
    widgets = ui_widgets()
    used = used_ui_names(LIB / "widget.py") | used_ui_names(MODULE / "LesionSeg.py")
    assert used, "the panel uses no widgets?"
    assert used <= set(EXPECTED_WIDGETS), f"add to EXPECTED_WIDGETS: {used - set(EXPECTED_WIDGETS)}"
    for name in used:
        assert widgets.get(name) == EXPECTED_WIDGETS[name], name
    root = ET.parse(UI_FILE).getroot()
    assert root.find("widget").get("class") == "qMRMLWidget"
    declared = {c.findtext("class") for c in root.iter("customwidget")}
    assert {c for c in widgets.values() if c.startswith(("ctk", "qMRML"))} <= declared


def test_slider_range_in_the_ui_is_the_threshold_range() -> None:
    slider = next(w for w in ET.parse(UI_FILE).getroot().iter("widget") if w.get("name") == "thresholdSlider")
    props = {p.get("name"): p[0].text for p in slider.iter("property")}
    assert (float(props["minimum"]), float(props["maximum"])) == (0.0, 1.0)


# ---------------------------------------------------------------------------------------------- check (a)
def parameter_report() -> dict:
    """The panel's parameter node as the wrapper sees it, and the .ui bindings (a child with fake GUI modules:
    widget.py needs qt and slicer.parameterNodeWrapper)."""
    done = subprocess.run([sys.executable, str(FAKES / "run_panel.py"), "parameters"], capture_output=True,
                          text=True, cwd=FAKES, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.slicer
def test_every_bound_parameter_is_a_type_widget_pair_slicer_accepts() -> None:
    """Check (a): each SlicerParameterName in the .ui names a parameter, and Slicer's connectors (the table in
    slicer_fakes/gui_connectors.json) accept its type on that widget class; node classes are instantiated with
    slicer-core, as qMRMLNodeComboBoxToNodeConnector does."""
    slicer = pytest.importorskip("slicer")
    report = parameter_report()
    parameters = {p["name"]: connector_rules.ParameterType(**{k: tuple(v) if isinstance(v, list) else v
                                                               for k, v in p.items()})
                  for p in report["parameters"]}
    assert report["bound"], "nothing is bound?"
    assert set(report["bound"]) <= set(parameters), "Slicer's connectGui raises ValueError for unknown names"
    for name, widget_class in report["bound"].items():
        assert connector_rules.problems(widget_class, parameters[name], slicer) == [], name
    for parameter in parameters.values():
        assert connector_rules.serializer_problems(parameter, slicer) == [], parameter.name
    # the model list is filled by the panel (a Choice connector would clear it): stored, never bound
    assert "model" in parameters and "model" not in report["bound"]
    assert parameters["reference"].node_classes == ("vtkMRMLSegmentationNode", "vtkMRMLLabelMapVolumeNode")


@pytest.mark.slicer
def test_connector_rules_refuse_what_slicer_refuses() -> None:
    """The rules are not vacuous: the declarations issue 11 found broken are refused, for Slicer's reasons."""
    slicer = pytest.importorskip("slicer")
    from typing import Annotated, Union

    class Choice:
        def __init__(self, choices) -> None:
            self.choices = choices

    class Bound:
        pass

    def describe(annotation, default=None):
        return connector_rules.describe("p", annotation, default, slicer, Choice, (Bound,))

    assert any("Choice" in p for p in connector_rules.problems("QComboBox", describe(str, ""), slicer))
    assert any("abstract" in p for p in connector_rules.problems("qMRMLNodeComboBox", describe(slicer.vtkMRMLNode),
                                                                   slicer))
    two = Union[slicer.vtkMRMLSegmentationNode, slicer.vtkMRMLLabelMapVolumeNode]  # noqa: UP007
    assert any("None" in p for p in connector_rules.problems("qMRMLNodeComboBox", describe(two), slicer))
    assert connector_rules.problems("qMRMLNodeComboBox", describe(Union[two, None]), slicer) == []  # noqa: UP007
    assert any("unbounded" in p or "WithinRange" in p
               for p in connector_rules.problems("ctkSliderWidget", describe(float, 0.5), slicer))
    assert connector_rules.problems("ctkSliderWidget", describe(Annotated[float, Bound()], 0.5), slicer) == []
    assert connector_rules.problems("ctkCheckableComboBox", describe(Annotated[str, Choice(["a"])], "a"), slicer)
    assert connector_rules.problems("QComboBox", describe(Annotated[str, Choice(["a", "b"])], "c"), slicer)


def test_connector_table_names_the_slicer_source_it_was_read_from() -> None:
    table = connector_rules.TABLE
    assert re.fullmatch(r"[0-9a-f]{40}", table["slicer_commit"]) and table["slicer_describe"].startswith("v5.")
    widgets = [w for c in table["connectors"] for w in c["widgets"]]
    assert {"QComboBox", "qMRMLNodeComboBox", "ctkSliderWidget"} <= set(widgets)


#: the Qt/ctk signals the panel connects, per widget class (ctkSliderWidget.h: valueIsChanging is emitted while
#: the handle is dragged with tracking off; valueChanged on release and on every non-drag change)
KNOWN_SIGNALS = {
    "ctkSliderWidget": {"valueChanged", "valueIsChanging"},
    "QPushButton": {"clicked"}, "QComboBox": {"currentTextChanged", "currentIndexChanged"},
    "qMRMLTableView": {"clicked"},
}


def connections(path: Path) -> dict[tuple[str, str], str]:
    """``ui.<widget>.<signal>.connect(self.<method>)`` → {(widget, signal): method} (lambdas: ``"<lambda>"``)."""
    out = {}
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "connect"):
            continue
        signal = node.func.value
        if not (isinstance(signal, ast.Attribute) and isinstance(signal.value, ast.Attribute)
                and isinstance(signal.value.value, ast.Name) and signal.value.value.id == "ui"):
            continue
        target = node.args[0]
        out[(signal.value.attr, signal.attr)] = target.attr if isinstance(target, ast.Attribute) else "<lambda>"
    return out


def test_every_connected_signal_exists_on_its_widget_class() -> None:
    for (widget, signal), _method in connections(LIB / "widget.py").items():
        assert signal in KNOWN_SIGNALS[EXPECTED_WIDGETS[widget]], (widget, signal)


def test_threshold_slider_drags_live_and_settles_through_the_presenter() -> None:
    """Tracking off; valueIsChanging → presenter.threshold_dragged (ThresholdSlider.drag), valueChanged →
    presenter.threshold_settled (ThresholdSlider.settle, which syncs the hidden prediction). The behaviour is
    tested in test_presenter.py and, on fake widgets, in test_slicer_widget_fakes.py."""
    source = (LIB / "widget.py").read_text(encoding="utf-8")
    tree = ast.parse(source)
    assert any(isinstance(n, ast.Assign) and ast.unparse(n.targets[0]) == "ui.thresholdSlider.tracking"
               and ast.unparse(n.value) == "False" for n in ast.walk(tree))
    methods = {n.name: ast.unparse(n) for n in ast.walk(tree) if isinstance(n, ast.FunctionDef)}
    wired = connections(LIB / "widget.py")
    assert "self.presenter.threshold_dragged" in methods[wired[("thresholdSlider", "valueIsChanging")]]
    assert "self.presenter.threshold_settled" in methods[wired[("thresholdSlider", "valueChanged")]]
    presenter = (LIB / "presenter.py").read_text(encoding="utf-8")
    assert "self.slider.drag" in presenter and "self.slider.settle" in presenter


def cmake_listed(cmake: Path) -> set[str]:
    text = cmake.read_text(encoding="utf-8").replace("${MODULE_NAME}", "LesionSeg")
    return set(re.findall(r"^\s+([\w/.-]+\.(?:py|png|ui|json))\s*$", text, flags=re.M))


def test_cmake_lists_every_script_and_resource_that_exists() -> None:
    listed = cmake_listed(MODULE / "CMakeLists.txt")
    existing = {str(p.relative_to(MODULE)) for p in python_files()}
    existing |= {str(p.relative_to(MODULE)) for p in (MODULE / "Resources").rglob("*") if p.is_file()}
    assert existing == listed, f"missing: {existing - listed}; stale: {listed - existing}"
    text = (MODULE / "CMakeLists.txt").read_text()
    assert "slicerMacroBuildScriptedModule" in text and "WITH_GENERIC_TESTS" in text
    assert "LesionSegLogic/*.py" in text  # the library is installed next to the module


def test_extension_cmake_has_complete_metadata_and_depends_on_pytorch() -> None:
    text = (ROOT / "CMakeLists.txt").read_text()
    keys = ("HOMEPAGE", "CATEGORY", "CONTRIBUTORS", "DESCRIPTION", "ICONURL", "SCREENSHOTURLS", "DEPENDS")
    for key in keys:
        match = re.search(rf'set\(EXTENSION_{key} "([^"]+)"\)', text)
        assert match and match.group(1).strip(), key
    assert re.search(r'set\(EXTENSION_DEPENDS "PyTorch"\)', text)
    assert "add_subdirectory(LesionSegExtension)" in text


def imports_of(path: Path) -> list[str]:
    out = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            out += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out += [node.module] + [f"{node.module}.{a.name}" for a in node.names]
    return out


def slicer_gui_uses(path: Path) -> list[str]:
    """Uses of ``slicer.util``/``.modules``/``.app``/``.mrmlScene`` in code (a docstring may cite them)."""
    return [ast.unparse(node) for node in ast.walk(ast.parse(path.read_text(encoding="utf-8")))
            if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name) and node.value.id == "slicer"
            and node.attr in ("util", "modules", "app", "mrmlScene")]


def test_nothing_under_the_session_layer_imports_qt_or_ctk() -> None:
    for path in sorted(LIB.glob("*.py")):
        if path.name in GUI_FILES:
            continue
        bad = [name for name in imports_of(path) if GUI_IMPORTS.match(name)]
        assert not bad, f"{path.name} imports GUI modules {bad}"
        if path.name != "dependencies.py":  # its SlicerInstaller is the documented Slicer-only glue
            assert not slicer_gui_uses(path), (path.name, slicer_gui_uses(path))


def test_module_file_is_a_thin_shell_with_the_template_classes() -> None:
    source = (MODULE / "LesionSeg.py").read_text(encoding="utf-8")
    assert len(source.splitlines()) <= 130
    classes = {n.name: [b.id for b in n.bases] for n in ast.parse(source).body if isinstance(n, ast.ClassDef)}
    assert classes == {
        "LesionSeg": ["ScriptedLoadableModule"], "LesionSegWidget": ["ScriptedLoadableModuleWidget"],
        "LesionSegModuleLogic": ["ScriptedLoadableModuleLogic"], "LesionSegTest": ["ScriptedLoadableModuleTest"],
    }


def test_terminology_file_is_valid_json_with_the_review_types() -> None:
    document = json.loads((MODULE / "Resources" / "Terminology" / "LesionSeg.term.json").read_text())
    labels = {t["3dSlicerLabel"] for c in document["SegmentationCodes"]["Category"] for t in c["Type"]}
    assert {"lesionseg_true_positive", "lesionseg_false_positive", "lesionseg_false_negative"} <= labels


@pytest.mark.slicer
def test_module_loads_from_a_source_checkout_module_path(tmp_path) -> None:
    """Like Slicer adding LesionSegExtension/ to its module paths: LesionSegLogic is found one folder up."""
    fake = tmp_path / "fake"
    (fake / "slicer").mkdir(parents=True)
    (fake / "slicer" / "__init__.py").write_text("")
    (fake / "slicer" / "ScriptedLoadableModule.py").write_text(textwrap.dedent("""
        class ScriptedLoadableModule: pass
        class ScriptedLoadableModuleWidget: pass
        class ScriptedLoadableModuleLogic: pass
        class ScriptedLoadableModuleTest: pass
    """))
    site = next(p for p in sys.path if p.endswith("site-packages"))
    script = textwrap.dedent(f"""
        import sys, runpy
        sys.path[:] = [{str(fake)!r}, {site!r}] + [p for p in sys.path if 'python3' in p and 'site-packages' not in p]
        try:
            import LesionSegLogic
            raise SystemExit('LesionSegLogic importable before the module ran')
        except ImportError:
            pass
        namespace = runpy.run_path({str(MODULE / 'LesionSeg.py')!r})
        before = list(sys.path)
        namespace['_ensure_import_paths']()
        added = [p for p in sys.path if p not in before]
        import LesionSegLogic, LesionSegLib.session
        print(sorted(added))
        print(LesionSegLogic.__file__)
    """)
    done = subprocess.run([sys.executable, "-S", "-c", script], capture_output=True, text=True, cwd=tmp_path)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.strip().splitlines()
    assert lines[0] == str(sorted([str(ROOT), str(MODULE)]))
    assert lines[1].startswith(str(ROOT / "LesionSegLogic"))
