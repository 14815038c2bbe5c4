"""Accept or reject a rasterised lesion so the ground truth stays exact and countable.

A lesion is accepted when its ground truth (``fraction ≥ 0.5``) is non-empty and one 26-connected component,
and its partial-volume footprint (``fraction > 0``), dilated by one voxel (26-neighbourhood), touches no lesion
already placed. Lesion fractions therefore never overlap (``L = Σ_l L_l`` exactly) and ground-truth lesions
never merge.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from LesionSegLogic.phantom.grid import Grid
from LesionSegLogic.phantom.lesions import LesionShape, Raster
from LesionSegLogic.phantom.render import LesionTissue
from LesionSegLogic.phantom.signal import LESION_PD, LESION_T1, LESION_T2, Tissue

_CUBE = np.ones((3, 3, 3), bool)


@dataclass(frozen=True)
class PlacedLesion:
    """A lesion placed on an output grid. ``shape`` is in the anatomy frame (before any session shift)."""

    id: int
    region: str
    shape: LesionShape
    tissue: LesionTissue
    raster: Raster
    status: str = ""  #: longitudinal: "stable", "enlarging" or "new"


def draw_lesion_tissue(rng: np.random.Generator) -> LesionTissue:
    """Relaxation parameters of one lesion, uniform in the literature ranges of :mod:`.signal`."""
    tissue = Tissue(pd=rng.uniform(*LESION_PD), t1=rng.uniform(*LESION_T1), t2=rng.uniform(*LESION_T2))
    return LesionTissue(tissue=tissue, core_gain=float(rng.uniform(0.1, 0.5)))


class Placer:
    """Keeps the occupancy of one output grid (lesion id per voxel of any lesion's footprint)."""

    def __init__(self, grid: Grid) -> None:
        self.grid = grid
        self.labels = np.zeros(grid.shape, np.int16)
        self.lesions: list[PlacedLesion] = []

    def fits(self, raster: Raster | None) -> bool:
        if raster is None:
            return False
        truth = raster.truth
        if not truth.any():
            return False
        _, n = ndimage.label(truth, structure=_CUBE)
        if n != 1:
            return False
        grown = _grow_box(raster.box, self.grid.shape)
        footprint = np.zeros([s.stop - s.start for s in grown], bool)
        inner = tuple(slice(b.start - g.start, b.stop - g.start) for b, g in zip(raster.box, grown, strict=True))
        footprint[inner] = raster.fraction > 0
        footprint = ndimage.binary_dilation(footprint, structure=_CUBE)
        return not bool((self.labels[grown][footprint] != 0).any())

    def try_add(
        self,
        raster: Raster | None,
        shape: LesionShape,
        region: str,
        tissue: LesionTissue,
        *,
        status: str = "",
        lesion_id: int | None = None,
    ) -> PlacedLesion | None:
        """Add the lesion if it :meth:`fits`; returns it (with its id) or None."""
        if raster is None or not self.fits(raster):
            return None
        new_id = lesion_id if lesion_id is not None else len(self.lesions) + 1
        view = self.labels[raster.box]
        view[raster.fraction > 0] = new_id
        lesion = PlacedLesion(new_id, region, shape, tissue, raster, status)
        self.lesions.append(lesion)
        return lesion

    def truth(self) -> np.ndarray:
        """The ground-truth mask (uint8) of every placed lesion."""
        mask = np.zeros(self.grid.shape, np.uint8)
        for lesion in self.lesions:
            mask[lesion.raster.box][lesion.raster.truth] = 1
        return mask

    def truth_labels(self) -> np.ndarray:
        """Ground truth labelled with lesion ids (int16)."""
        labels = np.zeros(self.grid.shape, np.int16)
        for lesion in self.lesions:
            labels[lesion.raster.box][lesion.raster.truth] = lesion.id
        return labels


def _grow_box(box: tuple[slice, ...], shape: tuple[int, ...]) -> tuple[slice, ...]:
    return tuple(slice(max(0, b.start - 1), min(n, b.stop + 1)) for b, n in zip(box, shape, strict=True))
