"""The sliding-window grid: where the patches go.

Along each axis of length ``S`` with patch ``P`` and overlap ``o`` the step is ``s = max(1, ⌊P·(1 − o)⌋)``
and the window starts are ``min(i·s, S − P)`` for ``i = 0 … ⌈(S − P)/s⌉``: regular steps, the **last window
aligned to the edge** (the rule of MONAI's ``dense_patch_slices``, so both produce the same windows). An axis
shorter than the patch is padded up to the patch (half before, half after) and gets one window.

The number of windows grows as ``(1 − o)⁻³``: an overlap of 0.99 with a 48-voxel patch steps one voxel at a time
and asks for millions of forward passes (issue 18: ``predict --overlap 0.99`` ran for hours without a word). A
grid of more than :data:`MAX_WINDOWS` windows is refused before any work, with a message that states its cost.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from LesionSegLogic.errors import ConfigError

#: the most windows one volume may ask for: 100 000 forward passes (a 512×512×400 volume with a 48³ patch needs
#: 7 056 windows at overlap 0.5 and 48 000 at 0.75); a grid beyond it is refused by :meth:`WindowGrid.build`.
MAX_WINDOWS = 100_000
#: the overlap a refusal message suggests instead (the usual default of the model cards)
SUGGESTED_OVERLAP = 0.5


def axis_starts(size: int, patch: int, overlap: float) -> tuple[int, ...]:
    """Window start indices along one axis of length ``size`` (``size >= patch``)."""
    if patch < 1 or size < patch:
        raise ConfigError(f"need 1 <= patch <= size, got patch {patch}, size {size}")
    count, step = _axis_count(size, patch, overlap)
    return tuple(min(i * step, size - patch) for i in range(count))


def _axis_count(size: int, patch: int, overlap: float) -> tuple[int, int]:
    """``(number of windows, step)`` along one axis."""
    if not 0.0 <= overlap < 1.0:  # also refuses NaN
        raise ConfigError(f"overlap must be in [0, 1), got {overlap}")
    step = max(1, int(patch * (1.0 - overlap)))
    return math.ceil((max(size, patch) - patch) / step) + 1, step


def window_count(shape: Sequence[int], patch: Sequence[int], overlap: float) -> int:
    """How many windows :meth:`WindowGrid.build` makes over ``shape`` (axes shorter than the patch padded)."""
    return math.prod(_axis_count(int(n), int(p), overlap)[0] for n, p in zip(shape, patch, strict=True))


def check_window_budget(shape: Sequence[int], patch: Sequence[int], overlap: float) -> int:
    """The window count, or :class:`ConfigError` stating the cost when it exceeds :data:`MAX_WINDOWS`."""
    count = window_count(shape, patch, overlap)
    if count > MAX_WINDOWS:
        usual = window_count(shape, patch, SUGGESTED_OVERLAP)
        size = "×".join(str(int(n)) for n in shape)
        raise ConfigError(
            f"overlap {overlap:g} needs {count:,} windows of {'×'.join(str(int(p)) for p in patch)} voxels over "
            f"{size} ({count / usual:,.0f}× the {usual:,} windows at overlap {SUGGESTED_OVERLAP}); the limit is "
            f"{MAX_WINDOWS:,}: choose a smaller overlap"
        )
    return count


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
        check_window_budget(shape_t, patch_t, overlap)
        starts = tuple(axis_starts(n, p, overlap) for n, p in zip(shape_t, patch_t, strict=True))
        return cls(shape_t, patch_t, starts)  # type: ignore[arg-type]

    def __len__(self) -> int:
        return math.prod(len(s) for s in self.starts)

    def __iter__(self) -> Iterator[tuple[int, int, int]]:
        return iter(itertools.product(*self.starts))

    def slices(self, start: tuple[int, int, int]) -> tuple[slice, slice, slice]:
        return tuple(slice(s, s + p) for s, p in zip(start, self.patch, strict=True))  # type: ignore[return-value]

    def touching(self, mask: np.ndarray) -> list[tuple[int, int, int]]:
        """The windows (in iteration order) that hold at least one ``True`` voxel of ``mask`` (shape ``shape``).

        One pass over the mask: each axis is cut at every window start and end into segments, ``any`` is reduced
        per segment (``np.logical_or.reduceat``, axis by axis), and a window is kept when one of the segment blocks
        it spans holds a voxel — the same answer as ``mask[window].any()`` per window, without reading each
        overlapping voxel once per window."""
        cuts: list[np.ndarray] = []
        spans: list[list[tuple[int, int]]] = []
        for starts, p in zip(self.starts, self.patch, strict=True):
            edges = sorted({0, *starts, *(s + p for s in starts)} - {max(s + p for s in starts)})
            index = {e: i for i, e in enumerate(edges)}
            cuts.append(np.asarray(edges))
            spans.append([(index[s], index[s + p] if s + p in index else len(edges)) for s in starts])
        blocks = np.asarray(mask, dtype=bool)
        for axis, axis_cuts in enumerate(cuts):
            blocks = np.logical_or.reduceat(blocks, axis_cuts, axis=axis)
        out = []
        for (iz, (z0, z1)), (iy, (y0, y1)), (ix, (x0, x1)) in itertools.product(
                *(enumerate(s) for s in spans)):
            if blocks[z0:z1, y0:y1, x0:x1].any():
                out.append((self.starts[0][iz], self.starts[1][iy], self.starts[2][ix]))
        return out
