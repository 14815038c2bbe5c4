"""``WindowGrid.touching`` (the windows a foreground mask reaches, in one pass) against the per-window oracle."""

from __future__ import annotations

import numpy as np
import pytest

from LesionSegLogic.inference.windows import WindowGrid


@pytest.mark.parametrize("seed", range(12))
def test_touching_equals_any_per_window(seed: int) -> None:
    rng = np.random.default_rng(seed)
    patch = tuple(int(p) for p in rng.integers(3, 9, size=3))
    shape = tuple(int(p + rng.integers(0, 20)) for p in patch)
    grid = WindowGrid.build(shape, patch, float(rng.choice([0.0, 0.25, 0.5, 0.75])))
    mask = np.zeros(shape, dtype=bool)
    for _ in range(int(rng.integers(0, 4))):  # a few small blobs, sometimes none
        centre = [int(rng.integers(0, n)) for n in shape]
        mask[tuple(slice(max(0, c - 1), c + 1) for c in centre)] = True
    oracle = [w for w in grid if mask[grid.slices(w)].any()]
    assert grid.touching(mask) == oracle


def test_touching_keeps_every_window_of_a_full_mask_and_none_of_an_empty_one() -> None:
    grid = WindowGrid.build((20, 17, 9), (8, 8, 9), 0.5)
    assert grid.touching(np.ones(grid.shape, dtype=bool)) == list(grid)
    assert grid.touching(np.zeros(grid.shape, dtype=bool)) == []
