"""Turn tissue-fraction maps and lesion rasters into FLAIR / T2-w magnitude images.

``S(x) = (1 − L(x)) · Σ_t F_t(x) S_t + Σ_l L_l(x) S_l(x)``, then ``M = |B(x)·S(x)·g + noise|`` (Rician, see
:mod:`LesionSegLogic.phantom.acquisition`), rounded to integers like a scanner's DICOM. ``F_t`` are the
PSF-resampled tissue fractions, ``L_l`` the lesion fractions (lesions never overlap, so ``L = Σ_l L_l ≤ 1``),
``S_t`` the tissue signals from :mod:`LesionSegLogic.phantom.signal`, and ``S_l(x)`` each lesion's signal with
its own relaxation times, prolonged towards the lesion core (heterogeneous contrast). ``g`` scales the reference
tissue to :data:`REFERENCE_LEVEL`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from LesionSegLogic.phantom.acquisition import bias_field, rician
from LesionSegLogic.phantom.lesions import Raster
from LesionSegLogic.phantom.signal import Flair, SpinEcho, Tissue, tissue_signal

#: Intensity of the pure reference tissue (WM / cord) after scaling, before bias and noise.
REFERENCE_LEVEL = 400.0


@dataclass(frozen=True)
class LesionTissue:
    """A lesion's relaxation parameters at its border, and how much T1/T2 grow towards its core."""

    tissue: Tissue
    core_gain: float  #: relative T2 (and half of it for T1) increase at the core

    def maps(self, level: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        core = np.clip(1.0 - level, 0.0, 1.0)
        t2 = self.tissue.t2 * (1.0 + self.core_gain * core)
        t1 = self.tissue.t1 * (1.0 + 0.5 * self.core_gain * core)
        return np.full(level.shape, self.tissue.pd), t1, t2


def synthesize(
    fractions: dict[Tissue, np.ndarray],
    lesions: list[tuple[Raster, LesionTissue]],
    sequence: SpinEcho | Flair,
    reference: Tissue,
    rng: np.random.Generator,
    *,
    snr: float,
    noise: bool,
    bias: float,
) -> np.ndarray:
    """One magnitude image (int16 array) — see the module docstring."""
    shape = next(iter(fractions.values())).shape
    signal = np.zeros(shape, np.float32)
    for tissue, fraction in fractions.items():
        signal += np.float32(tissue_signal(sequence, tissue)) * fraction
    for raster, lesion in lesions:
        pd, t1, t2 = lesion.maps(raster.level)
        lesion_signal = sequence.signal(pd, t1, t2).astype(np.float32)
        region = signal[raster.box]
        region *= 1.0 - raster.fraction
        region += raster.fraction * lesion_signal
    scale = np.float32(REFERENCE_LEVEL / tissue_signal(sequence, reference))
    signal *= scale
    if bias > 0:
        signal *= bias_field(shape, rng, amplitude=bias)
    if noise:
        signal = rician(signal, REFERENCE_LEVEL / snr, rng)
    np.rint(signal, out=signal)
    return np.clip(signal, 0, np.iinfo(np.int16).max).astype(np.int16)
