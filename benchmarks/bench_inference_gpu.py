"""Benchmark: how much of ``predict_volume``'s wall time on a GPU is spent in forward passes (issue 17).

A random 3-D U-Net (features 16/32/64, batch norm with non-trivial running statistics) runs through
:func:`LesionSegLogic.inference.predict_volume` on two synthetic head-shaped volumes (an ellipsoid of noise that
fills most of its box, the rest at the normalised background value): the issue's 96×128×112 head and a
full-brain-sized 182×218×182 one (MNI152 at 1 mm), patch 48³, Gaussian fusion, overlap 0.5, every window run
(``skip_background=False``) and at the defaults (background windows skipped).

For each run the table gives the wall time of ``predict_volume`` (median of ``--repeats`` after one warm-up
run, ``torch.cuda.synchronize`` before and after), the time inside the network's forward passes (CUDA events
recorded around each forward call, summed after the run; on the CPU ``time.perf_counter``) and the forward
share = forward / wall. The rest is what the engine adds: gathering windows, host → device copies, fusion,
the final copy back. Precision: ``autocast`` is the engine's default on CUDA (bf16 where supported);
``float32`` disables autocast inside the forward and TF32 for the run, so that it can be compared with a CPU
float32 run of the same network on the head volume (``max |Δp|`` in the last column; the CPU reference runs
once per skipping setting).

Only torch, numpy and ``LesionSegLogic.inference`` / ``LesionSegLogic.models`` are imported (no SimpleITK,
nibabel or phantom code; the script checks and says so), so it runs on a bare GPU machine with a torch build.

    python benchmarks/bench_inference_gpu.py                 # CUDA, both volumes; ≤ 30 s on one H200
    python benchmarks/bench_inference_gpu.py --device cpu --small   # a quick check of the script on a CPU
"""

from __future__ import annotations

import argparse
import contextlib
import os
import statistics
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from LesionSegLogic.inference import predict_volume  # noqa: E402 - after the path set-up above
from LesionSegLogic.inference.fold import fold_batchnorm  # noqa: E402
from LesionSegLogic.models import build_model  # noqa: E402

FEATURES = (16, 32, 64)
PATCH = 48
HEAD_SHAPE = (96, 128, 112)
BRAIN_SHAPE = (182, 218, 182)
#: the --small volumes (a CPU check of the script, not a measurement)
SMALL_HEAD_SHAPE = (48, 64, 56)
SMALL_BRAIN_SHAPE = (64, 72, 64)
#: imports the GPU path must not need
HEAVY_READERS = ("SimpleITK", "nibabel")


@dataclass
class ForwardTimer:
    """Times every forward call of the wrapped network: CUDA events on a GPU (read after the run), perf_counter
    on the CPU."""

    cuda: bool
    events: list[tuple[torch.cuda.Event, torch.cuda.Event]] = field(default_factory=list)
    cpu_seconds: float = 0.0

    def reset(self) -> None:
        self.events.clear()
        self.cpu_seconds = 0.0

    def seconds(self) -> float:
        if not self.cuda:
            return self.cpu_seconds
        torch.cuda.synchronize()
        return sum(start.elapsed_time(end) for start, end in self.events) / 1000.0


class TimedNet(nn.Module):
    """The network with its forward timed; ``float32`` turns the engine's autocast off inside the forward."""

    def __init__(self, net: nn.Module, timer: ForwardTimer, float32: bool) -> None:
        super().__init__()
        self.net = net
        self.timer = timer
        self.float32 = float32

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        precision = (torch.autocast(device_type=x.device.type, enabled=False) if self.float32 and x.is_cuda
                     else contextlib.nullcontext())
        if self.timer.cuda:
            start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
            start.record()
            with precision:
                out = self.net(x)
            end.record()
            self.timer.events.append((start, end))
            return out
        begin = time.perf_counter()
        out = self.net(x)
        self.timer.cpu_seconds += time.perf_counter() - begin
        return out


def build_net() -> nn.Module:
    """The 16/32/64 U-Net with batch norm, seeded, with running statistics that make the norms do work; its
    conv → batch-norm pairs folded once here (what ``predict_volume`` does by default), so that the timer wraps
    the network that actually runs."""
    torch.manual_seed(0)
    net = build_model("unet3d", in_channels=1, features=FEATURES, norm="batch")
    with torch.no_grad():
        for module in net.modules():
            if isinstance(module, nn.BatchNorm3d):
                module.running_mean.uniform_(-0.1, 0.1)
                module.running_var.uniform_(0.5, 1.5)
    return fold_batchnorm(net.eval())


def head_volume(shape: tuple[int, int, int]) -> np.ndarray:
    """A normalised ``(1, z, y, x)`` image: smooth-ish noise inside an ellipsoid reaching 90 % of each half-axis
    (a head that fills most of its box), the channel's minimum outside (as ``zscore_normalise`` leaves it)."""
    rng = np.random.default_rng(0)
    grids = np.ogrid[tuple(slice(0, n) for n in shape)]
    inside = sum(((g - (n - 1) / 2) / (0.45 * n)) ** 2 for g, n in zip(grids, shape, strict=True)) <= 1
    values = rng.standard_normal(shape).astype(np.float32)
    low = float(values.min())
    return np.where(inside, values, low).astype(np.float32)[None]


@dataclass
class Row:
    volume: str
    shape: tuple[int, ...]
    skip: bool
    precision: str
    windows: int
    wall: list[float]
    forward: list[float]
    max_diff: float | None = None

    @property
    def share(self) -> float:
        return statistics.median(f / w for f, w in zip(self.forward, self.wall, strict=True))


def run_once(
    net: TimedNet, image: np.ndarray, device: torch.device, skip: bool
) -> tuple[float, float, int, np.ndarray]:
    """One ``predict_volume`` call: (wall seconds, forward seconds, windows run, probability map)."""
    seen: list = []
    net.timer.reset()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    out = predict_volume(net, image, patch_size=(PATCH,) * 3, overlap=0.5, fusion="gaussian", device=device,
                         skip_background=skip, progress=seen.append, fold_norms=False)
    if device.type == "cuda":
        torch.cuda.synchronize()
    wall = time.perf_counter() - start
    return wall, net.timer.seconds(), (seen[-1].total if seen else 0), out


@contextlib.contextmanager
def strict_float32(enabled: bool):
    """TF32 off for cuDNN convolutions and matmuls while ``enabled`` (this script's own process only)."""
    saved = (torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32)
    if enabled:
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
    try:
        yield
    finally:
        torch.backends.cudnn.allow_tf32, torch.backends.cuda.matmul.allow_tf32 = saved


def measure(volume: str, image: np.ndarray, device: torch.device, skip: bool, float32: bool, repeats: int,
            reference: np.ndarray | None) -> Row:
    timer = ForwardTimer(cuda=device.type == "cuda")
    net = TimedNet(build_net(), timer, float32=float32)
    walls, forwards, windows, out = [], [], 0, None
    with strict_float32(float32 and device.type == "cuda"):
        run_once(net, image, device, skip)  # warm-up: CUDA context, cuDNN algorithm choice, allocator
        for _ in range(repeats):
            wall, forward, windows, out = run_once(net, image, device, skip)
            walls.append(wall)
            forwards.append(forward)
    diff = None
    if reference is not None and out is not None and float32:
        diff = float(np.abs(out - reference).max())
    precision = "float32" if float32 or device.type == "cpu" else "autocast"
    return Row(volume, image.shape[1:], skip, precision, windows, walls, forwards, diff)


def cpu_reference(image: np.ndarray, threads: int, skip: bool) -> np.ndarray:
    """The same network on the CPU in float32 (every window, or the foreground's): the map a GPU float32 run of the
    same windows should reproduce."""
    saved = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        timer = ForwardTimer(cuda=False)
        _, _, _, out = run_once(TimedNet(build_net(), timer, float32=True), image, torch.device("cpu"), skip)
    finally:
        torch.set_num_threads(saved)
    return out


def machine(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{torch.cuda.get_device_name(device)}, torch {torch.__version__}, CUDA {torch.version.cuda}"
    load = os.getloadavg() if hasattr(os, "getloadavg") else ("?",) * 3
    return f"CPU, {torch.get_num_threads()} threads, torch {torch.__version__}, load {load}"


def print_table(rows: list[Row], device: torch.device, repeats: int) -> None:
    print(f"\npredict_volume on {machine(device)}; UNet3D {FEATURES} + batch norm (folded), patch {PATCH}^3, "
          f"Gaussian fusion, overlap 0.5; median of {repeats} after a warm-up\n")
    print(f"{'volume':<8}{'shape':>16}{'skip':>6}{'precision':>10}{'windows':>9}{'wall s':>9}{'forward s':>11}"
          f"{'forward share':>15}{'max |Δp| vs CPU':>17}")
    for r in rows:
        diff = "" if r.max_diff is None else f"{r.max_diff:.1e}"
        shape = "×".join(str(n) for n in r.shape)
        print(f"{r.volume:<8}{shape:>16}{'on' if r.skip else 'off':>6}{r.precision:>10}{r.windows:>9}"
              f"{statistics.median(r.wall):>9.3f}{statistics.median(r.forward):>11.3f}{r.share:>15.0%}{diff:>17}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--device", default="cuda", help="cuda (default) or cpu")
    parser.add_argument("--small", action="store_true", help="small volumes: a quick check of the script")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--cpu-threads", type=int, default=max(1, (os.cpu_count() or 2)),
                        help="threads of the CPU float32 reference run")
    args = parser.parse_args(argv)
    if args.device == "cuda" and not torch.cuda.is_available():
        print("no CUDA GPU here: use --device cpu (with --small for a quick check)", file=sys.stderr)
        return 2
    device = torch.device(args.device)
    head_shape, brain_shape = (SMALL_HEAD_SHAPE, SMALL_BRAIN_SHAPE) if args.small else (HEAD_SHAPE, BRAIN_SHAPE)
    head, brain = head_volume(head_shape), head_volume(brain_shape)
    references = {skip: cpu_reference(head, args.cpu_threads, skip) for skip in (False, True)}

    rows = []
    precisions = (True, False) if device.type == "cuda" else (True,)
    for float32 in precisions:
        for skip in (False, True):
            rows.append(measure("head", head, device, skip, float32, args.repeats, references[skip]))
    for float32 in precisions:
        for skip in (False, True):
            rows.append(measure("brain", brain, device, skip, float32, args.repeats, None))
    print_table(rows, device, args.repeats)
    loaded = [name for name in HEAVY_READERS if name in sys.modules]
    print(f"\nimage readers imported on this path: {', '.join(loaded) if loaded else 'none'} "
          f"(of {', '.join(HEAVY_READERS)})")
    return 1 if loaded else 0


if __name__ == "__main__":
    raise SystemExit(main())
