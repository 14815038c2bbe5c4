"""The bundled model zoo and model loading by name or path.

The zoo lives in ``Resources/Models/<name>/{card.json, model.safetensors}``; where it is looked for and how it is
listed (without torch) is :mod:`LesionSegLogic.zoo.catalog`.

``resolve_model`` accepts a zoo name, a model folder, a ``card.json`` path or a weights path (whose folder
holds the card). ``load_model`` builds the card's architecture with ``LesionSegLogic.models.build_model``,
loads the sha256-checked safetensors weights and returns the model in eval mode on ``device``.

Before a network is built, :func:`check_card_model` measures it on PyTorch's ``meta`` device
(:func:`LesionSegLogic.models.registry.model_facts`): a card whose network is absurdly large, takes another number
of input channels than the card lists inputs, cannot take its own patch size (each axis must be divisible by the
network's down-sampling factor), or needs more memory for one window than the machine has, is refused with a
:class:`ModelFileError` naming the card (issue 18).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from os import PathLike
from pathlib import Path

import torch
from torch import nn

from LesionSegLogic.errors import FileMissingError, ModelFileError
from LesionSegLogic.models.registry import ModelFacts
from LesionSegLogic.zoo.card import CARD_FILE, ModelCard
from LesionSegLogic.zoo.catalog import ZooEntry, list_models, zoo_dirs  # noqa: F401 - re-exported
from LesionSegLogic.zoo.weights import load_weights, save_weights

_LOG = logging.getLogger(__name__)


def resolve_model(spec: str | PathLike[str], extra: Iterable[str | PathLike[str]] = ()) -> Path:
    """The folder holding the model's ``card.json`` for a zoo name or a path (folder, card or weights)."""
    path = Path(spec)
    if path.exists():
        folder = path if path.is_dir() else path.parent
        if not (folder / CARD_FILE).is_file():
            raise ModelFileError(f"no {CARD_FILE} beside the model", folder)
        return folder.resolve()
    name = str(spec)
    if "/" not in name and "\\" not in name:
        for zoo in zoo_dirs(extra):
            if (zoo / name / CARD_FILE).is_file():
                return (zoo / name).resolve()
        known = [e.folder.name for e in list_models(extra)]
        listing = ", ".join(known) if known else "no bundled models"
        raise ModelFileError(f"unknown model {name!r} (bundled: {listing})", name)
    raise FileMissingError("model path does not exist", path)


def load_card(spec: str | PathLike[str], extra: Iterable[str | PathLike[str]] = ()) -> ModelCard:
    return ModelCard.from_json(resolve_model(spec, extra) / CARD_FILE)


def check_card_model(card: ModelCard, path: str | PathLike[str] | None = None, *, memory: bool = True) -> ModelFacts:
    """The facts of the card's network, or :class:`ModelFileError` for a network the card cannot run (see the
    module doc). With ``memory`` the memory of one window is measured too (the network is then built and run once on
    a small input: :func:`LesionSegLogic.models.registry.activation_bytes`); without, nothing is allocated."""
    from LesionSegLogic.memory import check_memory
    from LesionSegLogic.models.registry import activation_bytes, model_facts

    try:
        facts = model_facts(card.architecture, **card.architecture_params)
    except (ValueError, TypeError) as error:
        raise ModelFileError(f"cannot build the card's architecture: {error}", path) from None
    if facts.in_channels is not None and facts.in_channels != len(card.inputs):
        raise ModelFileError(
            f"the network takes {facts.in_channels} input channel(s) but the card lists {len(card.inputs)} "
            f"input(s) {list(card.inputs)}", path)  # fmt: skip
    odd = [p for p in card.patch_size if p % facts.divisor]
    if odd:
        raise ModelFileError(
            f"patch_size {list(card.patch_size)} must be divisible by {facts.divisor} on every axis (the network "
            f"down-samples by {facts.divisor})", path)  # fmt: skip
    if not memory:
        return facts
    try:
        needed = facts.weight_bytes + activation_bytes(card.architecture, card.architecture_params, card.patch_size)
    except ValueError as error:
        raise ModelFileError(str(error), path) from None
    check_memory(needed, f"model {card.name} (one window of {'×'.join(map(str, card.patch_size))})", path)
    return facts


def build_from_card(card: ModelCard, path: str | PathLike[str] | None = None) -> nn.Module:
    """A freshly initialised network for ``card`` (its architecture and parameters), checked first
    (:func:`check_card_model`)."""
    from LesionSegLogic.models import build_model

    check_card_model(card, path)
    try:
        return build_model(card.architecture, **card.architecture_params)
    except (ValueError, TypeError) as error:
        raise ModelFileError(f"cannot build the card's architecture: {error}", path) from None


def load_model(
    spec: str | PathLike[str],
    device: str | torch.device = "cpu",
    extra: Sequence[str | PathLike[str]] = (),
) -> tuple[nn.Module, ModelCard]:
    """``(model in eval mode on device, card)`` for a zoo name or path.

    The weights are sha256-checked and never unpickled."""
    folder = resolve_model(spec, extra)
    card = ModelCard.from_json(folder / CARD_FILE)
    weights_path = folder / card.weights_file
    state = load_weights(weights_path, card.weights_sha256)
    model = build_from_card(card, folder / CARD_FILE)
    try:
        model.load_state_dict(state, strict=True)
    except RuntimeError as error:
        first = str(error).strip().splitlines()[0]
        raise ModelFileError(f"weights do not fit the card's architecture ({first})", weights_path) from None
    model.eval()
    return model.to(device), card


def save_model(model: nn.Module, card: ModelCard, folder: str | PathLike[str]) -> ModelCard:
    """Write ``folder/<card.weights_file>`` (safetensors) and ``folder/card.json`` with the weights' sha256.

    The card is validated (except for the sha256, which this fills in) before anything is written; the
    returned card is the one written.
    """
    folder = Path(folder)
    card.validate(folder / CARD_FILE, require_sha256=False)
    digest = save_weights(model.state_dict(), folder / card.weights_file)
    written = card.with_updates(weights_sha256=digest)
    written.validate(folder / CARD_FILE)
    written.to_json(folder / CARD_FILE)
    _LOG.info("saved model %s to %s", card.name, folder)
    return written
