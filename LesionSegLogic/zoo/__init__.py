"""The model zoo: model cards (JSON), safetensors weights checked by sha256, and the bundled models.

``load_model("dice")`` → ``(model, card)``; ``save_model(model, card, folder)`` writes a zoo entry;
``list_models()`` lists the bundled zoo. See ``docs/inference.md``.
"""

from LesionSegLogic.zoo.card import CARD_FILE, DEMO_NOTE, WEIGHTS_FILE, ModelCard
from LesionSegLogic.zoo.registry import (
    ZooEntry,
    build_from_card,
    list_models,
    load_card,
    load_model,
    resolve_model,
    save_model,
    zoo_dirs,
)
from LesionSegLogic.zoo.weights import load_weights, save_weights, sha256_of

__all__ = [
    "CARD_FILE",
    "DEMO_NOTE",
    "WEIGHTS_FILE",
    "ModelCard",
    "ZooEntry",
    "build_from_card",
    "list_models",
    "load_card",
    "load_model",
    "load_weights",
    "resolve_model",
    "save_model",
    "save_weights",
    "sha256_of",
    "zoo_dirs",
]
