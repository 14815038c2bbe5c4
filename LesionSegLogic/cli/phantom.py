"""``lesionseg phantom OUT --cases N --seed S [--anatomy brain|cord] [--longitudinal]`` — synthetic MS cases."""

from __future__ import annotations

import argparse
from pathlib import Path

from LesionSegLogic.anatomy import ANATOMIES
from LesionSegLogic.errors import InputError
from LesionSegLogic.phantom.presets import PRESETS
from LesionSegLogic.phantom.protocol import FIELD_STRENGTHS

#: memory of one case, checked before generating (issue 18: ``--spacing 0.001`` asked for petabytes): a fixed part
#: (the MNI maps and their resampling) and a part per output voxel. Measured peaks (tracemalloc, longitudinal): cord
#: 1 mm 57 B/voxel over 1.0 M voxels; brain 2 mm 295 MB over 1.1 M voxels, brain 1 mm 338 MB over 8.7 M voxels.
BASE_BYTES = 512 << 20
BYTES_PER_VOXEL = 64


def _triple(text: str) -> tuple[float, float, float]:
    parts = [p for p in text.replace("x", ",").split(",") if p]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 1 or 3 numbers (z,y,x), got {text!r}") from None
    if len(values) == 1:
        values = values * 3
    if len(values) != 3 or not all(v > 0 for v in values):
        raise argparse.ArgumentTypeError(f"expected 1 or 3 positive numbers (z,y,x), got {text!r}")
    return values


def _pair(text: str) -> tuple[float, float]:
    parts = [p for p in text.replace(":", ",").split(",") if p]
    try:
        values = tuple(float(p) for p in parts)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected 'LOW,HIGH', got {text!r}") from None
    if len(values) != 2 or values[0] > values[1]:
        raise argparse.ArgumentTypeError(f"expected 'LOW,HIGH' with LOW <= HIGH, got {text!r}")
    return values


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "phantom",
        help="generate synthetic MS cases (FLAIR, T2, exact lesion ground truth)",
        description="Write OUT/case_000/ ... with flair.nii.gz, t2.nii.gz, lesions.nii.gz and phantom.json "
        "(+ baseline_flair.nii.gz, baseline_lesions.nii.gz, new_lesions.nii.gz with --longitudinal). "
        "Case i uses a seed derived from (--seed, i). See docs/phantom.md.",
    )
    parser.add_argument("out", type=Path, help="output folder")
    parser.add_argument("--cases", type=int, default=1, help="number of cases (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="series seed (default 0)")
    parser.add_argument("--anatomy", choices=ANATOMIES, default=ANATOMIES[0])
    parser.add_argument("--longitudinal", action="store_true", help="baseline + follow-up with new lesions")
    parser.add_argument("--spacing", type=_triple, help="voxel size mm, 'S' or 'Z,Y,X' (array order)")
    parser.add_argument("--anisotropic", action="store_true", help="brain: 3 mm axial slices, 0.5 mm in plane")
    parser.add_argument("--fov", type=_triple, help="field of view mm 'Z,Y,X' around the ventricles (crop)")
    parser.add_argument("--lesions", type=int, dest="n_lesions", help="lesion count (default: drawn, mean 25)")
    parser.add_argument("--snr", type=float, help="signal-to-noise ratio (default: drawn in 20-40)")
    parser.add_argument("--no-noise", action="store_true", help="noise-free images")
    parser.add_argument("--bias", type=float, default=0.15, help="bias field amplitude (0 = none)")
    parser.add_argument("--field-strength", type=float, default=3.0, choices=FIELD_STRENGTHS,
                        help="tesla: 1.5 T or 3 T relaxation times and FLAIR CSF null (default 3)")
    parser.add_argument("--draw-protocol", action="store_true",
                        help="draw TR/TE/TI per case from the field strength's clinical ranges (else fixed)")
    parser.add_argument("--slice-thickness", type=float,
                        help="mm along the acquired slice axis (brain: axial z; cord: sagittal x); slice profile")
    parser.add_argument("--snr-range", type=_pair, help="'LOW,HIGH': draw the SNR per case in this range")
    parser.add_argument("--bias-range", type=_pair, help="'LOW,HIGH': draw the bias amplitude per image (0-1)")
    parser.add_argument("--confluent", type=float, default=0.0,
                        help="brain: share (0-1) of lesions drawn as confluent periventricular clusters")
    parser.add_argument("--preset", choices=sorted(PRESETS),
                        help="a named generator setting of the zoo (" + "; ".join(
                            f"{name}: {PRESETS[name].role}" for name in sorted(PRESETS)) + "); replaces the "
                        "acquisition options above, --fov/--lesions still apply (docs/phantom.md lists the values)")
    parser.add_argument("--first-case", type=int, default=0, help="index of the first case (to extend a series)")
    parser.add_argument("--dicom", action="store_true",
                        help="also write each case's images as DICOM series (flair_dicom/, t2_dicom/, one study)")
    parser.add_argument("--bids", action="store_true",
                        help="also lay OUT out as a BIDS dataset: sub-<NNN>/anat/sub-<NNN>_FLAIR/_T2w.nii.gz, the "
                             "ground truth in derivatives/phantom/ (case_* folders in .bidsignore)")
    parser.add_argument("--force", action="store_true", help="replace the files of existing case folders")
    return parser


def _claim_dicom_folders(cases: list[Path], force: bool) -> None:
    """DICOM series folders of earlier runs are refused, or removed with ``--force`` (they are phantom output)."""
    import shutil

    from LesionSegLogic.errors import OutputError
    from LesionSegLogic.io.dicom_write import CASE_SERIES

    for folder in (case / f"{name.split('.')[0]}_dicom" for case in cases for name in CASE_SERIES):
        if folder.exists() and not force:
            raise OutputError(f"{folder}: exists already (pass --force to replace it)")
        if folder.exists():
            shutil.rmtree(folder)


def check_grid_size(anatomy: str, options, maps) -> None:
    """Refuse, before generating, an output grid over the readers' voxel limit or the available memory."""
    import math

    from LesionSegLogic.io.header import MAX_VOXELS
    from LesionSegLogic.memory import check_memory
    from LesionSegLogic.phantom.brain import brain_grid
    from LesionSegLogic.phantom.cord import cord_grid

    grid = brain_grid(maps, options) if anatomy == "brain" else cord_grid(options)
    voxels = math.prod(grid.shape)
    size = "×".join(str(n) for n in grid.shape)
    spacing = "×".join(f"{s:g}" for s in grid.spacing)
    if voxels > MAX_VOXELS:
        raise InputError(f"a {anatomy} phantom at {spacing} mm would have {voxels:,} voxels ({size}); the limit is "
                         f"{MAX_VOXELS:,}: choose a larger --spacing or a smaller --fov")
    check_memory(BASE_BYTES + voxels * BYTES_PER_VOXEL, f"a {anatomy} phantom of {size} voxels at {spacing} mm")


def run(args: argparse.Namespace) -> int:
    import time

    from tqdm import tqdm

    from LesionSegLogic.io.write_policy import claim_outputs, terminate_as_exit
    from LesionSegLogic.phantom.options import PhantomOptions  # validated before the heavy imports

    if args.cases < 1:
        raise InputError(f"--cases must be at least 1, got {args.cases}")
    if args.snr is not None and args.snr <= 0:
        raise InputError(f"--snr must be positive, got {args.snr}")
    options = PhantomOptions(
        spacing=args.spacing,
        anisotropic=args.anisotropic,
        fov_mm=args.fov,
        n_lesions=args.n_lesions,
        snr=args.snr,
        noise=not args.no_noise,
        bias=args.bias,
        field_strength=args.field_strength,
        draw_protocol=args.draw_protocol,
        slice_thickness=args.slice_thickness,
        snr_range=args.snr_range,
        bias_range=args.bias_range,
        confluent=args.confluent,
    )
    if args.confluent and args.anatomy != "brain":
        raise InputError("--confluent is a brain option (the cord has no ventricles)")

    def case_options(index: int) -> PhantomOptions:
        if args.preset is None:
            return options
        chosen = {k: v for k, v in (("fov_mm", args.fov), ("n_lesions", args.n_lesions)) if v is not None}
        return PRESETS[args.preset].options(args.anatomy, index, **chosen)

    from LesionSegLogic.phantom import case_seed, generate_case, load_brain_maps, write_case
    from LesionSegLogic.phantom.case import case_files

    indices = range(args.first_case, args.first_case + args.cases)
    names = case_files(args.longitudinal)
    claim_outputs([args.out / f"case_{i:03d}" / n for i in indices for n in names], force=args.force)
    if args.bids and args.longitudinal:
        raise InputError("--bids lays out cross-sectional cases only (leave out --longitudinal)")
    if args.dicom:
        _claim_dicom_folders([args.out / f"case_{i:03d}" for i in indices], args.force)
    if args.bids:
        from LesionSegLogic.bids import case_bids_targets

        claim_outputs([t for i in indices for t in case_bids_targets(args.out, f"{i:03d}").values()],
                      force=args.force)
    maps = load_brain_maps() if args.anatomy == "brain" else None
    for index in indices if args.preset else indices[:1]:
        check_grid_size(args.anatomy, case_options(index), maps)
    start = time.perf_counter()
    with terminate_as_exit():
        for index in tqdm(indices, desc="phantom", unit="case"):
            seed = case_seed(args.seed, index)
            case = generate_case(seed, anatomy=args.anatomy, longitudinal=args.longitudinal,
                                 options=case_options(index), maps=maps)
            folder = write_case(case, args.out / f"case_{index:03d}")
            if args.dicom:
                from LesionSegLogic.io.dicom_write import write_case_dicom

                write_case_dicom(folder)
            if args.bids:
                from LesionSegLogic.bids import write_case_as_bids

                write_case_as_bids(folder, args.out, f"{index:03d}", ignore=["case_*/"])
            tqdm.write(f"{folder}: {len(case.records)} lesions, SNR {case.snr:.1f}, grid {case.flair.shape}")
    print(f"wrote {args.cases} case(s) to {args.out} in {time.perf_counter() - start:.1f} s")
    return 0
