"""Checking and normalising what the engine and the oracle are given (arrays or :class:`Image`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from LesionSegLogic.errors import DimensionError, GeometryError, MaskError, NonFiniteError, ProbabilityRangeError
from LesionSegLogic.image import Image
from LesionSegLogic.metrics.rules import MatchingRule, get_rule


@dataclass(frozen=True)
class EngineInputs:
    """A probability map, its grid and the optional reference, checked."""

    probability: np.ndarray  # float32 or float64 (z, y, x), values in [0, 1]
    spacing: tuple[float, float, float]
    reference: np.ndarray | None  # bool (z, y, x)
    geometry: Image  # the grid (array = probability), for physical coordinates
    rule: MatchingRule

    @property
    def voxel_volume(self) -> float:
        return float(np.prod(self.spacing))


def prepare(
    probability: np.ndarray | Image,
    spacing: tuple[float, float, float] | None = None,
    reference: np.ndarray | Image | None = None,
    rule: str | MatchingRule = "hussein",
    origin: tuple[float, float, float] | None = None,
    direction: np.ndarray | None = None,
) -> EngineInputs:
    """Check shapes, values and grids; raise the typed errors of :mod:`LesionSegLogic.errors`."""
    if isinstance(probability, Image):
        geometry = probability
        if spacing is not None and not np.allclose(spacing, probability.spacing):
            raise GeometryError(
                f"spacing {spacing} disagrees with the image's {probability.spacing}", probability.name
            )
    else:
        array = np.asarray(probability)
        if array.ndim != 3:
            raise DimensionError(f"probability map must be 3-D (z, y, x), got shape {array.shape}")
        geometry = Image(
            array,
            spacing if spacing is not None else (1.0, 1.0, 1.0),
            origin if origin is not None else (0.0, 0.0, 0.0),
            direction if direction is not None else np.eye(3),
            name="probability",
        )
    p = geometry.array
    if p.dtype.kind not in "fiub":
        raise DimensionError(f"probability map must be numeric, got dtype {p.dtype}", geometry.name or None)
    if p.dtype.kind != "f":
        p = p.astype(np.float64)
    if not np.all(np.isfinite(p)):
        raise NonFiniteError("probability map contains NaN or infinite values", geometry.name or None)
    if p.size and (p.min() < 0 or p.max() > 1):
        raise ProbabilityRangeError(
            f"probabilities must lie in [0, 1], got [{p.min():g}, {p.max():g}]", geometry.name or None
        )
    ref = None
    if reference is not None:
        if isinstance(reference, Image):
            if not geometry.same_grid(reference):
                raise GeometryError(
                    f"{reference.name or 'reference'} is not on the grid of {geometry.name or 'the map'}",
                    reference.name or None,
                )
            ref_array = reference.array
        else:
            ref_array = np.asarray(reference)
        if ref_array.shape != p.shape:
            raise GeometryError(f"reference shape {ref_array.shape} differs from the map's {p.shape}")
        if ref_array.dtype != bool:
            binary = (ref_array == 0) | (ref_array == 1)
            if not binary.all():
                raise MaskError(f"reference must be binary (0/1), found value {ref_array[~binary].flat[0]}")
        ref = ref_array.astype(bool, copy=False)
    return EngineInputs(p, geometry.spacing, ref, geometry, get_rule(rule))
