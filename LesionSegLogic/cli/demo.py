"""``lesionseg demo OUT`` — the bundled default job: one brain phantom (seed 0) and its montage."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "demo",
        help="generate a brain phantom case (seed 0) and a PNG montage of it",
        description="Writes OUT/case_000/ (flair, t2, lesions, phantom.json) and OUT/montage.png.",
    )
    parser.add_argument("out", type=Path, nargs="?", default=Path("demo_output"), help="output folder")
    parser.add_argument("--seed", type=int, default=0, help="phantom seed (default 0)")
    return parser


def run(args: argparse.Namespace) -> int:
    import time

    from LesionSegLogic.montage import montage_case
    from LesionSegLogic.phantom import generate_case, write_case

    start = time.perf_counter()
    case = generate_case(args.seed)
    folder = write_case(case, args.out / "case_000")
    generated = time.perf_counter() - start
    png = montage_case(folder, args.out / "montage.png")
    total = time.perf_counter() - start
    print(f"case:    {folder} ({len(case.records)} lesions, grid {case.flair.shape}, SNR {case.snr:.1f})")
    for name in case.images():
        print(f"         {folder / name}")
    print(f"         {folder / 'phantom.json'}")
    print(f"montage: {png}")
    print(f"time:    {generated:.1f} s phantom, {total:.1f} s total")
    return 0
