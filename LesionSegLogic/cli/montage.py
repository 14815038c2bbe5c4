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
    parser.add_argument("out", type=Path, help="PNG file to write")
    return parser


def run(args: argparse.Namespace) -> int:
    from LesionSegLogic.montage import montage_case

    print(montage_case(args.case_dir, args.out))
    return 0
