"""Slider update speed of ReviewSession on a 256×256×180 case (slicer-core MRML), against the naive path.

session  : ReviewSession.set_threshold(t) — engine.at(t) + shared-labelmap segments + tables + curve marker
mrml-only: the session's MRML part alone (segment buffers + tables + marker) for precomputed engine results
naive    : full threshold + connected-component label + lesion-wise TP/FP/FN + one labelmap import per segment
           (what ``slicer.util.updateSegmentBinaryLabelmapFromArray`` does)

Prints median/p90 milliseconds and the ratio to the naive path measured in the same run. Target: session
median ≤ 50 ms.
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

import numpy as np
from scipy import ndimage

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "LesionSegExtension"))

from LesionSegLib.headless import make_scene  # noqa: E402
from LesionSegLib.nodes import add_volume_node  # noqa: E402
from LesionSegLib.parameters import PREDICTION_SEGMENTS, REVIEW_SEGMENTS  # noqa: E402
from LesionSegLib.segmentation import SharedLabelmapSegmentation, import_mask  # noqa: E402
from LesionSegLib.session import ReviewSession  # noqa: E402

from LesionSegLogic.image import Image  # noqa: E402

SHAPE = (180, 256, 256)
SLIDER = [round(0.30 + 0.01 * i, 2) for i in range(25)]  # a drag over 25 slider positions


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


def timed(fn, values) -> list[float]:
    out = []
    for v in values:
        start = time.perf_counter()
        fn(v)
        out.append((time.perf_counter() - start) * 1000)
    return out


def main() -> None:
    from LesionSegLogic.threshold import ThresholdEngine  # noqa: F401 - the real engine is required here

    flair, reference, probability = make_case()
    app = make_scene()
    session = ReviewSession(app.scene)
    flair_node = add_volume_node(app.scene, flair, "FLAIR")
    session.set_inputs(flair_node)
    session.set_reference(flair.with_array(reference.astype(np.uint8)))
    session.load_probability(flair.with_array(probability), recommended_threshold=0.5)

    session.set_threshold(0.29)
    session_ms = timed(session.set_threshold, SLIDER)

    results = {t: session.engine.at(t) for t in SLIDER[:8]}

    def mrml_only(t: float) -> None:
        r = results[t]
        session.review.update(np.asarray(r.overlay, np.uint8))
        session.prediction.update(np.asarray(r.mask, bool).view(np.uint8))
        from LesionSegLib.tables import lesion_rows, write_lesion_table, write_metrics_table

        write_metrics_table(session.metrics_table, r.metrics)
        write_lesion_table(session.lesion_table, lesion_rows(r.lesions, session.flair))
        session.plot.set_current(t)

    mrml_ms = timed(mrml_only, list(results)[::-1])

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

    base = statistics.median(naive_ms)
    print(f"case {SHAPE[2]}x{SHAPE[1]}x{SHAPE[0]} voxels={np.prod(SHAPE):,}, "
          f"lesions(ref)={ndimage.label(reference)[1]}, slider positions={len(SLIDER)}")
    print(f"{'path':<10} {'median ms':>10} {'p90 ms':>8} {'ratio vs naive':>15}")
    for name, values in (("naive", naive_ms), ("session", session_ms), ("mrml-only", mrml_ms)):
        med = statistics.median(values)
        p90 = float(np.percentile(values, 90))
        print(f"{name:<10} {med:>10.1f} {p90:>8.1f} {med / base:>15.3f}")
    target = statistics.median(session_ms) <= 50
    print(f"target session median <= 50 ms: {'met' if target else 'NOT met'}")


if __name__ == "__main__":
    main()
