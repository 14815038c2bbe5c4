"""Issue 17 (duplicates): the infratentorial box is defined once — the phantom generator draws its infratentorial
lesions in the box the region labeller counts them by."""

from __future__ import annotations

import numpy as np

import LesionSegLogic.regions as regions
from LesionSegLogic.phantom import brain


def test_the_regions_and_the_phantom_share_one_infratentorial_box() -> None:
    assert regions.infratentorial_mni is brain.infratentorial_mni
    # MNI (RAS mm): the cerebellum and the pons are inside; the thalamus and the occipital lobe above the
    # tentorium are outside
    x = np.array([20.0, 0.0, 10.0, 10.0])
    y = np.array([-60.0, -25.0, -18.0, -80.0])
    z = np.array([-30.0, -30.0, 8.0, 10.0])
    assert brain.infratentorial_mni(x, y, z).tolist() == [True, True, False, False]

