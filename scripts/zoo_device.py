#!/usr/bin/env python3
"""Train the zoo v2 models on one GPU (issue 12), from the arrays ``scripts/zoo_data.py pack`` wrote.

    python3 scripts/zoo_device.py --pack .zoo_pack --out "$OUT" --deadline 480          # on the lent GPU
    .venv/bin/python scripts/zoo_device.py --device cpu --iterations 5 --only brain:dice cord:bce --out /tmp/z

Needs only torch, numpy, safetensors and MONAI (carried as a wheel) besides the repository's own
``LesionSegLogic.models`` / ``losses`` / ``training`` (none of them imports SimpleITK, nibabel or nilearn).

* **Sets and losses**: :mod:`LesionSegLogic.training.zoo_recipe` (25 models: brain 13, brain_flair 3, cord 7,
  longitudinal 2). Every model of a set has the same initial weights (``torch.manual_seed(seed)`` before it is
  built) and sees the same batches: a batch is drawn from a generator seeded with ``(seed, batch index)`` —
  lesion-centred patches (:class:`LesionSegLogic.training.sampling.LesionCentredSampler`), mirroring and 90°
  rotations as :mod:`LesionSegLogic.training.augment` draws them, then the MONAI domain randomisation
  (:mod:`LesionSegLogic.training.randomise`) — all on the GPU, with the data held there.
* **Processes**: the models of a set are split into groups of at most ``--group-size``; each group is one process
  that draws its set's batches once per iteration and steps each of its models on them (small U-Nets do not fill
  an H200, so several processes share it). bf16 autocast on CUDA; deterministic algorithms where CUDA has them
  (max-pool backward has none: ``warn_only``).
* **Deadline**: training stops ``--deadline`` seconds after the start (or after ``--iterations``); each model keeps
  its best-validation-loss weights (validation patches drawn once from the validation subjects, checked every
  ``val_every`` iterations, learning rate halved after 3 checks without improvement). As soon as a group finishes,
  its models' ``model.safetensors`` + ``train.json`` are added to ``OUT/models_N.tar`` (tars of ≤ 15 MiB, rewritten
  atomically), so partial results come back even when the call is cut short.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import multiprocessing as mp
import os
import subprocess
import sys
import tarfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

LF1_ESTIMATOR = ROOT / "Resources" / "Models" / "dice_lf1"
TAR_LIMIT = 15 << 20
N_VAL_BATCHES = 6
SAVE_MARGIN_S = 12.0
_PLANES = ((0, 1), (0, 2), (1, 2))


@dataclass
class Group:
    """One training process: a set and the names of the losses it trains."""

    set_name: str
    losses: list[str]

    @property
    def label(self) -> str:
        return f"{self.set_name}[{','.join(self.losses)}]"


def make_groups(only: list[str] | None, group_size: int) -> list[Group]:
    from LesionSegLogic.training.zoo_recipe import SETS

    groups = []
    for name, zset in SETS.items():
        losses = [r.name for r in zset.recipes() if not only or f"{name}:{r.name}" in only]
        if not losses:
            continue
        n = math.ceil(len(losses) / group_size)
        bounds = [round(i * len(losses) / n) for i in range(n + 1)]  # sizes differ by one at most
        groups += [Group(name, losses[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
    return groups


# ------------------------------------------------------------------------------------------------------ data
def load_cases(pack: Path, set_name: str, device: Any) -> tuple[list[Any], list[Any], dict[str, Any]]:
    """Training and validation cases of a set: [(name, image tensor (C, z, y, x), mask numpy uint8)]."""
    import numpy as np
    import torch
    from zoo_data import load_pack

    from LesionSegLogic.training.zoo_recipe import SETS

    zset = SETS[set_name]
    manifest = json.loads((pack / "manifest.json").read_text())
    info = manifest["sets"][zset.data]
    arrays = load_pack(pack, zset.data)
    index = [info["images"].index(c) for c in zset.channels]
    cases = []
    for name, (image, mask) in zip(info["cases"], arrays, strict=True):
        channels = [image[i] for i in index]
        if "difference" in zset.inputs:  # as the predictor: normalised follow-up FLAIR − normalised baseline
            channels.append(image[info["images"].index("flair")] - image[info["images"].index("baseline_flair")])
        stacked = np.stack(channels).astype(np.float32)
        pads = [(0, max(0, p - s)) for p, s in zip(zset.patch, mask.shape, strict=True)]
        if any(after for _, after in pads):
            pads = [(a // 2, a - a // 2) for _, a in pads]
            stacked = np.stack([np.pad(c, pads, constant_values=float(c.min())) for c in stacked])
            mask = np.pad(mask, pads)
        cases.append((name, torch.from_numpy(stacked).to(device), mask.astype(np.uint8)))
    n_val = max(1, round(len(cases) * 0.15))
    meta = {"pack": {k: v for k, v in info.items() if k not in ("spacing", "lesion_voxels")},
            "quantisation": manifest.get("quantisation"), "pack_commit": manifest.get("git_commit"),
            "generator_settings": manifest.get("generator_settings"), "grid_spacing": info["spacing"][0],
            "subjects": {"train": [c[0] for c in cases[:-n_val]], "validation": [c[0] for c in cases[-n_val:]]}}
    return cases[:-n_val], cases[-n_val:], meta


class PatchStream:
    """Batches of one set on the device; batch ``index`` depends only on ``(seed, index)``."""

    def __init__(self, cases: list[Any], patch: tuple[int, int, int], batch: int, seed: int, *,
                 lesion_share: float, jitter: float, augment: bool, randomiser: Any = None) -> None:
        import numpy as np

        from LesionSegLogic.training.data import LoadedCase
        from LesionSegLogic.training.sampling import LesionCentredSampler

        self.images = [c[1] for c in cases]
        loaded = [LoadedCase(c[0], np.empty((0,)), c[2], (1.0, 1.0, 1.0)) for c in cases]
        self.masks = [c[2] for c in cases]
        self.sampler = LesionCentredSampler(loaded, patch, lesion_share, jitter)
        self.patch, self.batch, self.seed = patch, batch, seed
        self.augment, self.randomiser = augment, randomiser
        self._mask_tensors: dict[int, Any] = {}

    def _mask(self, i: int, device: Any) -> Any:
        import torch

        if i not in self._mask_tensors:
            self._mask_tensors[i] = torch.from_numpy(self.masks[i]).to(device)
        return self._mask_tensors[i]

    def next(self, index: int) -> tuple[Any, Any]:
        import numpy as np
        import torch

        from LesionSegLogic.training.randomise import batch_seed

        rng = np.random.default_rng([self.seed, index])
        xs, ys = [], []
        for _ in range(self.batch):
            spec = self.sampler.draw(rng)
            sl = tuple(slice(a, a + p) for a, p in zip(spec.start, self.patch, strict=True))
            image = self.images[spec.case]
            x = image[(slice(None), *sl)]
            y = self._mask(spec.case, image.device)[sl].float()[None]
            if self.augment:  # the draws of LesionSegLogic.training.augment.augment, on tensors
                for axis in range(3):
                    if rng.random() < 0.5:
                        x, y = torch.flip(x, (axis + 1,)), torch.flip(y, (axis + 1,))
                a, b = _PLANES[int(rng.integers(3))]
                k = int(rng.integers(4))
                if self.patch[a] != self.patch[b]:
                    k = 2 * (k % 2)
                if k:
                    x, y = torch.rot90(x, k, (a + 1, b + 1)), torch.rot90(y, k, (a + 1, b + 1))
            xs.append(x)
            ys.append(y)
        x, y = torch.stack(xs).contiguous(), torch.stack(ys).contiguous()
        if self.randomiser is not None:
            x, y = self.randomiser(x, y, batch_seed(self.seed, index))
        return x, y


# --------------------------------------------------------------------------------------------------- training
@dataclass
class Trainee:
    """One model being trained, with its loss, optimiser and record."""

    name: str
    recipe: Any
    model: Any
    loss: Any
    optimiser: Any
    scheduler: Any
    best: float = math.inf
    best_state: dict[str, Any] | None = None
    best_iteration: int = 0
    curve: list[list[float]] | None = None
    running: float = 0.0
    running_n: int = 0
    failed: str = ""
    warm: dict[str, Any] | None = None


def _warm_start(init: str | None, init_map: dict[str, str], set_name: str, name: str) -> tuple[Path, int] | None:
    """The weights a model continues from (``--init DIR``: DIR/<set>/<name>, or the model ``--init-map`` names for
    it, e.g. a failed model warm-started from a sibling) and the iterations already spent on them."""
    if not init:
        return None
    source = init_map.get(f"{set_name}:{name}", name)
    folder = Path(init) / set_name / source
    if not (folder / "model.safetensors").is_file():
        return None
    done = json.loads((folder / "train.json").read_text()).get("iterations", 0)
    return folder, int(done)


def _build_trainees(group: Group, recipe: Any, in_channels: int, device: Any,
                    args: dict[str, Any] | None = None) -> list[Trainee]:
    import torch

    from LesionSegLogic.losses import build_loss
    from LesionSegLogic.models import build_model
    from LesionSegLogic.training.lf1_estimator import LF1Loss, load_estimator
    from LesionSegLogic.training.zoo_recipe import SETS

    zset = SETS[group.set_name]
    out = []
    for loss_recipe in (r for r in zset.recipes() if r.name in group.losses):
        torch.manual_seed(recipe.seed)  # the same initial weights for every loss (Cabezas & Diez 2024)
        model = build_model("unet3d", in_channels=in_channels, features=list(recipe.features), norm=recipe.norm)
        warm = _warm_start((args or {}).get("init"), (args or {}).get("init_map", {}), group.set_name,
                           loss_recipe.name)
        if warm:
            from safetensors.torch import load_file

            model.load_state_dict(load_file(str(warm[0] / "model.safetensors")))
        model = model.to(device)
        loss = build_loss(loss_recipe.loss, **loss_recipe.params)
        if loss_recipe.lf1:
            loss = LF1Loss(loss, load_estimator(LF1_ESTIMATOR, device), weight=0.2)
        loss = loss.to(device)
        lr = recipe.learning_rate(loss_recipe.optimiser)
        optimiser = (torch.optim.Adadelta(model.parameters(), lr=lr) if loss_recipe.optimiser == "adadelta"
                     else torch.optim.Adam(model.parameters(), lr=lr))
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimiser, mode="min", factor=0.5, patience=3)
        trainee = Trainee(loss_recipe.name, loss_recipe, model, loss, optimiser, scheduler, curve=[])
        trainee.warm = {"from": str(warm[0]), "previous_iterations": warm[1]} if warm else None
        out.append(trainee)
    return out


def _validate(t: Trainee, batches: list[Any], device: Any) -> float:
    import torch

    t.model.eval()
    total = 0.0
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
        for x, y in batches:
            total += float(t.loss(t.model(x).float(), y))
    t.model.train()
    return total / len(batches)


def run_group(group: Group, args: dict[str, Any], deadline: float) -> None:
    """One process: load the set, train the group's models to the deadline, write their files."""
    import torch

    from LesionSegLogic.training.randomise import Randomiser
    from LesionSegLogic.training.zoo_recipe import SETS, Recipe

    device = torch.device(args["device"])
    torch.set_num_threads(1 if device.type == "cpu" else 2)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True
        torch.use_deterministic_algorithms(True, warn_only=True)
    recipe = Recipe()
    zset = SETS[group.set_name]
    t0 = time.time()
    train_cases, val_cases, data_meta = load_cases(Path(args["pack"]), group.set_name, device)
    randomiser = Randomiser(device=device) if recipe.randomise == "domain" else None
    stream = PatchStream(train_cases, zset.patch, recipe.batch_size, recipe.seed, lesion_share=recipe.lesion_share,
                         jitter=recipe.jitter, augment=True, randomiser=randomiser)
    val_stream = PatchStream(val_cases, zset.patch, recipe.batch_size, recipe.seed + 10_000,
                             lesion_share=recipe.lesion_share, jitter=recipe.jitter, augment=False)
    val_batches = [val_stream.next(i) for i in range(N_VAL_BATCHES)]
    trainees = _build_trainees(group, recipe, len(zset.inputs), device, args)
    print(f"[{group.label}] ready in {time.time() - t0:.1f} s: {len(train_cases)} train / {len(val_cases)} val "
          f"cases on {device}", flush=True)
    amp = dict(device_type=device.type, dtype=torch.bfloat16, enabled=device.type == "cuda")
    iteration, start = 0, time.time()
    limit = args["iterations"]
    while (limit is None or iteration < limit) and time.time() < deadline - SAVE_MARGIN_S:
        x, y = stream.next(iteration)
        for t in trainees:
            if t.failed:
                continue
            with torch.autocast(**amp):
                logits = t.model(x)
            loss = t.loss(logits.float(), y)
            if not torch.isfinite(loss):
                t.failed = f"loss {float(loss)} at iteration {iteration}"
                print(f"[{group.label}] {t.name}: {t.failed}", flush=True)
                continue
            t.optimiser.zero_grad(set_to_none=True)
            loss.backward()
            t.optimiser.step()
            t.running += float(loss.detach())
            t.running_n += 1
        iteration += 1
        last = (limit is not None and iteration == limit)
        if iteration % recipe.curve_every == 0 or last:
            for t in trainees:
                t.curve.append([iteration, t.running / max(1, t.running_n)])
                t.running, t.running_n = 0.0, 0
        if iteration % recipe.val_every == 0 or last:
            _check(trainees, val_batches, device, iteration)
    if iteration % recipe.val_every and not (limit is not None and iteration == limit):
        _check(trainees, val_batches, device, iteration)
    wall = time.time() - start
    rate = iteration / max(wall, 1e-9)
    print(f"[{group.label}] {iteration} iterations in {wall:.0f} s ({rate:.1f} it/s)", flush=True)
    for t in trainees:
        _write_model(t, group, zset, recipe, data_meta, iteration, wall, device, Path(args["work"]), args)


def _check(trainees: list[Trainee], val_batches: list[Any], device: Any, iteration: int) -> None:
    for t in trainees:
        if t.failed:
            continue
        value = _validate(t, val_batches, device)
        t.scheduler.step(value)
        if value < t.best:
            t.best, t.best_iteration = value, iteration
            t.best_state = {k: v.detach().clone() for k, v in t.model.state_dict().items()}


def _git_commit() -> str:
    """``ZOO_COMMIT`` when set (the device machine's copy of the tree may carry a stale ``.git``), else git's HEAD."""
    if os.environ.get("ZOO_COMMIT"):
        return os.environ["ZOO_COMMIT"]
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                              check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def _write_model(t: Trainee, group: Group, zset: Any, recipe: Any, data_meta: dict[str, Any], iterations: int,
                 wall: float, device: Any, work: Path, args: dict[str, Any]) -> None:
    from safetensors.torch import save_file

    from LesionSegLogic.training.config import TrainConfig

    state = t.best_state or t.model.state_dict()
    weights = {k: v.detach().float().contiguous().cpu() if v.is_floating_point() else v.detach().contiguous().cpu()
               for k, v in state.items()}
    folder = work / group.set_name / t.name
    folder.mkdir(parents=True, exist_ok=True)
    save_file(weights, str(folder / "model.safetensors"))
    config = TrainConfig(
        data=f"zoo_v2 pack: {zset.data} (scripts/zoo_data.py)", out=f"{group.set_name}/{t.name}",
        contrasts=zset.inputs, mask_name=zset.mask, architecture="unet3d",
        target_spacing=tuple(data_meta["grid_spacing"]),  # the training grid: thick-slice inputs are resampled to it
        model_params={"features": list(recipe.features), "norm": recipe.norm}, loss=t.recipe.loss,
        loss_params=dict(t.recipe.params), lf1_estimator="Resources/Models/dice_lf1" if t.recipe.lf1 else None,
        optimiser=t.recipe.optimiser, lr=recipe.learning_rate(t.recipe.optimiser), patience=3, max_epochs=1,
        iterations_per_epoch=max(1, iterations), batch_size=recipe.batch_size, patch_size=zset.patch,
        lesion_share=recipe.lesion_share, jitter=recipe.jitter, randomise=recipe.randomise, seed=recipe.seed,
        val_every=0, amp=device.type == "cuda", device=device.type, progress=False,
        command="python3 scripts/zoo_device.py " + " ".join(args["argv"]))
    record = {
        "config": config.to_dict(),
        "set": group.set_name,
        "name": t.name,
        "task": zset.task,
        "anatomy": zset.anatomy,
        "inputs": list(zset.inputs),
        "mask": zset.mask,
        "loss": t.recipe.loss,
        "loss_params": dict(t.recipe.params),
        "lf1_estimator": {"path": "Resources/Models/dice_lf1", "weight": 0.2} if t.recipe.lf1 else None,
        "optimiser": t.recipe.optimiser,
        "iterations": iterations + (t.warm["previous_iterations"] if t.warm else 0),
        "iterations_this_run": iterations,
        "warm_start": t.warm,
        "best_iteration": t.best_iteration,
        "best_validation_loss": None if math.isinf(t.best) else t.best,
        "validation": f"{N_VAL_BATCHES} batches of {recipe.batch_size} lesion-centred patches (seed "
                      f"{recipe.seed + 10_000}, no augmentation) from the validation subjects, every "
                      f"{recipe.val_every} iterations",
        "loss_curve": t.curve,
        "loss_curve_every": recipe.curve_every,
        "failed": t.failed or None,
        "device": _device_name(device),
        "amp": "bf16 autocast" if device.type == "cuda" else "none (float32)",
        "wall_seconds": round(wall, 1),
        "weights_dtype": "float32",
        "git_commit": _git_commit(),
        "recipe": asdict(recipe),
        "data": data_meta,
    }
    (folder / "train.json").write_text(json.dumps(record, indent=1))
    (folder / "DONE").write_text("")


def _device_name(device: Any) -> str:
    import torch

    return torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"


# ------------------------------------------------------------------------------------------------ the driver
def smoke_test(args: dict[str, Any]) -> None:
    """Imports, one randomised batch and one step of every distinct loss on the device (fails fast)."""
    import torch

    from LesionSegLogic.training.randomise import Randomiser
    from LesionSegLogic.training.zoo_recipe import LOSSES, Recipe

    device = torch.device(args["device"])
    t0 = time.time()
    recipe = Recipe()
    group = Group("brain", [r.name for r in LOSSES])
    trainees = _build_trainees(group, recipe, 2, device)
    x = torch.randn(2, 2, 16, 16, 16, device=device)
    y = (torch.rand(2, 1, 16, 16, 16, device=device) > 0.9).float()
    x, y = Randomiser(device=device)(x, y, 0)
    for t in trainees:
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            logits = t.model(x)
        loss = t.loss(logits.float(), y)
        loss.backward()
        t.optimiser.step()
        assert torch.isfinite(loss), t.name
    print(f"smoke test: {len(trainees)} losses, one step each on {_device_name(device)} "
          f"({time.time() - t0:.1f} s)", flush=True)


def pack_outputs(work: Path, out: Path) -> list[str]:
    """Every finished model into ``out/models_N.tar`` (≤ :data:`TAR_LIMIT` each, replaced atomically)."""
    done = sorted(p.parent for p in work.glob("*/*/DONE"))
    chunks: list[list[Path]] = [[]]
    size = 0
    for folder in done:
        s = sum(f.stat().st_size for f in folder.iterdir())
        if chunks[-1] and size + s > TAR_LIMIT:
            chunks.append([])
            size = 0
        chunks[-1].append(folder)
        size += s
    for n, chunk in enumerate(chunks, 1):
        if not chunk:
            continue
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w") as tar:
            for folder in chunk:
                for name in ("model.safetensors", "train.json"):
                    tar.add(folder / name, arcname=f"{folder.parent.name}/{folder.name}/{name}")
        staged = out / f".models_{n}.tar.part"
        staged.write_bytes(buffer.getvalue())
        os.replace(staged, out / f"models_{n}.tar")
    return [f"{p.parent.name}/{p.name}" for p in done]


def table(work: Path) -> str:
    rows = ["| set | model | iterations | best val loss | best at | wall s |", "|---|---|---|---|---|---|"]
    for path in sorted(work.glob("*/*/train.json")):
        r = json.loads(path.read_text())
        best = r["best_validation_loss"]
        rows.append(f"| {r['set']} | {r['name']} | {r['iterations']} | "
                    f"{'-' if best is None else f'{best:.4f}'} | {r['best_iteration']} | {r['wall_seconds']} |")
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    start = time.time()
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--pack", type=Path, default=ROOT / ".zoo_pack")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--work", type=Path, default=None, help="per-model folders (default: OUT/../zoo_work)")
    p.add_argument("--device", default="cuda")
    p.add_argument("--deadline", type=float, default=480.0, help="seconds after the start when training stops")
    p.add_argument("--iterations", type=int, default=None, help="stop after this many iterations instead")
    p.add_argument("--only", nargs="*", default=None, help="SET:LOSS names to train (default all 25)")
    p.add_argument("--group-size", type=int, default=5)
    p.add_argument("--no-smoke", action="store_true")
    p.add_argument("--init", default=None, help="continue from the weights in DIR/<set>/<name> (a previous run's "
                   "hand-off folder); the iterations recorded add up")
    p.add_argument("--init-map", nargs="*", default=[], metavar="SET:NAME=SOURCE",
                   help="warm-start a model from another model of its set, e.g. longitudinal:dice_lf1=hytver")
    a = p.parse_args(argv)
    a.out.mkdir(parents=True, exist_ok=True)
    work = a.work or Path(os.environ.get("TMPDIR", "/tmp")) / f"zoo_work_{os.getpid()}"
    work.mkdir(parents=True, exist_ok=True)
    args = {"pack": str(a.pack), "device": a.device, "iterations": a.iterations, "work": str(work), "argv": argv,
            "init": a.init, "init_map": dict(m.split("=", 1) for m in a.init_map)}
    deadline = start + a.deadline
    if not a.no_smoke:
        smoke_test(args)
    groups = make_groups(a.only, a.group_size)
    ctx = mp.get_context("spawn")
    procs = [(g, ctx.Process(target=run_group, args=(g, args, deadline), name=g.label)) for g in groups]
    for _, proc in procs:
        proc.start()
    print(f"{len(procs)} training processes started ({sum(len(g.losses) for g in groups)} models), deadline "
          f"{a.deadline:.0f} s", flush=True)
    finished: set[str] = set()
    while True:
        alive = [proc for _, proc in procs if proc.is_alive()]
        for g, proc in procs:
            if not proc.is_alive() and g.label not in finished:
                finished.add(g.label)
                names = pack_outputs(work, a.out)
                print(f"[driver {time.time() - start:.0f} s] {g.label} exited ({proc.exitcode}); {len(names)} "
                      f"model(s) in {a.out}", flush=True)
        if not alive:
            break
        if time.time() > deadline + 30:
            for _, proc in procs:
                if proc.is_alive():
                    proc.terminate()
        time.sleep(1.0)
    names = pack_outputs(work, a.out)
    text = table(work)
    (a.out / "table.md").write_text(text + "\n")
    print(f"\n{len(names)} model(s) in {time.time() - start:.0f} s\n{text}", flush=True)
    return 0 if len(names) == sum(len(g.losses) for g in groups) else 1


if __name__ == "__main__":
    sys.exit(main())
