"""Slider update speed of ReviewSession on a 256×256×180 case (slicer-core MRML): the live path against the former
``engine.at`` path and the naive path, in one run.

live session : ReviewSession.set_threshold(t) — the engine's LiveView moves persistent mask/overlay buffers and
               lists the changed voxels; only those are written into the shared labelmap (``update_at``); metrics
               table, lesion table, curve marker
at() session : the session as it was before the live path: ``engine.at(t)`` + a whole-overlay copy into the
               labelmap + the same tables and marker (kept here as the baseline)
naive        : full threshold + connected-component label + lesion-wise TP/FP/FN + one labelmap import per segment
               (what ``slicer.util.updateSegmentBinaryLabelmapFromArray`` does)

and the parts of the live session step (engine live step; lesion rows + tables + marker; labelmap write).
Prints median/p90 milliseconds, the ratios to the naive and at() paths measured in the same run, and the machine's
load (``os.getloadavg``). Target (issue 11): live session median ≤ 5 ms.

``--low [DIR]``: instead, a drag at LOW thresholds (0.35 → 0.05 → 0.35 in 0.01 steps), where predicted lesions are
many: on the full-size demo case (``lesionseg demo DIR`` wrote ``DIR/case`` and ``DIR/prediction``) or, without DIR,
on the synthetic case with a smoothed-noise floor (thousands of small components). Compared in one run, every step
timed: ``set_threshold`` (everything: rows and lesion table too) against ``preview_threshold`` (the drag path: rows
and lesion table wait for the release), the engine's live step alone, and a settle (``set_threshold`` after a
preview at the same value: the deferred rows and table). Issue 15 item 4 is what this serves (move → frame).
Run: ``.venv/bin/python benchmarks/bench_session.py [--rule anima] [--repeats 3] [--low [DIR]]``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "LesionSegExtension"))

from LesionSegLib.headless import make_scene
from LesionSegLib.nodes import add_volume_node
from LesionSegLib.parameters import PREDICTION_SEGMENTS, REVIEW_SEGMENTS, ReviewParameters
from LesionSegLib.segmentation import SharedLabelmapSegmentation, import_mask
from LesionSegLib.session import ReviewSession
from LesionSegLib.tables import lesion_rows, write_lesion_table, write_metrics_table

from LesionSegLogic.image import Image

SHAPE = (180, 256, 256)
SLIDER = [round(0.30 + 0.01 * i, 2) for i in range(25)]  # a drag over 25 slider positions
TARGET_MS = 5.0


def make_case(seed: int = 0) -> tuple[Image, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    probability = np.zeros(SHAPE, np.float32)
    reference = np.zeros(SHAPE, bool)
    for _ in range(60):
        c = rng.integers((20, 30, 30), np.array(SHAPE) - (20, 30, 30))
        r = rng.uniform(2, 6)
        sl = tuple(slice(int(x - 8), int(x + 9)) for x in c)
        zz, yy, xx = np.ogrid[sl]
        d = np.sqrt((zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2)
        peak = rng.uniform(0.2, 1.0)
        probability[sl] = np.maximum(probability[sl], peak * np.clip(1.3 - d / (r + 1), 0, 1))
        if rng.random() < 0.8:
            reference[sl] |= d <= r
    probability += rng.random(SHAPE, dtype=np.float32) * 0.05
    flair = Image(rng.normal(100, 10, SHAPE).astype(np.float32), (1.0, 0.9375, 0.9375), name="flair")
    return flair, reference, np.clip(probability, 0, 1)


LOW = [round(0.35 - 0.01 * i, 2) for i in range(31)]  # 0.35 → 0.05


def noisy_case(seed: int = 0) -> tuple[Image, np.ndarray, np.ndarray]:
    """The synthetic case over a smoothed-noise floor that reaches 0.1–0.4: thousands of small components there."""
    flair, reference, probability = make_case(seed)
    noise = ndimage.gaussian_filter(np.random.default_rng(seed + 1).random(SHAPE, dtype=np.float32), 1.5)
    floor = np.clip((noise - noise.mean()) / (6 * noise.std()) + 0.25, 0, 1).astype(np.float32)
    return flair, reference, np.maximum(probability, floor)


def demo_case(folder: Path) -> tuple[Image, np.ndarray, np.ndarray]:
    """The case ``lesionseg demo`` wrote (checked reads, as the faces read files)."""
    from LesionSegLogic.io.read import read_image

    flair = read_image(folder / "case" / "flair.nii.gz")
    reference = np.asarray(read_image(folder / "case" / "lesions.nii.gz", role="mask").array) > 0
    probability = np.asarray(read_image(folder / "prediction" / "probability.nii.gz", role="probability").array)
    return flair, reference, probability.astype(np.float32)


def low_drag(args: argparse.Namespace) -> None:
    """The ``--low`` benchmark (see the module docstring)."""
    load_before = os.getloadavg()
    build = time.perf_counter()
    flair, reference, probability = demo_case(Path(args.low)) if args.low else noisy_case()
    app = make_scene()
    session = ReviewSession(app.scene, parameters=ReviewParameters(rule=args.rule))
    session.set_inputs(add_volume_node(app.scene, flair, "FLAIR"))
    session.set_reference(flair.with_array(reference.astype(np.uint8)))
    session.load_probability(flair.with_array(probability), recommended_threshold=0.5)
    build = time.perf_counter() - build
    steps = (LOW + LOW[::-1][1:]) * args.repeats
    by_t: dict[str, dict[float, list[float]]] = {"set": {}, "preview": {}, "engine": {}, "settle": {}}
    lesions: dict[float, int] = {}
    session.set_threshold(0.36)
    for t in steps:  # the full update on every step (before: what a drag cost)
        by_t["set"].setdefault(t, []).extend(timed(session.set_threshold, [t]))
        lesions[t] = len(session.state.lesions)
    session.set_threshold(0.36)
    for t in steps:  # the drag path, then what the release adds
        by_t["preview"].setdefault(t, []).extend(timed(session.preview_threshold, [t]))
        by_t["settle"].setdefault(t, []).extend(timed(session.set_threshold, [t]))
    live = session.engine.live("lesion")
    live.set(0.36)
    for t in steps:
        by_t["engine"].setdefault(t, []).extend(timed(live.set, [t]))
    load_after = os.getloadavg()
    print(f"case {'x'.join(str(n) for n in flair.shape[::-1])} ({args.low or 'synthetic with noise floor'}), "
          f"rule={args.rule}, candidates={session.engine.n_candidates:,}, floor={session.engine.floor:g}, "
          f"set-up {build:.1f} s, drag 0.35 → 0.05 → 0.35 x{args.repeats} ({len(steps)} steps)")
    print(f"load average (1, 5, 15 min): before {tuple(round(x, 2) for x in load_before)}, "
          f"after {tuple(round(x, 2) for x in load_after)}, cpus={os.cpu_count()}")
    bands = [(0.30, 0.35), (0.25, 0.29), (0.15, 0.24), (0.05, 0.14)]
    print(f"| {'t band':<11} | {'lesions':>11} | {'set_threshold ms (med/max)':>26} | "
          f"{'preview ms (med/max)':>20} | {'engine step ms':>14} | {'settle ms':>9} | {'preview/set':>11} |")
    print(f"|{'-' * 13}|{'-' * 13}|{'-' * 28}|{'-' * 22}|{'-' * 16}|{'-' * 11}|{'-' * 13}|")
    for lo, hi in bands:
        ts = [t for t in LOW if lo - 1e-9 <= t <= hi + 1e-9]
        pick = {k: [x for t in ts for x in v[t]] for k, v in by_t.items()}
        counts = [lesions[t] for t in ts]
        s_med, p_med = statistics.median(pick["set"]), statistics.median(pick["preview"])
        print(f"| {lo:.2f}–{hi:.2f}   | {min(counts):>5}–{max(counts):<5} | {s_med:>11.1f} / {max(pick['set']):>8.1f}"
              f"      | {p_med:>7.1f} / {max(pick['preview']):>8.1f}  | {statistics.median(pick['engine']):>14.1f} | "
              f"{statistics.median(pick['settle']):>9.1f} | {p_med / s_med:>11.2f} |")
    for name in ("set", "preview"):
        values = [x for v in by_t[name].values() for x in v]
        print(f"{name}: all steps median {statistics.median(values):.1f} ms, p95 {np.percentile(values, 95):.1f} ms")


def drag(repeats: int) -> list[float]:
    """The slider positions: down and up the drag, ``repeats`` times (every step a new threshold)."""
    return (SLIDER + SLIDER[::-1][1:-1]) * repeats


def timed(fn, values) -> list[float]:
    out = []
    for v in values:
        start = time.perf_counter()
        fn(v)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rule", default="anima")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--low", nargs="?", const="", default=None, metavar="DIR",
                        help="drag at low thresholds (0.35 → 0.05) on the demo case DIR or a noisy synthetic case")
    args = parser.parse_args()
    if args.low is not None:
        low_drag(args)
        return
    load_before = os.getloadavg()

    flair, reference, probability = make_case()
    app = make_scene()
    session = ReviewSession(app.scene, parameters=ReviewParameters(rule=args.rule))
    flair_node = add_volume_node(app.scene, flair, "FLAIR")
    session.set_inputs(flair_node)
    session.set_reference(flair.with_array(reference.astype(np.uint8)))
    session.load_probability(flair.with_array(probability), recommended_threshold=0.5)
    engine = session.engine
    steps = drag(args.repeats)

    session.set_threshold(0.29)
    live_ms = timed(session.set_threshold, steps)
    boxes = []
    for t in SLIDER:
        state = session.set_threshold(t)
        boxes.append(0 if state.changed_bbox is None else int(np.prod([s.stop - s.start for s in state.changed_bbox])))

    old_review = SharedLabelmapSegmentation(app.scene, "at() review", flair_node, REVIEW_SEGMENTS)

    def at_session(t: float) -> None:  # ReviewSession.set_threshold before the live path
        result = engine.at(t, mode="lesion")
        np.copyto(old_review._labels, np.asarray(result.overlay, dtype=np.uint8))  # one whole-volume copy
        old_review.notify_modified()
        rows = tuple(lesion_rows(result.lesions))
        write_metrics_table(session.metrics_table, result.metrics)
        write_lesion_table(session.lesion_table, rows)
        session.plot.set_current(t)

    at_ms = timed(at_session, steps)

    # the parts of one live step, on a separate live view and labelmap
    live = engine.live("lesion")
    part_review = SharedLabelmapSegmentation(app.scene, "parts review", flair_node, REVIEW_SEGMENTS)
    live.set(0.29)
    part_review.update(live.overlay)
    engine_ms, write_ms, tables_ms = [], [], []
    for t in steps:
        start = time.perf_counter()
        update = live.set(t)
        mid = time.perf_counter()
        part_review.update_at(update.changed, live.overlay.reshape(-1)[update.changed])
        end = time.perf_counter()
        rows = tuple(lesion_rows(update.lesions))
        write_metrics_table(session.metrics_table, update.metrics)
        write_lesion_table(session.lesion_table, rows)
        session.plot.set_current(t)
        engine_ms.append((mid - start) * 1000)
        write_ms.append((end - mid) * 1000)
        tables_ms.append((time.perf_counter() - end) * 1000)

    naive_review = SharedLabelmapSegmentation(app.scene, "naive", flair_node, REVIEW_SEGMENTS[:0])
    seg = naive_review.node.GetSegmentation()
    ids = [seg.AddEmptySegment(s.terminology_label, s.name, list(s.color)) for s in REVIEW_SEGMENTS]
    pred_id = seg.AddEmptySegment("pred", PREDICTION_SEGMENTS[0].name)

    def naive(t: float) -> None:
        mask = probability >= t
        labels, n = ndimage.label(mask)
        hit = np.unique(labels[mask & reference])
        tp = np.isin(labels, hit[hit > 0])
        ref_labels, _ = ndimage.label(reference)
        found = np.unique(ref_labels[mask & reference])
        fn = (ref_labels > 0) & ~np.isin(ref_labels, found)
        for segment_id, part in zip(ids + [pred_id], (tp, mask & ~tp, fn, mask), strict=True):
            import_mask(part, naive_review.node, segment_id, flair_node, app.scene)

    naive_ms = timed(naive, SLIDER[:5])
    load_after = os.getloadavg()

    naive_med, at_med = statistics.median(naive_ms), statistics.median(at_ms)
    n_ref = ndimage.label(reference)[1]
    print(f"case {SHAPE[2]}x{SHAPE[1]}x{SHAPE[0]} voxels={np.prod(SHAPE):,}, lesions(ref)={n_ref}, "
          f"rule={args.rule}, drag steps={len(steps)} over t in [{SLIDER[0]}, {SLIDER[-1]}], "
          f"median changed box={statistics.median(boxes):,.0f} voxels")
    print(f"load average (1, 5, 15 min): before {tuple(round(x, 2) for x in load_before)}, "
          f"after {tuple(round(x, 2) for x in load_after)}, cpus={os.cpu_count()}")
    print(f"| {'path':<34} | {'median ms':>9} | {'p90 ms':>7} | {'vs naive':>8} | {'vs at()':>7} |")
    print(f"|{'-' * 36}|{'-' * 11}|{'-' * 9}|{'-' * 10}|{'-' * 9}|")
    rows = (("naive (label + 4 imports)", naive_ms), ("at() session (before)", at_ms),
            ("live session (set_threshold)", live_ms), ("  part: engine live step", engine_ms),
            ("  part: labelmap update_at", write_ms), ("  part: rows + tables + marker", tables_ms))
    for name, values in rows:
        med, p90 = statistics.median(values), float(np.percentile(values, 90))
        print(f"| {name:<34} | {med:>9.2f} | {p90:>7.2f} | {med / naive_med:>8.3f} | {med / at_med:>7.3f} |")
    live_med = statistics.median(live_ms)
    print(f"target live session median <= {TARGET_MS:g} ms: {'met' if live_med <= TARGET_MS else 'NOT met'} "
          f"({live_med:.2f} ms)")


if __name__ == "__main__":
    main()
