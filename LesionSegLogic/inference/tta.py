"""Test-time augmentation: predictions on flipped / rotated copies of each window, mapped back and averaged.

Every transform is a set of spatial axes to mirror (of a ``(B, C, z, y, x)`` tensor); each is its own
inverse, so the prediction on ``T(x)`` is mapped back with ``T`` again. A 180° rotation in a plane is the
mirror of both its axes.

* ``none`` — the window itself (1 prediction).
* ``flip`` — the window and its mirrors along z, y and x (4 predictions).
* ``rot`` — Hashemi et al. 2018: "the original image, and the three 180 degree rotations for each
  plane" — axial (y, x), coronal (z, x), sagittal (z, y) (4 predictions).
* ``flip-rot`` — the union: all 8 combinations of mirrors (nnU-Net's mirroring TTA), which contains both sets.

The averaged map is ``(1/|T|) Σ_T T⁻¹(σ(f(T(x))))`` — probabilities are averaged, as fusion does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from LesionSegLogic.errors import ConfigError

if TYPE_CHECKING:
    import torch

#: every TTA mode (``--tta``, a card's ``inference.tta``); the one list, importable without torch
TTAS = ("none", "flip", "rot", "flip-rot")
_Z, _Y, _X = 2, 3, 4
_TRANSFORMS: dict[str, tuple[tuple[int, ...], ...]] = {
    "none": ((),),
    "flip": ((), (_Z,), (_Y,), (_X,)),
    "rot": ((), (_Y, _X), (_Z, _X), (_Z, _Y)),
    "flip-rot": ((), (_Z,), (_Y,), (_X,), (_Y, _X), (_Z, _X), (_Z, _Y), (_Z, _Y, _X)),
}


def transforms(name: str) -> tuple[tuple[int, ...], ...]:
    """The mirror-axis sets of TTA mode ``name`` (axes of a 5-D ``(B, C, z, y, x)`` tensor)."""
    try:
        return _TRANSFORMS[name]
    except KeyError:
        raise ConfigError(f"unknown tta {name!r}; choose one of {', '.join(TTAS)}") from None


def predict_with_tta(
    forward: Callable[[torch.Tensor], torch.Tensor], batch: torch.Tensor, name: str
) -> torch.Tensor:
    """Mean over the transforms ``T`` of ``name`` of ``T(forward(T(batch)))`` (probabilities)."""
    total: torch.Tensor | None = None
    chosen = transforms(name)
    for axes in chosen:
        x = batch.flip(axes) if axes else batch
        p = forward(x)
        p = p.flip(axes) if axes else p
        total = p if total is None else total + p
    assert total is not None
    return total / len(chosen) if len(chosen) > 1 else total
