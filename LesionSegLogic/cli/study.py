"""``lesionseg study [CONFIG.json|toml] --out DIR [--preset quick|paper|tiny] [--jobs N] [--executor local|ray]``:
the loss × decision-threshold study of Hussein et al. (2023) — one model per (loss, seed, fold), Tables 1–2, Fig. 2,
seed bands (Cabezas & Diez 2024), pairwise Wilcoxon with Holm's correction and a stability index — into
DIR/report.html, DIR/tables/*.csv, DIR/figures/*.png, DIR/study.json and one model folder per run. Re-running the
same command resumes: finished jobs are kept, a half-written one is redone. See docs/study.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from LesionSegLogic.study.presets import PRESETS

    p = subparsers.add_parser(
        "study",
        help="run a loss x threshold study (tables, figures, models); resumable",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("config", nargs="?", type=Path, help="study file (.json or .toml); laid over --preset if both")
    p.add_argument("--out", required=True, type=Path, help="study folder (re-run with the same one to resume)")
    p.add_argument("--preset", choices=PRESETS, default=None, help="a bundled study (quick: <= 30 min on 2 CPUs)")
    p.add_argument("--jobs", type=int, default=1, help="jobs run at once in local processes (default 1)")
    p.add_argument("--executor", choices=("local", "ray"), default="local", help="where jobs run (default local)")
    p.add_argument("--ray-address", default=None, help="Ray cluster address (default: join or start a local one)")
    p.add_argument("--check", action="store_true", help="validate the config, list the jobs, stop")
    p.add_argument("--no-progress", action="store_true", help="no progress bar or per-job lines")
    return p


def run(args: argparse.Namespace) -> int:
    from LesionSegLogic.study import make_executor, read_config, run_study, validate

    config = validate(read_config(args.config, args.preset))
    executor = make_executor(args.executor, args.jobs, args.ray_address)
    if args.check:
        from LesionSegLogic.study.runner import job_keys

        for key in job_keys(config):
            print(key)
        print(f"{config.source}: valid ({len(job_keys(config))} jobs)")
        return 0
    outcome = run_study(config, args.out, executor, progress=not args.no_progress)
    print(f"{outcome.report} ({outcome.ran} jobs run, {outcome.reused} reused, {outcome.wall_seconds:.0f} s)")
    return 0
