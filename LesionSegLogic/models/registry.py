"""Build architectures by name, so that a model card can name an architecture and its parameters.

``build_model("unet3d", in_channels=2, features=(16, 32, 64), norm="batch")`` or
``build_model("densenet3d", in_channels=1)``. Unknown names or parameters raise :class:`ArchitectureError` (a
``ConfigError`` and a ``ValueError``) naming them. :data:`SEED_ARCHITECTURES` names the seed papers' networks.

A card or a training configuration can ask for an absurd network (``features`` of 10⁶, ``in_channels`` of 10⁹:
issue 18). :func:`model_facts` builds the network on PyTorch's ``meta`` device, which allocates nothing, to count
its parameters and read its input channels and patch divisor; :func:`build_model` refuses more than
:data:`MAX_PARAMETERS` parameters before allocating a byte, and :func:`activation_bytes` measures the memory of
one forward pass (the outputs of every layer, on a small input, scaled to the patch).
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from LesionSegLogic.errors import ConfigError
from LesionSegLogic.models.densenet import DenseNet3D
from LesionSegLogic.models.unet import UNet3D


class ArchitectureError(ConfigError, ValueError):
    """An unknown architecture, an unknown or invalid parameter, or a network too large to build (one line naming
    the option). Also a ``ValueError``, which callers caught before it existed."""


_ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "unet3d": UNet3D,
    "densenet3d": DenseNet3D,
}


@dataclass(frozen=True)
class ArchitecturePreset:
    """A seed paper's network: architecture name, its parameters and the training patch (z, y, x voxels)."""

    architecture: str
    params: dict[str, Any]
    patch: tuple[int, int, int]
    source: str


#: The seed papers' U-Nets. ``hussein2023`` is the zoo v2 default; ``cabezas2024`` the larger option.
SEED_ARCHITECTURES: dict[str, ArchitecturePreset] = {
    "hussein2023": ArchitecturePreset("unet3d", {"features": [16, 32, 64], "norm": "batch"}, (48, 48, 48),
                                      "Hussein et al. 2023: 16/32/64 filters, batch norm, 48³ patches"),
    "cabezas2024": ArchitecturePreset("unet3d", {"features": [32, 64, 128, 256], "norm": "group", "group_size": 8},
                                      (48, 48, 48), "Cabezas & Diez 2024: 32–256 filters, group norm (groups of 8)"),
}


#: a network with more parameters is refused unbuilt: 200 M float32 parameters are 0.8 GB of weights (3.2 GB to
#: train with Adam); the bundled models have fewer than 1 M.
MAX_PARAMETERS = 200_000_000
BYTES_PER_VALUE = 4  # float32


@dataclass(frozen=True)
class ModelFacts:
    """What a network built from ``(architecture, params)`` is, learnt without allocating it."""

    parameters: int
    in_channels: int | None
    divisor: int

    @property
    def weight_bytes(self) -> int:
        return self.parameters * BYTES_PER_VALUE


def available_architectures() -> list[str]:
    """Names accepted by :func:`build_model`."""
    return sorted(_ARCHITECTURES)


def build_model(architecture: str, **params: Any) -> nn.Module:
    """A freshly initialised model mapping ``(B, C, *patch)`` to logits ``(B, 1, *patch)``.

    Lists (as read from a JSON card) are accepted where tuples are expected. A network of more than
    :data:`MAX_PARAMETERS` parameters is refused (:class:`ArchitectureError`) before it is built.
    """
    model_facts(architecture, **params)
    cls, params = _class_and_params(architecture, params)
    return cls(**params)


def model_facts(architecture: str, **params: Any) -> ModelFacts:
    """Parameter count, input channels and patch divisor of the network, built on the ``meta`` device (no memory);
    :class:`ArchitectureError` for unknown names or parameters, values the architecture rejects, or too many
    parameters."""
    cls, params = _class_and_params(architecture, params)
    try:
        with torch.device("meta"):
            model = cls(**params)
    except (TypeError, ValueError, RuntimeError, OverflowError) as error:
        raise ArchitectureError(f"{architecture}: invalid parameters ({_first_line(error)})") from None
    count = sum(p.numel() for p in model.parameters())
    if count > MAX_PARAMETERS:
        raise ArchitectureError(
            f"{architecture} with these parameters has {count:,} parameters ({count * BYTES_PER_VALUE / 2**30:,.1f} "
            f"GiB of weights); the limit is {MAX_PARAMETERS:,}"
        )
    channels = getattr(model, "in_channels", None)
    return ModelFacts(count, int(channels) if isinstance(channels, int) else None, patch_divisor(model))


def activation_bytes(architecture: str, params: dict[str, Any], patch: Sequence[int], batch: int = 1) -> int:
    """Bytes of every layer's output in one forward pass of ``batch`` windows of ``patch`` (what inference holds at
    its peak at most; training keeps them all for the backward pass).

    Measured, not guessed: the network (checked by :func:`model_facts` first) runs once on a small input of the same
    shape class — ``divisor`` voxels per axis (``2 × divisor`` when a layer needs more than one voxel at the
    bottom), at most the patch — with a hook summing the size of every layer's output; each output of a fully
    convolutional network scales with the input's voxel count, so the sum is scaled by ``patch voxels / small
    voxels``. (PyTorch's ``meta`` device would avoid even this small run, but its
    first use costs seconds of start-up.)"""
    facts = model_facts(architecture, **params)
    cls, kwargs = _class_and_params(architecture, params)
    model = cls(**kwargs).eval()
    channels = facts.in_channels or 1
    for factor in (1, 2):
        small = [min(int(p), factor * facts.divisor) for p in patch]
        try:
            total = _output_values(model, (1, channels, *small))
            break
        except (RuntimeError, ValueError) as error:
            if factor == 2 or small == [int(p) for p in patch]:
                raise ArchitectureError(
                    f"{architecture}: cannot run on a patch of {tuple(patch)} ({_first_line(error)})") from None
    scale = math.prod(int(p) for p in patch) / math.prod(small)
    return int((total + channels * math.prod(small)) * scale * batch * BYTES_PER_VALUE)


def _output_values(model: nn.Module, shape: tuple[int, ...]) -> int:
    """How many values the leaf layers of ``model`` output for one input of ``shape`` (zeros)."""
    total = 0

    def count(_module: nn.Module, _inputs: Any, output: Any) -> None:
        nonlocal total
        if isinstance(output, torch.Tensor):
            total += output.numel()

    hooks = [m.register_forward_hook(count) for m in model.modules() if not list(m.children())]
    try:
        with torch.no_grad():
            model(torch.zeros(shape))
    finally:
        for hook in hooks:
            hook.remove()
    return total


def _first_line(error: BaseException) -> str:
    return (str(error).strip().splitlines() or [type(error).__name__])[0][:200]


def _class_and_params(architecture: str, params: dict[str, Any]) -> tuple[Callable[..., nn.Module], dict[str, Any]]:
    try:
        cls = _ARCHITECTURES[architecture]
    except KeyError:
        raise ArchitectureError(
            f"unknown architecture {architecture!r}; available: {', '.join(available_architectures())}"
        ) from None
    accepted = set(inspect.signature(cls).parameters)
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ArchitectureError(
            f"{architecture}: unknown parameter(s) {', '.join(unknown)}; accepted: {sorted(accepted)}"
        )
    return cls, {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}


def patch_divisor(model: nn.Module) -> int:
    """The factor every patch dimension must be divisible by (1 for models that do not say)."""
    return int(getattr(model, "divisor", 1))
