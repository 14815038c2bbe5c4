"""``lesionseg train``: train a model on a data folder (phantom layout or manifest), optionally export it
as a model folder with a card, or train Kamraoui's LF1 estimator (``--lf1-estimator-only``).

Runs under ``torchrun`` for DDP: ``torchrun --nproc_per_node 2 -m LesionSegLogic train DATA --out RUN``.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
from pathlib import Path


def _kv(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, value = text.split("=", 1)
    try:
        return key, json.loads(value)
    except ValueError:
        return key, value


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "train",
        help="train a segmentation model (or the LF1 estimator)",
        description=__doc__,
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    p.add_argument(
        "data",
        nargs="?",
        help="data folder: case sub-folders (flair.nii.gz, t2.nii.gz, "
        "lesions.nii.gz) or a manifest.csv/manifest.json",
    )
    p.add_argument("--out", required=True, help="run folder (log.csv, last.pt, best.safetensors, model/)")
    p.add_argument("--config", help="JSON file with TrainConfig fields (command-line options override it)")
    p.add_argument("--loss", default=None, help="loss name (see `lesionseg losses`)")
    p.add_argument("--loss-param", action="append", type=_kv, default=[], metavar="KEY=VALUE")
    p.add_argument("--architecture", default=None,
                   help="network (default: TrainConfig's); an unknown name is refused, with the registry's list")
    p.add_argument(
        "--model-param",
        action="append",
        type=_kv,
        default=[],
        metavar="KEY=VALUE",
        help='e.g. features=[16,32,64] norm="group"',
    )
    p.add_argument("--contrasts", default=None, help="comma-separated input contrasts, e.g. flair,t2")
    p.add_argument("--patch", type=int, nargs=3, default=None, metavar=("D", "H", "W"))
    p.add_argument(
        "--spacing",
        type=float,
        nargs=3,
        default=None,
        metavar=("Z", "Y", "X"),
        help="training spacing in mm (array order); default: the images' own grid",
    )
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--iterations", type=int, default=None, help="batches per epoch")
    p.add_argument("--batch-size", type=int, default=None)
    p.add_argument("--optimiser", default=None, help="(default: TrainConfig's) another name is refused, with the list")
    p.add_argument("--lr", type=float, default=None)
    p.add_argument("--patience", type=int, default=None)
    p.add_argument("--sampling", default=None,
                   help="patch sampling (default: TrainConfig's); another name is refused, with the list")
    p.add_argument("--lesion-share", type=float, default=None)
    p.add_argument("--seed", type=int, default=None)
    p.add_argument("--val-every", type=int, default=None, help="whole-image validation every N epochs")
    p.add_argument("--lf1-estimator", default=None, help="trained LF1 estimator folder: adds 0.2*(1 - LF1)")
    p.add_argument("--lf1-estimator-only", action="store_true", help="train the LF1 estimator into --out")
    p.add_argument("--pairs", type=int, default=2000, help="LF1 estimator training pairs")
    p.add_argument("--resume", action="store_true", help="continue from OUT/last.pt")
    p.add_argument("--force", action="store_true", help="start over in a run folder that holds an earlier run")
    p.add_argument(
        "--export",
        metavar="NAME",
        default=None,
        help="after training, pick the threshold and write OUT/model/{card.json,model.safetensors}",
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--threads", type=int, default=None, help="torch CPU threads")
    p.add_argument("--no-progress", action="store_true")
    return p


def _config(args: argparse.Namespace):
    from LesionSegLogic.errors import InputError
    from LesionSegLogic.jsonfile import read_json
    from LesionSegLogic.training.config import TrainConfig

    base: dict = {}
    if args.config:
        base = read_json(args.config, "training config")
        if not isinstance(base, dict):
            raise InputError("the training config must be a JSON object of TrainConfig fields", args.config)
    overrides = {
        "loss": args.loss,
        "architecture": args.architecture,
        "patch_size": args.patch,
        "target_spacing": args.spacing,
        "max_epochs": args.epochs,
        "iterations_per_epoch": args.iterations,
        "batch_size": args.batch_size,
        "optimiser": args.optimiser,
        "lr": args.lr,
        "patience": args.patience,
        "sampling": args.sampling,
        "lesion_share": args.lesion_share,
        "seed": args.seed,
        "val_every": args.val_every,
        "lf1_estimator": args.lf1_estimator,
        "device": args.device,
    }
    base.update({k: v for k, v in overrides.items() if v is not None})
    if args.contrasts:
        base["contrasts"] = [c.strip() for c in args.contrasts.split(",") if c.strip()]
    if args.loss_param:
        base["loss_params"] = {**base.get("loss_params", {}), **dict(args.loss_param)}
    if args.model_param:
        base["model_params"] = {**base.get("model_params", {}), **dict(args.model_param)}
    base["data"] = args.data or base.get("data", "")
    base["out"] = args.out
    base["progress"] = not args.no_progress
    base["command"] = "lesionseg " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    try:
        config = TrainConfig.from_dict(base)
        config.check_model()  # patch vs the network, memory of one step: before any data is read
    except (TypeError, ValueError) as exc:
        raise InputError(f"bad training option: {exc}") from None
    return config


def _claim_run_folder(args: argparse.Namespace) -> None:
    """The write policy (:mod:`LesionSegLogic.io.write_policy`): an earlier run in ``--out`` is continued with
    ``--resume`` or replaced with ``--force``, never silently; the data, config and estimator are never written
    over."""
    from LesionSegLogic.io.write_policy import claim_outputs
    from LesionSegLogic.training.loop import RUN_FILES
    from LesionSegLogic.zoo.card import CARD_FILE, WEIGHTS_FILE

    out = Path(args.out)
    if args.lf1_estimator_only:
        names: tuple[str, ...] = ("lf1_estimator.safetensors", "lf1_estimator.json")
    else:
        names = () if args.resume else RUN_FILES
    targets = [out / n for n in names]
    if args.export:
        targets += [out / "model" / CARD_FILE, out / "model" / WEIGHTS_FILE]
    inputs = [args.config, args.lf1_estimator, *(_data_files(args.data) if args.data else [])]
    claim_outputs(targets, inputs=inputs, force=args.force or (args.resume and not args.lf1_estimator_only),
                  override="--resume (continue the run) or --force (start over)")


def _data_files(data: str) -> list[Path]:
    """The manifest or the data folder's top files (an output must never replace one of them)."""
    path = Path(data)
    if path.is_file():
        return [path]
    try:
        return [p for p in path.iterdir() if p.is_file()] if path.is_dir() else []
    except OSError:
        return []


def run(args: argparse.Namespace) -> int:
    import torch

    from LesionSegLogic.errors import InputError

    if args.threads:
        torch.set_num_threads(args.threads)
    _claim_run_folder(args)
    if args.lf1_estimator_only:
        from dataclasses import asdict

        from LesionSegLogic.jsonfile import json_text
        from LesionSegLogic.training.lf1_estimator import save_estimator, train_estimator

        n_test = max(100, args.pairs // 5)
        model, report = train_estimator(n_train=args.pairs, n_test=n_test, seed=args.seed or 0)
        save_estimator(model, report, args.out)
        print(json_text(asdict(report)), end="")
        return 0
    if not args.data and not args.config:
        raise InputError("a data folder is required (or --lf1-estimator-only)")
    config = _config(args)
    from LesionSegLogic.training.loop import train

    result = train(config, resume=args.resume)
    print(f"best epoch {result.best_epoch} (validation loss {result.best_val_loss:.4f}); log: {result.log}")
    if args.export:
        from LesionSegLogic.training import ddp
        from LesionSegLogic.training.data import load_case
        from LesionSegLogic.training.export import measure, write_model

        if ddp.is_distributed_env() and int(__import__("os").environ.get("RANK", "0")) != 0:
            return 0
        if not result.splits.threshold or not result.splits.test:
            raise InputError("--export needs threshold-optimisation and test subjects", config.data)
        thr = [load_case(c, config.target_spacing) for c in result.splits.threshold]
        test = [load_case(c, config.target_spacing) for c in result.splits.test]
        measured = measure(result.model.cpu(), config, thr, test)
        training = {
            "data": str(config.data),
            "seed": config.seed,
            "epochs": config.max_epochs,
            "best_epoch": result.best_epoch,
            "config": config.to_dict(),
        }
        card = write_model(
            Path(args.out) / "model", args.export, result.model, config, measured, training, config.command
        )
        print(f"model card: {card} (recommended threshold {measured['recommended_threshold']})")
    return 0
