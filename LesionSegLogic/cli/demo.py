"""``lesionseg demo [OUT]`` — the bundled default job: phantom → zoo model → lesion-wise review pictures.

See :mod:`LesionSegLogic.demo` for the steps.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from LesionSegLogic.defaults import DEFAULT_RULE, RULE_NAMES
from LesionSegLogic.inference import DEVICES


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from LesionSegLogic.demo import DEMO_SEED

    parser = subparsers.add_parser(
        "demo",
        help="phantom case → prediction with a bundled model → review (metrics + TP/FP/FN picture)",
        description="Writes OUT/case/ (flair, t2, lesions, phantom.json), OUT/prediction/ (the four outputs of "
        "`lesionseg predict`), OUT/metrics.json, OUT/montage.png and OUT/review.png.",
    )
    parser.add_argument("out", type=Path, nargs="?", default=Path("demo_output"), help="output folder")
    parser.add_argument("--seed", type=int, default=DEMO_SEED,
                        help=f"phantom seed (default {DEMO_SEED}, never used to train the zoo)")
    parser.add_argument("--model", help="zoo model name or folder (default: the recommended bundled model for a "
                                        "brain FLAIR + T2, LesionSegLogic.defaults.recommended_model)")
    parser.add_argument("--rule", default=DEFAULT_RULE, choices=RULE_NAMES,
                        help=f"lesion matching rule (default {DEFAULT_RULE}, LesionSegLogic.defaults)")
    parser.add_argument("--device", default=DEVICES[0], choices=DEVICES)
    parser.add_argument("--force", action="store_true", help="replace the outputs of an earlier demo in OUT")
    return parser


def demo_outputs(out: Path) -> list[Path]:
    """Every file ``lesionseg demo`` writes into ``out`` (claimed before any work: docs/io.md)."""
    from LesionSegLogic.phantom.case import case_files
    from LesionSegLogic.predictor import OUTPUT_FILES

    return [*(out / "case" / n for n in case_files(False)), *(out / "prediction" / n for n in OUTPUT_FILES),
            out / "metrics.json", out / "montage.png", out / "review.png"]


def _fmt(value: float | None) -> str:
    return "  n/a" if value is None else f"{value:5.3f}"


def run(args: argparse.Namespace) -> int:
    from LesionSegLogic.demo import run_demo
    from LesionSegLogic.io.write_policy import claim_outputs

    claim_outputs(demo_outputs(args.out), force=args.force)
    result = run_demo(args.out, seed=args.seed, model=args.model, rule=args.rule, device=args.device)
    print()
    print(f"model {result.model} · rule {args.rule}")
    print("threshold         voxel Dice  lesion F1  lesion sens  lesion prec   TP   FP   FN")
    for label, metrics in ((f"{result.threshold:.2f} (recommended)", result.metrics), ("0.50", result.metrics_at_half)):
        v, les = metrics["voxel"], metrics["lesion"]
        print(f"{label:<18}{_fmt(v['dice']):>10}  {_fmt(les['f1']):>9}  {_fmt(les['sensitivity']):>11}  "
              f"{_fmt(les['precision']):>11}  {les['tp_reference']:>3}  {les['fp']:>3}  {les['fn']:>3}")
    print()
    print("time: " + ", ".join(f"{k} {v:.1f} s" for k, v in result.timings_s.items()))
    print(f"review picture: {result.pictures['review']}")
    print("review it live in the browser (Ctrl-C to stop):")
    print(f"  .venv/bin/lesionseg app --flair {result.case_dir / 'flair.nii.gz'} --t2 {result.case_dir / 't2.nii.gz'} "
          f"--reference {result.case_dir / 'lesions.nii.gz'} --probability "
          f"{result.prediction_dir / 'probability.nii.gz'} --rule {args.rule}")
    return 0
