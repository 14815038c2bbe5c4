"""``lesionseg sweep``: per-subject threshold curves, the median curve and the best threshold (Hussein et al. 2023).

Prints the best threshold first, then the best thresholds by the median objective with their median voxel and
lesion scores, then each subject's own best; ``--json OUT`` writes every curve as JSON to OUT (``--json -``: to
stdout instead of the table), with its provenance (input files and their sha256, the models recorded beside the
maps, rule, LesionSeg version, UTC time).

The rule follows the one set of defaults (:mod:`LesionSegLogic.defaults`): ``--rule`` when given; else the rule
the ``summary.json`` files beside the maps recorded, when they all agree; else the default rule. One line on
stderr says which rule was used, where it came from, and the models and thresholds the summaries recorded (the
sweep's best threshold can be compared with them); the JSON carries the same (``"defaults"``).
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
from LesionSegLogic.defaults import DEFAULT_RULE
from LesionSegLogic.threshold.sweep import OBJECTIVES

HELP = "sweep the decision threshold over a cohort and pick the best median voxel- or lesion-F1"
#: the most thresholds one sweep evaluates per subject (``--step`` ≥ 0.001); ``--step 1e-7`` would ask for ten
#: million whole-volume evaluations per subject (issue 18: it ran for hours without a word).
MAX_THRESHOLDS = 1001
#: memory per voxel of one subject's threshold engine and its curve, checked before reading: the images read and
#: the engine's peak, measured at ~330 bytes per voxel (tracemalloc; Testing/test_no_traceback.py keeps this an
#: upper bound).
BYTES_PER_VOXEL = 400


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser("sweep", help=HELP, description=__doc__,
                                   formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--prob", nargs="+", metavar="P", help="probability maps, one per subject")
    parser.add_argument("--ref", nargs="+", metavar="R", help="reference masks, same order")
    bids = parser.add_argument_group("a BIDS cohort (instead of --prob/--ref; LesionSegLogic.bids)")
    bids.add_argument("--bids", metavar="ROOT", help="the raw BIDS dataset; references from its derivatives/")
    bids.add_argument("--predictions", metavar="DIR",
                      help="the derivatives dataset `lesionseg predict --bids` wrote (default ROOT/derivatives/"
                           "lesionseg)")
    bids.add_argument("--participant-label", nargs="+", metavar="LABEL", help="only these subjects")
    bids.add_argument("--ref-pipeline", metavar="NAME", help="the derivatives/NAME folder holding the references")
    parser.add_argument("--step", type=float, default=0.05,
                        help=f"threshold step over 0..1 (default 0.05; at most {MAX_THRESHOLDS} thresholds, so "
                             f"≥ {1 / (MAX_THRESHOLDS - 1):g})")
    parser.add_argument("--objective", default=next(iter(OBJECTIVES)), choices=tuple(OBJECTIVES),
                        help="what the best threshold maximises (median over the subjects)")
    add_rule_and_json(parser, maps="maps", result="every curve")
    add_allow_external_data(parser)
    add_probability_format(parser)
    return parser


def bids_cohort(args: argparse.Namespace) -> None:
    """Fill ``args.prob``/``args.ref`` from ``--bids`` (or check that they were given)."""
    import sys
    from pathlib import Path

    from LesionSegLogic.bids import PIPELINE_NAME, prediction_pairs, recorded_settings
    from LesionSegLogic.errors import InputError

    if args.bids is None:
        if not args.prob or not args.ref:
            raise InputError("give --prob and --ref, or --bids ROOT")
        return
    if args.prob or args.ref:
        raise InputError("--bids finds the maps and references itself; leave out --prob/--ref")
    predictions = args.predictions or Path(args.bids) / "derivatives" / PIPELINE_NAME
    pairs, unreferenced = prediction_pairs(args.bids, predictions, args.participant_label, None, args.ref_pipeline)
    if unreferenced:
        print(f"lesionseg sweep: left out (no reference mask): {', '.join(unreferenced)}", file=sys.stderr)
    args.prob = [str(p) for _, p, _ in pairs]
    args.ref = [str(r) for _, _, r in pairs]
    rules = {recorded_settings(p)["rule"] for p in args.prob}
    if args.rule is None and len(rules) == 1 and None not in rules:
        args.rule = rules.pop()  # what the cases' _desc-lesion_summary.json recorded (summary.json has other names)
        print(f"lesionseg sweep: rule {args.rule} as recorded in the BIDS summaries of {predictions}", file=sys.stderr)


def cohort_defaults(prob_paths: list[str], rule: str | None) -> tuple[str, str, list[dict]]:
    """``(rule, where it came from, per-map recorded model/threshold)`` for a cohort of maps."""
    from LesionSegLogic.defaults import defaults_for_map

    chosen = [defaults_for_map(p, rule=rule) for p in prob_paths]
    recorded = [{"map": p, "model": c.model, "threshold": c.threshold, "threshold_source": c.threshold_source}
                for p, c in zip(prob_paths, chosen, strict=True)]  # fmt: skip
    if rule is not None:
        return rule, "given", recorded
    rules = {c.rule for c in chosen}
    if len(rules) == 1:
        only = chosen[0]
        source = only.rule_source if only.rule_source == "the default rule" else "recorded beside the maps"
        return only.rule, source, recorded
    return DEFAULT_RULE, f"the default rule (the summaries disagree: {sorted(rules)})", recorded


def check_threshold_count(step: float, subjects: int) -> int:
    """The number of thresholds ``step`` makes over [0, 1], or a :class:`ConfigError` stating the cost when it is
    over :data:`MAX_THRESHOLDS` (checked before any image is read)."""
    import math

    from LesionSegLogic.errors import ConfigError

    if not (math.isfinite(step) and 0 < step <= 1):
        raise ConfigError(f"--step must lie in (0, 1], got {step}")
    steps = math.floor(1.0 / step + 1e-9)
    count = steps + 1 + (round(steps * step, 10) != 1.0)  # 0, step, …, and 1 appended when off the grid
    if count > MAX_THRESHOLDS:
        raise ConfigError(
            f"--step {step:g} means {count:,} thresholds × {subjects} subject(s) = {count * subjects:,} whole-volume "
            f"evaluations; the limit is {MAX_THRESHOLDS:,} thresholds (--step ≥ {1 / (MAX_THRESHOLDS - 1):g})"
        )
    return count


def run(args: argparse.Namespace) -> int:
    import sys

    from tqdm import tqdm

    from LesionSegLogic.cli.text_tables import sweep_table
    from LesionSegLogic.errors import InputError
    from LesionSegLogic.io import read_image
    from LesionSegLogic.io.write_policy import claim_outputs
    from LesionSegLogic.memory import check_images_fit
    from LesionSegLogic.metrics.report import same_grid_or_fail
    from LesionSegLogic.provenance import InputFile, provenance, recorded_model
    from LesionSegLogic.threshold.engine import ThresholdEngine
    from LesionSegLogic.threshold.sweep import sweep_cohort, threshold_grid

    bids_cohort(args)
    if args.json and args.json != JSON_TO_STDOUT:  # the write policy (docs/io.md), before any work
        claim_outputs([args.json], inputs=[*args.prob, *args.ref], force=args.force)
    if len(args.prob) != len(args.ref):
        raise InputError(f"{len(args.prob)} probability maps but {len(args.ref)} reference masks")
    check_threshold_count(args.step, len(args.prob))
    check_images_fit([*args.prob, *args.ref], BYTES_PER_VOXEL, "a threshold sweep",
                     allow_external_data=args.allow_external_data, probabilities=args.prob, channel=args.channel)
    grid = threshold_grid(args.step)
    rule, rule_source, recorded = cohort_defaults(list(args.prob), args.rule)
    models = sorted({f"{r['model']} ({r['threshold']:.2f})" for r in recorded if r["model"]})
    print(f"lesionseg sweep: rule {rule} ({rule_source}); recorded models (threshold): "
          f"{', '.join(models) or 'none'}", file=sys.stderr)

    def engines():
        for prob_path, ref_path in tqdm(
            list(zip(args.prob, args.ref, strict=True)), desc="subjects", unit="subject", file=sys.stderr
        ):
            prob = read_image(prob_path, role="probability", allow_external_data=args.allow_external_data,
                              **probability_format(args))
            ref = read_image(ref_path, role="mask", allow_external_data=args.allow_external_data)
            same_grid_or_fail(prob, ref)
            yield ThresholdEngine(prob, reference=ref.with_array(ref.array > 0), rule=rule)

    result = sweep_cohort(engines(), [float(t) for t in grid], args.objective, names=list(args.prob))
    data = {"rule": rule, **result.to_json(), "defaults": {"rule_source": rule_source, "recorded": recorded}}
    data["provenance"] = provenance(
        [InputFile(role, path) for pair in zip(args.prob, args.ref, strict=True)
         for role, path in zip(("probability", "reference"), pair, strict=True)],
        models=[recorded_model(p) for p in args.prob], threshold=None, rule=rule,
    )  # fmt: skip
    emit_result(data, args.json, sweep_table)
    return 0
