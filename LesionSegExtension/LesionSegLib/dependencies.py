"""First-use installation of what the module needs, with the user's confirmation.

What to install comes from one place, the project's dependency list (``[project] dependencies``): the
``pyproject.toml`` next to the code (a source checkout; the extension installs it next to the module) or, when
there is none, the installed ``lesionseg`` distribution's metadata. Nothing here repeats that list; one small
table maps the distribution names whose import name differs.

torch comes from the PyTorch extension (``PyTorchUtils``: the right CUDA/CPU build for the machine) with the
project's minimum version, as SlicerTotalSegmentator passes ``torchVersionRequirement``; the other packages go
through ``slicer.packaging.pip_ensure`` (Slicer ≥ 5.12) or ``slicer.util.pip_install``. Slicer's own packages
(numpy, SimpleITK, VTK) are never installed or upgraded: they are dropped from the list.

The decision logic is Qt-free and takes an :class:`Installer` (tests pass a fake); :func:`default_installer` is
the real one inside the Slicer application and a check-only one elsewhere (pytest over slicer-core).
"""

from __future__ import annotations

import importlib
import importlib.metadata
import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from LesionSegLogic.errors import ConfigError, LesionSegError

PROJECT = "lesionseg"
TORCH = "torch"
#: canonical distribution name → import name, where they differ
IMPORT_NAMES = {"scikit-image": "skimage", "simpleitk": "SimpleITK"}
#: Slicer's own packages (canonical names): never installed or upgraded by this module
SLICER_OWNS = frozenset({"numpy", "simpleitk", "vtk"})

_MODULE_DIR = Path(__file__).resolve().parent.parent


class MissingDependencyError(LesionSegError):
    """Packages the module needs are not installed (the user declined, or this is not the Slicer application)."""


@dataclass(frozen=True)
class Dependency:
    """One declared requirement: canonical distribution name, the requirement as declared, its version range."""

    name: str
    requirement: str
    specifier: str = ""

    @property
    def import_name(self) -> str:
        return IMPORT_NAMES.get(self.name, self.name.replace("-", "_"))


def pyproject_candidates() -> list[Path]:
    """Where ``pyproject.toml`` sits beside the code: next to the module (installed extension), then one folder up
    (source checkout) — the same two places the zoo and ``LesionSegLogic`` are looked for."""
    return [_MODULE_DIR / "pyproject.toml", _MODULE_DIR.parent / "pyproject.toml"]


def _project_dependencies(path: Path) -> list[str] | None:
    """``[project] dependencies`` of ``path`` if it is this project's pyproject.toml, else None."""
    try:
        import tomllib  # Python >= 3.11 (every Slicer that runs this module)
    except ImportError:  # pragma: no cover - Python 3.10 without Slicer: the metadata route is taken
        return None
    try:
        project = tomllib.loads(path.read_text(encoding="utf-8")).get("project", {})
    except (OSError, ValueError) as error:
        raise ConfigError(f"{path}: cannot read the dependency list ({error})") from None
    if project.get("name") != PROJECT:
        return None
    return [str(r) for r in project.get("dependencies", [])]


def declared_requirements(pyproject: Path | None = None) -> tuple[list[str], str]:
    """``(requirement strings, where they were read)``: ``pyproject`` or the first of
    :func:`pyproject_candidates` that is this project's, else the installed distribution's metadata."""
    for path in [pyproject] if pyproject is not None else pyproject_candidates():
        if path.is_file():
            requirements = _project_dependencies(path)
            if requirements is not None:
                return requirements, str(path)
    try:
        requirements = importlib.metadata.requires(PROJECT) or []
    except importlib.metadata.PackageNotFoundError:
        places = ", ".join(str(p) for p in pyproject_candidates())
        raise ConfigError(f"no dependency list: no {PROJECT} pyproject.toml at {places} and {PROJECT} is not "
                          "installed") from None
    return list(requirements), f"the installed {PROJECT} distribution"


def parse_dependencies(requirements: Sequence[str]) -> list[Dependency]:
    """Requirements that apply here (markers evaluated, extras' requirements dropped) as :class:`Dependency`."""
    from packaging.requirements import InvalidRequirement, Requirement  # shipped with Slicer
    from packaging.utils import canonicalize_name

    out: list[Dependency] = []
    for text in requirements:
        try:
            requirement = Requirement(text)
        except InvalidRequirement as error:
            raise ConfigError(f"bad requirement {text!r} in the dependency list ({error})") from None
        if requirement.marker is not None and not requirement.marker.evaluate({"extra": ""}):
            continue
        plain = str(requirement).split(";")[0].strip()
        out.append(Dependency(canonicalize_name(requirement.name), plain, str(requirement.specifier)))
    return out


def module_dependencies(pyproject: Path | None = None) -> list[Dependency]:
    """Every dependency of the project (torch included), from :func:`declared_requirements`."""
    return parse_dependencies(declared_requirements(pyproject)[0])


def is_satisfied(dependency: Dependency) -> bool:
    """Importable, and its installed version (when it has distribution metadata) is in the declared range."""
    if importlib.util.find_spec(dependency.import_name) is None:
        return False
    try:
        version = importlib.metadata.version(dependency.name)
    except importlib.metadata.PackageNotFoundError:
        return True  # importable without metadata (bundled by the application): trust it
    from packaging.specifiers import SpecifierSet

    return SpecifierSet(dependency.specifier).contains(version, prereleases=True)


@dataclass(frozen=True)
class Missing:
    """What :func:`ensure_dependencies` must install: torch (with its version range) and pip requirements."""

    torch: bool
    requirements: tuple[str, ...]
    torch_specifier: str = ""

    @property
    def anything(self) -> bool:
        return self.torch or bool(self.requirements)

    def describe(self) -> list[str]:
        torch = [f"PyTorch{self.torch_specifier} (through the PyTorch extension)"] if self.torch else []
        return torch + list(self.requirements)


def find_missing(
    is_installed: Callable[[Dependency], bool] | None = None, dependencies: Sequence[Dependency] | None = None
) -> Missing:
    """What is not installed now; Slicer's own packages are never listed (``is_installed`` and ``dependencies``
    are injectable for tests)."""
    check = is_installed or is_satisfied
    declared = list(module_dependencies() if dependencies is None else dependencies)
    torch = next((d for d in declared if d.name == TORCH), Dependency(TORCH, TORCH))
    requirements = tuple(d.requirement for d in declared
                         if d.name != TORCH and d.name not in SLICER_OWNS and not check(d))
    return Missing(torch=not check(torch), requirements=requirements, torch_specifier=torch.specifier)


class Installer(Protocol):
    def confirm(self, message: str) -> bool: ...
    def install_torch(self, version_requirement: str) -> bool: ...
    def pip_install(self, requirements: Sequence[str]) -> None: ...


def ensure_dependencies(installer: Installer, is_installed: Callable[[Dependency], bool] | None = None,
                        dependencies: Sequence[Dependency] | None = None) -> bool:
    """Install what is missing after one confirmation; False when the user declines or torch cannot be had."""
    missing = find_missing(is_installed, dependencies)
    if not missing.anything:
        return True
    if not installer.confirm("LesionSeg needs to install: " + ", ".join(missing.describe()) + ". Install now?"):
        return False
    if missing.torch and not installer.install_torch(missing.torch_specifier):
        return False
    if missing.requirements:
        installer.pip_install(missing.requirements)
    return True


def require_dependencies(installer: Installer | None = None,
                         is_installed: Callable[[Dependency], bool] | None = None) -> None:
    """:func:`ensure_dependencies` (default: :func:`default_installer`), then a fresh check; raises
    :class:`MissingDependencyError` naming what is still missing (the module self-test's first step)."""
    ensure_dependencies(installer or default_installer(), is_installed)
    importlib.invalidate_caches()  # packages installed just now
    missing = find_missing(is_installed)
    if missing.anything:
        raise MissingDependencyError("LesionSeg needs " + ", ".join(missing.describe()) + " (not installed)")


class CheckOnlyInstaller:
    """Outside the Slicer application nothing is installed: the confirmation is declined."""

    def confirm(self, message: str) -> bool:
        return False

    def install_torch(self, version_requirement: str) -> bool:
        return False

    def pip_install(self, requirements: Sequence[str]) -> None:
        raise MissingDependencyError("cannot install packages outside the Slicer application")


class SlicerInstaller:  # pragma: no cover - needs the Slicer application
    """The real installer inside 3D Slicer."""

    def confirm(self, message: str) -> bool:
        import slicer

        return bool(slicer.util.confirmOkCancelDisplay(message, "LesionSeg dependencies"))

    def install_torch(self, version_requirement: str) -> bool:
        import slicer

        try:
            import PyTorchUtils
        except ImportError:
            slicer.util.errorDisplay("Install the 'PyTorch' extension from the Extensions Manager first.")
            return False
        logic = PyTorchUtils.PyTorchUtilsLogic()
        return logic.installTorch(askConfirmation=False, torchVersionRequirement=version_requirement) is not None

    def pip_install(self, requirements: Sequence[str]) -> None:
        import slicer

        packaging = getattr(slicer, "packaging", None)
        if packaging is not None and hasattr(packaging, "pip_ensure"):  # Slicer >= 5.12
            packaging.pip_ensure(list(requirements), prompt_install=False, requester="LesionSeg")
        else:
            slicer.util.pip_install(" ".join(f'"{r}"' for r in requirements))


def in_slicer_application() -> bool:
    """True inside the 3D Slicer application (``slicer.app``), False under PythonSlicer or slicer-core."""
    try:
        import slicer
    except ImportError:
        return False
    return getattr(slicer, "app", None) is not None


def default_installer() -> Installer:
    return SlicerInstaller() if in_slicer_application() else CheckOnlyInstaller()


def slicer_installer() -> Installer:  # pragma: no cover - needs the Slicer application
    return SlicerInstaller()
