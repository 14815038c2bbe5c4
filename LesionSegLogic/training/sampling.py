"""Patch sampling for training.

* **Lesion-centred** (the default): a share ``lesion_share`` of the patches is centred on a random lesion
  voxel moved by a random jitter of up to ``jitter`` × half the patch along each axis, so lesions do not
  always sit in the middle; the rest are random background patches anywhere in the volume. Hashemi et al. 2018 trains
  only on patches with lesion voxels, Hussein et al. 2023 on both; the share makes that a parameter.
* **Along an axis** (Hussein et al. 2023): patches of the full patch size taken along one axis with a fixed overlap
  (75 % in the paper), centred on the other axes; every epoch visits them in a shuffled order.

All randomness comes from one :class:`numpy.random.Generator`, so one seed gives the same batches whatever the
loss (Cabezas & Diez 2024's fair comparison).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from LesionSegLogic.training.data import LoadedCase


def pad_to_patch(case: LoadedCase, patch: Sequence[int]) -> LoadedCase:
    """Pad a case (image with its minimum, mask with 0) so that every axis is at least the patch size."""
    pads = [(0, max(0, int(p) - s)) for p, s in zip(patch, case.shape, strict=True)]
    if not any(after for _, after in pads):
        return case
    pads = [(after // 2, after - after // 2) for _, after in pads]
    image = np.stack([np.pad(c, pads, constant_values=float(c.min())) for c in case.image])
    mask = np.pad(case.mask, pads)
    return LoadedCase(case.name, image, mask, case.spacing)


def clip_start(centre: Sequence[float], patch: Sequence[int], shape: Sequence[int]) -> tuple[int, int, int]:
    """Start index of a patch centred (as near as possible) on ``centre`` and lying inside ``shape``."""
    return tuple(
        int(np.clip(round(c - p / 2), 0, s - p)) for c, p, s in zip(centre, patch, shape, strict=True)
    )  # type: ignore[return-value]


@dataclass
class PatchSpec:
    """Where a patch comes from: case index, start index and whether it was drawn as a lesion patch."""

    case: int
    start: tuple[int, int, int]
    lesion: bool


class LesionCentredSampler:
    """Draws :class:`PatchSpec` s: lesion-centred with jitter, or random background (see module docstring)."""

    def __init__(
        self,
        cases: Sequence[LoadedCase],
        patch: Sequence[int],
        lesion_share: float = 0.7,
        jitter: float = 0.4,
    ) -> None:
        if not cases:
            raise ValueError("no cases to sample from")
        self.cases = list(cases)
        self.patch = tuple(int(p) for p in patch)
        for c in self.cases:
            if any(s < p for s, p in zip(c.shape, self.patch, strict=True)):
                raise ValueError(f"case {c.name} {c.shape} is smaller than the patch {self.patch}; pad it")
        self.lesion_share = float(lesion_share)
        self.jitter = float(jitter)
        self._lesion_voxels = [np.argwhere(c.mask > 0) for c in self.cases]
        self._with_lesions = [i for i, v in enumerate(self._lesion_voxels) if len(v)]

    def draw(self, rng: np.random.Generator) -> PatchSpec:
        lesion = bool(self._with_lesions) and rng.random() < self.lesion_share
        if lesion:
            i = int(self._with_lesions[rng.integers(len(self._with_lesions))])
            voxels = self._lesion_voxels[i]
            centre = voxels[rng.integers(len(voxels))].astype(float)
            half = np.asarray(self.patch) / 2.0
            centre = centre + rng.uniform(-1, 1, 3) * self.jitter * half
        else:
            i = int(rng.integers(len(self.cases)))
            shape = np.asarray(self.cases[i].shape)
            centre = rng.uniform(0, 1, 3) * shape
        return PatchSpec(i, clip_start(centre, self.patch, self.cases[i].shape), lesion)


def axis_patch_starts(
    shape: Sequence[int],
    patch: Sequence[int],
    axis: int = 0,
    overlap: float = 0.75,
    centre: Sequence[float] | None = None,
) -> list[tuple[int, int, int]]:
    """Hussein et al. 2023's patches along ``axis`` with ``overlap`` (0.75 → step of a quarter patch), centred
    elsewhere.

    The last patch is aligned with the end of the axis so that the whole axis is covered.
    """
    if not 0 <= overlap < 1:
        raise ValueError(f"overlap must be in [0, 1), got {overlap}")
    shape, patch = [int(s) for s in shape], [int(p) for p in patch]
    step = max(1, int(round(patch[axis] * (1 - overlap))))
    positions = list(range(0, max(1, shape[axis] - patch[axis] + 1), step))
    if positions[-1] != shape[axis] - patch[axis]:
        positions.append(max(0, shape[axis] - patch[axis]))
    centre = [s / 2 for s in shape] if centre is None else list(centre)
    base = clip_start(centre, patch, shape)
    starts = []
    for p in positions:
        s = list(base)
        s[axis] = p
        starts.append(tuple(s))
    return starts  # type: ignore[return-value]


class AxisSampler:
    """Cycles through Hussein et al. 2023's overlapping axis patches of every case, reshuffled at each pass."""

    def __init__(
        self, cases: Sequence[LoadedCase], patch: Sequence[int], axis: int = 0, overlap: float = 0.75
    ) -> None:
        self.cases = list(cases)
        self.patch = tuple(int(p) for p in patch)
        self.specs: list[PatchSpec] = []
        for i, c in enumerate(self.cases):
            centre = np.argwhere(c.mask > 0).mean(0) if c.mask.any() else None
            for s in axis_patch_starts(c.shape, self.patch, axis, overlap, centre):
                sl = tuple(slice(a, a + p) for a, p in zip(s, self.patch, strict=True))
                self.specs.append(PatchSpec(i, s, bool(c.mask[sl].any())))
        self._queue: list[int] = []

    def draw(self, rng: np.random.Generator) -> PatchSpec:
        if not self._queue:
            self._queue = list(rng.permutation(len(self.specs)))
        return self.specs[int(self._queue.pop())]


def extract(case: LoadedCase, spec: PatchSpec, patch: Sequence[int]) -> tuple[np.ndarray, np.ndarray]:
    """The image (C, *patch) and mask (*patch) arrays of a patch (copies)."""
    sl = tuple(slice(a, a + int(p)) for a, p in zip(spec.start, patch, strict=True))
    return case.image[(slice(None),) + tuple(sl)].copy(), case.mask[sl].copy()
