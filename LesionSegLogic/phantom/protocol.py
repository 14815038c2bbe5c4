"""Field strength and sequence parameters: which FLAIR / T2-w protocol a phantom case is acquired with.

The tissue tables of :mod:`.signal` are 3 T values. At **1.5 T** T1 is shorter and T2 nearly unchanged:

* WM T1 884, T2 72; GM T1 1124, T2 95 ms — Stanisz G.J. et al., MRM 54:507–512 (2005), their 1.5 T table;
* CSF T1 ≈ 3900 ms (free water: barely field dependent), T2 2000 ms;
* every other tissue (cord, neck, lesions): T1 × (1.5 / 3)^0.35 ≈ 0.78 — the power law ``T1 ∝ B0^β`` with
  β ≈ 0.3–0.4 for brain tissue (Rooney W.D. et al., MRM 57:308–318 (2007)); T2 unchanged.

Sequence parameters: with ``PhantomOptions.draw_protocol`` off (the default) every case uses the fixed protocol of
its anatomy (FLAIR TR 9000 / TE 120 / TI at the CSF null, T2-w TR 6000 / TE 100; cord T2-w TSE TR 4000 / TE 100);
on, each case draws TR / TE uniformly in :data:`PROTOCOL_RANGES` of its field strength, and the FLAIR inversion
time as the CSF null point × U(0.95, 1.05) (an imperfect null leaves a little CSF signal, as on scanners). The
ranges are typical clinical values (e.g. the MAGNIMS–CMSC–NAIMS 2021 protocol recommendations, Wattjes M.P. et al.,
Lancet Neurol 20:653 (2021)). These numbers give the contrast ordering and its spread, not exact quantitative MRI.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from LesionSegLogic.phantom.signal import CSF, GM, WM, Flair, SpinEcho, Tissue, null_inversion_time

#: Field strengths (tesla) the phantom models; 3 T is the default (the tissue tables of :mod:`.signal`).
FIELD_STRENGTHS = (1.5, 3.0)
DEFAULT_FIELD_STRENGTH = 3.0
#: Generic 1.5 T / 3 T ratio of T1 for tissues without a 1.5 T table entry (Rooney et al. 2007, β ≈ 0.35).
T1_RATIO_15 = (1.5 / 3.0) ** 0.35
#: 1.5 T values of the 3 T brain tissues (see the module docstring).
TISSUES_15: dict[Tissue, Tissue] = {
    WM: Tissue(pd=WM.pd, t1=884.0, t2=72.0),
    GM: Tissue(pd=GM.pd, t1=1124.0, t2=95.0),
    CSF: Tissue(pd=CSF.pd, t1=3900.0, t2=2000.0),
}


@dataclass(frozen=True)
class SequenceRanges:
    """Uniform ranges (ms) the sequence parameters of one field strength are drawn from."""

    flair_tr: tuple[float, float]
    flair_te: tuple[float, float]
    t2_tr: tuple[float, float]
    t2_te: tuple[float, float]
    ti_null_factor: tuple[float, float] = (0.95, 1.05)


#: (anatomy, field strength) → ranges. The cord protocol is T2-w only (its ``flair_*`` ranges are not used).
PROTOCOL_RANGES: dict[tuple[str, float], SequenceRanges] = {
    ("brain", 3.0): SequenceRanges((8000.0, 10000.0), (80.0, 130.0), (4000.0, 7000.0), (80.0, 110.0)),
    ("brain", 1.5): SequenceRanges((6000.0, 10000.0), (100.0, 150.0), (3000.0, 5000.0), (90.0, 120.0)),
    ("cord", 3.0): SequenceRanges((8000.0, 10000.0), (80.0, 130.0), (2500.0, 4000.0), (80.0, 120.0)),
    ("cord", 1.5): SequenceRanges((6000.0, 10000.0), (100.0, 150.0), (2500.0, 4000.0), (90.0, 130.0)),
}


def tissue_at(tissue: Tissue, field_strength: float) -> Tissue:
    """The relaxation parameters of a 3 T ``tissue`` at ``field_strength`` (see the module docstring)."""
    if field_strength == 3.0:
        return tissue
    if tissue in TISSUES_15:
        return TISSUES_15[tissue]
    return replace(tissue, t1=tissue.t1 * T1_RATIO_15)


@dataclass(frozen=True)
class ScanProtocol:
    """The field strength and the two sequences one case (both sessions of a longitudinal pair) is acquired with."""

    field_strength: float
    flair: Flair | SpinEcho
    t2: SpinEcho


def resolve_protocol(
    anatomy: str,
    fixed_flair: Flair | SpinEcho,
    fixed_t2: SpinEcho,
    field_strength: float,
    draw: bool,
    rng: np.random.Generator,
) -> ScanProtocol:
    """The case's protocol: the anatomy's fixed sequences (``draw`` False; the FLAIR TI re-nulled for the field's
    CSF T1) or sequences drawn from :data:`PROTOCOL_RANGES` with ``rng``."""
    csf_t1 = tissue_at(CSF, field_strength).t1
    if not draw:
        flair = replace(fixed_flair, null_t1=csf_t1) if isinstance(fixed_flair, Flair) else fixed_flair
        return ScanProtocol(field_strength, flair, fixed_t2)
    ranges = PROTOCOL_RANGES[(anatomy, field_strength)]
    t2 = SpinEcho(tr=float(rng.uniform(*ranges.t2_tr)), te=float(rng.uniform(*ranges.t2_te)))
    if not isinstance(fixed_flair, Flair):  # a T2-w-only protocol (cord)
        return ScanProtocol(field_strength, t2, t2)
    tr = float(rng.uniform(*ranges.flair_tr))
    ti = null_inversion_time(csf_t1, tr) * float(rng.uniform(*ranges.ti_null_factor))
    flair = Flair(tr=tr, te=float(rng.uniform(*ranges.flair_te)), ti=ti, null_t1=csf_t1)
    return ScanProtocol(field_strength, flair, t2)
