"""``lesionseg sweep``: per-subject threshold curves, the median curve and the best threshold (seed 000)."""

from __future__ import annotations

import argparse

HELP = "sweep the decision threshold over a cohort and pick the best median voxel- or lesion-F1"


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("sweep", help=HELP, description=HELP + ".")
    parser.add_argument("--prob", nargs="+", required=True, metavar="P", help="probability maps, one per subject")
    parser.add_argument("--ref", nargs="+", required=True, metavar="R", help="reference masks, same order")
    parser.add_argument("--step", type=float, default=0.05, help="threshold step over 0..1 (default 0.05)")
    parser.add_argument("--objective", default="voxel-f1", choices=("voxel-f1", "lesion-f1"))
    parser.add_argument("--rule", default="hussein", choices=("hussein", "anima", "any-overlap"))
    parser.add_argument("--json", metavar="OUT", help="write the JSON here instead of printing it")
    return parser


def run(args: argparse.Namespace) -> int:
    import sys

    from tqdm import tqdm

    from LesionSegLogic.errors import InputError
    from LesionSegLogic.io import read_image
    from LesionSegLogic.metrics.report import emit_json, same_grid_or_fail
    from LesionSegLogic.threshold.engine import ThresholdEngine
    from LesionSegLogic.threshold.sweep import sweep_cohort, threshold_grid

    if len(args.prob) != len(args.ref):
        raise InputError(f"{len(args.prob)} probability maps but {len(args.ref)} reference masks")
    grid = threshold_grid(args.step)

    def engines():
        for prob_path, ref_path in tqdm(
            list(zip(args.prob, args.ref, strict=True)), desc="subjects", unit="subject", file=sys.stderr
        ):
            prob = read_image(prob_path, role="probability")
            ref = read_image(ref_path, role="mask")
            same_grid_or_fail(prob, ref)
            yield ThresholdEngine(prob, reference=ref.with_array(ref.array > 0), rule=args.rule)

    result = sweep_cohort(engines(), grid, args.objective, names=list(args.prob))
    data = {"rule": args.rule, **result.to_json()}
    emit_json(data, args.json, inputs=[*args.prob, *args.ref])
    if args.json:
        print(f"best threshold {result.best_threshold} (median {args.objective} {result.best_value})", file=sys.stderr)
    return 0
