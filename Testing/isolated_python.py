"""A Python interpreter that has the project's dependencies but not the project (checks (c) and (d) of issue 11).

The test venv has lesionseg installed in editable mode: a ``.pth`` file of its site-packages maps
``LesionSegLogic`` to this checkout, so any child started with the venv's Python imports the checkout whatever its
``sys.path`` or environment. A throwaway venv whose site-packages holds one ``.pth`` line naming the test venv's
site-packages sees numpy, torch, ... but not the checkout: ``site`` runs the ``.pth`` files of site directories
only, and a folder named in a ``.pth`` is not one. :func:`assert_cannot_import` proves that for each use.

What only the optional extras bring (pytest, monai, trame, slicer-core, playwright, ...) can be blocked as well
(:func:`extras_only_modules`): a desktop Slicer has the project's dependencies after the first-use install, and its
own numpy/SimpleITK/VTK, but none of those.
"""

from __future__ import annotations

import importlib.metadata
import os
import site
import subprocess
import sysconfig
import venv
from collections.abc import Sequence
from pathlib import Path

from LesionSegLib.dependencies import SLICER_OWNS
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

#: a module written into the throwaway venv and imported by its .pth: top-level names in BLOCKED do not import
BLOCKER = """import sys
BLOCKED = frozenset({blocked!r})
class ExtrasBlocker:
    def find_spec(self, name, path=None, target=None):
        if name.partition(".")[0] in BLOCKED:
            raise ModuleNotFoundError(f"No module named {{name!r}} (blocked: not in the install under test)", name=name)
        return None
sys.meta_path.insert(0, ExtrasBlocker())
"""


def extras_only_modules() -> list[str]:
    """Top-level modules installed here only for the optional extras (test, slicer, browser): provided by an
    extras' distribution and by none of the project's dependencies or Slicer's own packages."""
    import tomllib  # Python >= 3.11

    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    names = lambda requirements: {canonicalize_name(Requirement(r).name) for r in requirements}  # noqa: E731
    required = names(project["dependencies"]) | SLICER_OWNS
    extras = set().union(*(names(r) for r in project["optional-dependencies"].values())) - required
    return sorted(module for module, providers in importlib.metadata.packages_distributions().items()
                  if {canonicalize_name(p) for p in providers} & extras
                  and not {canonicalize_name(p) for p in providers} & required)


def make_isolated_python(folder: Path, extra_paths: Sequence[Path] = (), blocked: Sequence[str] = ()) -> Path:
    """A venv in ``folder`` that imports the running interpreter's site-packages (and ``extra_paths``, first)
    without their ``.pth`` hooks, and none of the ``blocked`` top-level modules; returns its python executable."""
    venv.EnvBuilder(with_pip=False, symlinks=os.name != "nt").create(folder)
    scheme = "nt" if os.name == "nt" else "posix_prefix"
    site_dir = Path(sysconfig.get_path("purelib", scheme, vars={"base": str(folder), "platbase": str(folder)}))
    lines = [str(p) for p in extra_paths] + site.getsitepackages()
    if blocked:
        (site_dir / "lesionseg_test_blocker.py").write_text(BLOCKER.format(blocked=sorted(blocked)), encoding="utf-8")
        lines.append("import lesionseg_test_blocker")
    (site_dir / "lesionseg_test_dependencies.pth").write_text("\n".join(lines) + "\n", encoding="utf-8")
    python = folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    assert python.exists(), f"no python in the throwaway venv {folder}"
    return python


def clean_environment() -> dict[str, str]:
    """An ``env -i``-like environment: PATH and HOME only (no PYTHONPATH, no virtual-env variables)."""
    return {"PATH": os.environ.get("PATH", os.defpath), "HOME": os.environ.get("HOME", str(Path.home()))}


def run_python(python: Path, args: Sequence[str], cwd: Path, timeout_s: float = 300) -> subprocess.CompletedProcess:
    return subprocess.run([str(python), *args], cwd=cwd, env=clean_environment(), capture_output=True, text=True,
                          timeout=timeout_s, check=False)


def assert_cannot_import(python: Path, cwd: Path, *modules: str) -> None:
    """The control that makes a check able to fail: ``python`` alone imports none of ``modules``."""
    for module in modules:
        probe = run_python(python, ["-c", f"import {module}"], cwd)
        assert probe.returncode != 0 and "No module named" in probe.stderr, (
            f"{module} is importable in the isolated interpreter without the layout under test: {probe.stderr}")

