"""The training loop (Hussein et al. 2023, Cabezas & Diez 2024, 003).

* Optimiser: Adam, learning rate 1e-4, or Adadelta with learning rate 1 (Hussein et al. 2023 uses it for Combo).
* The learning rate is halved after ``patience`` = 15 epochs without improvement of the validation loss, and
  the checkpoint with the best validation loss is kept (Hussein et al. 2023); training stops at ``max_epochs``. The
  validation loss is computed on a fixed set of validation patches drawn once from the validation subjects.
* Fair comparisons (Cabezas & Diez 2024): ``torch.manual_seed(seed)`` immediately before the model is built fixes the
  initial weights, and the batch stream has its own generator seeded with ``seed``, so every loss sees the
  same initial weights and the same batches.
* Per epoch, ``log.csv`` records the training loss, the validation loss, and Dice / sensitivity / precision at
  0.5 on the training patches, the validation patches and (every ``val_every`` epochs) the whole validation
  images reconstructed by :func:`LesionSegLogic.inference.predict_volume` — Cabezas & Diez 2024 shows patch-level
  numbers flatter the model, so both are logged.
* ``randomise="domain"``: MONAI domain randomisation of every training batch on its device, seeded per batch
  from ``(seed, batch index)`` (:mod:`LesionSegLogic.training.randomise`).
* Mixed precision (``torch.autocast`` + gradient scaling) on CUDA; a progress bar per epoch (tqdm).
* ``last.pt`` (weights, optimiser, scheduler, batch-stream state, epoch) allows resuming; it is read with
  ``torch.load(weights_only=True)``. ``best.safetensors`` holds the best weights.
* Under ``torchrun`` the model is wrapped in DistributedDataParallel (:mod:`LesionSegLogic.training.ddp`).
"""

from __future__ import annotations

import csv
import json
import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from LesionSegLogic.errors import Cancelled, ConfigError, InputError, OutputError
from LesionSegLogic.io.write import staged_file, write_json, write_text
from LesionSegLogic.models import build_model
from LesionSegLogic.training import ddp
from LesionSegLogic.training.batches import BatchStream
from LesionSegLogic.training.config import TrainConfig
from LesionSegLogic.training.data import LoadedCase, Splits, discover_cases, load_case, split_cases
from LesionSegLogic.training.metrics import Counts

#: the files a training run writes into its folder (``lesionseg train`` refuses to replace them unless
#: ``--resume`` or ``--force``)
RUN_FILES = ("config.json", "splits.json", "log.csv", "last.pt", "best.safetensors")

LOG_COLUMNS = (
    "epoch",
    "lr",
    "train_loss",
    "val_loss",
    "patch_dice",
    "patch_sensitivity",
    "patch_precision",
    "val_patch_dice",
    "val_patch_sensitivity",
    "val_patch_precision",
    "val_image_dice",
    "val_image_sensitivity",
    "val_image_precision",
    "best",
    "seconds",
)


@dataclass
class TrainResult:
    """What a finished run leaves behind."""

    out: Path
    model: nn.Module
    splits: Splits
    epochs: int
    best_epoch: int
    best_val_loss: float
    log: Path
    weights: Path
    history: list[dict[str, Any]] = field(default_factory=list)


def resolve_device(device: str) -> torch.device:
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(device)


def build_training_loss(config: TrainConfig, device: torch.device) -> nn.Module:
    """The configured loss; with ``lf1_estimator`` set, Kamraoui's ``loss + w·(1 − LF1̂)`` (Kamraoui et al. 2021)."""
    from LesionSegLogic.losses import build_loss

    loss = build_loss(config.loss, **config.loss_params)
    if config.lf1_estimator:
        from LesionSegLogic.training.lf1_estimator import LF1Loss, load_estimator

        estimator = load_estimator(config.lf1_estimator, device)
        loss = LF1Loss(loss, estimator, weight=config.lf1_weight)  # type: ignore[assignment]  # LF1Loss wraps a BinaryLoss
    return loss.to(device)


def make_optimiser(config: TrainConfig, model: nn.Module) -> torch.optim.Optimizer:
    if config.optimiser == "adadelta":
        return torch.optim.Adadelta(model.parameters(), lr=config.learning_rate)
    return torch.optim.Adam(model.parameters(), lr=config.learning_rate)


def initial_model(config: TrainConfig) -> nn.Module:
    """The model with seed-fixed initial weights (identical for every loss with the same seed)."""
    torch.manual_seed(config.seed)
    return build_model(config.architecture, in_channels=len(config.contrasts), **config.model_params)


def _fmt(v: float | None) -> str:
    return "" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.6g}"


@torch.no_grad()
def _validate_patches(
    model: nn.Module, loss_fn: nn.Module, batches: list[tuple[torch.Tensor, torch.Tensor]]
) -> tuple[float, Counts]:
    model.eval()
    total, counts = 0.0, Counts()
    for x, y in batches:
        logits = model(x)
        total += float(loss_fn(logits.float(), y))
        counts.add_logits(logits, y)
    return total / max(1, len(batches)), counts


@torch.no_grad()
def _validate_images(
    model: nn.Module, cases: list[LoadedCase], config: TrainConfig, device: torch.device
) -> Counts:
    from LesionSegLogic.inference import predict_volume

    model.eval()
    counts = Counts()
    for c in cases:
        prob = predict_volume(
            model,
            c.image,
            patch_size=config.patch_size,
            overlap=config.val_overlap,
            device=str(device),
            batch_size=config.val_patch_batch,
        )
        counts.add_masks(np.asarray(prob) >= 0.5, c.mask)
    return counts


def load_splits(config: TrainConfig) -> Splits:
    cases = discover_cases(config.data, config.contrasts, config.mask_name)
    return split_cases(cases, config.split_fractions, config.seed)


def train(
    config: TrainConfig,
    *,
    resume: bool = False,
    cancel: Callable[[], bool] | None = None,
    splits: Splits | None = None,
) -> TrainResult:
    """Train a model as configured, writing ``log.csv``, ``last.pt``, ``best.safetensors``, ``config.json``
    and ``splits.json`` into ``config.out``. ``resume=True`` continues from ``out/last.pt``."""
    from safetensors.torch import save_file
    from tqdm import tqdm

    dist = ddp.setup(config.device)
    device = dist.device if dist else resolve_device(config.device)
    is_main = dist is None or dist.rank == 0
    out = Path(config.out)
    if not config.out:
        raise OutputError("no output folder given")
    if is_main:
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise OutputError(f"cannot create output folder ({exc.strerror})") from None
    splits = splits or load_splits(config)
    if not splits.train or not splits.validation:
        raise InputError("training needs at least one training and one validation case", config.data)
    train_cases = [load_case(c, config.target_spacing) for c in splits.train]
    val_cases = [load_case(c, config.target_spacing) for c in splits.validation]

    model = initial_model(config).to(device)
    loss_fn = build_training_loss(config, device)
    optimiser = make_optimiser(config, model)
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
        optimiser, mode="min", factor=config.lr_factor, patience=config.patience
    )
    rank_seed: list[int] = [config.seed] if dist is None else [config.seed, dist.rank]
    stream = BatchStream(train_cases, config, rank_seed)
    val_stream = BatchStream(val_cases, config, [config.seed, 10_000], augmentation=False)
    n_val = max(1, config.iterations_per_epoch // 5)
    val_batches = [
        tuple(torch.from_numpy(a).to(device) for a in val_stream.next_batch()) for _ in range(n_val)
    ]
    from LesionSegLogic.training.randomise import batch_seed, build_randomiser

    randomiser = build_randomiser(config.randomise, device)
    use_amp = config.amp and device.type == "cuda"
    scaler = torch.amp.GradScaler("cuda", enabled=use_amp)
    net: nn.Module = ddp.wrap(model, dist) if dist else model

    start_epoch, best, best_epoch, history = 1, math.inf, 0, []
    config_name, splits_name, log_name, last_name, best_name = RUN_FILES
    last_path, best_path, log_path = out / last_name, out / best_name, out / log_name
    if resume:
        if not last_path.is_file():
            raise InputError("no checkpoint to resume from (last.pt missing)", out)
        state = torch.load(last_path, map_location=device, weights_only=True)
        model.load_state_dict(state["model"])
        optimiser.load_state_dict(state["optimiser"])
        scheduler.load_state_dict(state["scheduler"])
        stream.set_state(json.loads(state["stream"]))
        start_epoch = int(state["epoch"]) + 1
        best, best_epoch = float(state["best"]), int(state["best_epoch"])
        torch.set_rng_state(state["torch_rng"])
        if log_path.is_file():
            with log_path.open(newline="") as fh:
                history = [r for r in csv.DictReader(fh) if int(r["epoch"]) < start_epoch]
    elif is_main:
        write_json(out / config_name, config.to_dict(), what="training configuration")
        write_json(out / splits_name, splits.names(), what="training splits")
        write_text(log_path, ",".join(LOG_COLUMNS) + "\r\n")  # csv.writer's line ending, as the rows appended

    for epoch in range(start_epoch, config.max_epochs + 1):
        t0 = time.perf_counter()
        net.train()
        counts, total = Counts(), 0.0
        bar = tqdm(
            range(config.iterations_per_epoch),
            desc=f"epoch {epoch}/{config.max_epochs}",
            disable=not (config.progress and is_main),
            leave=False,
        )
        for step in bar:
            if cancel is not None and cancel():
                raise Cancelled("training cancelled")
            x, y = (torch.from_numpy(a).to(device) for a in stream.next_batch())
            if randomiser is not None:
                index = (epoch - 1) * config.iterations_per_epoch + step
                x, y = randomiser(x, y, batch_seed(rank_seed, index))
            with torch.autocast(device.type, enabled=use_amp):
                logits = net(x)
            loss = loss_fn(logits.float(), y)
            if not torch.isfinite(loss):  # a learning rate far too large: stop with a message, not a traceback
                raise ConfigError(
                    f"the training loss became {float(loss.detach())} at epoch {epoch} with learning rate "
                    f"{config.learning_rate:g}: training diverged; lower the learning rate (--lr)")
            optimiser.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimiser)
            scaler.update()
            total += float(loss.detach())
            counts.add_logits(logits, y)
            bar.set_postfix(loss=f"{float(loss.detach()):.4f}")
        val_loss, val_counts = _validate_patches(model, loss_fn, val_batches)  # type: ignore[arg-type]  # (image, mask) pairs
        scheduler.step(val_loss)
        improved = val_loss < best
        if improved:
            best, best_epoch = val_loss, epoch
        image = Counts()
        if is_main and config.val_every > 0 and (epoch % config.val_every == 0 or epoch == config.max_epochs):
            image = _validate_images(model, val_cases, config, device)
        row: dict[str, Any] = {
            "epoch": epoch,
            "lr": optimiser.param_groups[0]["lr"],
            "train_loss": total / config.iterations_per_epoch,
            "val_loss": val_loss,
            "best": int(improved),
            "seconds": time.perf_counter() - t0,
        }
        for prefix, cnt in (("patch_", counts), ("val_patch_", val_counts), ("val_image_", image)):
            for k, v in cnt.summary().items():
                row[prefix + k] = v
        history.append(row)
        if is_main:
            if improved:
                weights = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
                with staged_file(best_path, what="best weights") as staged:
                    save_file(weights, staged)
            with log_path.open("a", newline="") as fh:
                csv.writer(fh).writerow(
                    [_fmt(row.get(k)) if k not in ("epoch", "best") else row[k] for k in LOG_COLUMNS]
                )
            with staged_file(last_path, what="checkpoint") as staged:
                torch.save(
                    {
                        "model": model.state_dict(),
                        "optimiser": optimiser.state_dict(),
                        "scheduler": scheduler.state_dict(),
                        "stream": json.dumps(stream.state()),
                        "epoch": epoch,
                        "best": best,
                        "best_epoch": best_epoch,
                        "torch_rng": torch.get_rng_state(),
                    },
                    staged,
                )
        if dist:
            ddp.barrier()
    if dist:
        ddp.barrier()
    from safetensors.torch import load_file

    model.load_state_dict(load_file(best_path, device=str(device)))
    ddp.cleanup(dist)
    return TrainResult(out, model, splits, config.max_epochs, best_epoch, best, log_path, best_path, history)
