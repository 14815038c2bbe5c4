"""``lesionseg evaluate --bids ROOT [--predictions DIR]``: every case of a BIDS cohort against its reference.

The probability maps are those ``lesionseg predict --bids`` wrote (``DIR``, default ``ROOT/derivatives/
lesionseg``), the references the ``*_mask``/``*_dseg`` files of ``ROOT/derivatives/<pipeline>/``
(:func:`LesionSegLogic.bids.prediction_pairs`; cases without a reference are named on stderr and left out).
Each case is evaluated as ``lesionseg evaluate --prob --ref`` does (same JSON) at the threshold and rule its
``_desc-lesion_summary.json`` recorded unless ``--threshold``/``--rule`` (the JSON's ``defaults`` names that
file), written beside its map as ``<entities>_desc-lesion_eval.json`` (earlier ones are replaced only with
``--force``); stdout
gets one line per case, and ``--json OUT`` all the cases in one document ``{"cases": {label: result}}``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

EVAL_SUFFIX = "eval.json"


def run_bids(args: argparse.Namespace, evaluate_one: Callable[[argparse.Namespace], int]) -> int:
    from LesionSegLogic.bids import PIPELINE_NAME, prediction_pairs, recorded_settings
    from LesionSegLogic.errors import InputError
    from LesionSegLogic.io.write import write_json
    from LesionSegLogic.io.write_policy import claim_outputs
    from LesionSegLogic.jsonfile import read_json

    if args.prob or args.mask or args.ref:
        raise InputError("--bids finds the maps and references itself; leave out --prob/--mask/--ref")
    predictions = Path(args.predictions) if args.predictions else Path(args.bids) / "derivatives" / PIPELINE_NAME
    pairs, unreferenced = prediction_pairs(args.bids, predictions, args.participant_label, None, args.ref_pipeline)
    if unreferenced:
        print(f"lesionseg evaluate: left out (no reference mask): {', '.join(unreferenced)}", file=sys.stderr)
    targets = [_eval_file(p) for _, p, _ in pairs]
    claim_outputs([*targets, *([args.json] if args.json else [])],  # the write policy, before any work
                  inputs=[path for _, p, r in pairs for path in (p, r)], force=args.force)
    cases: dict[str, dict] = {}
    for (label, probability, reference), target in zip(pairs, targets, strict=True):
        recorded = recorded_settings(probability)
        threshold = args.threshold if args.threshold is not None else recorded["threshold"]
        rule = args.rule if args.rule is not None else recorded["rule"]
        taken = [f"{what} {value}" for what, value, given in (("threshold", threshold, args.threshold),
                                                               ("rule", rule, args.rule))
                 if given is None and value is not None]  # fmt: skip
        if taken:  # evaluate's own line below calls them "given": say where they came from
            print(f"lesionseg evaluate: {label}: {' and '.join(taken)} as recorded in {recorded['summary']}",
                  file=sys.stderr)
        one = argparse.Namespace(**{**vars(args), "bids": None, "prob": str(probability), "mask": None,
                                    "ref": str(reference), "json": str(target), "force": True,
                                    "threshold": threshold, "rule": rule})  # fmt: skip
        evaluate_one(one)
        cases[label] = read_json(target, "evaluation")
        if _name_recorded_sources(cases[label], args, recorded):
            write_json(target, cases[label])
        voxel, lesion = cases[label]["voxel"], cases[label]["lesion"]
        print(f"{label}: voxel dice {_num(voxel.get('dice'))}, lesion F1 {_num(lesion.get('f1'))} "
              f"({lesion.get('n_reference')} reference, {lesion.get('n_predicted')} predicted lesions)")
    if args.json:
        write_json(args.json, {"predictions": str(predictions), "cases": cases})
    return 0


def _name_recorded_sources(result: dict, args: argparse.Namespace, recorded: dict) -> bool:
    """The BIDS summary (not ``summary.json``) told the threshold/rule: say so in the result's ``defaults``."""
    defaults = result.get("defaults")
    if not isinstance(defaults, dict):
        return False
    where = f"recorded in {recorded['summary']}"
    changed = False
    if args.threshold is None and recorded["threshold"] is not None:
        defaults["threshold_source"] = f"model {recorded['model']}'s prediction threshold, {where}"
        changed = True
    if args.rule is None and recorded["rule"] is not None:
        defaults["rule_source"] = where
        changed = True
    defaults["model"] = defaults.get("model") or recorded["model"]
    return changed


def _eval_file(probability: Path) -> Path:
    return probability.with_name(probability.name.replace("probseg.nii.gz", EVAL_SUFFIX))


def _num(value) -> str:
    return "n/a" if value is None else f"{value:.3f}"
