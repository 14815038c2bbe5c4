"""``lesionseg montage CASE_DIR OUT.png`` — axial/sagittal FLAIR and T2 with the ground-truth contour."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "montage",
        help="PNG montage of a case folder (FLAIR, T2, ground-truth contour)",
        description="Read CASE_DIR/flair.nii.gz, t2.nii.gz and lesions.nii.gz (new_lesions.nii.gz for a "
        "longitudinal case) and write an axial + sagittal montage through the lesion load.",
    )
    parser.add_argument("case_dir", type=Path, help="case folder (e.g. written by `lesionseg phantom`)")
    parser.add_argument("out", type=Path, help="PNG file to write (never one of the case's images)")
    parser.add_argument("--force", action="store_true", help="replace an existing OUT")
    return parser


def run(args: argparse.Namespace) -> int:
    from LesionSegLogic.io.write_policy import claim_outputs, refuse_image_extension
    from LesionSegLogic.montage import case_inputs, montage_case

    refuse_image_extension(args.out, "montage (PNG)")
    claim_outputs([args.out], inputs=case_inputs(args.case_dir), force=args.force)
    print(montage_case(args.case_dir, args.out))
    return 0
