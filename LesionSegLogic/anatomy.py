"""Which anatomy an image shows, judged from its physical field of view: brain, spinal cord, or "can't tell".

A model card states the anatomy its model was trained on (``card.anatomy``); the predictor compares it with the
anatomy of the image it is given — the user's word when there is one (``lesionseg predict --anatomy``), else
:func:`guess_anatomy` — and warns when they differ (issue 15: brain models run on a cord case gave Dice 0.0006
without a word).

The guess looks only at the image's extent in patient coordinates (the LPS bounding box of the voxel grid,
whatever the slice orientation), never at intensities:

* **cord** — long and thin: R-L extent ≤ :data:`CORD_MAX_LR_MM` and S-I extent ≥ :data:`CORD_MIN_SI_PER_LR` × the
  R-L extent. A sagittal cervical/thoracic cord acquisition is 30–60 mm R-L (a dozen 3 mm slices) and ≥ 150 mm
  S-I; the cord phantom (:mod:`LesionSegLogic.phantom.cord`) is 44.8 × 96 × 240 mm (R-L × A-P × S-I).
* **brain** — R-L and A-P extents ≥ :data:`BRAIN_MIN_AXIAL_MM` and an S-I extent between
  :data:`BRAIN_MIN_SI_MM` and :data:`BRAIN_MAX_SI_RATIO` × the larger axial extent. An adult brain is about
  140 × 170 × 140 mm (R-L × A-P × S-I) and head scans add margins; the zoo's training crops are 128 × 128 × 96 mm.
* otherwise ``None``: the extent does not say. Known blind spot: an *axial* cord stack with a wide in-plane field
  of view (e.g. 180 × 180 × 80 mm) looks like a brain crop; ``--anatomy cord`` settles it.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from LesionSegLogic.image import Image

Anatomy = Literal["brain", "cord"]
#: The anatomies a model card may state and a user may name (one list: CLI choices and card validation use it).
ANATOMIES: tuple[str, ...] = ("brain", "cord")
CORD_MAX_LR_MM = 80.0
CORD_MIN_SI_PER_LR = 2.0
BRAIN_MIN_AXIAL_MM = 100.0
BRAIN_MIN_SI_MM = 60.0
BRAIN_MAX_SI_RATIO = 1.5
_NAMES = {"brain": "brain", "cord": "spinal cord"}


def extent_lps_mm(image: Image) -> tuple[float, float, float]:
    """(R-L, A-P, S-I) size in mm of the LPS bounding box of the voxel grid (voxel edges, not centres)."""
    shape = np.asarray(image.shape, dtype=float)
    corners = np.array([[(s - 0.5) if bit else -0.5 for s, bit in zip(shape, bits, strict=True)]
                        for bits in np.ndindex(2, 2, 2)])  # fmt: skip
    points = image.index_to_physical(corners)
    size = points.max(axis=0) - points.min(axis=0)
    return float(size[0]), float(size[1]), float(size[2])


def guess_anatomy(image: Image) -> Anatomy | None:
    """``"cord"``, ``"brain"`` or ``None`` (can't tell) from the image's field of view (module docstring)."""
    lr, ap, si = extent_lps_mm(image)
    if lr <= CORD_MAX_LR_MM and si >= CORD_MIN_SI_PER_LR * lr:
        return "cord"
    if min(lr, ap) >= BRAIN_MIN_AXIAL_MM and BRAIN_MIN_SI_MM <= si <= BRAIN_MAX_SI_RATIO * max(lr, ap):
        return "brain"
    return None


def describe_anatomy(anatomy: str) -> str:
    """``"brain"`` / ``"spinal cord"`` for messages."""
    return _NAMES.get(anatomy, anatomy)


def anatomy_warning(model: str, model_anatomy: str, image: Image, user: str | None = None) -> str | None:
    """One line when the image's anatomy (``user``'s word, else the guess) differs from the model's; else None."""
    guessed = guess_anatomy(image)
    seen = user or guessed
    if seen is None or seen == model_anatomy:
        return None
    lr, ap, si = extent_lps_mm(image)
    why = (f"you said --anatomy {user}" if user else
           f"judged from its field of view, {lr:.0f} × {ap:.0f} × {si:.0f} mm R-L × A-P × S-I")
    return (f"model {model!r} was trained on {describe_anatomy(model_anatomy)} images but this image shows a "
            f"{describe_anatomy(seen)} ({why}); expect wrong results")


__all__ = ["ANATOMIES", "Anatomy", "anatomy_warning", "describe_anatomy", "extent_lps_mm", "guess_anatomy"]
