"""Cases shared by the threshold-engine and live-path tests (no test functions here): the hypothesis strategy of
random engine inputs, a two-lesion case and the comparison of two results."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import strategies as st
from scipy import ndimage

from LesionSegLogic.metrics.rules import PRESETS, MatchingRule


def assert_same(a, b) -> None:
    assert a.metrics == b.metrics
    assert np.array_equal(a.mask, b.mask)
    assert np.array_equal(a.overlay, b.overlay)
    assert len(a.lesions) == len(b.lesions)
    for x, y in zip(a.lesions, b.lesions, strict=True):
        assert (x.id, x.kind, x.n_voxels, x.status, x.partners) == (y.id, y.kind, y.n_voxels, y.status, y.partners)
        assert np.allclose(x.centroid_zyx, y.centroid_zyx) and np.allclose(x.centroid_lps, y.centroid_lps)
        assert x.max_probability == pytest.approx(y.max_probability)
        assert x.mean_probability == pytest.approx(y.mean_probability)


@st.composite
def cases(draw):
    seed = draw(st.integers(0, 2**31 - 1))
    rng = np.random.default_rng(seed)
    shape = tuple(draw(st.integers(2, 8)) for _ in range(3))
    p = ndimage.gaussian_filter(rng.random(shape), draw(st.floats(0.0, 1.5)))
    p = (p - p.min()) / (np.ptp(p) + 1e-9)
    if draw(st.booleans()):
        p = np.round(p, 1)  # ties
    ref = rng.random(shape) < draw(st.floats(0.0, 0.6)) if draw(st.booleans()) else None
    if draw(st.booleans()):
        rule = PRESETS[draw(st.sampled_from(sorted(PRESETS)))]
    else:
        rule = MatchingRule(
            connectivity=draw(st.sampled_from((6, 18, 26))),
            min_volume_mm3=draw(st.sampled_from((0.0, 1.0, 2.5))),
            alpha=draw(st.sampled_from((0.0, 0.1, 0.25, 0.5))),
            alpha_inclusive=draw(st.booleans()),
            beta=draw(st.sampled_from((0.0, 0.3, 0.7, 1.0))),
            gamma=draw(st.sampled_from((0.0, 0.5, 0.65, 1.0))),
        )
    spacing = tuple(draw(st.sampled_from((0.5, 1.0, 1.5))) for _ in range(3))
    floor = draw(st.sampled_from((None, 0.0, 0.2, 0.5)))
    thresholds = draw(st.lists(st.floats(0.0, 1.0), min_size=1, max_size=4)) + [float(p.min()), 0.5]
    return p, ref, rule, spacing, floor, thresholds


def two_lesion_case():
    ref = np.zeros((8, 10, 12), bool)
    ref[2:4, 2:4, 2:4] = True  # lesion 1 (8 voxels)
    ref[5:7, 6:8, 8:10] = True  # lesion 2 (8 voxels), will be missed at high thresholds
    p = np.zeros(ref.shape, np.float32)
    p[2:4, 2:4, 2:4] = 0.9
    p[5:7, 6:8, 8:10] = 0.3
    p[0, 8:10, 0:2] = 0.6  # a false positive (4 voxels)
    return p, ref
