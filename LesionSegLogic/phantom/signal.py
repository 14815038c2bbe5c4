"""MR signal equations and 3 T tissue parameters for the phantom's FLAIR and T2-weighted images.

Every tissue has a proton density PD (relative to pure water), T1 and T2 (ms). A voxel's signal is the
partial-volume mix of its tissues' signals (linear mixing of magnetisation, the standard PV model).

* **T2-weighted spin echo** (TR ≫ TE): ``S = PD · (1 − exp(−TR/T1)) · exp(−TE/T2)``.
* **FLAIR** = inversion recovery spin echo, magnitude reconstruction:
  ``S = PD · |1 − 2·exp(−TI/T1) + exp(−TR/T1)| · exp(−TE/T2)``,
  with the inversion time chosen to null CSF: ``TI = T1_csf · ln(2 / (1 + exp(−TR/T1_csf)))``
  (Bydder & Young, J Comput Assist Tomogr 1985; Hajnal et al., AJNR 1992).

3 T relaxation times (ms) and proton densities, literature values rounded:

* WM and GM — Stanisz G.J. et al., "T1, T2 relaxation and magnetization transfer in tissue at 3T",
  MRM 54:507–512 (2005): WM T1 1084, T2 69; GM T1 1820, T2 99.
* CSF — T1 4163 (Lu H. et al., "Routine clinical brain MRI sequences for use at 3.0 Tesla", JMRI 22:13–22
  (2005)); T2 at 3 T ≈ 1.5–2 s (e.g. Spijkerman J.M. et al., MAGMA 31:415 (2018)); 2000.
* PD (water content) — Tofts P. (ed.), *Quantitative MRI of the Brain* (Wiley 2003), ch. 4: WM 0.69,
  GM 0.80, CSF 1.00.
* MS lesions: T1 and T2 prolonged and water content raised relative to normal-appearing WM; at 3 T lesion T1 ≈
  1300–1900 ms and T2 ≈ 110–200 ms (e.g. Bonnier G. et al., MRM 72:1253 (2014); Bot J.C.J. et al. report similar
  ranges at 1.5 T). Each lesion draws its own values in these ranges (heterogeneous contrast).
* Spinal cord / neck (cord phantom): cord WM T1 ≈ 870, T2 ≈ 75; cord GM T1 ≈ 970, T2 ≈ 85 (Smith S.A. et al.,
  MRM 2008; Massire A. et al. 2016 at 3 T/7 T); CSF as above; skeletal muscle T1 1420, T2 32; subcutaneous fat
  T1 380, T2 130 (apparent, TSE); vertebral marrow T1 ≈ 600, T2 ≈ 60 (fatty marrow); intervertebral disc
  nucleus T1 ≈ 1200, T2 ≈ 100 (Stanisz G.J. et al., MRM 54:507 (2005); de Bazelaire C. et al., Radiology 230:652
  (2004)). These are approximate; the phantom needs the contrast ordering, not exact quantitative values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Tissue:
    """Relaxation parameters of one tissue: proton density (0..1), T1 and T2 in ms."""

    pd: float
    t1: float
    t2: float


#: Normal brain tissue at 3 T (see the module docstring for the sources).
WM = Tissue(pd=0.69, t1=1084.0, t2=69.0)
GM = Tissue(pd=0.80, t1=1820.0, t2=99.0)
CSF = Tissue(pd=1.00, t1=4163.0, t2=2000.0)

#: Cord phantom tissues.
CORD_WM = Tissue(pd=0.70, t1=870.0, t2=75.0)
CORD_GM = Tissue(pd=0.80, t1=970.0, t2=85.0)
MUSCLE = Tissue(pd=0.75, t1=1420.0, t2=32.0)
FAT = Tissue(pd=0.90, t1=380.0, t2=130.0)
MARROW = Tissue(pd=0.80, t1=600.0, t2=60.0)
DISC = Tissue(pd=0.85, t1=1200.0, t2=100.0)
BACKGROUND = Tissue(pd=0.0, t1=1000.0, t2=50.0)

#: Ranges (low, high) each lesion draws its own relaxation parameters from.
LESION_PD = (0.74, 0.86)
LESION_T1 = (1300.0, 1900.0)
LESION_T2 = (115.0, 200.0)


@dataclass(frozen=True)
class SpinEcho:
    """T2-weighted (turbo) spin echo: ``S = PD (1 − e^{−TR/T1}) e^{−TE/T2}``."""

    tr: float = 6000.0
    te: float = 100.0

    def signal(self, pd: np.ndarray | float, t1: np.ndarray | float, t2: np.ndarray | float) -> np.ndarray:
        return np.asarray(pd * (1.0 - np.exp(-self.tr / t1)) * np.exp(-self.te / t2), dtype=np.float64)


@dataclass(frozen=True)
class Flair:
    """Inversion-recovery spin echo with CSF nulled (FLAIR).

    ``S = PD |1 − 2 e^{−TI/T1} + e^{−TR/T1}| e^{−TE/T2}``; ``ti=None`` picks the CSF null point
    ``TI = T1_csf ln(2 / (1 + e^{−TR/T1_csf}))`` (≈ 2.4 s at TR 9 s, 3 T).
    """

    tr: float = 9000.0
    te: float = 120.0
    ti: float | None = None
    null_t1: float = CSF.t1

    @property
    def inversion_time(self) -> float:
        if self.ti is not None:
            return self.ti
        return null_inversion_time(self.null_t1, self.tr)

    def signal(self, pd: np.ndarray | float, t1: np.ndarray | float, t2: np.ndarray | float) -> np.ndarray:
        ti = self.inversion_time
        longitudinal = np.abs(1.0 - 2.0 * np.exp(-ti / t1) + np.exp(-self.tr / t1))
        return np.asarray(pd * longitudinal * np.exp(-self.te / t2), dtype=np.float64)


def null_inversion_time(t1: float, tr: float) -> float:
    """Inversion time (ms) that nulls a tissue of longitudinal relaxation ``t1`` at repetition time ``tr``.

    Solves ``1 − 2 e^{−TI/T1} + e^{−TR/T1} = 0``: ``TI = T1 ln(2 / (1 + e^{−TR/T1}))``.
    """
    return t1 * math.log(2.0 / (1.0 + math.exp(-tr / t1)))


def tissue_signal(sequence: SpinEcho | Flair, tissue: Tissue) -> float:
    """Signal of a pure tissue under ``sequence``."""
    return float(sequence.signal(tissue.pd, tissue.t1, tissue.t2))
