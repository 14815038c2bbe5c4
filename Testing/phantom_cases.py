"""The phantoms the suite shares (no test functions here): one of each kind, small enough to generate in seconds,
generated once per session by the fixtures of ``conftest.py`` and written where ``lesionseg phantom`` would write
them (``FOLDER/flair.nii.gz``, ``t2.nii.gz``, ``lesions.nii.gz``, ``phantom.json``, …).

A shared phantom is read-only: its arrays are marked unwritable, so a test that changed one in place would fail
instead of changing what later tests see.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from LesionSegLogic.phantom import PhantomCase, generate_case, write_case


@dataclass(frozen=True)
class PhantomKind:
    """How one shared phantom is drawn: ``generate_case(seed, anatomy=…, **options)``."""

    seed: int
    anatomy: str = "brain"
    options: dict[str, Any] = field(default_factory=dict)


#: The shared phantoms: a brain crop like the zoo's training data, a spinal cord, a longitudinal brain crop with
#: new and enlarging lesions, and a cord with a small field of view (the smallest grid the generator makes).
KINDS: dict[str, PhantomKind] = {
    "brain": PhantomKind(3, options={"spacing": (2.0, 2.0, 2.0), "fov_mm": (96.0, 128.0, 128.0)}),
    "cord": PhantomKind(3, "cord", {"spacing": (2.0, 2.0, 2.0)}),
    "longitudinal": PhantomKind(11, options={"longitudinal": True, "spacing": (2.0, 2.0, 2.0),
                                             "fov_mm": (60.0, 100.0, 100.0), "n_lesions": 8, "n_new": 3,
                                             "n_enlarging": 2}),
    "small_cord": PhantomKind(3, "cord", {"n_lesions": 2, "fov_mm": (60.0, 30.0, 30.0)}),
}


@dataclass(frozen=True)
class WrittenPhantom:
    """A generated case (in memory, read-only) and the folder it was written to."""

    case: PhantomCase
    folder: Path

    def file(self, name: str) -> Path:
        """``folder/name`` (e.g. ``"flair.nii.gz"``), which must exist."""
        path = self.folder / name
        if not path.is_file():
            raise FileNotFoundError(f"{path}: the shared phantom has no such file")
        return path


def make_phantom(kind: str, root: Path, maps: Any = None) -> WrittenPhantom:
    """Generate the phantom ``kind`` of :data:`KINDS` (brain kinds from the preloaded MNI ``maps``), mark its arrays
    read-only and write it to ``root/kind``."""
    spec = KINDS[kind]
    case = generate_case(spec.seed, anatomy=spec.anatomy, maps=maps if spec.anatomy == "brain" else None,
                         **spec.options)
    for image, _ in case.images().values():
        image.array.flags.writeable = False
    case.lesion_labels.array.flags.writeable = False
    return WrittenPhantom(case, write_case(case, root / kind))
