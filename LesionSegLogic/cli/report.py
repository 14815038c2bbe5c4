"""``lesionseg report REVIEW_DIR [--out FILE]`` — the HTML report of a saved review (no Slicer needed)."""

from __future__ import annotations

import argparse
from pathlib import Path

#: the report's file name inside the review folder when ``--out`` is not given
DEFAULT_NAME = "report.html"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from LesionSegLogic.report.saved import REGION_CHOICES

    parser = subparsers.add_parser(
        "report",
        help="self-contained HTML report of a saved review folder",
        description="Read REVIEW_DIR/review.json (saved by the web app or the Slicer panel), check that every file "
        "it names is unchanged (sha256), and write one offline HTML file: summary metrics, lesion load and "
        "region counts, key slices, the TP/FP/FN picture, the threshold curve, the lesion table with the "
        "reader's notes, and the provenance (input files and hashes, model, threshold, rule, version, time).",
    )
    parser.add_argument("review_dir", type=Path, help="a saved review folder (holding review.json)")
    parser.add_argument("--out", type=Path, default=None,
                        help=f"HTML file to write (default: REVIEW_DIR/{DEFAULT_NAME})")
    parser.add_argument("--regions", choices=REGION_CHOICES, default="auto",
                        help="lesion regions: auto (phantom cases and spinal cord only), yes (also register a brain "
                        "scan to MNI space, about a minute), no")
    parser.add_argument("--force", action="store_true", help="replace an existing report")
    return parser


def run(args: argparse.Namespace) -> int:
    from LesionSegLogic.io.write_policy import claim_outputs
    from LesionSegLogic.report import write_report
    from LesionSegLogic.report.saved import report_from_saved
    from LesionSegLogic.review_file import read_review

    out = args.out or args.review_dir / DEFAULT_NAME
    inputs = [saved.path for saved in read_review(args.review_dir, check=False).files.values()]
    claim_outputs([out], inputs=inputs, force=args.force)
    data = report_from_saved(args.review_dir, regions=args.regions)
    print(write_report(data, out, protect=inputs))
    return 0
