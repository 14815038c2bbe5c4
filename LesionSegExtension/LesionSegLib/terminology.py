"""The segment terminology shipped in ``Resources/Terminology/LesionSeg.term.json``, serialised the way Slicer
stores it on a segment (``vtkSegment.SetTag(vtkSegment.GetTerminologyEntryTagName(), ...)``).

Pure Python on purpose: the session does not need Slicer's terminologies logic to label its segments; a test
checks that Slicer's own ``vtkSlicerTerminologiesModuleLogic`` loads the file and serialises the same strings.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

from LesionSegLogic.errors import CorruptFileError, FileMissingError

LIB_DIR = Path(__file__).resolve().parent
MODULE_DIR = LIB_DIR.parent
TERMINOLOGY_NAME = "LesionSeg.term.json"


def terminology_candidates() -> list[Path]:
    """Where the file may be: the module's ``Resources`` (source checkout, installed extension), then the one a
    wheel carries inside ``LesionSegLib`` (``setup.py``)."""
    return [folder / "Resources" / "Terminology" / TERMINOLOGY_NAME for folder in (MODULE_DIR, LIB_DIR)]


def terminology_file() -> Path:
    """The first existing candidate (the first one when none exists: loading it then names the missing file)."""
    candidates = terminology_candidates()
    return next((path for path in candidates if path.is_file()), candidates[0])


TERMINOLOGY_FILE = terminology_file()


@dataclass(frozen=True)
class TerminologyType:
    label: str
    code_meaning: str
    entry: str  # Slicer's serialised terminology entry
    color: tuple[float, float, float]


def _code(item: dict) -> str:
    return f"{item['CodingSchemeDesignator']}^{item['CodeValue']}^{item['CodeMeaning']}"


@lru_cache(maxsize=4)
def load_terminology(path: Path = TERMINOLOGY_FILE) -> dict[str, TerminologyType]:
    """Types of the shipped terminology keyed by their ``3dSlicerLabel``."""
    if not Path(path).is_file():
        raise FileMissingError("the segment terminology file is missing (installed without its data?)", path)
    try:
        document = json.loads(Path(path).read_text(encoding="utf-8"))
        context = document["SegmentationCategoryTypeContextName"]
        categories = document["SegmentationCodes"]["Category"]
    except (OSError, ValueError, KeyError) as error:
        raise CorruptFileError(f"not a Slicer terminology file ({error})", path) from error
    types: dict[str, TerminologyType] = {}
    for category in categories:
        for kind in category.get("Type", []):
            entry = f"{context}~{_code(category)}~{_code(kind)}~^^~~^^~^^"
            rgb = tuple(float(c) / 255.0 for c in kind.get("recommendedDisplayRGBValue", (128, 128, 128)))
            label = kind["3dSlicerLabel"]
            types[label] = TerminologyType(label, kind["CodeMeaning"], entry, rgb)
    return types


def terminology_entry(label: str, path: Path = TERMINOLOGY_FILE) -> str:
    """Serialised terminology entry for a ``3dSlicerLabel`` of the shipped file."""
    types = load_terminology(path)
    if label not in types:
        raise CorruptFileError(f"terminology has no type labelled {label!r}", path)
    return types[label].entry
