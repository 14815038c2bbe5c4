"""Lesion shapes as implicit functions in physical space, and their exact rasterisation on an output grid.

A lesion is the set ``{p : f(p) ≤ 1}`` of the level function

``f(p) = min_b ‖(q − o_b) / r_b‖ · (1 + ρ · Σ_k a_k sin(w_k·q + φ_k))``,  ``q = Rᵀ(p − c) / s``,

a union of ellipsoids (a main body with radii ``r_0`` and a few satellites — lobulated MS lesions) whose border
is made irregular by a smooth random perturbation of relative amplitude ``ρ`` (``Σ|a_k| = 1``). ``c`` is the
centre, ``R`` the orientation (column 0 = the long axis, e.g. perpendicular to the ventricle wall for a
Dawson's finger) and ``s`` the scale that gives the drawn volume. Because ``f`` is defined everywhere, the
lesion fraction of any voxel is computed directly on the output grid by PSF quadrature
(:mod:`LesionSegLogic.phantom.grid`) — no fine global grid, and the ground truth ``fraction ≥ 0.5`` is exact.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import numpy as np

from LesionSegLogic.phantom.grid import Grid, grid_psf

#: relative margin against rounding wherever a bound decides without the lesion's own test: the blob distance against
#: the perturbation's bounds (:meth:`LesionShape.unit_inside`), the ball that pre-filters points (:func:`rasterize`)
_DECIDED_MARGIN = 1e-9

#: A predicate on (N, 3) LPS points: where lesion tissue may be (e.g. white matter, inside the cord).
Allowed = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class LesionShape:
    """An irregular lesion; see the module docstring for the level function."""

    centre: np.ndarray  #: LPS mm
    rotation: np.ndarray  #: 3×3, columns = local axes in LPS
    scale: float  #: mm per unit
    offsets: np.ndarray  #: (B, 3) blob centres, unit coordinates
    radii: np.ndarray  #: (B, 3) blob radii, unit coordinates
    waves: np.ndarray  #: (K, 3) wave vectors, unit coordinates
    phases: np.ndarray  #: (K,)
    amplitudes: np.ndarray  #: (K,) summing to 1 in absolute value
    roughness: float

    def _smallest_square_distance(self, q: np.ndarray) -> np.ndarray:
        """``min_b ‖(q − o_b) / r_b‖²`` for unit coordinates ``q`` (N, 3)."""
        columns = np.ascontiguousarray(q.T)  # one contiguous row per axis: no (N, 3) temporaries per blob
        d2 = np.full(q.shape[0], np.inf)
        for offset, radius in zip(self.offsets, self.radii, strict=True):
            # summed in the order numpy's row sum uses, so the level is the same to the last bit
            term = np.square((columns[0] - offset[0]) / radius[0])
            term += np.square((columns[1] - offset[1]) / radius[1])
            term += np.square((columns[2] - offset[2]) / radius[2])
            np.minimum(d2, term, out=d2)
        return d2

    def _perturbation(self, q: np.ndarray) -> np.ndarray:
        """``1 + ρ · Σ_k a_k sin(w_k·q + φ_k)`` (in [1 − ρ, 1 + ρ], as ``Σ|a_k| = 1``)."""
        return 1.0 + self.roughness * (np.sin(q @ self.waves.T + self.phases) @ self.amplitudes)

    def unit_level(self, q: np.ndarray) -> np.ndarray:
        """Level function in unit coordinates ``q`` (N, 3). (√ is monotone: √ of the smallest square is the
        smallest distance, exactly.)"""
        return np.sqrt(self._smallest_square_distance(q)) * self._perturbation(q)

    def unit_inside(self, q: np.ndarray) -> np.ndarray:
        """``unit_level(q) ≤ 1`` for unit coordinates ``q`` (N, 3), the sines computed only where the blob distance
        ``d`` cannot decide alone: the perturbation lies in [1 − ρ, 1 + ρ], so ``d (1 − ρ) > 1`` is outside and
        ``d (1 + ρ) < 1`` inside (with a 1e-9 margin for rounding)."""
        d = np.sqrt(self._smallest_square_distance(q))
        inside = d * (1.0 + self.roughness) < 1.0 - _DECIDED_MARGIN
        band = ~inside & (d * (1.0 - self.roughness) <= 1.0 + _DECIDED_MARGIN)
        inside[band] = d[band] * self._perturbation(q[band]) <= 1.0
        return inside

    def _unit(self, points: np.ndarray) -> np.ndarray:
        return (np.asarray(points, float) - self.centre) @ self.rotation / self.scale

    def level(self, points: np.ndarray) -> np.ndarray:
        """Level function at LPS points (N, 3): ``≤ 1`` inside the lesion."""
        return self.unit_level(self._unit(points))

    def inside(self, points: np.ndarray) -> np.ndarray:
        """``level(points) ≤ 1`` at LPS points (N, 3), faster (:meth:`unit_inside`)."""
        return self.unit_inside(self._unit(points))

    @property
    def unit_extent(self) -> float:
        """Radius (unit coordinates) of a ball around the centre that contains the lesion."""
        reach = np.linalg.norm(self.offsets, axis=1) + self.radii.max(axis=1)
        return float(reach.max() / (1.0 - self.roughness))

    @property
    def extent(self) -> float:
        """Radius (mm) of a ball around the centre that contains the lesion."""
        return self.unit_extent * self.scale

    @property
    def long_axis(self) -> np.ndarray:
        return self.rotation[:, 0]

    def unit_volume(self, points_per_axis: int = 40) -> float:
        """Volume (unit³) of ``{unit_level ≤ 1}`` by counting on a ``points_per_axis``³ grid over its ball's box
        (≈ 1–2 % error: the drawn volume is a target; reported volumes are measured on the ground truth)."""
        r = self.unit_extent
        step = 2 * r / points_per_axis
        axis = np.arange(-r + step / 2, r, step)
        q = np.stack(np.meshgrid(axis, axis, axis, indexing="ij"), axis=-1).reshape(-1, 3)
        return float(self.unit_inside(q).sum()) * step**3

    def with_volume(self, volume_mm3: float) -> LesionShape:
        """The same shape scaled so its (continuous) volume is ``volume_mm3``."""
        return replace(self, scale=float((volume_mm3 / self.unit_volume()) ** (1.0 / 3.0)))

    def scaled(self, factor: float) -> LesionShape:
        """Lengths multiplied by ``factor`` (volume by ``factor³``)."""
        return replace(self, scale=self.scale * factor)

    def translated(self, shift: np.ndarray) -> LesionShape:
        return replace(self, centre=np.asarray(self.centre, float) + np.asarray(shift, float))

    def moved_to(self, centre: np.ndarray) -> LesionShape:
        return replace(self, centre=np.asarray(centre, float))


def random_rotation(rng: np.random.Generator, long_axis: np.ndarray | None = None) -> np.ndarray:
    """A random rotation matrix; with ``long_axis``, its first column is that (normalised) direction."""
    if long_axis is None:
        q, r = np.linalg.qr(rng.normal(size=(3, 3)))
        q = q * np.sign(np.diag(r))
        if np.linalg.det(q) < 0:
            q[:, 2] *= -1
        return q
    a = np.asarray(long_axis, float)
    a = a / np.linalg.norm(a)
    helper = rng.normal(size=3)
    b = helper - a * (helper @ a)
    b /= np.linalg.norm(b)
    return np.stack([a, b, np.cross(a, b)], axis=1)


def random_shape(
    rng: np.random.Generator,
    centre: np.ndarray,
    volume_mm3: float,
    *,
    long_axis: np.ndarray | None = None,
    elongation: tuple[float, float] = (1.0, 1.6),
    satellites: tuple[int, int] = (0, 3),
    roughness: float = 0.25,
    flatness: tuple[float, float] = (0.75, 1.0),
) -> LesionShape:
    """Draw an irregular lesion of the given volume around ``centre`` (see the module docstring).

    ``elongation``: range of the long-axis / short-axis ratio of the main body; ``satellites``: range (inclusive)
    of the number of extra lobes; ``roughness``: border perturbation ``ρ``; ``flatness``: third axis / second.
    """
    ratio = rng.uniform(*elongation)
    flat = rng.uniform(*flatness)
    main = np.array([ratio, 1.0, flat])
    n_sat = int(rng.integers(satellites[0], satellites[1] + 1))
    offsets = [np.zeros(3)]
    radii = [main]
    for _ in range(n_sat):
        direction = rng.normal(size=3)
        direction /= np.linalg.norm(direction)
        offsets.append(direction * main * rng.uniform(0.5, 0.9))
        lobe = np.array([1.0, rng.uniform(0.7, 1.0), rng.uniform(0.7, 1.0)])
        radii.append(main.min() * rng.uniform(0.35, 0.7) * lobe)
    k = 6
    waves = rng.normal(size=(k, 3)) * rng.uniform(1.5, 4.0, size=(k, 1))
    amplitudes = rng.uniform(0.2, 1.0, size=k)
    amplitudes /= amplitudes.sum()
    shape = LesionShape(
        centre=np.asarray(centre, float),
        rotation=random_rotation(rng, long_axis),
        scale=1.0,
        offsets=np.array(offsets),
        radii=np.array(radii),
        waves=waves,
        phases=rng.uniform(0, 2 * np.pi, size=k),
        amplitudes=amplitudes,
        roughness=float(roughness),
    )
    return shape.with_volume(volume_mm3)


@dataclass(frozen=True)
class Raster:
    """A lesion's PSF-weighted fraction in a box of the output grid."""

    box: tuple[slice, slice, slice]
    fraction: np.ndarray  #: float32 in [0, 1], shape of the box
    level: np.ndarray  #: level function at the voxel centres (heterogeneity inside the lesion)

    @property
    def truth(self) -> np.ndarray:
        """Ground truth in the box: ``fraction ≥ 0.5``."""
        return self.fraction >= 0.5


def rasterize(
    shape: LesionShape, grid: Grid, *, allowed: Allowed | None = None, resolution: float = 0.35
) -> Raster | None:
    """Lesion fraction of every voxel of ``grid`` near ``shape``: the PSF-weighted mean of the indicator
    ``[f(p) ≤ 1] ∧ allowed(p)`` over the quadrature points (≈ ``resolution`` mm apart). None if off-grid."""
    psf = grid_psf(grid, resolution)
    centre_index = grid.physical_to_index(shape.centre)[0]
    box = []
    for a in range(3):
        reach = shape.extent / grid.spacing[a] + np.abs(psf[a][0]).max() / grid.spacing[a] + 1.0
        lo = max(0, int(np.floor(centre_index[a] - reach)))
        hi = min(grid.shape[a], int(np.ceil(centre_index[a] + reach)) + 1)
        if hi <= lo:
            return None
        box.append(slice(lo, hi))
    matrix = grid.direction @ np.diag(grid.spacing[::-1])  # columns: LPS step of i, j, k
    origin = np.asarray(grid.origin)
    # sub-sample index coordinates per axis: (n_a, K_a)
    subs = [np.arange(box[a].start, box[a].stop)[:, None] + psf[a][0][None, :] / grid.spacing[a] for a in range(3)]
    steps = [matrix[:, 2 - a] for a in range(3)]  # LPS step of array axis a
    ny, nx = subs[1].size, subs[2].size
    plane = (subs[1].reshape(-1, 1, 1) * steps[1] + subs[2].reshape(1, -1, 1) * steps[2]).reshape(-1, 3) + origin
    fraction = np.empty([box[a].stop - box[a].start for a in range(3)], np.float32)
    wy, wx = psf[1][1], psf[2][1]
    ky, kx = wy.size, wx.size
    # the ball that holds the lesion pre-filters the points of a sub-plane: |plane + u·step − centre|² expanded in u
    # (slightly widened against rounding: a point it lets through is decided by the lesion's own test)
    reach2 = shape.extent**2 * (1.0 + _DECIDED_MARGIN)
    relative = plane - shape.centre
    relative2 = np.einsum("ij,ij->i", relative, relative)
    along = 2.0 * (relative @ steps[0])
    step2 = float(steps[0] @ steps[0])
    for zi, zrow in enumerate(subs[0]):
        acc = np.zeros((ny // ky, nx // kx))
        for u, wz in zip(zrow, psf[0][1], strict=True):
            inside = relative2 + u * (along + u * step2) <= reach2
            if inside.any():
                index = np.flatnonzero(inside)
                points = plane[index] + u * steps[0]
                keep = shape.inside(points)
                if allowed is not None and keep.any():
                    keep[keep] = allowed(points[keep])
                inside[index] = keep
            block = inside.reshape(ny // ky, ky, nx // kx, kx).astype(np.float64)
            acc += wz * np.einsum("akbl,k,l->ab", block, wy, wx)
        fraction[zi] = acc
    zz, yy, xx = np.meshgrid(*[np.arange(s.start, s.stop) for s in box], indexing="ij")
    centres = grid.index_to_physical(np.stack([zz.ravel(), yy.ravel(), xx.ravel()], axis=1))
    level = shape.level(centres).reshape(fraction.shape).astype(np.float32)
    return Raster(tuple(box), np.clip(fraction, 0.0, 1.0), level)  # type: ignore[arg-type]
