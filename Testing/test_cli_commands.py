"""Subcommands from other packages (issue 17): the library's CLI finds them through the ``lesionseg.commands`` entry
points and never imports the web face itself."""

from __future__ import annotations

import argparse
import ast
import importlib
import importlib.metadata
import sys
import types
from pathlib import Path

import pytest

from LesionSegLogic import cli

ROOT = Path(__file__).resolve().parents[1]


def _fake_command(name: str) -> types.ModuleType:
    module = types.ModuleType(f"fake_{name}")
    calls: list[argparse.Namespace] = []

    def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
        parser = subparsers.add_parser(name, help=f"the {name} command of another package")
        parser.add_argument("--level", type=int, default=1)
        return parser

    def run(args: argparse.Namespace) -> int:
        calls.append(args)
        return 0

    module.add_parser, module.run, module.calls = add_parser, run, calls  # type: ignore[attr-defined]
    return module


def _entry_points(monkeypatch: pytest.MonkeyPatch, points: list[importlib.metadata.EntryPoint]) -> None:
    monkeypatch.setattr(importlib.metadata, "entry_points",
                        lambda group=None: [p for p in points if p.group == group])


def test_an_entry_point_adds_a_subcommand_that_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    module = _fake_command("extra")
    monkeypatch.setitem(sys.modules, module.__name__, module)
    _entry_points(monkeypatch, [importlib.metadata.EntryPoint("extra", module.__name__, cli.COMMAND_GROUP)])
    assert cli.main(["extra", "--level", "3"]) == 0
    assert [args.level for args in module.calls] == [3]  # type: ignore[attr-defined]


def test_a_plugin_that_cannot_be_imported_leaves_the_other_commands_working(monkeypatch: pytest.MonkeyPatch) -> None:
    broken = importlib.metadata.EntryPoint("broken", "lesionseg_no_such_module_xyz", cli.COMMAND_GROUP)
    _entry_points(monkeypatch, [broken])
    assert cli.plugin_commands() == []
    assert "evaluate" in _subcommands(cli.build_parser())


def test_the_library_never_imports_the_web_face() -> None:
    """``lesionseg app`` is the web package's own subcommand (its entry point): no module of the library imports
    LesionSegWeb (or the Slicer session layer), so the layers point only down."""
    offenders = []
    for path in sorted((ROOT / "LesionSegLogic").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module or ""] if isinstance(node, ast.ImportFrom) else [])
            offenders += [f"{path.relative_to(ROOT)}: {n}" for n in names if n.split(".")[0] in
                          ("LesionSegWeb", "LesionSegLib")]
    assert offenders == []


def _subcommands(parser: argparse.ArgumentParser) -> set[str]:
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return set(action.choices)


def test_the_installed_web_package_registers_lesionseg_app() -> None:
    """The project's own entry point (pyproject.toml): ``lesionseg app`` comes from LesionSegWeb.cli once the package
    is installed (``pip install -e .``, which the test set-up runs)."""
    points = {p.name: p.value for p in importlib.metadata.entry_points(group=cli.COMMAND_GROUP)}
    assert points.get("app") == "LesionSegWeb.cli"
    web_cli = importlib.import_module("LesionSegWeb.cli")
    assert web_cli in cli.plugin_commands() and "app" in _subcommands(cli.build_parser())
