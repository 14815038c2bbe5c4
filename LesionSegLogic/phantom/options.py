"""Options of a phantom case (one dataclass shared by the Python API and the CLI)."""

from __future__ import annotations

from dataclasses import dataclass

#: the most lesions a case may ask for. Each lesion costs up to 30 placement attempts (a rasterisation and an
#: overlap test each) and a term in every rendered image; a brain has room for a few hundred separate lesions at
#: most, so larger counts only make the generator run for hours (``--lesions 100000``: days) without placing them.
MAX_LESIONS = 500

#: Brain ``anisotropic`` preset: 3 mm axial slices, 0.5 × 0.5 mm in plane (array order z, y, x).
BRAIN_ANISOTROPIC_SPACING = (3.0, 0.5, 0.5)
#: Cord default: sagittal slices (x, left–right) of 2.8 mm, 0.6 × 0.6 mm in plane (Hussein et al. 2023's data:
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
    * ``field_strength``: 1.5 or 3 T (:data:`~.protocol.FIELD_STRENGTHS`): tissue relaxation times and the CSF null
      of the FLAIR follow the field (:mod:`.protocol`).
    * ``draw_protocol``: draw TR/TE/TI per case from the field strength's clinical ranges (else fixed sequences).
    * ``slice_thickness``: mm along the acquired slice axis (brain: z, axial; cord: x, sagittal), replacing that
      axis' spacing; with the in-plane spacing it sets e.g. 0.9×0.9×5 mm, a slice profile is applied.
    * ``snr_range``: (low, high) the SNR is drawn from when ``snr`` is None (default 20–40).
    * ``bias_range``: (low, high) the bias amplitude is drawn from per image (replaces ``bias``).
    * ``confluent``: brain only — share (0–1) of the lesions drawn as confluent periventricular clusters (several
      merged lobes along the ventricle wall, 0.3–4 cm³, touching the ventricles).
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
    field_strength: float = 3.0
    draw_protocol: bool = False
    slice_thickness: float | None = None
    snr_range: tuple[float, float] | None = None
    bias_range: tuple[float, float] | None = None
    confluent: float = 0.0

    def __post_init__(self) -> None:
        from LesionSegLogic.errors import ConfigError
        from LesionSegLogic.phantom.protocol import FIELD_STRENGTHS

        if self.field_strength not in FIELD_STRENGTHS:
            raise ConfigError(f"field_strength must be one of {', '.join(f'{f:g}' for f in FIELD_STRENGTHS)} T, "
                              f"got {self.field_strength!r}")
        if self.slice_thickness is not None and not 0.1 <= self.slice_thickness <= 10.0:
            raise ConfigError(f"slice_thickness must lie in [0.1, 10] mm, got {self.slice_thickness!r}")
        for name, bounds, low in (("snr_range", self.snr_range, 1e-3), ("bias_range", self.bias_range, 0.0)):
            if bounds is not None and (len(bounds) != 2 or not low <= bounds[0] <= bounds[1] or bounds[1] > 1e4):
                raise ConfigError(f"{name} must be two numbers low <= high (low >= {low:g}), got {bounds!r}")
        if self.bias_range is not None and self.bias_range[1] > 1.0:
            raise ConfigError(f"bias_range must lie in [0, 1] (relative field amplitude), got {self.bias_range!r}")
        if not 0.0 <= self.confluent <= 1.0:
            raise ConfigError(f"confluent must be a share in [0, 1], got {self.confluent!r}")

        if self.n_lesions is not None and not 0 <= self.n_lesions <= MAX_LESIONS:
            raise ConfigError(
                f"lesion count must lie in [0, {MAX_LESIONS}], got {self.n_lesions}: each lesion costs up to 30 "
                f"placement attempts and a brain has room for a few hundred separate lesions at most"
            )

    def with_thickness(self, spacing: tuple[float, float, float], slice_axis: int) -> tuple[float, float, float]:
        """``spacing`` with ``slice_thickness`` (if set) on ``slice_axis`` (the anatomy's acquired slice axis)."""
        if self.slice_thickness is None:
            return spacing
        out = list(spacing)
        out[slice_axis] = float(self.slice_thickness)
        return (out[0], out[1], out[2])

    def resolved_slice_axis(self, spacing: tuple[float, float, float], acquired: int | None = None) -> int | None:
        """``slice_axis``; else ``acquired`` (the anatomy's slice axis) when ``slice_thickness`` is set; else the
        axis of the largest spacing when it is > 1.5× the smallest."""
        if self.slice_axis is not None:
            return self.slice_axis
        if self.slice_thickness is not None and acquired is not None:
            return acquired
        largest = max(range(3), key=lambda a: spacing[a])
        return largest if spacing[largest] > 1.5 * min(spacing) else None
