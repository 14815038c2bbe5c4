"""Benchmark: LesionSeg's sliding-window inference against MONAI's ``sliding_window_inference``.

Same network (a small random 3-D U-Net), patch, overlap and Gaussian weighting, on a phantom brain volume
(``LesionSegLogic.phantom.generate_case``; a synthetic head if the phantom is unavailable). Every
configuration runs in its own subprocess so that its peak memory (``ru_maxrss``) is its own; all in the same
run, one thread each. Prints a table with ratios against MONAI.

    .venv/bin/python benchmarks/bench_inference.py [--spacing 2] [--patch 48] [--quick]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def make_volume(folder: Path, spacing: float) -> dict:
    from LesionSegLogic.preprocessing import foreground_mask, zscore_normalise

    try:
        from LesionSegLogic.phantom import generate_case

        flair = generate_case(0, spacing=(spacing,) * 3).flair
        raw, source = flair.array.astype(np.float32), "phantom brain (seed 0)"
    except Exception as error:  # noqa: BLE001 - any failure: fall back to a synthetic head
        shape = tuple(int(round(n / spacing)) for n in (190, 230, 190))
        z, y, x = np.indices(shape)
        c = np.array(shape) / 2
        head = sum(((g - ci) / (0.4 * n)) ** 2 for g, ci, n in zip((z, y, x), c, shape, strict=True)) <= 1
        rng = np.random.default_rng(0)
        raw = np.where(head, 100 + 10 * rng.standard_normal(shape), np.abs(rng.standard_normal(shape)))
        raw, source = raw.astype(np.float32), f"synthetic head ({error.__class__.__name__})"
    image = zscore_normalise(raw)[None].astype(np.float32)
    mask = foreground_mask(raw)
    np.save(folder / "image.npy", image)
    np.save(folder / "mask.npy", mask)
    return {"source": source, "shape": list(raw.shape), "foreground": float(mask.mean())}


def build_net(patch: int):
    import torch

    from LesionSegLogic.models import build_model

    torch.manual_seed(0)
    return build_model("unet3d", in_channels=1, features=(8, 16, 32), norm="batch").eval()


def worker(config: dict, folder: Path) -> dict:
    import torch

    torch.set_num_threads(1)
    image = np.load(folder / "image.npy")
    net = build_net(config["patch"])
    patch = (config["patch"],) * 3
    start = time.perf_counter()
    windows = 0
    if config["engine"] == "monai":
        from monai.inferers import sliding_window_inference

        calls = [0]

        def predictor(x: torch.Tensor) -> torch.Tensor:
            calls[0] += x.shape[0]
            return torch.sigmoid(net(x))

        with torch.inference_mode():
            out = sliding_window_inference(
                torch.from_numpy(image)[None], patch, config.get("sw_batch", 1), predictor,
                overlap=config["overlap"], mode="gaussian",
            )[0, 0].numpy()
        windows = calls[0]
    else:
        from LesionSegLogic.inference import predict_volume

        seen = []
        skip = np.load(folder / "mask.npy") if config["skip"] else False
        out = predict_volume(net, image, patch_size=patch, overlap=config["overlap"], fusion="gaussian",
                             tta=config["tta"], device="cpu", skip_background=skip, progress=seen.append)
        windows = seen[-1].total if seen else 0
    seconds = time.perf_counter() - start
    np.save(folder / f"{config['name']}.npy", out)
    return {"seconds": seconds, "windows": windows, "peak_mb": peak_rss_mb()}


def peak_rss_mb() -> float:
    """This process's peak resident memory: VmHWM (reset at exec, unlike ru_maxrss, which a child inherits
    from the parent it was forked from)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spacing", type=float, default=2.0, help="phantom voxel size (mm)")
    parser.add_argument("--patch", type=int, default=48)
    parser.add_argument("--quick", action="store_true", help="skip the overlap/TTA table")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker), Path(args.folder))))
        return

    folder = Path(tempfile.mkdtemp(prefix="bench_inference_"))
    # the volume is made in a subprocess too, so that this parent stays small
    made = subprocess.run(
        [sys.executable, "-c", f"import sys, json; sys.path.insert(0, {str(ROOT)!r}); "
         f"from benchmarks.bench_inference import make_volume; from pathlib import Path; "
         f"print(json.dumps(make_volume(Path({str(folder)!r}), {args.spacing})))"],
        capture_output=True, text=True, check=True,
    )
    info = json.loads(made.stdout.strip().splitlines()[-1])
    base = {"patch": args.patch, "overlap": 0.5, "tta": "none"}
    configs = [
        {**base, "name": "monai", "engine": "monai", "skip": False},
        {**base, "name": "monai_batch2", "engine": "monai", "skip": False, "sw_batch": 2},
        {**base, "name": "lesionseg_noskip", "engine": "lesionseg", "skip": False},
        {**base, "name": "lesionseg_default", "engine": "lesionseg", "skip": True},
    ]
    if not args.quick:
        configs += [
            {**base, "name": "lesionseg_overlap75", "engine": "lesionseg", "skip": True, "overlap": 0.75},
            *({**base, "name": f"lesionseg_tta_{t}", "engine": "lesionseg", "skip": True, "tta": t}
              for t in ("flip", "rot", "flip-rot")),
        ]
    results = {}
    for config in configs:
        proc = subprocess.run(
            [sys.executable, __file__, "--worker", json.dumps(config), "--folder", str(folder)],
            capture_output=True, text=True, check=True,
        )
        results[config["name"]] = {**config, **json.loads(proc.stdout.strip().splitlines()[-1])}
        print(f"  ran {config['name']}: {results[config['name']]['seconds']:.1f} s", file=sys.stderr)

    monai_map = np.load(folder / "monai.npy")
    noskip = np.load(folder / "lesionseg_noskip.npy")
    default = np.load(folder / "lesionseg_default.npy")
    mask = np.load(folder / "mask.npy")
    m = results["monai"]
    print(f"\nvolume: {info['source']}, shape {info['shape']} at {args.spacing} mm, "
          f"foreground {info['foreground']:.0%}; patch {args.patch}^3, Gaussian fusion, 1 thread\n")
    print(f"{'configuration':<22}{'overlap':>8}{'tta':>9}{'windows':>9}{'seconds':>9}{'win/s':>8}"
          f"{'speed-up':>10}{'peak MB':>9}{'mem ratio':>11}")
    for r in results.values():
        print(f"{r['name']:<22}{r['overlap']:>8.2f}{r['tta']:>9}{r['windows']:>9}{r['seconds']:>9.2f}"
              f"{r['windows'] / r['seconds']:>8.2f}{m['seconds'] / r['seconds']:>9.2f}x"
              f"{r['peak_mb']:>9.0f}{r['peak_mb'] / m['peak_mb']:>10.2f}x")
    print(f"\nmax |LesionSeg (no skipping) − MONAI| = {np.abs(noskip - monai_map).max():.2e}  (target ≤ 1e-4)")
    print(f"max |LesionSeg (default) − MONAI| inside the foreground = "
          f"{np.abs(default - monai_map)[mask].max():.2e}; outside, LesionSeg's map is 0 where no window ran")
    speed = m["seconds"] / results["lesionseg_default"]["seconds"]
    print(f"defaults vs MONAI: {speed:.2f}x faster (target ≥ 2x), peak memory "
          f"{results['lesionseg_default']['peak_mb']:.0f} vs {m['peak_mb']:.0f} MB")


if __name__ == "__main__":
    main()
