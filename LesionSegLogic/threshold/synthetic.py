"""A model-free stand-in for a network's probability map, made from a ground-truth mask.

Until trained models land, the review workflow (and its tests and benchmarks) runs on this::

    base  = G_σ( Σ_i c_i · 1[lesion i] )   # each lesion blurred, confidence c_i ~ U(c_min, 1)
    logit = gain · (base − ½) + s · n̂ + Σ_b A_b · exp(−‖x − x_b‖²/2r_b²)
    p     = 1 / (1 + e^(−logit))

``G_σ`` is a Gaussian of ``blur_mm`` (per axis in voxels, spacing-aware); lesions are the 26-connected
components of the mask; ``n̂`` is white noise smoothed by a Gaussian of ``noise_mm`` and scaled to unit standard
deviation (model errors are spatially correlated, not voxel noise); the bumps ``b`` are ``n_false_positives``
false-positive blobs at random voxels outside the mask, with amplitudes ``U(8, 14)`` logits (peak probability
≈ 0.5–1) and radii ``U(1, 2.5)`` mm. Faint lesions (small ``c_i``) appear only at low thresholds: the map is
meant to make the threshold matter. Everything is drawn from ``numpy.random.default_rng(seed)``: the same mask
and seed always give the same map.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from LesionSegLogic.errors import MaskError


@dataclass(frozen=True)
class SyntheticOptions:
    """Parameters of :func:`synthetic_probability` (see the module docstring)."""

    blur_mm: float = 1.0
    gain: float = 16.0
    noise: float = 1.0
    noise_mm: float = 2.0
    min_confidence: float = 0.4
    n_false_positives: int = 4


def synthetic_probability(
    mask: np.ndarray,
    spacing: tuple[float, float, float] = (1.0, 1.0, 1.0),
    *,
    seed: int = 0,
    options: SyntheticOptions | None = None,
) -> np.ndarray:
    """A float32 probability map (z, y, x) in [0, 1] derived from the binary ``mask``."""
    options = options or SyntheticOptions()
    mask = np.asarray(mask)
    if mask.ndim != 3:
        raise MaskError(f"mask must be 3-D, got shape {mask.shape}")
    mask = mask.astype(bool)
    rng = np.random.default_rng(int(seed))
    spacing_arr = np.asarray(spacing, dtype=np.float64)
    labels, n = ndimage.label(mask, structure=np.ones((3, 3, 3), dtype=bool))
    confidence = np.r_[0.0, rng.uniform(options.min_confidence, 1.0, n)].astype(np.float32)
    base = ndimage.gaussian_filter(confidence[labels], sigma=options.blur_mm / spacing_arr)
    logit = options.gain * (base - np.float32(0.5))
    if options.noise > 0:
        field = ndimage.gaussian_filter(
            rng.standard_normal(mask.shape, dtype=np.float32), sigma=options.noise_mm / spacing_arr
        )
        field *= np.float32(options.noise / max(float(field.std()), 1e-12))
        logit += field
    background = np.flatnonzero(~mask.ravel())
    if background.size and options.n_false_positives > 0:
        centres = rng.choice(background, size=min(options.n_false_positives, background.size), replace=False)
        for centre in np.array(np.unravel_index(centres, mask.shape)).T:
            amplitude = rng.uniform(8.0, 14.0)
            radius_vox = rng.uniform(1.0, 2.5) / spacing_arr
            half = np.ceil(4 * radius_vox).astype(int)
            box = tuple(
                slice(max(0, c - h), min(s, c + h + 1))
                for c, h, s in zip(centre, half, mask.shape, strict=True)
            )
            grids = np.ogrid[box]
            d2 = sum(((g - c) / r) ** 2 for g, c, r in zip(grids, centre, radius_vox, strict=True))
            logit[box] += np.float32(amplitude) * np.exp(-0.5 * d2).astype(np.float32)
    return (1.0 / (1.0 + np.exp(-logit))).astype(np.float32)
