"""Lesion-matching rules: when does a reference lesion count as detected, and a predicted lesion as true?

One scheme covers the three presets (Commowick et al., *Sci Rep* 2018, §11, as implemented by
``animaSegPerfAnalyzer``). Lesions are the connected components of each binary mask (``connectivity`` 6, 18 or
26); components of ``n ≤ floor(min_volume_mm3 / voxel_volume)`` voxels are removed from **both** masks before
anything else (anima keeps ``n ≥ floor(V/v) + 1`` voxels, i.e. lesions strictly larger than ``V`` mm³).

For a reference lesion ``R`` (``|R|`` voxels) and the predicted lesions ``P_j`` it touches (overlap ``o_j``,
covered ``c = Σ_j o_j``):

1. coverage test: ``c / |R| > α`` (``≥ α`` when ``alpha_inclusive``);
2. leak test: sort the ``P_j`` with ``o_j > 0`` by overlap, largest first (ties: the one with the larger
   outside fraction first, so the result never depends on label numbering); examine ``P_j`` while the overlap
   of the lesions examined *before* it is ``< γ · c``; every examined ``P_j`` must have
   ``outside_j = |P_j \\ ref mask| / |P_j| ≤ β`` ("not more than β outside"), where "outside" means outside
   every reference lesion (a prediction spanning two reference lesions is not outside either).

``R`` is detected (TP) iff both tests pass. A predicted lesion is TP by the same tests with the roles of the
two masks swapped (its coverage by reference lesions, and how far those reference lesions lie outside the
prediction). Splits (one reference lesion, several predictions) and merges (one prediction, several
reference lesions) are therefore allowed: every piece is judged on its own. See ``docs/metrics.md``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from LesionSegLogic.errors import InputError

CONNECTIVITIES = (6, 18, 26)


@dataclass(frozen=True)
class MatchingRule:
    """Parameters of the lesion-wise matching scheme (see the module docstring for the exact tests)."""

    name: str = "custom"
    connectivity: int = 6
    min_volume_mm3: float = 0.0
    alpha: float = 0.10
    alpha_inclusive: bool = False
    beta: float = 0.70
    gamma: float = 0.65

    def __post_init__(self) -> None:
        if self.connectivity not in CONNECTIVITIES:
            raise InputError(f"connectivity must be one of {CONNECTIVITIES}, got {self.connectivity}")
        if not (math.isfinite(self.min_volume_mm3) and self.min_volume_mm3 >= 0):
            raise InputError(f"min_volume_mm3 must be a finite number >= 0, got {self.min_volume_mm3}")
        for key in ("alpha", "beta", "gamma"):
            value = getattr(self, key)
            if not (math.isfinite(value) and 0.0 <= value <= 1.0):
                raise InputError(f"{key} must lie in [0, 1], got {value}")

    def structure(self) -> np.ndarray:
        """The ``scipy.ndimage`` structuring element of ``connectivity`` (6 → 1, 18 → 2, 26 → 3)."""
        from scipy import ndimage

        return ndimage.generate_binary_structure(3, {6: 1, 18: 2, 26: 3}[self.connectivity])

    def min_voxels(self, voxel_volume: float) -> int:
        """Smallest voxel count a lesion keeps: ``floor(min_volume_mm3 / voxel_volume) + 1`` (as anima)."""
        return int(math.floor(self.min_volume_mm3 / voxel_volume)) + 1

    def covered_enough(self, covered: int, size: int) -> bool:
        """The coverage test ``covered / size > α`` (or ``≥ α``); a lesion with no overlap never passes."""
        if covered <= 0:
            return False
        fraction = covered / size
        return fraction >= self.alpha if self.alpha_inclusive else fraction > self.alpha


#: Hussein et al. 2023: "overlapped the ground truth connected voxels by at least 25 % and did not
#: go outside by more than 70 %". Parameters the paper leaves open (connectivity, γ) follow the MSSEG scheme
#: it cites ([3]); it removes no small lesions.
HUSSEIN = MatchingRule(
    name="hussein",
    connectivity=6,
    min_volume_mm3=0.0,
    alpha=0.25,
    alpha_inclusive=True,
    beta=0.70,
    gamma=0.65,
)
#: MSSEG 2016 / MSSEG-2 (Commowick et al. 2018 §11; animaSegPerfAnalyzer): α 0.10 (strict), β 0.70, γ 0.65,
#: lesions ≤ 3 mm³ removed, ITK's default 6-connectivity.
ANIMA = MatchingRule(
    name="anima", connectivity=6, min_volume_mm3=3.0, alpha=0.10, alpha_inclusive=False, beta=0.70, gamma=0.65
)
#: WMH segmentation challenge 2017 (hjkuijf/wmhchallenge): 26-connectivity, a lesion counts as soon as one of
#: its voxels overlaps a lesion of the other mask; no minimum size.
ANY_OVERLAP = MatchingRule(
    name="any-overlap",
    connectivity=26,
    min_volume_mm3=0.0,
    alpha=0.0,
    alpha_inclusive=False,
    beta=1.0,
    gamma=1.0,
)

#: The preset rules by name: the one source of every list of rule names (``choices=``, the panel's and the web
#: app's selects: :data:`LesionSegLogic.defaults.RULE_NAMES`).
PRESETS: dict[str, MatchingRule] = {rule.name: rule for rule in (HUSSEIN, ANIMA, ANY_OVERLAP)}
#: A preset's name as a type (``ReviewParameters.rule``); ``Testing/test_vocabularies.py`` checks it names exactly
#: the :data:`PRESETS`.
RuleName = Literal["hussein", "anima", "any-overlap"]


def get_rule(rule: str | MatchingRule) -> MatchingRule:
    """A preset by name, or the rule itself."""
    if isinstance(rule, MatchingRule):
        return rule
    try:
        return PRESETS[rule]
    except KeyError:
        raise InputError(f"unknown matching rule {rule!r}; choose one of {sorted(PRESETS)}") from None
