"""Benchmark: LesionSeg's sliding-window inference against MONAI's ``sliding_window_inference``.

Same network (a small random 3-D U-Net with batch norm), patch, overlap and Gaussian weighting, on two
volumes: the phantom head (``LesionSegLogic.phantom.generate_case``; a synthetic head if the phantom is
unavailable) and a ``full`` volume of noise that fills its whole box (no empty window anywhere). Every
configuration runs in its own subprocess so that its peak memory (VmHWM) is its own; all in the same run, two
threads each (``torch.set_num_threads(2)`` for MONAI and LesionSeg alike), repeated ``--repeats`` times in
interleaved order; the table shows medians and ratios against MONAI at its default ``sw_batch_size=1``.

    .venv/bin/python benchmarks/bench_inference.py [--spacing 2] [--patch 48] [--repeats 3] [--quick]
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from LesionSegLogic.inference.tta import TTAS  # noqa: E402 - after the path set-up above (torch-free)


def make_full_volume(folder: Path, shape: tuple[int, int, int]) -> dict:
    """Smooth noise over the whole box: every window holds foreground, so skipping can save nothing."""
    rng = np.random.default_rng(1)
    image = rng.standard_normal((1, *shape)).astype(np.float32)
    np.save(folder / "image.npy", image)
    np.save(folder / "mask.npy", np.ones(shape, dtype=bool))
    return {"source": "full box of noise", "shape": list(shape), "foreground": 1.0}


def make_volume(folder: Path, spacing: float) -> dict:
    from LesionSegLogic.preprocessing import foreground_mask, zscore_normalise

    try:
        from LesionSegLogic.phantom import generate_case

        flair = generate_case(0, spacing=(spacing,) * 3).flair
        raw, source = flair.array.astype(np.float32), "phantom brain (seed 0)"
    except Exception as error:  # any failure: fall back to a synthetic head
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


def build_net(features: tuple[int, ...]):
    import torch

    from LesionSegLogic.models import build_model

    torch.manual_seed(0)
    net = build_model("unet3d", in_channels=1, features=features, norm="batch")
    with torch.no_grad():  # non-trivial running statistics, so that batch norm (and its folding) does real work
        for module in net.modules():
            if isinstance(module, torch.nn.BatchNorm3d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return net.eval()


def worker(config: dict, folder: Path) -> dict:
    import torch

    torch.set_num_threads(config["threads"])
    image = np.load(folder / "image.npy")
    net = build_net(tuple(config["features"]))
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
                             tta=config["tta"], device="cpu", skip_background=skip, progress=seen.append,
                             batch_size=config.get("batch"), fold_norms=config.get("fold", True),
                             cpu_bf16=config.get("bf16", False))
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


def run_config(config: dict, folder: Path) -> dict:
    proc = subprocess.run(
        [sys.executable, __file__, "--worker", json.dumps(config), "--folder", str(folder)],
        capture_output=True, text=True, check=True,
    )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def prepare(volume: str, folder: Path, spacing: float, full_shape: tuple[int, int, int]) -> dict:
    """Writes ``image.npy`` and ``mask.npy`` in a subprocess, so that this parent stays small."""
    call = (f"make_volume(Path({str(folder)!r}), {spacing})" if volume == "head"
            else f"make_full_volume(Path({str(folder)!r}), {tuple(full_shape)})")
    made = subprocess.run(
        [sys.executable, "-c", f"import sys, json; sys.path.insert(0, {str(ROOT)!r}); "
         f"from benchmarks.bench_inference import make_volume, make_full_volume; from pathlib import Path; "
         f"print(json.dumps({call}))"],
        capture_output=True, text=True, check=True,
    )
    return json.loads(made.stdout.strip().splitlines()[-1])


def configurations(volume: str, base: dict, quick: bool) -> list[dict]:
    configs = [
        {**base, "name": "monai", "engine": "monai", "skip": False},
        {**base, "name": "monai_batch4", "engine": "monai", "skip": False, "sw_batch": 4},
        {**base, "name": "lesionseg_noskip", "engine": "lesionseg", "skip": False},
        {**base, "name": "lesionseg_noskip_nofold", "engine": "lesionseg", "skip": False, "fold": False},
    ]
    if not quick:
        configs.append({**base, "name": "lesionseg_noskip_batch1", "engine": "lesionseg", "skip": False, "batch": 1})
    configs.append({**base, "name": "lesionseg_noskip_bf16", "engine": "lesionseg", "skip": False, "bf16": True})
    if volume == "head":
        configs.append({**base, "name": "lesionseg_default", "engine": "lesionseg", "skip": True})
        configs.append({**base, "name": "lesionseg_default_bf16", "engine": "lesionseg", "skip": True, "bf16": True})
    if volume == "head" and not quick:
        configs += [
            {**base, "name": "lesionseg_overlap75", "engine": "lesionseg", "skip": True, "overlap": 0.75},
            *({**base, "name": f"lesionseg_tta_{t}", "engine": "lesionseg", "skip": True, "tta": t}
              for t in TTAS if t != "none"),
        ]
    return configs


def bench_volume(volume: str, args: argparse.Namespace) -> None:
    folder = Path(tempfile.mkdtemp(prefix=f"bench_inference_{volume}_"))
    info = prepare(volume, folder, args.spacing, tuple(args.full_shape))
    base = {"patch": args.patch, "overlap": 0.5, "tta": "none", "threads": args.threads,
            "features": list(args.features)}
    configs = [c for c in configurations(volume, base, args.quick) if not args.only or c["name"] in args.only]
    if configs[0]["name"] != "monai":
        raise SystemExit("--only must include monai (every ratio is against it)")
    runs: dict[str, list[dict]] = {c["name"]: [] for c in configs}
    for repeat in range(args.repeats):  # interleaved, so that a change of machine load hits every configuration
        for config in configs:
            runs[config["name"]].append(run_config(config, folder))
            print(f"  {volume} #{repeat + 1} {config['name']}: {runs[config['name']][-1]['seconds']:.1f} s",
                  file=sys.stderr)
    results = {}
    for config in configs:
        done = runs[config["name"]]
        seconds = [r["seconds"] for r in done]
        results[config["name"]] = {**config, "seconds": statistics.median(seconds), "spread": max(seconds) -
                                   min(seconds), "windows": done[-1]["windows"],
                                   "peak_mb": statistics.median(r["peak_mb"] for r in done)}

    monai_map = np.load(folder / "monai.npy")
    mask = np.load(folder / "mask.npy")
    m = results["monai"]
    print(f"\nvolume: {info['source']}, shape {info['shape']}"
          f"{f' at {args.spacing} mm' if volume == 'head' else ''}, foreground {info['foreground']:.0%}; "
          f"patch {args.patch}^3, Gaussian fusion, UNet3D features {tuple(args.features)} with batch norm, "
          f"{args.threads} threads, median of {args.repeats}; uptime: {uptime()}\n")
    print(f"{'configuration':<26}{'overlap':>8}{'tta':>9}{'windows':>9}{'seconds':>9}{'spread':>8}{'win/s':>8}"
          f"{'vs MONAI':>10}{'peak MB':>9}{'mem ratio':>11}")
    for r in results.values():
        print(f"{r['name']:<26}{r['overlap']:>8.2f}{r['tta']:>9}{r['windows']:>9}{r['seconds']:>9.2f}"
              f"{r['spread']:>8.2f}{r['windows'] / r['seconds']:>8.2f}{m['seconds'] / r['seconds']:>9.2f}x"
              f"{r['peak_mb']:>9.0f}{r['peak_mb'] / m['peak_mb']:>10.2f}x")
    for name in ("lesionseg_noskip", "lesionseg_noskip_nofold", "lesionseg_noskip_bf16"):
        if name in results:
            print(f"max |{name} − MONAI| = {np.abs(np.load(folder / f'{name}.npy') - monai_map).max():.2e}"
                  f"  (target ≤ {1e-3 if 'bf16' in name else 1e-4:g})")
    for name in ("lesionseg_default", "lesionseg_default_bf16"):
        if name not in results:
            continue
        default = np.load(folder / f"{name}.npy")
        print(f"max |{name} − MONAI| inside the foreground = "
              f"{np.abs(default - monai_map)[mask].max():.2e}; outside, LesionSeg's map is 0 where no window ran")
        print(f"{name} (skipping) vs MONAI: {m['seconds'] / results[name]['seconds']:.2f}x (target ≥ 4x)")
    if "lesionseg_noskip" in results:
        print(f"no skipping vs MONAI: {m['seconds'] / results['lesionseg_noskip']['seconds']:.2f}x (target ≥ 2x)")
    if "lesionseg_noskip" in results and "monai_batch4" in results:
        print(f"no skipping vs MONAI at sw_batch_size 4: "
              f"{results['monai_batch4']['seconds'] / results['lesionseg_noskip']['seconds']:.2f}x")


def uptime() -> str:
    """The 1, 5 and 15 minute load averages, as ``uptime`` prints them."""
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--spacing", type=float, default=2.0, help="phantom voxel size (mm)")
    parser.add_argument("--patch", type=int, default=48)
    parser.add_argument("--features", type=int, nargs="+", default=[8, 16, 32], help="UNet3D widths")
    parser.add_argument("--threads", type=int, default=2, help="torch threads, the same for every engine")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--volumes", nargs="+", choices=("head", "full"), default=["head", "full"])
    parser.add_argument("--full-shape", type=int, nargs=3, default=[96, 128, 112], help="the 'full' volume")
    parser.add_argument("--quick", action="store_true", help="skip the overlap/TTA/batch-1 rows")
    parser.add_argument("--only", nargs="+", help="run only these configurations (monai among them)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--folder", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(json.loads(args.worker), Path(args.folder))))
        return
    for volume in args.volumes:
        bench_volume(volume, args)


if __name__ == "__main__":
    main()
