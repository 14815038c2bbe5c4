"""First-use installation (issue 11 item 10): one dependency list (pyproject.toml or the installed metadata),
Slicer's own packages never installed, torch through PyTorchUtils with the project's minimum version."""

from __future__ import annotations

from pathlib import Path

import pytest
from LesionSegLib.dependencies import (
    SLICER_OWNS,
    CheckOnlyInstaller,
    Dependency,
    MissingDependencyError,
    declared_requirements,
    ensure_dependencies,
    find_missing,
    is_satisfied,
    module_dependencies,
    require_dependencies,
)
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from LesionSegLogic.errors import ConfigError

tomllib = pytest.importorskip("tomllib")  # Python >= 3.11, as in every Slicer that runs the module
PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"


def project_requirements() -> dict[str, Requirement]:
    """The [project] dependencies of the checkout, read independently of the code under test."""
    declared = tomllib.loads(PYPROJECT.read_text())["project"]["dependencies"]
    return {canonicalize_name(Requirement(r).name): Requirement(r) for r in declared}


class FakeInstaller:
    def __init__(self, answer: bool) -> None:
        self.answer, self.asked, self.torch, self.pip = answer, [], [], []

    def confirm(self, message: str) -> bool:
        self.asked.append(message)
        return self.answer

    def install_torch(self, version_requirement: str) -> bool:
        self.torch.append(version_requirement)
        return True

    def pip_install(self, requirements) -> None:
        self.pip.append(list(requirements))


def test_the_install_list_is_the_project_dependency_list_less_slicers_own() -> None:
    requirements, source = declared_requirements()
    assert source == str(PYPROJECT)
    expected = project_requirements()
    assert {d.name for d in module_dependencies()} == set(expected)
    nothing_installed = find_missing(lambda dependency: False)
    listed = {canonicalize_name(Requirement(r).name): r for r in nothing_installed.requirements}
    assert set(listed) == set(expected) - SLICER_OWNS - {"torch"}
    assert "nilearn" in listed, "the phantom (hence the self-test) needs nilearn"
    assert all(listed[name] == str(expected[name]) for name in listed), "requirements keep their version range"
    assert nothing_installed.torch and nothing_installed.torch_specifier == str(expected["torch"].specifier)


def test_ensure_asks_once_and_passes_the_minimum_torch_version() -> None:
    torch_range = str(project_requirements()["torch"].specifier)
    installer = FakeInstaller(True)
    assert ensure_dependencies(installer, lambda d: d.name not in {"torch", "nibabel"})
    assert len(installer.asked) == 1 and installer.torch == [torch_range]
    assert installer.pip == [[str(project_requirements()["nibabel"])]]
    declined = FakeInstaller(False)
    assert not ensure_dependencies(declined, lambda d: d.name not in {"torch", "nibabel"})
    assert declined.torch == [] and declined.pip == []
    everything = FakeInstaller(True)
    assert ensure_dependencies(everything, lambda d: True) and everything.asked == []


def test_slicers_own_packages_are_never_installed_even_when_declared_and_missing() -> None:
    declared = [Dependency("numpy", "numpy>=1"), Dependency("simpleitk", "SimpleITK>=2"),
                Dependency("vtk", "vtk>=9"), Dependency("tqdm", "tqdm>=4")]
    missing = find_missing(lambda d: False, declared)
    assert missing.requirements == ("tqdm>=4",)
    assert not set(SLICER_OWNS) & {canonicalize_name(Requirement(r).name) for r in missing.requirements}


def test_a_pyproject_is_read_with_markers_and_extras_and_a_foreign_one_is_ignored(tmp_path) -> None:
    ours = tmp_path / "pyproject.toml"
    ours.write_text('[project]\nname = "lesionseg"\ndependencies = ["torch>=9.9", "scikit-image>=0.21", '
                    '"pywin32>=1; sys_platform == \'no-such-platform\'", "pytest; extra == \'test\'"]\n')
    dependencies = module_dependencies(ours)
    assert [(d.name, d.requirement, d.specifier) for d in dependencies] == [
        ("torch", "torch>=9.9", ">=9.9"), ("scikit-image", "scikit-image>=0.21", ">=0.21")]
    assert dependencies[1].import_name == "skimage"
    foreign = tmp_path / "other" / "pyproject.toml"
    foreign.parent.mkdir()
    foreign.write_text('[project]\nname = "something-else"\ndependencies = ["requests"]\n')
    requirements, source = declared_requirements(foreign)
    assert source == "the installed lesionseg distribution" and "requests" not in requirements
    broken = tmp_path / "broken" / "pyproject.toml"
    broken.parent.mkdir()
    broken.write_text("[project\n")
    with pytest.raises(ConfigError, match="broken/pyproject.toml: cannot read"):
        declared_requirements(broken)


def test_is_satisfied_checks_the_import_and_the_version_range() -> None:
    assert is_satisfied(Dependency("numpy", "numpy>=1", ">=1"))
    assert not is_satisfied(Dependency("numpy", "numpy>=999", ">=999"))
    assert not is_satisfied(Dependency("no-such-package-lesionseg", "no-such-package-lesionseg"))
    assert is_satisfied(Dependency("scikit-image", "scikit-image>=0.1", ">=0.1"))  # imported as skimage


def test_require_dependencies_names_what_is_missing_outside_slicer() -> None:
    require_dependencies()  # the test environment has everything
    with pytest.raises(MissingDependencyError, match=r"needs nilearn>=[\d.]+ \(not installed\)"):
        require_dependencies(CheckOnlyInstaller(), lambda d: d.name != "nilearn")


def test_the_module_self_test_starts_by_requiring_its_dependencies(monkeypatch) -> None:
    pytest.importorskip("slicer")
    import LesionSegLib.dependencies as dependencies
    from LesionSegLib.selftest import run_review_self_test

    monkeypatch.setattr(dependencies, "is_satisfied", lambda d: d.name != "nilearn")
    with pytest.raises(MissingDependencyError, match="nilearn"):
        run_review_self_test(scene=None)  # fails before it touches the scene or builds a phantom
