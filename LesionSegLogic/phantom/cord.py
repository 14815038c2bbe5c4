"""Spinal-cord phantom (Hussein et al. 2023's setting): a cervical/upper-thoracic cord in CSF, vertebrae, discs and soft
tissue, T2-weighted, on a sagittal anisotropic grid (0.6 × 0.6 mm in plane, 2.8 mm slices left–right).

Geometry (LPS mm, superior = +z): the cord centre line runs at x = 0, ``y_c(z) = 6 sin(π (z − z_top) / 240)``
(cervical lordosis, anterior = −y). Cord cross-section: ellipse with semi-axes 6.5 mm (LR, +1.5 mm at the
cervical enlargement) × 4 mm (AP), grey matter as an "H" (two horns + commissure); CSF (thecal sac) ellipse
9 × 7 mm; vertebral bodies anterior to the canal (20 × 16 mm, one per segment of :data:`SEGMENT_MM`) separated by
5 mm discs; laminae/spinous processes behind the canal; paraspinal muscle around, subcutaneous fat behind.

Lesions (Kearney et al., Nat Rev Neurol 11:327 (2015); Weier et al. 2012): cigar-shaped, long axis along the
cord, shorter than two vertebral segments, covering less than half of the cord cross-section (radii capped at
40 % of the area), mostly dorsal (posterior columns) or lateral; confined to the cord. Count 0–6 (Poisson,
mean 2.5). ``flair.nii.gz`` holds a copy of the T2-w image: spinal-cord protocols acquire T2-w (FLAIR has poor
cord contrast) and the CLI contract needs the file — documented in ``phantom.json["contrasts"]``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from LesionSegLogic.phantom.grid import Grid, grid_psf
from LesionSegLogic.phantom.lesions import Allowed, LesionShape, random_rotation
from LesionSegLogic.phantom.options import CORD_SPACING, PhantomOptions
from LesionSegLogic.phantom.signal import (
    BACKGROUND,
    CORD_GM,
    CORD_WM,
    CSF,
    DISC,
    FAT,
    MARROW,
    MUSCLE,
    SpinEcho,
    Tissue,
)

REGIONS = ("dorsal", "lateral", "ventral", "central")
REGION_PROBABILITY = np.array([0.45, 0.35, 0.08, 0.12])
#: Vertebral segment length (mm), disc thickness (mm).
SEGMENT_MM = 18.0
DISC_MM = 5.0
#: Labels of the anatomy, in order.
TISSUES: tuple[Tissue, ...] = (BACKGROUND, MUSCLE, FAT, MARROW, DISC, CSF, CORD_WM, CORD_GM)
DEFAULT_FOV = (240.0, 96.0, 44.8)  # z (SI), y (AP), x (LR) mm
#: The array axis the cord's sagittal slices are stacked along (x, left–right).
SAGITTAL_SLICE_AXIS = 2
MAX_AREA_FRACTION = 0.4


def centre_line(z: np.ndarray) -> np.ndarray:
    """AP position (LPS y, mm) of the cord centre at height ``z``."""
    return 6.0 * np.sin(np.pi * (z + 10.0) / 240.0)


def cord_radii(z: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(LR, AP) semi-axes (mm) of the cord at height ``z`` (cervical enlargement around z = −60)."""
    lr = 6.5 + 1.5 * np.exp(-(((z + 60.0) / 25.0) ** 2))
    return lr, np.full_like(lr, 4.0)


def labels(points: np.ndarray) -> np.ndarray:
    """Tissue label (index into :data:`TISSUES`) at LPS points (N, 3)."""
    x, y, z = points[:, 0], points[:, 1], points[:, 2]
    dy = y - centre_line(z)
    a, b = cord_radii(z)
    out = np.ones(x.shape, np.uint8)  # muscle
    out[(dy > 28.0) | ((x / 45.0) ** 2 + ((dy + 5) / 45.0) ** 2 > 1)] = 2  # fat behind / outside
    phase = np.mod(z, SEGMENT_MM)
    body = (np.abs(x) < 10.0) & (dy < -9.0) & (dy > -25.0)
    out[body & (phase >= DISC_MM)] = 3
    out[body & (phase < DISC_MM)] = 4
    lamina = (np.abs(x) < 9.0) & (dy > 8.5) & (dy < 12.0 + 10.0 * (np.abs(x) < 2.5)) & (phase > 7.0)
    out[lamina] = 3
    out[(x / 9.0) ** 2 + (dy / 7.0) ** 2 <= 1.0] = 5
    u, v = x / a, dy / b
    cord = u**2 + v**2 <= 1.0
    out[cord] = 6
    horns = (np.abs(u) > 0.15) & (np.abs(u) < 0.45) & (np.abs(v) < 0.75)
    commissure = (np.abs(u) < 0.45) & (np.abs(v) < 0.15)
    gm = cord & (horns | commissure)
    out[gm] = 7
    return out


def cord_grid(options: PhantomOptions) -> Grid:
    spacing = options.with_thickness(tuple(float(s) for s in (options.spacing or CORD_SPACING)), SAGITTAL_SLICE_AXIS)  # type: ignore[arg-type]  # three axes
    fov = options.fov_mm or DEFAULT_FOV
    centre = np.asarray(options.centre_lps if options.centre_lps is not None else (0.0, 0.0, -120.0), float)
    shape = tuple(max(1, int(round(f / s))) for f, s in zip(fov, spacing, strict=True))
    first_zyx = -np.array([(n - 1) * s / 2 for n, s in zip(shape, spacing, strict=True)])
    origin = centre + first_zyx[::-1]
    return Grid(shape, spacing, tuple(origin), np.eye(3), options.resolved_slice_axis(spacing, SAGITTAL_SLICE_AXIS))  # type: ignore[arg-type]  # three axes


@dataclass(frozen=True)
class CordScene:
    """The cord anatomy on its output grid (the Scene interface of :mod:`.generate`)."""

    grid: Grid
    anatomy = "cord"
    reference = CORD_WM
    flair_sequence = SpinEcho(tr=4000.0, te=100.0)
    t2_sequence = SpinEcho(tr=4000.0, te=100.0)
    flair_is_t2 = True

    @classmethod
    def build(cls, options: PhantomOptions) -> CordScene:
        return cls(cord_grid(options))

    def fractions(self, shift: np.ndarray) -> dict[Tissue, np.ndarray]:
        """PSF-weighted tissue fractions on the output grid (quadrature ≈ 0.6 mm), object moved by ``shift``."""
        grid = self.grid
        psf = grid_psf(grid, 0.6)
        matrix = grid.direction @ np.diag(grid.spacing[::-1])
        steps = [matrix[:, 2 - a] for a in range(3)]
        subs = [np.arange(grid.shape[a])[:, None] + psf[a][0][None, :] / grid.spacing[a] for a in range(3)]
        ky, kx = psf[1][1].size, psf[2][1].size
        ny, nx = grid.shape[1], grid.shape[2]
        plane = (subs[1].reshape(-1, 1, 1) * steps[1] + subs[2].reshape(1, -1, 1) * steps[2]).reshape(-1, 3)
        plane = plane + np.asarray(grid.origin) - np.asarray(shift, float)
        weights_yx = np.outer(psf[1][1], psf[2][1])  # (ky, kx)
        out = np.zeros((len(TISSUES), *grid.shape), np.float32)
        for zi in range(grid.shape[0]):
            for u, wz in zip(subs[0][zi], psf[0][1], strict=True):
                lab = labels(plane + u * steps[0]).reshape(ny, ky, nx, kx)
                for t in np.unique(lab):
                    hit = (lab == t).astype(np.float32)
                    out[t, zi] += wz * np.einsum("akbl,kl->ab", hit, weights_yx)
        return {tissue: out[i] for i, tissue in enumerate(TISSUES) if tissue is not BACKGROUND}

    def draw_region(self, rng: np.random.Generator) -> str:
        return str(REGIONS[rng.choice(len(REGIONS), p=REGION_PROBABILITY)])

    def draw_count(self, rng: np.random.Generator, options: PhantomOptions) -> int:
        if options.n_lesions is not None:
            return int(options.n_lesions)
        return int(min(6, rng.poisson(2.5)))

    def draw_shape(self, rng: np.random.Generator, region: str) -> LesionShape | None:
        lo = self.grid.index_to_physical(np.zeros(3))[0]
        hi = self.grid.index_to_physical(np.asarray(self.grid.shape, float) - 1)[0]
        z_lo, z_hi = sorted((lo[2], hi[2]))
        z = rng.uniform(z_lo + 20.0, z_hi - 20.0)
        a_arr, b_arr = cord_radii(np.array([z]))
        a, b = float(a_arr[0]), float(b_arr[0])
        if region == "dorsal":
            u, v = rng.uniform(-0.3, 0.3), rng.uniform(0.3, 0.6)
        elif region == "lateral":
            u, v = rng.choice([-1.0, 1.0]) * rng.uniform(0.35, 0.6), rng.uniform(-0.3, 0.3)
        elif region == "ventral":
            u, v = rng.uniform(-0.3, 0.3), rng.uniform(-0.6, -0.3)
        else:
            u, v = rng.uniform(-0.2, 0.2), rng.uniform(-0.2, 0.2)
        centre = np.array([u * a, centre_line(np.array([z]))[0] + v * b, z])
        # cross-section radii: area ≤ MAX_AREA_FRACTION of the cord's; length < 2 segments
        r_max = float(np.sqrt(MAX_AREA_FRACTION * a * b))
        radius = rng.uniform(0.9, min(r_max, 3.0))
        flat = rng.uniform(0.7, 1.0)
        half_length = rng.uniform(2.0 * radius, min(6.0 * radius, 0.8 * SEGMENT_MM))
        axis = np.array([0.0, rng.normal(0, 0.05), 1.0])
        rotation = random_rotation(rng, axis)
        k = 4
        waves = rng.normal(size=(k, 3)) * 2.0
        amplitudes = rng.uniform(0.2, 1.0, size=k)
        return LesionShape(
            centre=centre,
            rotation=rotation,
            scale=radius,
            offsets=np.zeros((1, 3)),
            radii=np.array([[half_length / radius, 1.0, flat]]),
            waves=waves,
            phases=rng.uniform(0, 2 * np.pi, size=k),
            amplitudes=amplitudes / amplitudes.sum(),
            roughness=0.1,
        )

    def allowed(self, region: str, shift: np.ndarray) -> Allowed:
        def inside_cord(points: np.ndarray) -> np.ndarray:
            lab = labels(points - np.asarray(shift, float))
            return (lab == 6) | (lab == 7)

        return inside_cord
