"""First-use installation of what the module needs, with the user's confirmation.

torch comes from the PyTorch extension (``PyTorchUtils``: the right CUDA/CPU build for the machine); the other
packages through ``slicer.packaging.pip_ensure`` (Slicer ≥ 5.12) or ``slicer.util.pip_install``. Slicer's own
numpy and SimpleITK are never replaced: they are not in the list, and requirements are ``>=`` lower bounds
that Slicer's bundled versions already satisfy.

The decision logic is Qt-free and takes an :class:`Installer` (tests pass a fake); :func:`slicer_installer`
builds the real one inside Slicer.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

#: (import name, pip requirement) installed on first use; numpy and SimpleITK deliberately absent
PIP_PACKAGES: tuple[tuple[str, str], ...] = (
    ("scipy", "scipy>=1.10"),
    ("skimage", "scikit-image>=0.21"),
    ("nibabel", "nibabel>=5.0"),
    ("safetensors", "safetensors>=0.4"),
    ("tqdm", "tqdm>=4.60"),
    ("matplotlib", "matplotlib>=3.7"),
)
NEVER_INSTALL = frozenset({"numpy", "simpleitk", "vtk"})


class Installer(Protocol):
    def confirm(self, message: str) -> bool: ...
    def install_torch(self) -> bool: ...
    def pip_install(self, requirements: Sequence[str]) -> None: ...


@dataclass(frozen=True)
class Missing:
    torch: bool
    requirements: tuple[str, ...]

    @property
    def anything(self) -> bool:
        return self.torch or bool(self.requirements)


def find_missing(is_installed: Callable[[str], bool] | None = None) -> Missing:
    """What is not importable now (``is_installed`` is injectable for tests)."""
    check = is_installed or (lambda name: importlib.util.find_spec(name) is not None)
    requirements = tuple(req for name, req in PIP_PACKAGES if not check(name))
    for requirement in requirements:
        name = requirement.split(">")[0].split("=")[0].strip().lower()
        if name in NEVER_INSTALL:
            raise RuntimeError(f"refusing to install {name}: it belongs to Slicer")
    return Missing(torch=not check("torch"), requirements=requirements)


def ensure_dependencies(installer: Installer, is_installed: Callable[[str], bool] | None = None) -> bool:
    """Install what is missing after one confirmation; False when the user declines or torch cannot be had."""
    missing = find_missing(is_installed)
    if not missing.anything:
        return True
    parts = ["PyTorch (through the PyTorch extension)"] if missing.torch else []
    parts += list(missing.requirements)
    if not installer.confirm("LesionSeg needs to install: " + ", ".join(parts) + ". Install now?"):
        return False
    if missing.torch and not installer.install_torch():
        return False
    if missing.requirements:
        installer.pip_install(missing.requirements)
    return True


class SlicerInstaller:  # pragma: no cover - needs the Slicer application
    """The real installer inside 3D Slicer."""

    def confirm(self, message: str) -> bool:
        import slicer  # noqa: PLC0415

        return bool(slicer.util.confirmOkCancelDisplay(message, "LesionSeg dependencies"))

    def install_torch(self) -> bool:
        import slicer  # noqa: PLC0415

        try:
            import PyTorchUtils  # noqa: PLC0415
        except ImportError:
            slicer.util.errorDisplay("Install the 'PyTorch' extension from the Extensions Manager first.")
            return False
        logic = PyTorchUtils.PyTorchUtilsLogic()
        if not logic.torchInstalled():
            return logic.installTorch(askConfirmation=False) is not None
        return True

    def pip_install(self, requirements: Sequence[str]) -> None:
        import slicer  # noqa: PLC0415

        packaging = getattr(slicer, "packaging", None)
        if packaging is not None and hasattr(packaging, "pip_ensure"):  # Slicer >= 5.12
            packaging.pip_ensure(list(requirements))
        else:
            slicer.util.pip_install(" ".join(f'"{r}"' for r in requirements))


def slicer_installer() -> Installer:  # pragma: no cover - needs the Slicer application
    return SlicerInstaller()
