"""Benchmark what "two maps side by side" costs in memory (issue 16: the map is the big array; reuse the image nodes).

    python benchmarks/bench_compare_memory.py [--phantom] [--moves 40]

The review web app (``ReviewWebApp``, slice views offscreen: ``views="direct"``, no browser) opens a phantom brain
crop (``--phantom``: the whole 1 mm brain) with a stand-in probability map (``bench_app.make_case``): that is map A.
Then **Compare** opens map B (map A squared: a sharper map, same grid) beside it (:mod:`LesionSegWeb.compare`), B's
slider is moved ``--moves`` times, and **Stop** closes it; then ``--cycles`` − 1 more Compare/Stop cycles (does a cycle
leave something behind?). Resident memory (``VmRSS``) is read at each stage.

Baseline in the same run: what opening the case with map A cost (FLAIR, reference, map A, its engine, nodes), so the
table gives map B's cost as a ratio to it, and in units of one float32 map (voxels × 4 bytes).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import tempfile
from pathlib import Path

from bench_app import case_files, make_case, rss_mib

FOV_MM = (60.0, 100.0, 100.0)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--phantom", action="store_true", help="the whole phantom brain (default: a crop)")
    parser.add_argument("--moves", type=int, default=40, help="map B slider moves")
    parser.add_argument("--cycles", type=int, default=3, help="Compare/Stop cycles (RSS after each)")
    args = parser.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "LesionSegExtension"))
    from LesionSegLogic.io import read_image, write_image
    from LesionSegWeb.app import AppConfig, ReviewWebApp
    from LesionSegWeb.services import DemoLibrary, ModelInfo, Services

    with tempfile.TemporaryDirectory(prefix="bench-compare-") as folder:
        root = Path(folder)
        case = make_case(root / "case", None if args.phantom else FOV_MM)
        files = case_files(case)
        probability = read_image(files["probability"], role="probability")
        write_image(probability.with_array(probability.array ** 2), case / "probability_b.nii.gz")
        map_mib = probability.array.size * 4 / 2**20
        del probability
        gc.collect()
        pid = os.getpid()
        services = Services(models=lambda: [ModelInfo("m", 0.5)], demos=DemoLibrary(root / "demos", seeds=()))
        app = ReviewWebApp(AppConfig(services=services, views="direct", allow=(case,), out=root / "out"))
        app.server.state.ready()
        stages = [("app started (no case)", rss_mib(pid)[0])]
        assert app.binding.open_case(str(case)), app.server.state.message
        gc.collect()
        stages.append(("case + map A open", rss_mib(pid)[0]))
        compare = app.binding.compare
        assert compare.start(str(case / "probability_b.nii.gz")), app.server.state.message
        gc.collect()
        stages.append(("map B beside it", rss_mib(pid)[0]))
        for i in range(args.moves):
            app.server.state.update({"threshold_b": 0.3 + 0.4 * (i % 20) / 20})
            app.server.state.flush()
        gc.collect()
        stages.append((f"after {args.moves} map B moves", rss_mib(pid)[0]))
        compare.stop()
        gc.collect()
        stages.append(("stopped (B's nodes removed)", rss_mib(pid)[0]))
        for cycle in range(2, args.cycles + 1):  # does a Compare/Stop cycle leave something behind?
            assert compare.start(str(case / "probability_b.nii.gz")), app.server.state.message
            compare.stop()
            gc.collect()
            stages.append((f"compare + stop, cycle {cycle}", rss_mib(pid)[0]))
        shape = app.session.flair.shape

    a_cost = stages[1][1] - stages[0][1]
    b_cost = stages[2][1] - stages[1][1]
    print(f"grid {shape} ({'whole phantom brain' if args.phantom else 'phantom crop'}), one float32 map "
          f"{map_mib:.1f} MiB; load: {os.getloadavg()[0]:.2f}")
    print(f"{'stage':34s} {'RSS MiB':>9s} {'change':>9s}")
    previous = None
    for name, value in stages:
        change = "" if previous is None else f"{value - previous:+9.1f}"
        print(f"{name:34s} {value:9.1f} {change:>9s}")
        previous = value
    print(f"map B costs {b_cost:.1f} MiB = {b_cost / map_mib:.1f} float32 maps = {b_cost / a_cost:.2f} x what the "
          f"case with map A cost ({a_cost:.1f} MiB, the baseline of this run)")


if __name__ == "__main__":
    main()
