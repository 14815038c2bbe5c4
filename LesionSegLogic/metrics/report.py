"""Metric reports on disk: grid checks between input files and the one coordinate
convention of every CSV LesionSeg writes.

**CSV coordinates are RAS** (x towards the patient's Right, y Anterior, z Superior; mm): the convention of 3D
Slicer's world, where a reader of these tables looks the lesions up. LesionSegLogic computes in ITK's LPS
(:meth:`LesionSegLogic.image.Image.index_to_physical`); a centroid is turned into RAS by :func:`lps_to_ras` (x and
y negated) only when written, and the column names say so (:data:`CENTROID_COLUMNS`).
"""

from __future__ import annotations

from collections.abc import Sequence

from LesionSegLogic.errors import GeometryError
from LesionSegLogic.image import Image

#: the centroid columns of every lesion CSV (``lesionseg predict``'s lesions.csv, the BIDS _lesions.tsv, the review
#: export's lesions CSV): RAS, mm
CENTROID_COLUMNS: tuple[str, str, str] = ("centroid_ras_x", "centroid_ras_y", "centroid_ras_z")


def lps_to_ras(point: Sequence[float]) -> tuple[float, float, float]:
    """A physical point from LPS (ITK, LesionSegLogic) to RAS (Slicer, every CSV): x and y change sign."""
    x, y, z = (float(c) for c in point)
    return -x, -y, z


def same_grid_or_fail(a: Image, b: Image) -> None:
    """Raise :class:`GeometryError` naming both files unless ``a`` and ``b`` share a voxel grid."""
    if not a.same_grid(b):
        raise GeometryError(
            f"is not on the grid of {b.name} (shapes {a.shape} vs {b.shape}, or different spacing/origin/direction)",
            a.name,
        )
