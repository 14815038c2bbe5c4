"""``generate_case``: one deterministic phantom case (brain or cord, single session or longitudinal pair).

Everything random comes from ``numpy.random.default_rng(seed)``, passed down; no global RNG is touched.

Longitudinal pairs (Kamraoui et al. 2021/Perera et al. 2025's setting, MSSEG-2): the baseline lesions are placed
first (each must also fit
on the follow-up grid); the first ``n_enlarging`` of them grow at follow-up (volume × 1.5–3, same centre), the
rest are stable; then ``n_new`` new lesions are placed at follow-up only. The head moves by a random rigid
translation of up to ``max_shift_mm`` per axis between the sessions, both sessions are acquired on the same
grid, and each gets fresh noise and bias. ``new_lesions`` is the ground truth of the new lesions on the
follow-up grid (enlarging lesions are not in it — the MSSEG-2 convention — but are flagged in the JSON).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any, Protocol

import numpy as np

from LesionSegLogic.anatomy import ANATOMIES
from LesionSegLogic.errors import ConfigError
from LesionSegLogic.phantom.case import LesionRecord, PhantomCase, measure_records
from LesionSegLogic.phantom.grid import Grid
from LesionSegLogic.phantom.lesions import Allowed, LesionShape, rasterize
from LesionSegLogic.phantom.options import PhantomOptions
from LesionSegLogic.phantom.placement import Placer, draw_lesion_tissue
from LesionSegLogic.phantom.protocol import ScanProtocol, resolve_protocol, tissue_at
from LesionSegLogic.phantom.render import synthesize
from LesionSegLogic.phantom.signal import Flair, SpinEcho, Tissue


class Scene(Protocol):
    """What an anatomy provides to the generator (implemented by ``BrainScene`` and ``CordScene``)."""

    anatomy: str
    grid: Grid
    reference: Tissue
    flair_sequence: Flair | SpinEcho
    t2_sequence: SpinEcho
    flair_is_t2: bool

    def fractions(self, shift: np.ndarray) -> dict[Tissue, np.ndarray]: ...
    def draw_region(self, rng: np.random.Generator) -> str: ...
    def draw_count(self, rng: np.random.Generator, options: PhantomOptions) -> int: ...
    def draw_shape(self, rng: np.random.Generator, region: str) -> LesionShape | None: ...
    def allowed(self, region: str, shift: np.ndarray) -> Allowed: ...


def case_seed(seed: int, index: int) -> int:
    """The seed of case ``index`` of a series started with ``seed`` (deterministic, well mixed)."""
    return int(np.random.SeedSequence([int(seed), int(index)]).generate_state(1, dtype=np.uint32)[0])


def build_scene(anatomy: str, options: PhantomOptions, maps: Any = None) -> Scene:
    """The scene of ``anatomy``; ``maps`` (brain only) reuses already loaded MNI maps."""
    if anatomy == "brain":
        from LesionSegLogic.phantom.anatomy import load_brain_maps
        from LesionSegLogic.phantom.brain import BrainScene, brain_grid

        maps = maps if maps is not None else load_brain_maps()
        return BrainScene.build(maps, brain_grid(maps, options), confluent=options.confluent)  # type: ignore[return-value]  # BrainScene implements the Scene protocol
    if anatomy == "cord":
        from LesionSegLogic.phantom.cord import CordScene

        if options.confluent > 0:
            raise ConfigError("confluent periventricular lesions are a brain option (the cord has no ventricles)")
        return CordScene.build(options)  # type: ignore[return-value]  # CordScene implements the Scene protocol
    raise ConfigError(f"unknown anatomy {anatomy!r}; expected one of {', '.join(ANATOMIES)}")


def generate_case(
    seed: int,
    *,
    anatomy: str = "brain",
    longitudinal: bool = False,
    options: PhantomOptions | None = None,
    maps: Any = None,
    **overrides: Any,
) -> PhantomCase:
    """Generate one case. ``options`` (or keyword ``overrides`` of :class:`PhantomOptions` fields, e.g.
    ``spacing=(2, 2, 2)``, ``fov_mm=(40, 60, 60)``, ``n_lesions=10``, ``snr=30``) choose what to simulate;
    ``maps`` passes preloaded :class:`~LesionSegLogic.phantom.anatomy.BrainMaps` (saves ≈ 3 s per case)."""
    options = replace(options or PhantomOptions(), **overrides)
    rng = np.random.default_rng(int(seed))
    # the protocol and the bias amplitudes come from a second stream, so switching these options on leaves every
    # other draw of the case (lesions, noise) as it was
    acquisition_rng = np.random.default_rng([int(seed), 1])
    scene = build_scene(anatomy, options, maps)
    protocol = resolve_protocol(anatomy, scene.flair_sequence, scene.t2_sequence, options.field_strength,
                                options.draw_protocol, acquisition_rng)
    snr = _draw_snr(rng, options)
    count = scene.draw_count(rng, options)
    zero = np.zeros(3)
    if not longitudinal:
        placer = Placer(scene.grid)
        _place(rng, scene, count, [(placer, zero, 1.0)], status="")
        flair, t2 = _render(rng, acquisition_rng, scene, protocol, placer, zero, snr, options)
        return _assemble(seed, scene, protocol, options, snr, placer, flair, t2, {})
    shift = rng.uniform(-options.max_shift_mm, options.max_shift_mm, 3)
    n_enlarging = options.n_enlarging if options.n_enlarging is not None else int(rng.integers(0, 4))
    n_new = options.n_new if options.n_new is not None else int(rng.integers(1, 6))
    base, follow = Placer(scene.grid), Placer(scene.grid)
    for k in range(count):
        grow = float(rng.uniform(1.5, 3.0) ** (1 / 3)) if k < n_enlarging else 1.0
        _place(rng, scene, 1, [(base, zero, 1.0), (follow, shift, grow)], status="enlarging" if grow > 1 else "stable")
    _place(rng, scene, n_new, [(follow, shift, 1.0)], status="new")
    base_flair, _ = _render(rng, acquisition_rng, scene, protocol, base, zero, snr, options, t2=False)
    snr_follow = _draw_snr(rng, options)
    flair, t2 = _render(rng, acquisition_rng, scene, protocol, follow, shift, snr_follow, options)
    baseline_volume = {lesion.id: float(lesion.raster.truth.sum()) * scene.grid.voxel_volume for lesion in base.lesions}
    new_mask = np.zeros(scene.grid.shape, np.uint8)
    for lesion in follow.lesions:
        if lesion.status == "new":
            new_mask[lesion.raster.box][lesion.raster.truth] = 1
    extra = {
        "baseline_flair": scene.grid.image(base_flair),
        "baseline_lesions": scene.grid.image(base.truth()),
        "new_lesions": scene.grid.image(new_mask),
        "longitudinal": {
            "shift_lps_mm": [round(float(s), 4) for s in shift],
            "baseline_snr": round(snr, 3),
            "n_new": sum(lesion.status == "new" for lesion in follow.lesions),
            "n_enlarging": sum(lesion.status == "enlarging" for lesion in follow.lesions),
            "n_stable": sum(lesion.status == "stable" for lesion in follow.lesions),
            "new_lesions_rule": "new lesions only (enlarging lesions are flagged in 'lesions', not in new_lesions)",
        },
        "baseline_volume": baseline_volume,
    }
    return _assemble(seed, scene, protocol, options, snr_follow, follow, flair, t2, extra)


#: the SNR range drawn from when neither ``snr`` nor ``snr_range`` is given
DEFAULT_SNR_RANGE = (20.0, 40.0)


def _draw_snr(rng: np.random.Generator, options: PhantomOptions) -> float:
    if options.snr is not None:
        return float(options.snr)
    return float(rng.uniform(*(options.snr_range or DEFAULT_SNR_RANGE)))


def _place(
    rng: np.random.Generator,
    scene: Scene,
    count: int,
    frames: list[tuple[Placer, np.ndarray, float]],
    *,
    status: str,
    max_attempts: int | None = None,
) -> int:
    """Place ``count`` lesions that fit on every frame ``(placer, shift, growth)``; returns how many fit."""
    placed = 0
    attempts = 0
    limit = max_attempts if max_attempts is not None else 30 * count + 20
    while placed < count and attempts < limit:
        attempts += 1
        region = scene.draw_region(rng)
        shape = scene.draw_shape(rng, region)
        if shape is None:
            continue
        tissue = draw_lesion_tissue(rng)
        rasters = []
        for placer, shift, growth in frames:
            moved = (shape.scaled(growth) if growth != 1.0 else shape).translated(shift)
            raster = rasterize(moved, placer.grid, allowed=scene.allowed(region, shift))
            if raster is None or not placer.fits(raster):
                break
            rasters.append(raster)
        else:
            lesion_id = max((len(p.lesions) for p, _, _ in frames), default=0) + 1
            lesion_id = max([lesion_id] + [max((x.id for x in p.lesions), default=0) + 1 for p, _, _ in frames])
            for (placer, _, growth), raster in zip(frames, rasters, strict=True):
                grown = shape.scaled(growth) if growth != 1.0 else shape
                placer.try_add(raster, grown, region, tissue, status=status, lesion_id=lesion_id)
            placed += 1
    return placed


def _render(
    rng: np.random.Generator,
    acquisition_rng: np.random.Generator,
    scene: Scene,
    protocol: ScanProtocol,
    placer: Placer,
    shift: np.ndarray,
    snr: float,
    options: PhantomOptions,
    *,
    t2: bool = True,
) -> tuple[np.ndarray, np.ndarray | None]:
    field = protocol.field_strength
    fractions = {tissue_at(tissue, field): f for tissue, f in scene.fractions(shift).items()}
    lesions = [(lesion.raster, replace(lesion.tissue, tissue=tissue_at(lesion.tissue.tissue, field)))
               for lesion in placer.lesions]
    reference = tissue_at(scene.reference, field)

    def bias() -> float:
        if options.bias_range is None:
            return options.bias
        return float(acquisition_rng.uniform(*options.bias_range))

    t2_image = None
    if t2 or scene.flair_is_t2:
        t2_image = synthesize(fractions, lesions, protocol.t2, reference, rng, snr=snr, noise=options.noise,
                              bias=bias())
    if scene.flair_is_t2:
        return (t2_image.copy() if t2_image is not None else None), t2_image  # type: ignore[return-value]
    flair = synthesize(fractions, lesions, protocol.flair, reference, rng, snr=snr, noise=options.noise, bias=bias())
    return flair, t2_image


def _sequence_json(sequence: Flair | SpinEcho) -> dict[str, Any]:
    if isinstance(sequence, Flair):
        return {"sequence": "inversion recovery spin echo (FLAIR, CSF nulled), magnitude", "tr_ms": sequence.tr,
                "te_ms": sequence.te, "ti_ms": round(sequence.inversion_time, 1)}
    return {"sequence": "spin echo (T2-weighted)", "tr_ms": sequence.tr, "te_ms": sequence.te}


def _assemble(
    seed: int,
    scene: Scene,
    protocol: ScanProtocol,
    options: PhantomOptions,
    snr: float,
    placer: Placer,
    flair: np.ndarray,
    t2: np.ndarray | None,
    extra: dict[str, Any],
) -> PhantomCase:
    grid = scene.grid
    labels = grid.image(placer.truth_labels())
    baseline_volume = extra.pop("baseline_volume", {})
    info = {
        lesion.id: {
            "region": lesion.region,
            "status": lesion.status if "longitudinal" in extra else "",
            "baseline_volume_mm3": baseline_volume.get(lesion.id),
            "t1": lesion.tissue.tissue.t1,
            "t2": lesion.tissue.tissue.t2,
            "pd": lesion.tissue.tissue.pd,
        }
        for lesion in placer.lesions
    }
    fractions = {lesion.id: (lesion.raster.box, lesion.raster.fraction) for lesion in placer.lesions}
    records: tuple[LesionRecord, ...] = measure_records(labels, fractions, info)  # type: ignore[arg-type]  # three slices per lesion box
    metadata: dict[str, Any] = {
        "acquisition": {
            "field_strength_t": protocol.field_strength,
            "flair": _sequence_json(protocol.t2 if scene.flair_is_t2 else protocol.flair),
            "t2": _sequence_json(protocol.t2),
            "slice_axis": grid.slice_axis,
            "psf": "box in plane; slice profile (box ⊗ Gaussian, FWHM 0.3·thickness) on the slice axis",
            "noise": "rician" if options.noise else "none",
            "bias_amplitude": options.bias if options.bias_range is None else list(options.bias_range),
            "intensity_scale": "reference tissue (WM / cord) = 400 before bias and noise; int16",
        },
        "ground_truth": "lesion fraction >= 0.5 on the output grid (PSF-weighted)",
        "contrasts": {
            "flair.nii.gz": "T2-weighted (a copy of t2.nii.gz: spinal-cord protocols use T2-w, Hussein et al. 2023)"
            if scene.flair_is_t2 else "FLAIR",
            "t2.nii.gz": "T2-weighted spin echo",
        },
        **{k: v for k, v in extra.items() if k == "longitudinal"},
    }
    images = {k: v for k, v in extra.items() if k in ("baseline_flair", "baseline_lesions", "new_lesions")}
    return PhantomCase(
        seed=int(seed),
        anatomy=scene.anatomy,
        flair=grid.image(flair),
        t2=grid.image(t2 if t2 is not None else flair),
        lesions=grid.image(placer.truth()),
        lesion_labels=labels,
        records=records,
        snr=snr,
        metadata=metadata,
        **images,
    )
