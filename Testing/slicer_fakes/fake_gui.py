"""Fake qt/ctk/slicer GUI modules for building the LesionSeg panel without desktop Slicer.

:func:`install` (in a child process only: it edits ``sys.modules``) blocks the packages stock Slicer does not ship,
registers fake ``qt`` and ``ctk`` modules, and adds to the real ``slicer`` package (slicer-core: real MRML) the GUI
parts the panel uses: MRML widgets, ``loadUI``/``childWidgetVariables`` reading the real ``.ui`` file,
``slicer.parameterNodeWrapper`` (a wrapper that follows the table in ``gui_connectors.json``: a pair Slicer refuses
raises here too, a ``Choice`` combo box is cleared and refilled) and ``slicer.ScriptedLoadableModule``.
Widgets record their values and emit their signals the way Qt does when a value changes.
"""

from __future__ import annotations

import importlib.abc
import importlib.util
import inspect
import sys
import types
import typing
import xml.etree.ElementTree as ET
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import connector_rules

#: what stock 3D Slicer does not ship (issue 11 item 5)
BLOCKED = ("torch", "matplotlib", "nibabel", "nilearn", "tqdm", "safetensors", "skimage")


class BlockedImports(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"{name} is blocked: stock 3D Slicer does not ship it")
        return None


# ---------------------------------------------------------------------------------------------- qt / ctk
def _accepted(slot, args: tuple) -> tuple:
    """The leading arguments ``slot`` can take: PythonQt calls a Python slot with fewer arguments than the
    signal carries when the slot takes fewer (Slicer's ``GuiConnector.changed()`` is connected to
    ``valueChanged(double)``)."""
    try:
        parameters = inspect.signature(slot).parameters.values()
    except (TypeError, ValueError):
        return args
    if any(p.kind is p.VAR_POSITIONAL for p in parameters):
        return args
    positional = [p for p in parameters if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    return args[:len(positional)]


class Signal:
    def __init__(self) -> None:
        self.slots: list = []

    def connect(self, slot) -> None:
        self.slots.append(slot)

    def disconnect(self, slot) -> None:
        self.slots.remove(slot)  # Qt raises when the slot is not connected; so does list.remove

    def emit(self, *args) -> None:
        for slot in list(self.slots):
            slot(*_accepted(slot, args))


class QWidget:
    SIGNALS: tuple[str, ...] = ()

    def __init__(self, name: str = "") -> None:
        self.objectName = name
        self._properties: dict = {}
        self.enabled = True
        self.visible = True
        self.text = ""
        self.toolTip = ""
        for signal in self.SIGNALS:
            setattr(self, signal, Signal())

    def property(self, name):
        return self._properties.get(name)

    def setProperty(self, name, value) -> None:
        self._properties[name] = value

    def isWidgetType(self) -> bool:
        return True

    def setMRMLScene(self, scene) -> None:
        self.scene = scene

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.objectName}>"


class QLabel(QWidget):
    pass


class QProgressBar(QWidget):
    value = 0


class QPushButton(QWidget):
    SIGNALS = ("clicked", "toggled")

    def click(self) -> None:
        if self.enabled:  # Qt: a disabled button ignores clicks
            self.clicked.emit(False)


class QComboBox(QWidget):
    SIGNALS = ("currentIndexChanged", "currentTextChanged")

    def __init__(self, name: str = "") -> None:
        super().__init__(name)
        self._items: list[str] = []
        self._index = -1

    @property
    def count(self) -> int:
        return len(self._items)

    def itemText(self, index: int) -> str:
        return self._items[index]

    def findText(self, text: str) -> int:
        return self._items.index(text) if text in self._items else -1

    def addItem(self, text: str) -> None:
        self._items.append(str(text))
        if self._index < 0:
            self.currentIndex = 0

    def clear(self) -> None:
        self._items = []
        self.currentIndex = -1

    @property
    def currentIndex(self) -> int:
        return self._index

    @currentIndex.setter
    def currentIndex(self, index: int) -> None:
        index = int(index) if -1 <= int(index) < len(self._items) else -1
        if index != self._index:
            self._index = index
            self.currentIndexChanged.emit(index)
            self.currentTextChanged.emit(self.currentText)

    @property
    def currentText(self) -> str:
        return self._items[self._index] if self._index >= 0 else ""

    @currentText.setter
    def currentText(self, text: str) -> None:  # Qt 5: a non-editable box selects the matching item
        if text in self._items:
            self.currentIndex = self._items.index(text)


class QTimer:
    def __init__(self) -> None:
        self.timeout = Signal()
        self.active = False
        self.interval = 0

    def setInterval(self, ms: int) -> None:
        self.interval = ms

    def start(self) -> None:
        self.active = True

    def stop(self) -> None:
        self.active = False


class ctkSliderWidget(QWidget):
    SIGNALS = ("valueChanged", "valueIsChanging")
    tracking = True
    minimum = 0.0
    maximum = 99.0
    singleStep = 1.0
    decimals = 2
    _value = 0.0

    @property
    def value(self) -> float:
        return self._value

    @value.setter
    def value(self, value: float) -> None:
        """A value set outside a mouse drag (CTK's ``ctkSliderWidget::setSpinBoxValue``): with tracking off it
        emits ``valueIsChanging`` and then ``valueChanged``; a mouse drag emits only ``valueIsChanging`` (the
        fakes' environment emits that signal itself)."""
        value = round(min(max(float(value), self.minimum), self.maximum), self.decimals)
        if value != self._value:
            self._value = value
            if not self.tracking:
                self.valueIsChanging.emit(value)
            self.valueChanged.emit(value)


class ctkPathLineEdit(QWidget):
    SIGNALS = ("currentPathChanged",)
    currentPath = ""


class ctkDirectoryButton(QWidget):
    SIGNALS = ("directoryChanged",)
    directory = ""


class ctkCollapsibleButton(QWidget):
    collapsed = False


class qMRMLWidget(QWidget):
    pass


class qMRMLNodeComboBox(QWidget):
    SIGNALS = ("currentNodeChanged",)
    nodeTypes: tuple = ()
    _node = None

    def currentNode(self):
        return self._node

    def setCurrentNode(self, node) -> None:
        if node is not self._node:
            self._node = node
            self.currentNodeChanged.emit(node)


class QModelIndex:
    def __init__(self, row: int, column: int) -> None:
        self._row, self._column = row, column

    def row(self) -> int:
        return self._row

    def column(self) -> int:
        return self._column


class IdentityProxy:
    """An unsorted QSortFilterProxyModel: proxy rows are source rows."""

    def index(self, row: int, column: int) -> QModelIndex:
        return QModelIndex(row, column)

    def mapToSource(self, index: QModelIndex) -> QModelIndex:
        return index

    def mapFromSource(self, index: QModelIndex) -> QModelIndex:
        return index


class TableModel:
    """``qMRMLTableModel`` (a ``QStandardItemModel``): ``index(row, column)``."""

    def index(self, row: int, column: int) -> QModelIndex:
        return QModelIndex(row, column)


class qMRMLTableView(QWidget):
    SIGNALS = ("clicked",)
    _table = None
    _proxy = IdentityProxy()

    def model(self):
        return self._proxy

    def sortFilterProxyModel(self):
        return self._proxy

    def tableModel(self):
        return TableModel()

    def selectRow(self, row: int) -> None:  # QTableView::selectRow
        self.selected_row = row

    def scrollTo(self, index: QModelIndex) -> None:  # QAbstractItemView::scrollTo
        self.scrolled_to = index.row()

    def setMRMLTableNode(self, node) -> None:
        self._table = node

    def mrmlTableNode(self):
        return self._table


class qMRMLPlotWidget(QWidget):
    _view = None

    def setMRMLPlotViewNode(self, node) -> None:
        self._view = node

    def mrmlPlotViewNode(self):
        return self._view


WIDGETS = {cls.__name__: cls for cls in (
    QWidget, QLabel, QProgressBar, QPushButton, QComboBox, ctkSliderWidget, ctkPathLineEdit, ctkDirectoryButton,
    ctkCollapsibleButton, qMRMLWidget, qMRMLNodeComboBox, qMRMLTableView, qMRMLPlotWidget)}


# ---------------------------------------------------------------------------------------------- .ui reader
def load_ui(path):
    """Every widget of the ``.ui`` file as a fake of its class (an unknown class fails), with its dynamic
    ``SlicerParameterName`` property, its text and its combo box items; the root keeps ``children``."""
    root_element = ET.parse(path).getroot().find("widget")
    widgets = []
    for element in root_element.iter("widget"):
        cls = WIDGETS.get(element.get("class"))
        if cls is None:
            raise RuntimeError(f"{path}: no fake for widget class {element.get('class')}")
        widget = cls(element.get("name"))
        for prop in element.findall("property"):
            value = prop.find("string")
            if prop.get("name") == "SlicerParameterName":
                widget.setProperty("SlicerParameterName", value.text)
            elif prop.get("name") == "text" and value is not None:
                widget.text = value.text or ""
        for item in element.findall("item"):
            widget.addItem(item.find("property/string").text)
        widgets.append(widget)
    root, *children = widgets
    root.children = children
    return root


def child_widget_variables(root):
    return types.SimpleNamespace(**{w.objectName: w for w in root.children})


# ---------------------------------------------------------------------------------------------- parameter node
class Choice:
    def __init__(self, choices) -> None:
        self.choices = list(choices)


class WithinRange:
    def __init__(self, minimum, maximum) -> None:
        self.minimum, self.maximum = minimum, maximum


def parameter_node_wrapper(slicer, vtk):
    """A ``parameterNodeWrapper`` that stores values in the scripted module node and binds widgets by the table's
    rules (``connector_rules``)."""

    def wrap(cls):
        hints = typing.get_type_hints(cls, include_extras=True)
        params = {name: connector_rules.describe(name, hint, getattr(cls, name, None), slicer, Choice, WithinRange)
                  for name, hint in hints.items()}
        for parameter in params.values():
            found = connector_rules.serializer_problems(parameter, slicer)
            if found:
                raise TypeError("; ".join(found))

        def read(self, name):
            parameter, node = params[name], self.parameterNode
            if parameter.kind == "node":
                return node.GetNodeReference(name)
            text = node.GetParameter(name)
            return float(text) if parameter.kind == "float" else text

        def write(self, name, value):
            parameter, node = params[name], self.parameterNode
            if parameter.kind == "node":
                classes = tuple(getattr(slicer, c) for c in parameter.node_classes)
                if value is not None and not isinstance(value, classes):  # Slicer: IsInstance validator
                    raise TypeError(f"{name}: {value.GetClassName()} is not one of {parameter.node_classes}")
                node.SetNodeReferenceID(name, None if value is None else value.GetID())
                return
            if parameter.choices is not None and value not in parameter.choices:
                raise ValueError(f"{name}: {value!r} is not one of {parameter.choices}")
            node.SetParameter(name, str(float(value) if parameter.kind == "float" else value))

        def init(self, parameter_node) -> None:
            self.parameterNode = parameter_node
            self._parameterGUIs = {}
            self._observer_tags = {}
            self._next_tag = 0
            self._updating = False
            for name, parameter in params.items():
                if not parameter_node.HasParameter(name) and parameter.kind != "node":
                    write(self, name, parameter.default if parameter.default is not None else "")

        def connect_gui(self, gui):
            connectors = {}
            for widget in vars(gui).values():
                name = widget.property("SlicerParameterName")
                if not name:
                    continue
                if name not in params:
                    raise ValueError(f"Cannot find a param with the given name: {name}")
                found = connector_rules.problems(type(widget).__name__, params[name], slicer)
                if found:
                    raise RuntimeError("; ".join(found))
                connectors[name] = (widget, connector_rules.connector_for(type(widget).__name__, params[name]))
            for name, (widget, connector) in connectors.items():
                parameter = params[name]
                if connector.get("clears_items"):
                    widget.clear()
                    for choice in parameter.choices:
                        widget.addItem(str(choice))
                if connector.get("instantiates_node_classes"):
                    widget.nodeTypes = tuple(getattr(slicer, c)().GetClassName() for c in parameter.node_classes)
                if parameter.bounded and hasattr(widget, "minimum"):
                    widget.minimum, widget.maximum = 0.0, 1.0
            tag = self._next_tag
            self._next_tag += 1
            callbacks = {}
            for name, (widget, connector) in connectors.items():
                put(self, name, widget, connector)
                callbacks[name] = make_callback(self, name, widget, connector)
                getattr(widget, connector["signal"]).connect(callbacks[name])
            self._parameterGUIs[tag] = {n: (w, c, callbacks[n]) for n, (w, c) in connectors.items()}
            self._observer_tags[tag] = self.parameterNode.AddObserver(
                vtk.vtkCommand.ModifiedEvent, lambda caller, event: update_gui(self))
            return tag

        def put(self, name, widget, connector):
            value = read(self, name)
            if connector["property"] == "currentIndex":
                widget.currentIndex = params[name].choices.index(value)
            elif connector["property"] == "currentNode":
                widget.setCurrentNode(value)
            else:
                setattr(widget, connector["property"], value)

        def take(self, name, widget, connector):
            if connector["property"] == "currentIndex":
                return params[name].choices[widget.currentIndex] if widget.currentIndex >= 0 else None
            if connector["property"] == "currentNode":
                return widget.currentNode()
            return getattr(widget, connector["property"])

        def make_callback(self, name, widget, connector):
            def callback(*_args):
                if not self._updating:
                    value = take(self, name, widget, connector)
                    if value is not None or params[name].kind == "node":
                        write(self, name, value)
            return callback

        def update_gui(self):
            if self._updating:
                return
            self._updating = True
            try:
                for mapping in self._parameterGUIs.values():
                    for name, (widget, connector, _callback) in mapping.items():
                        put(self, name, widget, connector)
            finally:
                self._updating = False

        def disconnect_gui(self, tag):
            for _name, (widget, connector, callback) in self._parameterGUIs.pop(tag, {}).items():
                getattr(widget, connector["signal"]).disconnect(callback)
            if tag in self._observer_tags:
                self.parameterNode.RemoveObserver(self._observer_tags.pop(tag))

        namespace = {
            "__init__": init, "connectGui": connect_gui, "disconnectGui": disconnect_gui,
            "AddObserver": lambda self, event, callback, priority=0.0: self.parameterNode.AddObserver(
                event, callback, priority),
            "RemoveObserver": lambda self, tag: self.parameterNode.RemoveObserver(tag),
            "allParameters": params,
        }
        for name in params:
            namespace[name] = property(lambda self, n=name: read(self, n), lambda self, v, n=name: write(self, n, v))
        return type(cls.__name__, (), namespace)

    return wrap


# ---------------------------------------------------------------------------------------------- install
def use_slicer_wrapper(slicer, slicer_source: str) -> None:
    """Replace the fake ``slicer.parameterNodeWrapper`` by Slicer's own package from a Slicer source checkout
    (``<slicer_source>/Base/Python/slicer/parameterNodeWrapper``), over the fake widgets. Its connectors list widget
    classes the panel never uses (``type(widget) in (qt.QCheckBox, ...)``): placeholders stand in for them."""
    folder = Path(slicer_source) / "Base" / "Python" / "slicer" / "parameterNodeWrapper"
    qt, ctk = sys.modules["qt"], sys.modules["ctk"]
    unused = {qt: ("QCheckBox", "QSlider", "QSpinBox", "QDoubleSpinBox", "QLineEdit", "QTextEdit", "QColor"),
              ctk: ("ctkCheckBox", "ctkCheckablePushButton", "ctkDoubleSlider", "ctkDoubleSpinBox", "ctkComboBox",
                    "ctkRangeWidget", "ctkDoubleRangeSlider", "ctkColorPickerButton"),
              slicer: ("qMRMLSliderWidget", "qMRMLSpinBox", "qMRMLRangeWidget")}
    for module, names in unused.items():
        for name in names:
            if not hasattr(module, name):
                setattr(module, name, type(name, (), {}))
    spec = importlib.util.spec_from_file_location("slicer.parameterNodeWrapper", folder / "__init__.py",
                                                  submodule_search_locations=[str(folder)])
    wrapper = importlib.util.module_from_spec(spec)
    sys.modules["slicer.parameterNodeWrapper"] = wrapper
    spec.loader.exec_module(wrapper)
    slicer.parameterNodeWrapper = wrapper


def install(slicer_source: str | None = None) -> types.ModuleType:
    """Block the heavy packages and register the fakes; returns the (real, extended) ``slicer`` module. With
    ``slicer_source``, Slicer's own parameterNodeWrapper is used instead of the table-driven fake."""
    sys.meta_path.insert(0, BlockedImports())
    qt = types.ModuleType("qt")
    for name in ("QWidget", "QLabel", "QProgressBar", "QPushButton", "QComboBox", "QTimer"):
        setattr(qt, name, globals()[name])
    ctk = types.ModuleType("ctk")
    for name in ("ctkSliderWidget", "ctkPathLineEdit", "ctkDirectoryButton", "ctkCollapsibleButton"):
        setattr(ctk, name, globals()[name])
    sys.modules.update(qt=qt, ctk=ctk)

    import slicer  # the real slicer-core package
    import slicer.util
    import vtk

    for name in ("qMRMLWidget", "qMRMLNodeComboBox", "qMRMLTableView", "qMRMLPlotWidget"):
        setattr(slicer, name, globals()[name])
    slicer.mrmlScene = slicer.vtkMRMLScene()
    slicer.util.loadUI = load_ui
    slicer.util.childWidgetVariables = child_widget_variables
    slicer.util.errorDisplay = lambda text, *args, **kwargs: print("errorDisplay:", text)
    slicer.util.shown_volumes = []
    slicer.util.setSliceViewerLayers = lambda background=None, **kwargs: slicer.util.shown_volumes.append(background)

    wrapper = types.ModuleType("slicer.parameterNodeWrapper")
    wrapper.Choice, wrapper.WithinRange = Choice, WithinRange
    wrapper.parameterNodeWrapper = parameter_node_wrapper(slicer, vtk)
    scripted = types.ModuleType("slicer.ScriptedLoadableModule")

    class ScriptedLoadableModule:
        def __init__(self, parent) -> None:
            self.parent = parent

    class ScriptedLoadableModuleWidget:
        def __init__(self, parent=None) -> None:
            self.parent = parent
            self.layout = types.SimpleNamespace(widgets=[], addWidget=lambda w: None, addStretch=lambda n: None)

        def setup(self) -> None:
            pass

        def resourcePath(self, filename):
            return str(Path(sys.modules[type(self).__module__].__file__).parent / "Resources" / filename)

    class ScriptedLoadableModuleLogic:
        def __init__(self, parent=None) -> None:
            self.moduleName = type(self).__name__.removesuffix("Logic")

        def getParameterNode(self):
            node = slicer.mrmlScene.GetSingletonNode(self.moduleName, "vtkMRMLScriptedModuleNode")
            if node is None:
                node = slicer.mrmlScene.CreateNodeByClass("vtkMRMLScriptedModuleNode")
                node.UnRegister(None)
                node.SetSingletonTag(self.moduleName)
                node.SetAttribute("ModuleName", self.moduleName)
                node = slicer.mrmlScene.AddNode(node)
            return node

    class ScriptedLoadableModuleTest:
        pass

    for cls in (ScriptedLoadableModule, ScriptedLoadableModuleWidget, ScriptedLoadableModuleLogic,
                ScriptedLoadableModuleTest):
        setattr(scripted, cls.__name__, cls)
    sys.modules.update({"slicer.parameterNodeWrapper": wrapper, "slicer.ScriptedLoadableModule": scripted})
    slicer.parameterNodeWrapper, slicer.ScriptedLoadableModule = wrapper, scripted
    if slicer_source:
        use_slicer_wrapper(slicer, slicer_source)
    return slicer
