"""The sliding-window grid: where the patches go.

Along each axis of length ``S`` with patch ``P`` and overlap ``o`` the step is ``s = max(1, ⌊P·(1 − o)⌋)``
and the window starts are ``min(i·s, S − P)`` for ``i = 0 … ⌈(S − P)/s⌉``: regular steps, the **last window
aligned to the edge** (the rule of MONAI's ``dense_patch_slices``, so both produce the same windows). An axis
shorter than the patch is padded up to the patch (half before, half after) and gets one window.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass


def axis_starts(size: int, patch: int, overlap: float) -> tuple[int, ...]:
    """Window start indices along one axis of length ``size`` (``size >= patch``)."""
    if patch < 1 or size < patch:
        raise ValueError(f"need 1 <= patch <= size, got patch {patch}, size {size}")
    if not 0.0 <= overlap < 1.0:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    step = max(1, int(patch * (1.0 - overlap)))
    count = math.ceil((size - patch) / step) + 1
    return tuple(min(i * step, size - patch) for i in range(count))


def padding_for(shape: Sequence[int], patch: Sequence[int]) -> tuple[tuple[int, int], ...]:
    """``(before, after)`` per axis that grows each axis shorter than the patch to the patch size."""
    out = []
    for n, p in zip(shape, patch, strict=True):
        missing = max(0, p - n)
        out.append((missing // 2, missing - missing // 2))
    return tuple(out)


@dataclass(frozen=True)
class WindowGrid:
    """Windows of ``patch`` over a (padded) volume of ``shape``; ``starts[a]`` per axis ``a``."""

    shape: tuple[int, int, int]
    patch: tuple[int, int, int]
    starts: tuple[tuple[int, ...], tuple[int, ...], tuple[int, ...]]

    @classmethod
    def build(cls, shape: Sequence[int], patch: Sequence[int], overlap: float) -> WindowGrid:
        shape_t = tuple(int(n) for n in shape)
        patch_t = tuple(int(p) for p in patch)
        starts = tuple(axis_starts(n, p, overlap) for n, p in zip(shape_t, patch_t, strict=True))
        return cls(shape_t, patch_t, starts)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return math.prod(len(s) for s in self.starts)

    def __iter__(self) -> Iterator[tuple[int, int, int]]:
        return iter(itertools.product(*self.starts))  # type: ignore[arg-type]

    def slices(self, start: tuple[int, int, int]) -> tuple[slice, slice, slice]:
        return tuple(slice(s, s + p) for s, p in zip(start, self.patch, strict=True))  # type: ignore[return-value]
