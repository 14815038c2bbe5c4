"""Brain MS lesions on the MNI152 anatomy: where they go, how big, what shape.

Location classes (MAGNIMS 2016 / McDonald 2017 topography; proportions after the periventricular share the
issue asks for): periventricular 40 % (touching the lateral ventricles, long axis along the normal of the
ventricle wall — Dawson's fingers, i.e. along the medullary veins), juxtacortical 20 % (white matter within
1–3 mm of the cortex, may extend into it), deep white matter 27 %, infratentorial 13 % (brainstem and
cerebellar white matter: MNI z < −18 mm behind y = −38 mm, or the brainstem |x| ≤ 14, −45 < y < −12, z < −10).

Counts: negative binomial with mean 25 and dispersion 3, clipped to 0–60. Volumes: log-normal
(periventricular median 60 mm³, others 25–30 mm³, σ_log 1.2–1.4) truncated to 3 mm³ – 8 cm³ (most lesions are
small, a few confluent periventricular ones reach several cm³). Lesion tissue is confined to white matter
(WM fraction ≥ 0.3, CSF < 0.5; juxtacortical: WM + GM ≥ 0.5, CSF < 0.5).
Lesions are kept apart (their partial-volume footprints dilated by one voxel never touch) and each lesion's ground
truth is one 26-connected component, so the number of reference lesions equals the number of lesions listed.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from LesionSegLogic.phantom.anatomy import BrainMaps, mni_coordinates
from LesionSegLogic.phantom.grid import Grid, aligned_matrices, apply_separable
from LesionSegLogic.phantom.lesions import Allowed, LesionShape, random_shape
from LesionSegLogic.phantom.options import BRAIN_ANISOTROPIC_SPACING, PhantomOptions
from LesionSegLogic.phantom.signal import CSF, GM, WM, Flair, SpinEcho, Tissue

REGIONS = ("periventricular", "juxtacortical", "deep_white_matter", "infratentorial")
REGION_PROBABILITY = np.array([0.40, 0.20, 0.27, 0.13])
VOLUME_MEDIAN = {"periventricular": 60.0, "juxtacortical": 25.0, "deep_white_matter": 30.0, "infratentorial": 30.0}
VOLUME_SIGMA = {"periventricular": 1.4, "juxtacortical": 1.1, "deep_white_matter": 1.2, "infratentorial": 1.2}
VOLUME_RANGE = (3.0, 8000.0)
#: Confluent periventricular clusters (``PhantomOptions.confluent``): the region name, log-normal volume (median,
#: σ_log) truncated to :data:`CONFLUENT_RANGE`, and how many lobes merge (inclusive range).
CONFLUENT = "confluent_periventricular"
CONFLUENT_VOLUME = (1000.0, 0.6)
CONFLUENT_RANGE = (300.0, 4000.0)
CONFLUENT_LOBES = (3, 6)
#: Default FOV centre (LPS mm): between the lateral ventricles (MNI RAS (0, −10, 15)).
DEFAULT_CENTRE = (0.0, 10.0, 15.0)
#: The array axis a brain acquisition's slices are stacked along (axial: z).
AXIAL_SLICE_AXIS = 0


def brain_grid(maps: BrainMaps, options: PhantomOptions) -> Grid:
    """The output grid: the MNI box (or ``fov_mm`` around ``centre_lps``) at the requested spacing, axial."""
    source = maps.grid
    spacing = BRAIN_ANISOTROPIC_SPACING if options.anisotropic else (options.spacing or source.spacing)
    spacing = options.with_thickness(tuple(float(s) for s in spacing), AXIAL_SLICE_AXIS)  # type: ignore[arg-type]  # three axes
    lo = np.array([-0.5 * h for h in source.spacing])  # axis coordinates (mm) relative to the source origin
    hi = np.array([(n - 0.5) * h for n, h in zip(source.shape, source.spacing, strict=True)])
    if options.fov_mm is not None:
        centre_lps = np.asarray(options.centre_lps if options.centre_lps is not None else DEFAULT_CENTRE, float)
        centre_axis = np.linalg.solve(source.direction, centre_lps - np.asarray(source.origin))[::-1]
        half = np.asarray(options.fov_mm, float) / 2
        lo, hi = np.maximum(lo, centre_axis - half), np.minimum(hi, centre_axis + half)
    shape = tuple(max(1, int(round((h - l) / s))) for l, h, s in zip(lo, hi, spacing, strict=True))
    first = np.array([(l + h) / 2 - (n - 1) * s / 2 for l, h, n, s in zip(lo, hi, shape, spacing, strict=True)])
    origin = np.asarray(source.origin) + source.direction @ first[::-1]
    return Grid(shape, spacing, tuple(origin), source.direction.copy(),  # type: ignore[arg-type]  # three axes
                options.resolved_slice_axis(spacing, AXIAL_SLICE_AXIS))


def draw_count(rng: np.random.Generator, options: PhantomOptions) -> int:
    """Lesion count: ``options.n_lesions`` or negative binomial (mean 25, dispersion 3) clipped to 0–60."""
    if options.n_lesions is not None:
        return int(options.n_lesions)
    mean, dispersion = 25.0, 3.0
    return int(min(60, rng.negative_binomial(dispersion, dispersion / (dispersion + mean))))


def draw_volume(rng: np.random.Generator, region: str) -> float:
    """Log-normal volume (mm³) truncated to :data:`VOLUME_RANGE`."""
    while True:
        v = float(rng.lognormal(np.log(VOLUME_MEDIAN[region]), VOLUME_SIGMA[region]))
        if VOLUME_RANGE[0] <= v <= VOLUME_RANGE[1]:
            return v


def _sample(image_array: np.ndarray, maps: BrainMaps, points: np.ndarray, shift: np.ndarray) -> np.ndarray:
    index = maps.grid.physical_to_index(points - shift)
    return ndimage.map_coordinates(image_array, index.T, order=1, mode="constant", cval=0.0)


def infratentorial_mni(x: np.ndarray, y: np.ndarray, z: np.ndarray) -> np.ndarray:
    """Brainstem and cerebellum below the tentorium at MNI (RAS mm) coordinates: the posterior fossa below
    z = −18 mm behind y = −38 mm, and the brainstem column (|x| ≤ 14, −45 < y < −12, z < −10) — the box
    :class:`BrainScene` draws infratentorial lesions in, and the one :mod:`LesionSegLogic.regions` labels them by."""
    return ((z < -18) & (y < -38)) | ((np.abs(x) <= 14) & (y > -45) & (y < -12) & (z < -10))


@dataclass(frozen=True)
class BrainScene:
    """The anatomy, the output grid and where lesions of each class may be centred."""

    maps: BrainMaps
    grid: Grid
    candidates: dict[str, np.ndarray]  #: flat indices into the MNI grid
    confluent: float = 0.0  #: share of lesions drawn as confluent periventricular clusters

    @classmethod
    def build(cls, maps: BrainMaps, grid: Grid, confluent: float = 0.0) -> BrainScene:
        x, y, z = mni_coordinates(maps.grid)
        wm = maps.wm.array
        vd, cd = maps.ventricle_distance.array, maps.cortex_distance.array
        infra = infratentorial_mni(x, y, z)
        masks = {
            "periventricular": (wm >= 0.5) & (vd >= 1.5) & (vd <= 6.0) & ~infra,
            "juxtacortical": (wm >= 0.5) & (cd >= 1.0) & (cd <= 3.0) & (vd > 10.0) & ~infra,
            "deep_white_matter": (wm >= 0.85) & (vd > 8.0) & (cd > 4.0) & ~infra,
            "infratentorial": (wm >= 0.6) & infra & (maps.depth.array > 3.0),
            CONFLUENT: (wm >= 0.5) & (vd >= 2.0) & (vd <= 5.0) & ~infra,
        }
        # centres must lie inside the output field of view (3 mm margin)
        candidates = {}
        for region, mask in masks.items():
            flat = np.flatnonzero(mask)
            points = maps.grid.index_to_physical(np.stack(np.unravel_index(flat, mask.shape), 1))
            inside = _inside(grid, points, margin_mm=3.0)
            candidates[region] = flat[inside]
        return cls(maps, grid, candidates, float(confluent))

    # the Scene interface used by :mod:`LesionSegLogic.phantom.generate` -----------------------------------
    anatomy = "brain"
    reference = WM
    flair_sequence = Flair()
    t2_sequence = SpinEcho()
    flair_is_t2 = False

    def fractions(self, shift: np.ndarray) -> dict[Tissue, np.ndarray]:
        """GM, WM and CSF fractions on the output grid (PSF-resampled MNI maps, the head moved by ``shift``)."""
        matrices = aligned_matrices(self.maps.grid, self.grid, shift_lps=shift)
        return {
            GM: apply_separable(self.maps.gm.array, matrices),
            WM: apply_separable(self.maps.wm.array, matrices),
            CSF: apply_separable(self.maps.csf.array, matrices),
        }

    def draw_region(self, rng: np.random.Generator) -> str:
        if self.confluent > 0 and rng.random() < self.confluent:  # no extra draw without confluent lesions
            return CONFLUENT
        return str(REGIONS[rng.choice(len(REGIONS), p=REGION_PROBABILITY)])

    def draw_count(self, rng: np.random.Generator, options: PhantomOptions) -> int:
        return draw_count(rng, options)

    def allowed(self, region: str, shift: np.ndarray) -> Allowed:
        maps = self.maps

        def predicate(points: np.ndarray) -> np.ndarray:
            csf = _sample(maps.csf.array, maps, points, shift)
            wm = _sample(maps.wm.array, maps, points, shift)
            if region == "juxtacortical":
                gm = _sample(maps.gm.array, maps, points, shift)
                return (csf < 0.5) & (wm + gm >= 0.5)
            return (csf < 0.5) & (wm >= 0.3)

        return predicate

    def draw_shape(self, rng: np.random.Generator, region: str) -> LesionShape | None:
        pool = self.candidates[region]
        if pool.size == 0:
            return None
        flat = pool[rng.integers(pool.size)]
        zyx = np.array(np.unravel_index(flat, self.maps.grid.shape), float) + rng.uniform(-0.5, 0.5, 3)
        centre = self.maps.grid.index_to_physical(zyx)[0]
        if region == CONFLUENT:
            return self._confluent_shape(rng, zyx, centre)
        volume = draw_volume(rng, region)
        if region != "periventricular":
            return random_shape(rng, centre, volume)
        normal = self._ventricle_normal(zyx)
        shape = random_shape(
            rng, centre, volume, long_axis=normal, elongation=(1.8, 3.0), satellites=(0, 1), roughness=0.15
        )
        # slide along the normal so the inner end of the finger reaches the ventricle wall
        distance = float(_sample(self.maps.ventricle_distance.array, self.maps, centre[None], np.zeros(3))[0])
        half_length = shape.scale * shape.radii[0, 0]
        return shape.moved_to(centre + (0.8 * half_length - distance) * normal)

    def _confluent_shape(self, rng: np.random.Generator, zyx: np.ndarray, centre: np.ndarray) -> LesionShape:
        """A confluent periventricular cluster: several merged lobes, long axis along the ventricle wall (tangent
        to it), its inner side slid onto the wall so it touches the ventricle (a capping, confluent lesion)."""
        normal = self._ventricle_normal(zyx)
        tangent = np.cross(normal, rng.normal(size=3))
        tangent /= max(np.linalg.norm(tangent), 1e-9)
        while True:
            volume = float(rng.lognormal(np.log(CONFLUENT_VOLUME[0]), CONFLUENT_VOLUME[1]))
            if CONFLUENT_RANGE[0] <= volume <= CONFLUENT_RANGE[1]:
                break
        shape = random_shape(rng, centre, volume, long_axis=tangent, elongation=(2.0, 3.5), satellites=CONFLUENT_LOBES,
                             roughness=0.2, flatness=(0.6, 0.9))
        distance = float(_sample(self.maps.ventricle_distance.array, self.maps, centre[None], np.zeros(3))[0])
        thickness = shape.scale * float(np.min(shape.radii[0, 1:]))
        return shape.moved_to(centre + (0.8 * thickness - distance) * normal)

    def _ventricle_normal(self, zyx: np.ndarray) -> np.ndarray:
        """Unit LPS direction of increasing distance to the ventricles (the outward wall normal)."""
        distance = self.maps.ventricle_distance
        centre = np.round(zyx).astype(int)
        lo = np.maximum(centre - 2, 0)
        patch = distance.array[lo[0] : centre[0] + 3, lo[1] : centre[1] + 3, lo[2] : centre[2] + 3]
        gz, gy, gx = (g.mean() for g in np.gradient(patch.astype(float), *distance.spacing))
        gradient = distance.direction @ np.array([gx, gy, gz])
        norm = np.linalg.norm(gradient)
        return gradient / norm if norm > 1e-6 else np.array([1.0, 0.0, 0.0])


def _inside(grid: Grid, points: np.ndarray, margin_mm: float) -> np.ndarray:
    index = grid.physical_to_index(points)
    margin = margin_mm / np.asarray(grid.spacing)
    upper = np.asarray(grid.shape) - 1 - margin
    return np.all((index >= margin) & (index <= upper), axis=1)


__all__ = ["CONFLUENT", "REGIONS", "BrainScene", "brain_grid", "draw_count", "draw_volume"]
