"""``lesionseg evaluate``: voxel, lesion and surface metrics of a prediction against a reference.

Prints a short table (voxel and lesion TP/FP/FN, sensitivity, precision, F1; surface distances); ``--json OUT``
writes the whole result as JSON to OUT (``--json -``: to stdout instead of the table), with its provenance (input
files and their sha256, the model recorded beside the map, threshold, rule, LesionSeg version, UTC time).

Threshold and rule follow the one set of defaults (:mod:`LesionSegLogic.defaults`): ``--threshold``/``--rule``
when given; else what the ``summary.json`` beside the map recorded (``lesionseg predict`` writes the model's
recommended threshold and the rule there); else 0.5 and the default rule. One line on stderr says what was used
and where it came from; the JSON carries it too (``"defaults"``).
"""

from __future__ import annotations

import argparse

from LesionSegLogic.cli import (
    JSON_TO_STDOUT,
    add_allow_external_data,
    add_probability_format,
    add_rule_and_json,
    emit_result,
    probability_format,
)
from LesionSegLogic.defaults import FALLBACK_THRESHOLD

HELP = "metrics of a probability map (at a threshold) or a mask against a reference mask"
#: memory per voxel of one evaluation, checked before reading (issue 18: a valid 1024×1024×1000 image ran out of
#: memory with a traceback): the images read (float32 map, uint8 mask) and evaluate's peak with surface distances,
#: measured at ~88 bytes per voxel (tracemalloc; Testing/test_no_traceback.py keeps this an upper bound).
BYTES_PER_VOXEL = 112


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("evaluate", help=HELP, description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--prob", metavar="P", help="probability map (values in [0, 1])")
    source.add_argument("--mask", metavar="M", help="binary prediction mask")
    parser.add_argument("--threshold", type=float,
                        help="decision threshold p ≥ T (default: the one recorded in the summary.json beside "
                             f"the map, else {FALLBACK_THRESHOLD})")
    parser.add_argument("--ref", metavar="R", help="reference (ground-truth) lesion mask")
    bids = parser.add_argument_group("a BIDS cohort (instead of --prob/--mask/--ref; LesionSegLogic.bids)")
    bids.add_argument("--bids", metavar="ROOT", help="the raw BIDS dataset; references from its derivatives/; "
                      "each case's JSON goes beside its map (_desc-lesion_eval.json), --json gets them all")
    bids.add_argument("--predictions", metavar="DIR",
                      help="the derivatives dataset `lesionseg predict --bids` wrote (default ROOT/derivatives/"
                           "lesionseg)")
    bids.add_argument("--participant-label", nargs="+", metavar="LABEL", help="only these subjects")
    bids.add_argument("--ref-pipeline", metavar="NAME", help="the derivatives/NAME folder holding the references")
    parser.add_argument("--no-surface", action="store_true", help="skip the surface distances")
    add_rule_and_json(parser, maps="map", result="the whole result")
    add_allow_external_data(parser)
    add_probability_format(parser)
    return parser


def run(args: argparse.Namespace) -> int:
    from LesionSegLogic.errors import InputError

    if getattr(args, "bids", None):
        from LesionSegLogic.cli.evaluate_bids import run_bids

        if args.json == JSON_TO_STDOUT:
            raise InputError("--json - (the JSON on stdout) goes with --prob/--mask; with --bids give a file")
        return run_bids(args, lambda one: evaluate_one(one, table=False))
    return evaluate_one(args)


def evaluate_one(args: argparse.Namespace, table: bool = True) -> int:
    """One prediction against one reference; the table on stdout unless ``table`` is false or ``--json -``."""
    import sys

    import numpy as np

    from LesionSegLogic.cli.text_tables import evaluate_table
    from LesionSegLogic.defaults import defaults_for_map
    from LesionSegLogic.errors import InputError
    from LesionSegLogic.io import read_image
    from LesionSegLogic.io.write_policy import claim_outputs
    from LesionSegLogic.memory import check_images_fit
    from LesionSegLogic.metrics.evaluate import evaluate
    from LesionSegLogic.metrics.report import same_grid_or_fail
    from LesionSegLogic.metrics.voxel import average_precision
    from LesionSegLogic.provenance import InputFile, provenance, recorded_model

    if not (args.prob or args.mask) or not args.ref:
        raise InputError("give --prob or --mask, and --ref (or --bids ROOT)")
    if args.json and args.json != JSON_TO_STDOUT:  # the write policy (docs/io.md), before any work
        claim_outputs([args.json], inputs=[args.prob or args.mask, args.ref], force=args.force)
    if args.threshold is not None and args.mask is not None:
        raise InputError("--threshold goes with --prob (a mask is already binary)")
    if args.threshold is not None and not 0.0 <= args.threshold <= 1.0:
        raise InputError(f"--threshold must lie in [0, 1], got {args.threshold}")
    chosen = defaults_for_map(args.prob or args.mask, threshold=args.threshold, rule=args.rule,
                              need_threshold=args.prob is not None)
    print(f"lesionseg evaluate: {chosen.describe()}", file=sys.stderr)
    external = args.allow_external_data
    check_images_fit([args.ref, args.prob or args.mask], BYTES_PER_VOXEL, "evaluating",
                     allow_external_data=external, probabilities=[args.prob] if args.prob else [],
                     channel=args.channel)
    reference = read_image(args.ref, role="mask", allow_external_data=external)
    if args.prob is not None:
        source = read_image(args.prob, role="probability", allow_external_data=external,
                            **probability_format(args))
        same_grid_or_fail(source, reference)
        prediction = source.array >= np.float64(chosen.threshold)
    else:
        source = read_image(args.mask, role="mask", allow_external_data=external)
        same_grid_or_fail(source, reference)
        prediction = source.array > 0
    result = evaluate(prediction, reference.array > 0, reference.spacing, chosen.rule, threshold=chosen.threshold,
                      surface=not args.no_surface)
    if args.prob is not None:
        result["apr"] = average_precision(source.array, reference.array > 0)
    result["inputs"] = {"prediction": str(args.prob or args.mask), "reference": str(args.ref)}
    result["defaults"] = chosen.to_json()
    prediction_path = args.prob or args.mask
    result["provenance"] = provenance(
        [InputFile("probability" if args.prob else "mask", prediction_path), InputFile("reference", args.ref)],
        models=[recorded_model(prediction_path)], threshold=chosen.threshold, rule=chosen.rule,
    )  # fmt: skip
    emit_result(result, args.json, evaluate_table if table else None)
    return 0
