"""Options of a phantom case (one dataclass shared by the Python API and the CLI)."""

from __future__ import annotations

from dataclasses import dataclass

#: the most lesions a case may ask for. Each lesion costs up to 30 placement attempts (a rasterisation and an
#: overlap test each) and a term in every rendered image; a brain has room for a few hundred separate lesions at
#: most, so larger counts only make the generator run for hours (``--lesions 100000``: days) without placing them.
MAX_LESIONS = 500

#: Brain ``anisotropic`` preset: 3 mm axial slices, 0.5 × 0.5 mm in plane (array order z, y, x).
BRAIN_ANISOTROPIC_SPACING = (3.0, 0.5, 0.5)
#: Cord default: sagittal slices (x, left–right) of 2.8 mm, 0.6 × 0.6 mm in plane (seed 000's data:
#: 0.58 × 0.58 × 2.81 mm), array order (z, y, x).
CORD_SPACING = (0.6, 0.6, 2.8)


@dataclass(frozen=True)
class PhantomOptions:
    """What to simulate. ``None`` means "draw it from the seed" (or the anatomy's default).

    * ``spacing``: output voxel size, array order (z, y, x) mm. Brain default 1 mm isotropic (the MNI grid);
      cord default :data:`CORD_SPACING`.
    * ``anisotropic``: brain only — :data:`BRAIN_ANISOTROPIC_SPACING` with a slice profile along z.
    * ``slice_axis``: array axis acquired as thick slices with a slice profile (default: the axis with the
      largest spacing when it is > 1.5× the smallest, else none).
    * ``fov_mm``: field of view (z, y, x) mm, centred on ``centre_lps`` — small crops for tests. Brain default:
      the whole MNI box; the default centre is the lateral ventricles.
    * ``n_lesions``: lesion count (default: negative binomial, mean 25, clipped to 0–60; cord: 0–6).
    * ``snr``: mean reference-tissue signal / noise σ (default uniform 20–40); ``noise=False`` switches noise off.
    * ``bias``: bias-field amplitude (log scale, ≈ relative ±); 0 switches it off.
    * ``n_new``: longitudinal — new lesions at follow-up (default 1–5); ``n_enlarging`` (default 0–3).
    * ``max_shift_mm``: longitudinal — largest rigid translation between the sessions per axis.
    """

    spacing: tuple[float, float, float] | None = None
    anisotropic: bool = False
    slice_axis: int | None = None
    fov_mm: tuple[float, float, float] | None = None
    centre_lps: tuple[float, float, float] | None = None
    n_lesions: int | None = None
    snr: float | None = None
    noise: bool = True
    bias: float = 0.15
    n_new: int | None = None
    n_enlarging: int | None = None
    max_shift_mm: float = 2.0

    def __post_init__(self) -> None:
        from LesionSegLogic.errors import ConfigError

        if self.n_lesions is not None and not 0 <= self.n_lesions <= MAX_LESIONS:
            raise ConfigError(
                f"lesion count must lie in [0, {MAX_LESIONS}], got {self.n_lesions}: each lesion costs up to 30 "
                f"placement attempts and a brain has room for a few hundred separate lesions at most"
            )

    def resolved_slice_axis(self, spacing: tuple[float, float, float]) -> int | None:
        if self.slice_axis is not None:
            return self.slice_axis
        largest = max(range(3), key=lambda a: spacing[a])
        return largest if spacing[largest] > 1.5 * min(spacing) else None
