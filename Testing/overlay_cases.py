"""The constructed overlay-rule case shared by the array and the on-screen overlay tests (no test functions here)."""

from __future__ import annotations

import numpy as np


def constructed_case() -> tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]:
    """Four reference lesions and three predicted lesions (p = 0.9) on a 12×32×48 grid (anima):

    * P1 covers lesion A wholly and touches lesion B through a thin bridge: A detected, P1 true, B missed;
    * P2 covers lesion C wholly but lies mostly outside it: P2 true (its coverage > α), C missed (the leak test);
    * P3 covers a quarter of lesion D and lies mostly outside: P3 false, D missed.
    """
    shape = (12, 32, 48)
    reference = np.zeros(shape, bool)
    predicted = np.zeros(shape, bool)
    boxes = {
        "A": np.s_[3:7, 3:9, 3:9],
        "B": np.s_[3:7, 3:9, 12:18],
        "C": np.s_[3:7, 18:22, 4:8],
        "D": np.s_[3:7, 20:24, 30:34],
    }
    lesions = {}
    for name, box in boxes.items():
        lesions[name] = np.zeros(shape, bool)
        lesions[name][box] = True
        reference |= lesions[name]
    predicted[boxes["A"]] = True
    predicted[5, 5, 9:13] = True  # the bridge: three voxels outside A, one inside B
    predicted[2:7, 16:24, 2:10] = True  # P2 ⊃ C: 64 of its 320 voxels in C
    predicted[3:7, 20:22, 32:44] = True  # P3: a quarter of D (16 voxels), and far outside it
    predicted[1:10, 22:28, 36:44] = True
    probability = np.where(predicted, 0.9, 0.0)
    return probability, reference, lesions
