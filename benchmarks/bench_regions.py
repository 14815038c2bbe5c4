"""What lesion regions cost a review (issue 16), in one run with its baselines:

settle rows   : ``ReviewSession.set_threshold(t, force=True)`` on a phantom brain — the step a released slider makes —
                without a region atlas (baseline) and with the phantom's atlas (the rows then carry their regions:
                one connected-component pass of the mask and of the reference per settle); median ms over thresholds,
                and the ratio
atlas         : ``phantom_atlas`` (the generator's maps resampled onto the case + its recorded regions) and
                ``register_to_mni`` (real scans: affine SimpleITK registration to the MNI152 template) at its
                ``SHRINK_FACTORS`` (1/4 + 1/2 resolution) against 1/4 + 1/2 + full resolution: the ratio, and the
                largest difference between the two transforms at 5 points (mm)

Prints the machine's load (``os.getloadavg``) before and after. Run:
``.venv/bin/python benchmarks/bench_regions.py [--spacing 2] [--repeats 3]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "LesionSegExtension"))

from LesionSegLib.headless import make_scene
from LesionSegLib.session import ReviewSession

from LesionSegLogic.phantom import generate_case, load_brain_maps
from LesionSegLogic.regions import mni_template, phantom_atlas, register_to_mni
from LesionSegLogic.threshold.synthetic import synthetic_probability

THRESHOLDS = (0.2, 0.3, 0.4, 0.5, 0.6, 0.7)
POINTS = ((0.0, 0.0, 0.0), (40.0, 30.0, 20.0), (-40.0, -50.0, 10.0), (20.0, -60.0, -30.0), (-30.0, 40.0, 40.0))


def timed(function, *args, **kwargs) -> tuple[float, object]:
    start = time.perf_counter()
    result = function(*args, **kwargs)
    return 1000.0 * (time.perf_counter() - start), result


def settle_ms(session: ReviewSession, repeats: int) -> list[float]:
    out = []
    for _ in range(repeats):
        for t in THRESHOLDS:
            ms, state = timed(session.set_threshold, t, True)
            out.append(ms + timed(lambda s=state: s.lesions)[0])  # the rows are what the table shows on release
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--spacing", type=float, default=2.0, help="phantom voxel size (mm; 1 = the MNI grid)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    print(f"load average before: {os.getloadavg()[0]:.2f} ({os.cpu_count()} CPUs)")
    maps = load_brain_maps()
    case = generate_case(args.seed, maps=maps, spacing=(args.spacing,) * 3)
    probability = case.flair.with_array(np.clip(synthetic_probability(
        case.lesions.array > 0, spacing=case.flair.spacing, seed=args.seed), 0, 1).astype(np.float32))
    print(f"phantom seed {args.seed}: {case.flair.shape} at {args.spacing:g} mm, {len(case.records)} lesions")

    session = ReviewSession(make_scene().scene)
    session.set_inputs(case.flair)
    session.set_reference(case.lesions)
    session.load_probability(probability, 0.5)
    plain = settle_ms(session, args.repeats)
    atlas_ms, atlas = timed(phantom_atlas, case.flair, case.to_json(), case.lesions.array, lambda: maps)
    session.set_region_atlas(atlas)
    labelled = settle_ms(session, args.repeats)
    n_rows = len(session.lesions)

    template = mni_template()
    fast_ms, fast = timed(register_to_mni, case.flair, template)
    full_ms, full = timed(register_to_mni, case.flair, template, shrink=(4, 2, 1))
    gap = max(float(np.linalg.norm(np.subtract(fast.TransformPoint(p), full.TransformPoint(p)))) for p in POINTS)
    identity = max(float(np.linalg.norm(np.subtract(fast.TransformPoint(p), p))) for p in POINTS)

    print("\n| what | median ms | ratio |\n|---|---|---|")
    print(f"| settle, rows without regions (baseline; {n_rows} rows at t = 0.7) | {statistics.median(plain):.0f} "
          "| 1.00 |")
    print(f"| settle, rows with regions | {statistics.median(labelled):.0f} | "
          f"{statistics.median(labelled) / statistics.median(plain):.2f} |")
    print(f"| phantom_atlas (maps loaded) | {atlas_ms:.0f} | |")
    print(f"| register_to_mni, 1/4 + 1/2 resolution | {fast_ms:.0f} | 1.00 |")
    print(f"| the same + full resolution | {full_ms:.0f} | {full_ms / fast_ms:.2f} |")
    print(f"\nthe two registrations differ by ≤ {gap:.2f} mm at 5 points; the phantom lies in MNI space, the fast "
          f"one is ≤ {identity:.2f} mm from the identity")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
