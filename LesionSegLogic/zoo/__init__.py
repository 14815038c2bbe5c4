"""The model zoo: model cards (JSON), safetensors weights checked by sha256, and the bundled models.

``load_model("dice")`` → ``(model, card)``; ``save_model(model, card, folder)`` writes a zoo entry;
``list_models()``/``list_cards()`` list the bundled zoo (torch-free:
:mod:`.catalog`). See ``docs/inference.md``.
"""

from LesionSegLogic.lazy import lazy_getattr
from LesionSegLogic.zoo.card import CARD_FILE, DEMO_NOTE, WEIGHTS_FILE, ModelCard
from LesionSegLogic.zoo.catalog import ZooEntry, list_cards, list_models, zoo_dirs

#: names that need torch, imported on first use so that listing the zoo (``catalog``) stays torch-free
_NEEDS_TORCH = {
    "build_from_card": "registry", "load_card": "registry", "load_model": "registry", "resolve_model": "registry",
    "save_model": "registry", "load_weights": "weights", "save_weights": "weights", "sha256_of": "weights",
}
__getattr__ = lazy_getattr(__name__, _NEEDS_TORCH)


__all__ = [
    "CARD_FILE",
    "DEMO_NOTE",
    "WEIGHTS_FILE",
    "ModelCard",
    "ZooEntry",
    "build_from_card",
    "list_cards",
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
