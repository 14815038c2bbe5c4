"""Intensity preprocessing for the models: foreground mask, z-score and Nyúl–Udupa standardisation.

* :func:`foreground_mask` — the head/brain region, used to normalise and to skip empty patches.
* :func:`zscore_normalise` — percentile clipping then z-score inside a mask (the per-image normalisation
  of nnU-Net-style pipelines and of Hussein et al. 2023 after standardisation).
* :class:`NyulStandardiser` — piecewise-linear histogram standardisation (Nyúl & Udupa, *On standardizing
  the MR image intensity scale*, MRM 1999; Nyúl, Udupa & Zhang, *New variants of a method of MRI scale
  standardization*, IEEE TMI 19(2) 2000 — Hussein et al. 2023 ref [13]).
* :func:`normalise` — the front door the CLI and inference use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
from scipy import ndimage
from skimage.filters import threshold_otsu

from LesionSegLogic.errors import ConfigError, ConstantImageError, InputError, MaskError
from LesionSegLogic.image import Image

#: deciles between the low and high cut-offs, as in Nyúl et al. 2000 (landmark set "L4")
DEFAULT_NYUL_PERCENTILES: tuple[float, ...] = (1.0, 10, 20, 30, 40, 50, 60, 70, 80, 90, 99.0)


def foreground_mask(
    array: np.ndarray,
    *,
    sigma: float = 1.0,
    threshold_fraction: float = 0.5,
    min_component_fraction: float = 0.1,
) -> np.ndarray:
    """Boolean mask of the imaged object (head, cord + CSF) as opposed to the air around it.

    1. Gaussian smoothing (``sigma`` voxels) so that noise does not speckle the mask;
    2. threshold at ``threshold_fraction`` × Otsu's threshold of the smoothed image (Otsu separates air
       from tissue; halving it keeps dark tissue such as nulled CSF on FLAIR);
    3. one closing step (6-connected, 2 iterations) and 3-D hole filling (ventricles, dark lesions);
    4. keep every 26-connected component of at least ``min_component_fraction`` × the largest one.

    A constant array has no foreground: the mask is all False.
    """
    values = np.asarray(array, dtype=np.float32)
    smoothed = ndimage.gaussian_filter(values, sigma) if sigma > 0 else values
    low, high = float(smoothed.min()), float(smoothed.max())
    if not np.isfinite(low) or not np.isfinite(high) or high <= low:
        return np.zeros(values.shape, dtype=bool)
    threshold = low + threshold_fraction * (threshold_otsu(smoothed) - low)
    mask = smoothed > threshold
    structure = ndimage.generate_binary_structure(3, 1)
    mask = ndimage.binary_closing(mask, structure, iterations=2, border_value=0) | mask
    mask = ndimage.binary_fill_holes(mask)
    labels, count = ndimage.label(mask, ndimage.generate_binary_structure(3, 3))
    if count <= 1:
        return mask
    sizes = np.bincount(labels.ravel())[1:]
    keep = np.flatnonzero(sizes >= min_component_fraction * sizes.max()) + 1
    return np.isin(labels, keep)


def _checked_mask(array: np.ndarray, mask: np.ndarray | None, name: str) -> np.ndarray:
    if mask is None:
        mask = foreground_mask(array)
    mask = np.asarray(mask, dtype=bool)
    if mask.shape != array.shape:
        raise MaskError(f"mask shape {mask.shape} does not match the image shape {array.shape}", name or None)
    if not mask.any():
        raise MaskError("the normalisation mask is empty", name or None)
    return mask


def zscore_normalise(
    array: np.ndarray,
    mask: np.ndarray | None = None,
    *,
    clip_percentiles: tuple[float, float] | None = (0.5, 99.5),
    background: float | None = None,
    name: str = "",
) -> np.ndarray:
    """Clip, then z-score inside ``mask``: ``z = (clip(x, p_lo, p_hi) − μ) / σ`` (float32).

    ``p_lo``, ``p_hi`` are the ``clip_percentiles`` of the intensities inside the mask (``None``: no
    clipping); μ and σ the mean and standard deviation of the clipped intensities inside the mask.
    ``mask=None`` uses :func:`foreground_mask`. Voxels outside the mask are set to ``background``; by default
    the lowest normalised value inside the mask, ``(p_lo − μ) / σ``, so that the background stays the
    darkest intensity a model sees (nnU-Net sets 0, which on FLAIR is as bright as average brain).

    Raises :class:`MaskError` for an empty or mis-shaped mask and :class:`ConstantImageError` when the
    intensities inside the mask are constant (σ = 0).
    """
    values = np.asarray(array, dtype=np.float32)
    mask = _checked_mask(values, mask, name)
    inside = values[mask].astype(np.float64)
    if clip_percentiles is not None:
        low, high = np.percentile(inside, clip_percentiles)
    else:
        low, high = inside.min(), inside.max()
    inside = np.clip(inside, low, high)
    mean, std = float(inside.mean()), float(inside.std())
    if not std > 0:
        raise ConstantImageError("intensities inside the mask are constant: cannot z-score", name or None)
    out = ((np.clip(values, low, high) - mean) / std).astype(np.float32)
    out[~mask] = np.float32((low - mean) / std if background is None else background)
    return out


@dataclass
class NyulStandardiser:
    """Piecewise-linear intensity standardisation (Nyúl, Udupa & Zhang 2000, Hussein et al. 2023 ref [13]).

    Training (:meth:`fit`): for each image i, its landmarks ``μ_i`` are the ``percentiles`` of the
    intensities inside its mask; ``[μ_i,first, μ_i,last]`` (the ``pc1``, ``pc2`` cut-offs) is mapped linearly
    onto the standard scale ``[s1, s2]`` and the standard landmarks are the means of the mapped landmarks.
    Transform: the piecewise-linear map taking an image's own landmarks onto the standard ones, extended
    beyond the cut-offs with the slopes of the first and last segments. The landmarks travel with a model
    card through :meth:`to_dict` / :meth:`from_dict`.
    """

    percentiles: tuple[float, ...] = DEFAULT_NYUL_PERCENTILES
    scale: tuple[float, float] = (0.0, 100.0)
    landmarks: np.ndarray | None = field(default=None)

    def __post_init__(self) -> None:
        pcs = tuple(float(p) for p in self.percentiles)
        if len(pcs) < 2 or np.any(np.diff(pcs) <= 0) or pcs[0] < 0 or pcs[-1] > 100:
            raise ConfigError(f"percentiles must increase within [0, 100], got {self.percentiles}")
        if not self.scale[1] > self.scale[0]:
            raise ConfigError(f"scale must be (s1, s2) with s1 < s2, got {self.scale}")
        self.percentiles = pcs
        self.scale = (float(self.scale[0]), float(self.scale[1]))
        if self.landmarks is not None:
            self.landmarks = np.asarray(self.landmarks, dtype=float)
            if self.landmarks.shape != (len(pcs),) or np.any(np.diff(self.landmarks) <= 0):
                raise ConfigError("landmarks must be one strictly increasing value per percentile")

    def _image_landmarks(self, array: np.ndarray, mask: np.ndarray | None, name: str) -> np.ndarray:
        values = np.asarray(array, dtype=np.float32)
        inside = values[_checked_mask(values, mask, name)].astype(np.float64)
        marks = np.percentile(inside, self.percentiles)
        if not marks[-1] > marks[0]:
            low, high = self.percentiles[0], self.percentiles[-1]
            raise ConstantImageError(f"the {low:g}th and {high:g}th percentiles are equal", name or None)
        # ties between inner landmarks (heavily quantised images) would make the map non-invertible
        step = (marks[-1] - marks[0]) * 1e-6
        for i in range(1, marks.size):
            marks[i] = max(marks[i], marks[i - 1] + step)
        return marks

    def fit(
        self, arrays: Sequence[np.ndarray], masks: Sequence[np.ndarray | None] | None = None
    ) -> NyulStandardiser:
        """Learn the standard landmarks from training ``arrays`` (and their masks); returns ``self``."""
        if len(arrays) == 0:
            raise InputError("fit needs at least one image")
        masks = [None] * len(arrays) if masks is None else list(masks)
        if len(masks) != len(arrays):
            raise InputError(f"{len(arrays)} images but {len(masks)} masks")
        s1, s2 = self.scale
        mapped = []
        for index, (array, mask) in enumerate(zip(arrays, masks, strict=True)):
            marks = self._image_landmarks(array, mask, f"training image {index}")
            mapped.append(s1 + (marks - marks[0]) * (s2 - s1) / (marks[-1] - marks[0]))
        self.landmarks = np.mean(mapped, axis=0)
        return self

    def transform(self, array: np.ndarray, mask: np.ndarray | None = None, *, name: str = "") -> np.ndarray:
        """Map ``array`` onto the standard scale (float32); the landmarks come from inside ``mask``."""
        if self.landmarks is None:
            raise ConfigError("NyulStandardiser.transform called before fit (or from_dict)")
        source = self._image_landmarks(array, mask, name)
        target = self.landmarks
        values = np.asarray(array, dtype=np.float64)
        out = np.interp(values, source, target)
        below, above = values < source[0], values > source[-1]
        slope_low = (target[1] - target[0]) / (source[1] - source[0])
        slope_high = (target[-1] - target[-2]) / (source[-1] - source[-2])
        out[below] = target[0] + (values[below] - source[0]) * slope_low
        out[above] = target[-1] + (values[above] - source[-1]) * slope_high
        return out.astype(np.float32)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (for a model card)."""
        return {
            "method": "nyul",
            "percentiles": list(self.percentiles),
            "scale": list(self.scale),
            "landmarks": None if self.landmarks is None else [float(v) for v in self.landmarks],
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> NyulStandardiser:
        """Inverse of :meth:`to_dict`; raises :class:`ConfigError` on inconsistent content."""
        if data.get("method", "nyul") != "nyul":
            raise ConfigError(f"not a Nyúl standardiser: method {data.get('method')!r}")
        landmarks = data.get("landmarks")
        return cls(
            tuple(data["percentiles"]),
            tuple(data["scale"]),
            None if landmarks is None else np.asarray(landmarks, dtype=float),
        )


def normalise(
    image: Image,
    method: Literal["zscore", "nyul"] = "zscore",
    *,
    mask: np.ndarray | None = None,
    standardiser: NyulStandardiser | None = None,
    clip_percentiles: tuple[float, float] | None = (0.5, 99.5),
) -> Image:
    """The model input for ``image``: same grid, float32 intensities.

    ``"zscore"``: :func:`zscore_normalise` inside ``mask`` (default :func:`foreground_mask`).
    ``"nyul"``: the fitted ``standardiser`` first, then a z-score inside the mask without clipping — seed
    000's pipeline (histogram standardisation, then zero mean and unit variance).
    """
    values = np.asarray(image.array, dtype=np.float32)
    if mask is None:
        mask = foreground_mask(values)
    if method == "zscore":
        out = zscore_normalise(values, mask, clip_percentiles=clip_percentiles, name=image.name)
    elif method == "nyul":
        if standardiser is None or standardiser.landmarks is None:
            raise ConfigError("method='nyul' needs a fitted NyulStandardiser")
        standardised = standardiser.transform(values, mask, name=image.name)
        out = zscore_normalise(standardised, mask, clip_percentiles=None, name=image.name)
    else:
        raise ConfigError(f"method must be 'zscore' or 'nyul', got {method!r}")
    return image.with_array(out)
