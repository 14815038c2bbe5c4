"""``lesionseg evaluate``: voxel, lesion and surface metrics of a prediction against a reference (JSON)."""

from __future__ import annotations

import argparse

HELP = "metrics of a probability map (at a threshold) or a mask against a reference mask"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("evaluate", help=HELP, description=HELP + ". Prints or writes the JSON.")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--prob", metavar="P", help="probability map (values in [0, 1])")
    source.add_argument("--mask", metavar="M", help="binary prediction mask")
    parser.add_argument("--threshold", type=float, default=0.5, help="decision threshold p ≥ T (default 0.5)")
    parser.add_argument("--ref", required=True, metavar="R", help="reference (ground-truth) lesion mask")
    parser.add_argument("--rule", default="hussein", choices=("hussein", "anima", "any-overlap"))
    parser.add_argument("--no-surface", action="store_true", help="skip the surface distances")
    parser.add_argument("--json", metavar="OUT", help="write the JSON here instead of printing it")
    return parser


def run(args: argparse.Namespace) -> int:
    import numpy as np

    from LesionSegLogic.errors import InputError
    from LesionSegLogic.io import read_image
    from LesionSegLogic.metrics.evaluate import evaluate
    from LesionSegLogic.metrics.report import emit_json, same_grid_or_fail
    from LesionSegLogic.metrics.voxel import average_precision

    if not 0.0 <= args.threshold <= 1.0:
        raise InputError(f"--threshold must lie in [0, 1], got {args.threshold}")
    reference = read_image(args.ref, role="mask")
    if args.prob is not None:
        source = read_image(args.prob, role="probability")
        same_grid_or_fail(source, reference)
        prediction = source.array >= np.float64(args.threshold)
        threshold: float | None = args.threshold
    else:
        source = read_image(args.mask, role="mask")
        same_grid_or_fail(source, reference)
        prediction, threshold = source.array > 0, None
    result = evaluate(
        prediction, reference.array > 0, reference.spacing, args.rule, threshold=threshold, surface=not args.no_surface
    )
    if args.prob is not None:
        result["apr"] = average_precision(source.array, reference.array > 0)
    result["inputs"] = {"prediction": str(args.prob or args.mask), "reference": str(args.ref)}
    emit_json(result, args.json, inputs=[args.prob or args.mask, args.ref])
    return 0
