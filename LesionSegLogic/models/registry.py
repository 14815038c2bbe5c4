"""Build architectures by name, so that a model card can name an architecture and its parameters.

``build_model("unet3d", in_channels=2, features=(16, 32, 64), norm="batch")`` or
``build_model("densenet3d", in_channels=1)``. Unknown names or parameters raise ``ValueError`` naming them.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from torch import nn

from LesionSegLogic.models.densenet import DenseNet3D
from LesionSegLogic.models.unet import UNet3D

_ARCHITECTURES: dict[str, Callable[..., nn.Module]] = {
    "unet3d": UNet3D,
    "densenet3d": DenseNet3D,
}


def available_architectures() -> list[str]:
    """Names accepted by :func:`build_model`."""
    return sorted(_ARCHITECTURES)


def build_model(architecture: str, **params: Any) -> nn.Module:
    """A freshly initialised model mapping ``(B, C, *patch)`` to logits ``(B, 1, *patch)``.

    Lists (as read from a JSON card) are accepted where tuples are expected.
    """
    try:
        cls = _ARCHITECTURES[architecture]
    except KeyError:
        raise ValueError(
            f"unknown architecture {architecture!r}; available: {', '.join(available_architectures())}"
        ) from None
    accepted = set(inspect.signature(cls).parameters)
    unknown = sorted(set(params) - accepted)
    if unknown:
        raise ValueError(
            f"{architecture}: unknown parameter(s) {', '.join(unknown)}; accepted: {sorted(accepted)}"
        )
    params = {k: tuple(v) if isinstance(v, list) else v for k, v in params.items()}
    return cls(**params)


def patch_divisor(model: nn.Module) -> int:
    """The factor every patch dimension must be divisible by (1 for models that do not say)."""
    return int(getattr(model, "divisor", 1))
