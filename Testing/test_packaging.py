"""Check (d) of issue 11 (item 9): the wheel carries the model zoo and the segment terminology, and so does the
Slicer extension's install tree (emulated from ``LesionSegExtension/CMakeLists.txt``).

Each check runs the installed code in a Python that has the project's dependencies but neither the checkout nor
what only the optional extras bring (``isolated_python``), from a folder elsewhere and in a clean environment; a
control shows that Python cannot import the packages without the install under test.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import textwrap
import zipfile
from pathlib import Path

import pytest
from isolated_python import assert_cannot_import, extras_only_modules, make_isolated_python, run_python
from LesionSegLib.parameters import REVIEW_SEGMENTS
from LesionSegLib.terminology import terminology_entry

REPO = Path(__file__).resolve().parents[1]
MODELS = REPO / "Resources" / "Models"
#: what a build of the checkout must not see or write into (the checkout is shared: the wheel is built from a copy)
NOT_SOURCE = shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info", "build", "dist", "demo_output",
                                    ".pytest_cache", ".ruff_cache", ".hypothesis", "out", "tmp", "node_modules")

#: run in the installed tree: where each package and data file was found, and what the review segments get
PROBE = textwrap.dedent("""
    import json, sys
    import LesionSegLogic, LesionSegLib
    from LesionSegLib.dependencies import declared_requirements, module_dependencies
    from LesionSegLib.parameters import REVIEW_SEGMENTS
    from LesionSegLib.terminology import terminology_entry, terminology_file
    from LesionSegLogic.zoo import list_models, zoo_dirs
    print(json.dumps({
        "packages": [LesionSegLogic.__file__, LesionSegLib.__file__],
        "zoo": [str(p) for p in zoo_dirs()],
        "models": sorted(e.card.name for e in list_models() if e.card is not None),
        "terminology_file": str(terminology_file()),
        "entries": {s.terminology_label: terminology_entry(s.terminology_label) for s in REVIEW_SEGMENTS},
        "requirements_from": declared_requirements()[1],
        "dependencies": sorted(d.name for d in module_dependencies()),
    }))
""")


def bundled_files() -> set[str]:
    return {p.relative_to(MODELS).as_posix() for p in MODELS.rglob("*") if p.is_file()}


def bundled_models() -> list[str]:
    return sorted(p.parent.name for p in MODELS.glob("*/card.json"))


def expected_entries() -> dict[str, str]:
    return {s.terminology_label: terminology_entry(s.terminology_label) for s in REVIEW_SEGMENTS}


def project_dependency_names() -> list[str]:
    from LesionSegLib.dependencies import module_dependencies

    return sorted(d.name for d in module_dependencies(REPO / "pyproject.toml"))


def probe(python: Path, cwd: Path, *, script: Path | None = None) -> dict:
    """Run :data:`PROBE` (optionally through ``script``'s folder as sys.path[0], like Slicer's module path)."""
    args = ["-c", PROBE] if script is None else ["-c", f"import sys; sys.path.insert(0, {str(script)!r})\n" + PROBE]
    done = run_python(python, args, cwd)
    assert done.returncode == 0, done.stderr[-3000:]
    return json.loads(done.stdout)


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    """``pip wheel --no-deps --no-build-isolation`` of a copy of the checkout (the build writes build/ and
    *.egg-info into its source tree, which is shared)."""
    work = tmp_path_factory.mktemp("wheel")
    shutil.copytree(REPO, work / "source", ignore=NOT_SOURCE)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(work / "dist"), str(work / "source")], capture_output=True, text=True,
                           timeout=300, check=False)
    assert built.returncode == 0, built.stderr[-3000:]
    (found,) = (work / "dist").glob("lesionseg-*.whl")
    return found


def test_the_wheel_carries_every_model_file_and_the_terminology(wheel) -> None:
    names = set(zipfile.ZipFile(wheel).namelist())
    prefix = "LesionSegLogic/Resources/Models/"
    assert {n[len(prefix):] for n in names if n.startswith(prefix)} == bundled_files()
    assert "LesionSegLib/Resources/Terminology/LesionSeg.term.json" in names


def test_the_installed_wheel_lists_every_model_and_labels_review_segments(wheel, tmp_path) -> None:
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    assert_cannot_import(make_isolated_python(tmp_path / "control"), elsewhere, "LesionSegLogic", "LesionSegLib")
    python = make_isolated_python(tmp_path / "venv", extra_paths=[site], blocked=extras_only_modules())

    listed = run_python(python, ["-m", "LesionSegLogic", "models", "--json"], elsewhere)
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert sorted(card["name"] for card in json.loads(listed.stdout)) == bundled_models()

    found = probe(python, elsewhere)
    assert all(Path(p).is_relative_to(site) for p in found["packages"]), found["packages"]
    assert found["zoo"] == [str(site / "LesionSegLogic" / "Resources" / "Models")]
    assert found["models"] == bundled_models()
    assert Path(found["terminology_file"]).is_relative_to(site)
    assert found["entries"] == expected_entries()
    assert found["requirements_from"] == "the installed lesionseg distribution"
    assert found["dependencies"] == project_dependency_names()


# ------------------------------------------------------------------------------------- the extension's install
def cmake_block(text: str, head: str) -> list[str]:
    """The items of the ``head ... )`` block of a CMake file (``head`` up to its first item)."""
    match = re.search(re.escape(head) + r"(.*?)\)", text, flags=re.S)
    assert match, f"no {head!r} in LesionSegExtension/CMakeLists.txt"
    return match.group(1).split()


def extension_install_tree(target: Path) -> None:
    """Copy what LesionSegExtension/CMakeLists.txt installs into ``target`` (Slicer's qt-scripted-modules folder):
    the module's scripts and resources, and the library's scripts and resources (``GLOB_RECURSE ... RELATIVE`` the
    source root, then ``list(APPEND ...)``) at their paths relative to the source root."""
    module = REPO / "LesionSegExtension"
    text = (module / "CMakeLists.txt").read_text(encoding="utf-8").replace("${MODULE_NAME}", "LesionSeg")
    files = {module / item: item for head in ("set(MODULE_PYTHON_SCRIPTS", "set(MODULE_PYTHON_RESOURCES")
             for item in cmake_block(text, head)}
    for head in ("LESIONSEG_LOGIC_SCRIPTS RELATIVE ${LESIONSEG_SOURCE_ROOT}",
                 "LESIONSEG_LOGIC_RESOURCES RELATIVE ${LESIONSEG_SOURCE_ROOT}"):
        for pattern in cmake_block(text, head):
            folder, glob = pattern.replace("${LESIONSEG_SOURCE_ROOT}/", "").rsplit("/", 1)
            files |= {p: p.relative_to(REPO).as_posix() for p in (REPO / folder).rglob(glob) if p.is_file()}
    for item in re.findall(r"list\(APPEND LESIONSEG_LOGIC_RESOURCES ([^)]*)\)", text):
        files |= {REPO / name: name for name in item.split()}
    for source, relative in files.items():
        (target / relative).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / relative)


def test_the_extension_install_tree_finds_every_model_its_terminology_and_dependency_list(tmp_path) -> None:
    modules = tmp_path / "lib" / "Slicer-5.x" / "qt-scripted-modules"
    extension_install_tree(modules)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    python = make_isolated_python(tmp_path / "venv", blocked=extras_only_modules())  # as in Slicer
    assert_cannot_import(python, elsewhere, "LesionSegLogic", "LesionSegLib")

    listed = run_python(python, [str(modules / "LesionSegLib" / "predict_child.py"), "models", "--json"], elsewhere)
    assert listed.returncode == 0, listed.stderr[-3000:]
    assert sorted(card["name"] for card in json.loads(listed.stdout)) == bundled_models()

    found = probe(python, elsewhere, script=modules)  # Slicer puts the module folder on sys.path
    assert all(Path(p).is_relative_to(modules) for p in found["packages"]), found["packages"]
    assert found["zoo"] == [str(modules / "Resources" / "Models")] and found["models"] == bundled_models()
    assert found["terminology_file"] == str(modules / "Resources" / "Terminology" / "LesionSeg.term.json")
    assert found["entries"] == expected_entries()
    assert found["requirements_from"] == str(modules / "pyproject.toml")
    assert found["dependencies"] == project_dependency_names()
