"""Where the bundled zoo lives and what is in it, without torch.

Listing the models only reads ``card.json`` files (:class:`~LesionSegLogic.zoo.card.ModelCard`), so a face can
show the model list before the heavy packages are installed (the desktop panel opens in a stock 3D Slicer, which
ships numpy, scipy, SimpleITK and VTK but not torch). :mod:`LesionSegLogic.zoo.registry` (weights, building
networks) imports this module: there is one lookup of the zoo folders and one card reader.

The zoo is looked for, in order:

1. ``<LesionSegLogic>/Resources/Models`` — Resources installed inside the package;
2. ``<LesionSegLogic>/../Resources/Models`` — a source checkout, and the Slicer module layout where the
   extension installs ``LesionSegLogic`` and ``Resources`` side by side.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

from LesionSegLogic.errors import LesionSegError
from LesionSegLogic.zoo.card import CARD_FILE, ModelCard

_PACKAGE_DIR = Path(__file__).resolve().parents[1]


def zoo_dirs(extra: Iterable[str | PathLike[str]] = ()) -> list[Path]:
    """Existing zoo folders, ``extra`` first, then the package's and the source checkout's (deduplicated)."""
    candidates = [
        *(Path(p) for p in extra),
        _PACKAGE_DIR / "Resources" / "Models",
        _PACKAGE_DIR.parent / "Resources" / "Models",
    ]
    seen: set[Path] = set()
    out: list[Path] = []
    for c in candidates:
        resolved = c.resolve()
        if resolved.is_dir() and resolved not in seen:
            seen.add(resolved)
            out.append(resolved)
    return out


@dataclass(frozen=True)
class ZooEntry:
    """A model folder of the zoo with its card, or the reason the card could not be read."""

    folder: Path
    card: ModelCard | None
    problem: str | None = None


def list_models(extra: Iterable[str | PathLike[str]] = ()) -> list[ZooEntry]:
    """Every ``<zoo>/<name>/card.json``, sorted by name; unreadable cards are listed with their problem."""
    entries: dict[str, ZooEntry] = {}
    for zoo in zoo_dirs(extra):
        for card_path in sorted(zoo.glob(f"*/{CARD_FILE}")):
            name = card_path.parent.name
            if name in entries:
                continue
            try:
                entries[name] = ZooEntry(card_path.parent, ModelCard.from_json(card_path))
            except LesionSegError as error:
                entries[name] = ZooEntry(card_path.parent, None, str(error))
    return [entries[k] for k in sorted(entries)]


def list_cards(extra: Iterable[str | PathLike[str]] = ()) -> list[ModelCard]:
    """The readable cards of the zoo, sorted by name (what a model list shows)."""
    return [entry.card for entry in list_models(extra) if entry.card is not None]
