"""Benchmark of the threshold engine against the naive path, on one CPU thread.

A realistic 180×256×256 (z, y, x) 1 mm map: a brain phantom with 40 lesions
(``LesionSegLogic.phantom.generate_case``), padded/cropped to the grid, its lesions turned into a probability
map by :func:`LesionSegLogic.threshold.synthetic.synthetic_probability` (the reference is the phantom's
mask). ``--ellipsoids`` uses random ellipsoid lesions instead (no phantom, faster start).

Prints one table: construction time, median/p95 of ``engine.at(t)`` at new thresholds (metrics only, and with
the mask, overlay and lesion rows materialised), the naive path (threshold + ``scipy.ndimage.label`` +
per-lesion loops) on the same thresholds, the ratios, a 101-threshold sweep, and whether every result equals
the naive oracle. The slider rows replay a realistic drag (``--drag`` steps of ±0.01–0.05 from 0.5, with a jump to
a random threshold every 15 steps) twice: through ``engine.at(t)`` reading mask/overlay/rows, and through the
live path (``engine.live().set(t)`` reading the same; its buffers are updated only where voxels changed); every
live step is checked against ``engine.at(t)``.
Run: ``.venv/bin/python benchmarks/bench_threshold.py [--rule anima] [--repeats 30]``.

``--noise`` benchmarks the bounded case of issue 19 item 9 instead: a uniform-noise map (180×256×256; about half
its voxels are ≥ 0.5, ~100,000 predicted lesions there) with a 0.1 % random reference. One table compares the
engine at the old fixed candidate cap (:data:`~LesionSegLogic.threshold.engine.DEFAULT_MAX_CANDIDATES`: a raised
floor, and 0.5 below it costs a whole-volume pass) with the memory-aware default cap
(:func:`~LesionSegLogic.threshold.engine.auto_max_candidates`): construction, the floor, ``at(t)`` above the floor,
``at(0.5)`` for each, the ratio, and the engine's ``bound_note``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"  # one thread: this script's own process only

import argparse  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from LesionSegLogic.threshold import ThresholdEngine  # noqa: E402
from LesionSegLogic.threshold.naive import naive_at  # noqa: E402
from LesionSegLogic.threshold.synthetic import SyntheticOptions, synthetic_probability  # noqa: E402

SHAPE = (180, 256, 256)


def fit(array: np.ndarray, shape: tuple[int, int, int]) -> np.ndarray:
    """Centre-pad with zeros / centre-crop ``array`` to ``shape``."""
    out = np.zeros(shape, dtype=array.dtype)
    src, dst = [], []
    for n, m in zip(array.shape, shape, strict=True):
        if n >= m:
            a = (n - m) // 2
            src.append(slice(a, a + m))
            dst.append(slice(0, m))
        else:
            a = (m - n) // 2
            src.append(slice(0, n))
            dst.append(slice(a, a + n))
    out[tuple(dst)] = array[tuple(src)]
    return out


def ellipsoids(rng: np.random.Generator, n: int) -> np.ndarray:
    mask = np.zeros(SHAPE, dtype=bool)
    for _ in range(n):
        c = rng.uniform([20, 40, 40], [160, 216, 216])
        r = rng.uniform(1.5, 6.0, 3)
        box = tuple(
            slice(int(max(0, c[a] - r[a] - 1)), int(min(SHAPE[a], c[a] + r[a] + 2))) for a in range(3)
        )
        grids = np.ogrid[box]
        mask[box] |= sum(((grids[a] - c[a]) / r[a]) ** 2 for a in range(3)) <= 1
    return mask


def same(a, b) -> bool:
    if (
        a.metrics != b.metrics
        or not np.array_equal(a.mask, b.mask)
        or not np.array_equal(a.overlay, b.overlay)
    ):
        return False
    ra, rb = a.lesions, b.lesions
    return len(ra) == len(rb) and all(
        x.id == y.id
        and x.kind == y.kind
        and x.n_voxels == y.n_voxels
        and x.status == y.status
        and x.partners == y.partners
        and np.allclose(x.centroid_zyx, y.centroid_zyx)
        and np.isclose(x.max_probability, y.max_probability)
        and np.isclose(x.mean_probability, y.mean_probability)
        for x, y in zip(ra, rb, strict=True)
    )


def drag(rng: np.random.Generator, steps: int) -> np.ndarray:
    """A slider drag: small steps of ±0.01–0.05 from 0.5, with a jump every 15 steps, inside [0.02, 0.98]."""
    t, out = 0.5, []
    for i in range(steps):
        if i % 15 == 14:
            t = float(rng.uniform(0.05, 0.95))
        else:
            t = float(np.clip(t + rng.choice((-1, 1)) * rng.uniform(0.01, 0.05), 0.02, 0.98))
        out.append(t)
    return np.array(out)


def same_live(update, result) -> bool:
    """A live update shows what ``engine.at`` returns at the same threshold."""
    return (
        update.metrics == result.metrics
        and np.array_equal(update.mask, result.mask)
        and np.array_equal(update.overlay, result.overlay)
        and update.lesions == result.lesions
    )


def noise_case(args: argparse.Namespace) -> None:
    """The ``--noise`` table (see the module docstring)."""
    from LesionSegLogic.threshold.engine import DEFAULT_MAX_CANDIDATES, auto_max_candidates

    rng = np.random.default_rng(args.seed)
    probability = rng.random(SHAPE, dtype=np.float32)
    reference = rng.random(SHAPE) < 0.001
    rows: list[tuple[str, str, str]] = []
    at_half: dict[str, float] = {}
    notes: dict[str, str | None] = {}
    for label, cap in (("fixed cap", DEFAULT_MAX_CANDIDATES), ("memory-aware cap", auto_max_candidates())):
        t0 = time.perf_counter()
        engine = ThresholdEngine(probability, (1.0, 1.0, 1.0), reference, args.rule, max_candidates=cap)
        construction = time.perf_counter() - t0
        above = []
        for t in np.linspace(max(engine.floor, 0.5) + 0.01, 0.99, 5):
            t1 = time.perf_counter()
            engine.at(float(t))
            above.append(time.perf_counter() - t1)
        t1 = time.perf_counter()
        result = engine.at(0.5)
        _ = result.mask, result.overlay, result.lesions
        at_half[label] = time.perf_counter() - t1
        notes[label] = engine.bound_note
        rows += [
            (f"{label} {cap:,}: construction (s)", f"{construction:.2f}", ""),
            (f"{label}: floor", f"{engine.floor:.3f}", f"{engine.n_candidates:,} candidates"),
            (f"{label}: at(t) above the floor, median (ms)", f"{1e3 * float(np.median(above)):.1f}", ""),
            (f"{label}: at(0.5) + mask/overlay/rows (s)", f"{at_half[label]:.2f}",
             f"{result.metrics['lesion']['n_predicted']:,} predicted lesions"),
        ]
    ratio = at_half["fixed cap"] / at_half["memory-aware cap"]
    rows.append(("at(0.5): fixed cap / memory-aware cap", "", f"{ratio:.1f}x"))
    print(f"uniform noise {SHAPE}, reference {int(reference.sum()):,} voxels (0.1 %), rule {args.rule}")
    width = max(len(r[0]) for r in rows)
    for name, value, r in rows:
        print(f"{name:<{width}}  {value:>10}  {r}")
    for label, note in notes.items():
        print(f"bound_note ({label}): {note}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rule", default="hussein")
    parser.add_argument("--repeats", type=int, default=30, help="new thresholds timed for the engine")
    parser.add_argument("--naive-repeats", type=int, default=8)
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--drag", type=int, default=60, help="slider steps of the live-path rows")
    parser.add_argument("--ellipsoids", action="store_true", help="ellipsoid lesions instead of the phantom")
    parser.add_argument("--noise", action="store_true", help="the uniform-noise map (bounded work, issue 19)")
    args = parser.parse_args()
    if args.noise:
        noise_case(args)
        return
    rng = np.random.default_rng(args.seed)

    if args.ellipsoids:
        reference, source = ellipsoids(rng, 40), "ellipsoids"
    else:
        from LesionSegLogic.phantom.generate import generate_case

        case = generate_case(args.seed, n_lesions=40, noise=False)
        reference, source = fit(case.lesions.array > 0, SHAPE), f"phantom seed {args.seed}"
    probability = synthetic_probability(
        reference, seed=args.seed, options=SyntheticOptions(n_false_positives=12)
    )

    t0 = time.perf_counter()
    engine = ThresholdEngine(probability, (1.0, 1.0, 1.0), reference, args.rule)
    construction = time.perf_counter() - t0

    thresholds = rng.uniform(0.05, 0.95, args.repeats)
    fast, fast_full, naive, equal = [], [], [], True
    for t in thresholds:
        t1 = time.perf_counter()
        engine.at(float(t))
        fast.append(time.perf_counter() - t1)
    for t in thresholds + 1e-7:  # new thresholds again, now materialising everything
        t1 = time.perf_counter()
        result = engine.at(float(t))
        _ = result.mask, result.overlay, result.lesions
        fast_full.append(time.perf_counter() - t1)
    for t in thresholds[: args.naive_repeats]:
        t1 = time.perf_counter()
        oracle = naive_at(engine.inputs, float(t))
        _ = oracle.mask, oracle.overlay, oracle.lesions
        naive.append(time.perf_counter() - t1)
        equal &= same(engine.at(float(t)), oracle)
    for t in (0.0, 0.5, 1.0):
        equal &= same(engine.at(t), naive_at(engine.inputs, t))

    path = drag(rng, args.drag)
    drag_at, drag_live, n_changed = [], [], []
    for t in path:
        t1 = time.perf_counter()
        result = engine.at(float(t))
        _ = result.mask, result.overlay, result.lesions
        drag_at.append(time.perf_counter() - t1)
    live = engine.live()
    live_equal = True
    for t in path:
        t1 = time.perf_counter()
        update = live.set(float(t))
        _ = update.mask, update.overlay, update.lesions, update.changed, update.bbox
        drag_live.append(time.perf_counter() - t1)
        n_changed.append(update.changed.size)
        live_equal &= same_live(update, engine.at(float(t)))
    for t in (0.0, 0.5, 1.0, 0.005, 0.5):  # outside the forest and back
        update = live.set(t)
        live_equal &= same(update, naive_at(engine.inputs, t))

    t2 = time.perf_counter()
    curve = engine.sweep(np.linspace(0.0, 1.0, 101))
    sweep_s = time.perf_counter() - t2

    ms = lambda xs, q: 1e3 * float(np.percentile(xs, q))  # noqa: E731
    naive_med = ms(naive, 50)
    lesions = engine.at(0.5).metrics["lesion"]
    print(
        f"map {SHAPE} from {source}: {int(reference.sum())} lesion voxels, "
        f"{lesions['n_reference']} reference lesions, {lesions['n_predicted']} predicted at 0.5; rule {args.rule}; "
        f"{engine.n_candidates} candidates ≥ floor {engine.floor}"
    )
    rows = [
        ("construction (s)", f"{construction:.3f}", ""),
        ("at(t) metrics, median (ms)", f"{ms(fast, 50):.2f}", f"{naive_med / ms(fast, 50):.0f}x"),
        ("at(t) metrics, p95 (ms)", f"{ms(fast, 95):.2f}", ""),
        (
            "at(t) + mask/overlay/rows, median (ms)",
            f"{ms(fast_full, 50):.2f}",
            f"{naive_med / ms(fast_full, 50):.0f}x",
        ),
        ("at(t) + mask/overlay/rows, p95 (ms)", f"{ms(fast_full, 95):.2f}", ""),
        ("naive path, median (ms)", f"{naive_med:.1f}", "1x (baseline)"),
        (f"drag {args.drag} steps: at(t) + mask/overlay/rows, median (ms)", f"{ms(drag_at, 50):.2f}",
         f"{naive_med / ms(drag_at, 50):.0f}x"),
        (f"drag {args.drag} steps: at(t) + mask/overlay/rows, p95 (ms)", f"{ms(drag_at, 95):.2f}", ""),
        (f"drag {args.drag} steps: live.set(t) + mask/overlay/rows, median (ms)", f"{ms(drag_live, 50):.2f}",
         f"{naive_med / ms(drag_live, 50):.0f}x; {ms(drag_at, 50) / ms(drag_live, 50):.1f}x vs at(t)"),
        (f"drag {args.drag} steps: live.set(t) + mask/overlay/rows, p95 (ms)", f"{ms(drag_live, 95):.2f}", ""),
        ("drag: voxels changed per step, median / max",
         f"{int(np.median(n_changed))} / {max(n_changed)}", ""),
        (
            "sweep 101 thresholds 0..1 (s)",
            f"{sweep_s:.3f}",
            f"{101 * naive_med / 1e3 / sweep_s:.0f}x vs 101 naive",
        ),
        ("construction in naive calls", f"{construction / (naive_med / 1e3):.1f}", ""),
        ("identical to naive oracle", str(equal), ""),
        ("live path identical to at(t) / oracle", str(live_equal), ""),
    ]
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'value':>10}  ratio (naive / engine)")
    for name, value, r in rows:
        print(f"{name:<{width}}  {value:>10}  {r}")
    del curve


if __name__ == "__main__":
    main()
