#!/usr/bin/env python
"""Regenerate the bundled model zoo (``Resources/Models/``) and its table (``docs/zoo.md``) from scratch.

    .venv/bin/python scripts/train_zoo.py            # everything: phantoms, LF1 estimator, 13 models, table

Zoo v2 (issue 12: four sets, 25 models, domain-randomised, on a GPU): ``scripts/zoo_data.py`` (phantoms of the
``train`` / ``shifted`` generator settings, packed arrays) and ``scripts/zoo_device.py`` (training; ``--device cpu
--iterations N`` runs the same recipe on a CPU). This script is the v1 CPU recipe and the ``docs/zoo.md`` table.

One command, CPU only, no downloads. Stages (each skips work already done in ``--work``):

1. **phantoms** — brain phantoms (:func:`LesionSegLogic.phantom.generate_case`) at the training spacing,
   cropped to a field of view around the ventricles: a training pool (seeds ``POOL_SEED + i``) split by subject into
   training / validation / threshold-optimisation sets (Hussein et al. 2023), and a held-out test set generated from
   seeds never used in training (``TEST_SEED + i``).
2. **estimator** — Kamraoui's lesion-wise F1 estimator (Kamraoui et al. 2021) for the ``dice_lf1`` model.
3. **train** — one model per loss, the same seed, hence the same initial weights and the same batches
   (Cabezas & Diez 2024), at most ``--jobs`` trainings at a time with one torch thread each.
4. **measure/export** — recommended threshold by the median voxel-wise F1 on the threshold-optimisation set
   (Hussein et al. 2023), held-out metrics at 0.5 and at that threshold (anima rule), ``card.json`` and
   ``model.safetensors``.
5. **table** — ``docs/zoo.md`` from the cards (numbers read from the cards, never typed in), with the default
   matching rule and the recommended model (:mod:`LesionSegLogic.defaults`) computed from the same cards.

Every card states ``"anatomy": ANATOMY`` (the phantoms' anatomy), so ``lesionseg predict`` can warn when a model
meets an image of another anatomy.
"""

from __future__ import annotations

import argparse
import json
import shlex
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

POOL_SEED = 1000
TEST_SEED = 9000
SPACING = (1.5, 1.5, 1.5)
FOV_MM = (96.0, 128.0, 128.0)
#: the anatomy of the training phantoms, written into every card (``card.anatomy``)
ANATOMY = "brain"

# (zoo name, loss name, loss params, optimiser) of every seed loss: derived from the one list of the zoo recipe
# (LesionSegLogic.training.zoo_recipe.LOSSES: paper defaults where empty; Tversky beta = 0.7 on false negatives is
# Hashemi's best; Combo is trained with Adadelta, learning rate 1, as in Hussein et al. 2023).
from LesionSegLogic.training.zoo_recipe import LOSSES  # noqa: E402

ZOO: list[tuple[str, str, dict[str, Any], str]] = [(r.name, r.loss, dict(r.params), r.optimiser) for r in LOSSES]


@dataclass
class Recipe:
    """The shared training recipe (small enough for 2 shared CPU cores)."""

    features: tuple[int, ...] = (8, 16, 32)
    patch: tuple[int, int, int] = (32, 32, 32)
    batch_size: int = 4
    # 1e-3 rather than Hussein et al. 2023's 1e-4: the CPU budget allows a few hundred iterations, not 300 epochs
    adam_lr: float = 1e-3
    epochs: int = 15
    iterations: int = 20
    lesion_share: float = 0.7
    seed: int = 0
    n_train: int = 14
    n_val: int = 3
    n_threshold: int = 4
    n_test: int = 6


def _phantom_job(args: tuple[int, str]) -> str:
    seed, folder = args
    import torch

    torch.set_num_threads(1)
    from LesionSegLogic.phantom import generate_case, write_case

    case = generate_case(seed, anatomy=ANATOMY, spacing=SPACING, fov_mm=FOV_MM)
    write_case(case, folder)
    return folder


def make_phantoms(work: Path, recipe: Recipe, jobs: int) -> None:
    pool = recipe.n_train + recipe.n_val + recipe.n_threshold
    todo = [(POOL_SEED + i, str(work / "pool" / f"phantom{POOL_SEED + i}")) for i in range(pool)]
    todo += [(TEST_SEED + i, str(work / "test" / f"phantom{TEST_SEED + i}")) for i in range(recipe.n_test)]
    todo = [t for t in todo if not (Path(t[1]) / "lesions.nii.gz").is_file()]
    if not todo:
        return
    print(f"generating {len(todo)} phantoms ...", flush=True)
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as ex:
        for folder in ex.map(_phantom_job, todo):
            print(f"  {folder}", flush=True)


def splits(work: Path, recipe: Recipe):
    from LesionSegLogic.training.data import Splits, discover_cases

    pool = discover_cases(work / "pool")
    test = discover_cases(work / "test")
    a, b = recipe.n_train, recipe.n_train + recipe.n_val
    return Splits(tuple(pool[:a]), tuple(pool[a:b]), tuple(pool[b:]), tuple(test))


def train_estimator(work: Path) -> Path:
    folder = work / "lf1_estimator"
    if (folder / "lf1_estimator.json").is_file():
        return folder
    import torch

    torch.set_num_threads(1)
    from LesionSegLogic.training.lf1_estimator import EstimatorConfig, save_estimator, train_estimator

    cfg = EstimatorConfig(patch=(32, 32, 32))
    t0 = time.time()
    model, report = train_estimator(n_train=1500, n_test=300, epochs=15, seed=0, config=cfg)
    save_estimator(model, report, folder, cfg)
    print(f"LF1 estimator: MAE {report.mae:.3f}, r {report.pearson:.3f} ({time.time() - t0:.0f} s)", flush=True)
    return folder


def _config(name: str, loss: str, params: dict, optimiser: str, recipe: Recipe, work: Path, lf1: Path | None):
    from LesionSegLogic.training.config import TrainConfig

    return TrainConfig(
        data=str(work / "pool"),
        out=str(work / "runs" / name),
        contrasts=("flair", "t2"),
        target_spacing=None,  # predict at the input's own spacing: see "Spacing" in docs/training.md
        architecture="unet3d",
        model_params={"features": list(recipe.features), "norm": "batch"},
        loss=loss,
        loss_params=params,
        lf1_estimator=str(lf1) if lf1 else None,
        optimiser=optimiser,
        lr=recipe.adam_lr if optimiser == "adam" else None,
        max_epochs=recipe.epochs,
        iterations_per_epoch=recipe.iterations,
        batch_size=recipe.batch_size,
        patch_size=recipe.patch,
        lesion_share=recipe.lesion_share,
        seed=recipe.seed,
        val_every=0,
        progress=False,
        device="cpu",
        command="python scripts/train_zoo.py " + " ".join(shlex.quote(a) for a in sys.argv[1:]),
    )


def _train_job(job: tuple[str, str, dict, str, Recipe, str, str | None, str]) -> dict[str, Any]:
    name, loss, params, optimiser, recipe, work_s, lf1_s, models_s = job
    import torch

    torch.set_num_threads(1)
    from LesionSegLogic.training.data import load_case
    from LesionSegLogic.training.export import measure, write_model
    from LesionSegLogic.training.loop import train

    work = Path(work_s)
    config = _config(name, loss, params, optimiser, recipe, work, Path(lf1_s) if lf1_s else None)
    sp = splits(work, recipe)
    t0 = time.time()
    result = train(config, splits=sp)
    train_s = time.time() - t0
    thr = [load_case(c) for c in sp.threshold]
    test = [load_case(c) for c in sp.test]
    measured = measure(result.model.cpu(), config, thr, test)
    measure_s = time.time() - t0 - train_s
    training = {
        "data": (
            f"synthetic brain phantoms (LesionSegLogic.phantom, spacing {list(SPACING)} mm, field of view "
            f"{list(FOV_MM)} mm around the ventricles): {len(sp.train)} training, {len(sp.validation)} "
            f"validation, {len(sp.threshold)} threshold-optimisation subjects (seeds {POOL_SEED}+); "
            f"{len(sp.test)} held-out test subjects (seeds {TEST_SEED}+, never used in training)"
        ),
        "subjects": sp.names(),
        "seed": config.seed,
        "epochs": config.max_epochs,
        "iterations_per_epoch": config.iterations_per_epoch,
        "batch_size": config.batch_size,
        "optimiser": config.optimiser,
        "learning_rate": config.learning_rate,
        "best_epoch": result.best_epoch,
        "best_validation_loss": result.best_val_loss,
        "hardware": "CPU, 1 torch thread",
        "train_seconds": round(train_s, 1),
        "measure_seconds": round(measure_s, 1),
        "config": config.to_dict(),
        "how_to_train_on_real_data": (
            "Put real FLAIR/T2 + lesion masks in case folders (flair.nii.gz, t2.nii.gz, lesions.nii.gz) or "
            "list them in manifest.csv, then: lesionseg train DATA --out RUN --loss LOSS --spacing Z Y X "
            "--export NAME (see docs/training.md)."
        ),
    }
    card = write_model(Path(models_s) / name, name, result.model, config, measured, training, config.command)
    _state_anatomy(card)
    return {"name": name, "card": str(card), "train_s": train_s, "measure_s": measure_s}


def _fmt(v: Any) -> str:
    return "–" if v is None else f"{v:.3f}"


def _state_anatomy(card_path: Path) -> None:
    """Write :data:`ANATOMY` into the card (the weights and their sha256 are untouched)."""
    from LesionSegLogic.zoo.card import ModelCard

    card = ModelCard.from_json(card_path)
    if card.anatomy != ANATOMY:
        card.with_updates(anatomy=ANATOMY).validate(card_path).to_json(card_path)


def _defaults_text(cards: list) -> str:
    """The default rule and, per anatomy and input images, the recommended model — computed from the cards."""
    from LesionSegLogic.defaults import DEFAULT_RULE, recommended_model

    anatomies = sorted({c.anatomy for c in cards})
    lines = []
    for anatomy, images in sorted({(c.anatomy, c.images_needed()) for c in cards}, key=lambda x: (x[0], sorted(x[1]))):
        best = recommended_model(cards, images, anatomy)
        f1 = best.validation["at_recommended"]["mean"]["lesion_f1"]
        lines.append(f"for {anatomy} {' + '.join(sorted(images))}: `{best.name}` (held-out lesion F1 {f1:.3f} at "
                     f"{best.recommended_threshold:.2f})")
    return (
        f"**Anatomy and defaults.** Every card states the anatomy its model was trained on (`\"anatomy\"`: "
        f"{', '.join(anatomies)}); `lesionseg predict` warns (stderr and `summary.json[\"warnings\"]`) when the "
        "image's field of view, or `--anatomy`, says it shows another one (see [inference.md](inference.md)). "
        f"Every entry point's default matching rule is **{DEFAULT_RULE}**, the rule of the lesion-wise numbers below "
        "(`LesionSegLogic.defaults`). The default model of `lesionseg demo` and the web app is the recommended one "
        "for the images at hand — the highest held-out lesion F1 at its recommended threshold among the models "
        "taking those images: " + "; ".join(lines) + "."
    )


def write_table(models: Path, out: Path) -> str:
    from LesionSegLogic.zoo.card import ModelCard

    rows = []
    for card_path in sorted(models.glob("*/card.json")):
        card = ModelCard.from_json(card_path)
        v = card.validation
        a, r = v["at_0.5"]["mean"], v["at_recommended"]["mean"]
        rows.append((card, a, r))
    rows.sort(key=lambda x: -(x[2]["voxel_dice"] or 0))
    head = (
        "| model | loss | iterations | threshold | Dice @0.5 | lesion F1 @0.5 | sens @0.5 | prec @0.5 "
        "| Dice @rec | lesion F1 @rec | sens @rec | prec @rec | lesion sens @rec | lesion prec @rec |\n"
        "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|\n"
    )
    lines = [
        f"| {c.name} | {c.loss} | {c.training['epochs'] * c.training['iterations_per_epoch']} | "
        f"{c.recommended_threshold:.2f} | {_fmt(a['voxel_dice'])} | "
        f"{_fmt(a['lesion_f1'])} | {_fmt(a['voxel_sensitivity'])} | {_fmt(a['voxel_precision'])} | "
        f"{_fmt(r['voxel_dice'])} | {_fmt(r['lesion_f1'])} | {_fmt(r['voxel_sensitivity'])} | "
        f"{_fmt(r['voxel_precision'])} | {_fmt(r['lesion_sensitivity'])} | {_fmt(r['lesion_precision'])} |"
        for c, a, r in rows
    ]
    table = head + "\n".join(lines) + "\n"
    size = sum(p.stat().st_size for p in models.rglob("*") if p.is_file())
    if not rows:
        raise SystemExit(f"no model cards under {models}")
    card0 = rows[0][0]
    training = card0.training
    arch = f"{card0.architecture} {json.dumps(card0.architecture_params)}"
    done = {c.name for c, _, _ in rows}
    missing = [name for name, *_ in ZOO if name not in done]
    missing_text = (
        "Not in this build (training ran out of time; `scripts/train_zoo.py` trains them): "
        + ", ".join(missing)
        + ".\n"
        if missing
        else ""
    )
    text = f"""# The bundled model zoo

**Demonstration models trained on synthetic phantoms — not for clinical use.** They show what the loss and the
decision threshold do; to segment real scans, train on real annotated data (`lesionseg train`, see
[training.md](training.md)).

Regenerate everything (phantoms, LF1 estimator, every model, this table) with one command:

```
.venv/bin/python scripts/train_zoo.py
```

Every model: {arch}, inputs {list(card0.inputs)}, patches {list(card0.patch_size)}, the same
seed ({training.get("seed")}) hence the same initial weights and the same batches (Cabezas & Diez 2024),
{training.get("epochs")} epochs of {training.get("iterations_per_epoch")} batches of
{training.get("batch_size")} patches (the `iterations` column: the models without a suffix share one
recipe and are directly comparable; `_long` models ran it for more epochs), Adam with learning rate
{training.get("learning_rate") if training.get("optimiser") == "adam" else 1e-3} (Hussein et al. 2023's 1e-4 is too slow
for this CPU budget; Adadelta with learning rate 1 for Combo, Hussein et al. 2023), best-validation-loss checkpoint;
trained on CPU
({training.get("hardware")}).
Data: {training.get("data")}.

Metrics are means over the held-out test phantoms, voxel-wise (Dice, sensitivity, precision) and lesion-wise
(anima rule: `lesionseg evaluate --rule anima`), at 0.5 and at each model's **recommended threshold**, chosen
as the threshold with the highest median voxel-wise F1 on the threshold-optimisation phantoms (Hussein et al. 2023).
Rows are sorted by Dice at the recommended threshold. Zoo size: {size / 1e6:.2f} MB.

{_defaults_text([c for c, _, _ in rows])}

{table}
{missing_text}
`dice_lf1` is Dice + 0.2·(1 − LF1̂) with Kamraoui's frozen lesion-wise F1 estimator (Kamraoui et al. 2021); its
estimator and its held-out accuracy are in `Resources/Models/dice_lf1/lf1_estimator.json`.
"""
    out.write_text(text)
    return table


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--work", default=str(ROOT / "build" / "zoo"), help="phantoms, runs (not shipped)")
    p.add_argument("--models", default=str(ROOT / "Resources" / "Models"))
    p.add_argument("--docs", default=str(ROOT / "docs" / "zoo.md"))
    p.add_argument("--jobs", type=int, default=2, help="trainings at a time (1 torch thread each)")
    p.add_argument("--only", nargs="*", help="zoo names to (re)train; default all missing")
    p.add_argument("--force", action="store_true", help="retrain models that already have a card")
    p.add_argument("--stage", choices=["all", "phantoms", "estimator", "train", "table"], default="all")
    p.add_argument("--epochs", type=int, default=None)
    p.add_argument("--iterations", type=int, default=None)
    p.add_argument("--suffix", default="", help="appended to the zoo names (e.g. a longer recipe: _long)")
    args = p.parse_args(argv)
    recipe = Recipe()
    if args.epochs:
        recipe.epochs = args.epochs
    if args.iterations:
        recipe.iterations = args.iterations
    work, models = Path(args.work), Path(args.models)
    if args.stage in ("all", "phantoms"):
        make_phantoms(work, recipe, args.jobs)
    lf1 = None
    if args.stage in ("all", "estimator", "train"):
        lf1 = train_estimator(work)
    if args.stage in ("all", "train"):
        wanted = [z for z in ZOO if not args.only or z[0] in args.only]
        wanted = [(n + args.suffix, loss, params, opt) for n, loss, params, opt in wanted]
        if not args.force:
            wanted = [z for z in wanted if not (models / z[0] / "card.json").is_file()]
        jobs = [
            (
                name,
                loss,
                params,
                opt,
                recipe,
                str(work),
                str(lf1) if name.startswith("dice_lf1") else None,
                str(models),
            )
            for name, loss, params, opt in wanted
        ]
        with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as ex:
            for res in ex.map(_train_job, jobs):
                print(
                    f"{res['name']}: trained {res['train_s']:.0f} s, measured {res['measure_s']:.0f} s",
                    flush=True,
                )
                if res["name"].startswith("dice_lf1") and lf1 is not None:
                    import shutil

                    for f in ("lf1_estimator.safetensors", "lf1_estimator.json"):
                        shutil.copy2(lf1 / f, models / res["name"] / f)
    if args.stage in ("all", "table", "train"):
        print(write_table(models, Path(args.docs)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
