"""The card of an ONNX model (torch-free): the zoo's model card plus an ``"onnx"`` entry.

``card.json`` beside ``model.onnx`` is a :class:`~LesionSegLogic.zoo.card.ModelCard` (inputs in channel order,
patch size, target spacing, normalisation, recommended threshold; ``weights_file`` is the ``.onnx`` file and
``weights_sha256`` its digest) plus ``"onnx"``: ``output`` (``"logits"`` or ``"probabilities"``), the graph's
``input_name`` and ``output_name``, the ``opset``, and — when LesionSeg exported it — the agreement with torch
measured at export (``export_check``). Running it is :mod:`.onnx_model`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from LesionSegLogic.errors import FileMissingError, LesionSegError, ModelFileError
from LesionSegLogic.jsonfile import read_json
from LesionSegLogic.zoo.card import CARD_FILE, ModelCard

ONNX_FILE = "model.onnx"
ONNX_KEY = "onnx"
OUTPUT_KINDS = ("logits", "probabilities")


@dataclass(frozen=True)
class OnnxSpec:
    """The ``"onnx"`` object of an ONNX model's card."""

    output: str = "logits"
    input_name: str = "image"
    output_name: str = "logits"
    opset: int | None = None
    export_check: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: Any, path: Path) -> OnnxSpec:
        if not isinstance(data, dict):
            raise ModelFileError(f"the card's {ONNX_KEY!r} entry must be an object", path)
        unknown = sorted(set(data) - {"output", "input_name", "output_name", "opset", "export_check"})
        if unknown:
            raise ModelFileError(f"unknown field(s) {unknown} in the card's {ONNX_KEY!r} entry", path)
        spec = cls(**data)
        if spec.output not in OUTPUT_KINDS:
            raise ModelFileError(f"onnx.output must be one of {list(OUTPUT_KINDS)}, got {spec.output!r}", path)
        return spec


def read_onnx_card(path: str | PathLike[str]) -> tuple[ModelCard, OnnxSpec]:
    """The card (validated) and its ONNX entry from a ``card.json``."""
    path = Path(path)
    if not path.is_file():
        raise FileMissingError("no card.json beside the ONNX model (it says the inputs, patch size, normalisation "
                               "and threshold)", path)
    data = read_json(path, "model card", error=ModelFileError)  # size, UTF-8, nesting: one line naming the file
    if not isinstance(data, dict) or ONNX_KEY not in data:
        raise ModelFileError(f"not an ONNX model card (no {ONNX_KEY!r} entry)", path)
    spec = OnnxSpec.from_dict(data.pop(ONNX_KEY), path)
    card = ModelCard.from_dict(data, path)
    if not card.weights_file.endswith(".onnx"):
        raise ModelFileError(f"weights_file of an ONNX card must be a .onnx file, got {card.weights_file!r}", path)
    return card, spec


def write_onnx_card(card: ModelCard, spec: OnnxSpec, path: str | PathLike[str]) -> Path:
    """Write ``card`` plus its ONNX entry with the one atomic writer (:func:`LesionSegLogic.io.write.write_json`)."""
    from LesionSegLogic.io.write import write_json

    return write_json(path, {**card.to_dict(), ONNX_KEY: asdict(spec)}, what="model card")


def is_onnx_model(spec: str | PathLike[str]) -> bool:
    """A ``.onnx`` file, or a folder whose ``card.json`` has an ``"onnx"`` entry."""
    path = Path(spec)
    if path.is_file():
        return path.suffix.lower() == ".onnx"
    card = path / CARD_FILE
    if path.is_dir() and card.is_file():
        try:
            data = read_json(card, "model card", error=ModelFileError)
        except LesionSegError:  # not readable: the card reader that comes next says why
            return False
        return isinstance(data, dict) and ONNX_KEY in data
    return False
