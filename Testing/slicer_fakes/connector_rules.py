"""What Slicer's parameterNodeWrapper does with a (widget class, parameter type) pair, as data + rules.

The table ``gui_connectors.json`` was written from Slicer's ``guiConnectors.py``/``serializers.py``/``util.py`` at the
commit it names. :func:`describe` turns a parameter annotation into a :class:`ParameterType`; :func:`problems` says
why Slicer would refuse it (empty list: accepted). Both the static check (``test_slicer_module_static.py``) and the
fake wrapper of the fakes test (``fake_gui.py``) use these rules, so they cannot drift apart.
"""

from __future__ import annotations

import json
import pathlib
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any

TABLE = json.loads((Path(__file__).with_name("gui_connectors.json")).read_text(encoding="utf-8"))
_PATH_TYPES = (pathlib.Path, pathlib.PurePath, pathlib.PosixPath, pathlib.PurePosixPath)


@dataclass(frozen=True)
class ParameterType:
    """One parameter of a parameter node class, as the wrapper sees it."""

    name: str
    kind: str  # "str", "float", "int", "bool", "node", "Path", "enum", "other"
    node_classes: tuple[str, ...] = ()
    union: bool = False
    union_has_none: bool = False
    choices: tuple[Any, ...] | None = None
    bounded: bool = False
    default: Any = None


def _kind(type_) -> str:
    import enum

    for simple in (bool, int, float, str):
        if type_ is simple:
            return simple.__name__
    if isinstance(type_, type) and issubclass(type_, enum.Enum):
        return "enum"
    if type_ in _PATH_TYPES:
        return "Path"
    return "other"


def describe(name: str, annotation, default, slicer, choice_type, range_types) -> ParameterType:
    """``annotation`` (possibly ``Annotated``) of parameter ``name`` with class default ``default``.

    ``slicer`` gives ``vtkMRMLNode``; ``choice_type``/``range_types`` are the classes of the ``Choice`` and
    bound annotations in use (Slicer's or the fake wrapper's)."""
    extras: tuple = ()
    if typing.get_origin(annotation) is typing.Annotated:
        annotation, *rest = typing.get_args(annotation)
        extras = tuple(rest)
    choice = next((a for a in extras if isinstance(a, choice_type)), None)
    bounded = any(isinstance(a, range_types) for a in extras)
    choices = tuple(choice.choices) if choice is not None else None
    if typing.get_origin(annotation) is typing.Union or type(annotation).__name__ == "UnionType":
        args = typing.get_args(annotation)
        nodes = [a for a in args if isinstance(a, type) and issubclass(a, slicer.vtkMRMLNode)]
        has_none = type(None) in args
        kind = "node" if len(nodes) + has_none == len(args) else "other"
        return ParameterType(name, kind, tuple(a.__name__ for a in nodes), True, has_none, choices, bounded, default)
    if isinstance(annotation, type) and issubclass(annotation, slicer.vtkMRMLNode):
        return ParameterType(name, "node", (annotation.__name__,), False, False, choices, bounded, default)
    return ParameterType(name, _kind(annotation), (), False, False, choices, bounded, default)


def connector_for(widget_class: str, parameter: ParameterType) -> dict | None:
    """The first connector of the table that can represent the pair (Slicer's ``createGuiConnector`` order)."""
    for connector in TABLE["connectors"]:
        if widget_class in connector["widgets"] and parameter.kind in connector["types"]:
            return connector
    return None


def serializer_problems(parameter: ParameterType, slicer) -> list[str]:
    """Why the wrapper could not even create the parameter node (independent of any widget)."""
    out = []
    if parameter.kind == "node":
        if parameter.union and not parameter.union_has_none and parameter.default is None:
            out.append(f"{parameter.name}: {TABLE['rules']['union_needs_none']}")
        for name in parameter.node_classes:
            try:
                getattr(slicer, name)()
            except TypeError as error:
                out.append(f"{parameter.name}: {name} cannot be instantiated ({error}); "
                           f"{TABLE['rules']['instantiates_node_classes']}")
    if parameter.choices is not None and parameter.default not in parameter.choices:
        out.append(f"{parameter.name}: default {parameter.default!r} is not one of the choices {parameter.choices}")
    return out


def problems(widget_class: str, parameter: ParameterType, slicer) -> list[str]:
    """Why Slicer would refuse to bind ``parameter`` to a widget of class ``widget_class`` (empty: accepted)."""
    out = serializer_problems(parameter, slicer)
    connector = connector_for(widget_class, parameter)
    if connector is None:
        return out + [f"{parameter.name}: no GuiConnector represents {parameter.kind} on {widget_class}"]
    if connector.get("requires_choice") and parameter.choices is None:
        out.append(f"{parameter.name}: {TABLE['rules']['requires_choice']}")
    if widget_class in connector.get("requires_bounds", ()) and not parameter.bounded:
        out.append(f"{parameter.name}: {TABLE['rules']['requires_bounds']}")
    return out
