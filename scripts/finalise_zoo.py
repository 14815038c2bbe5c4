#!/usr/bin/env python
"""Turn handed-over training runs into the bundled zoo v2 and its documentation (issue 12).

    nice -n 10 .venv/bin/python scripts/finalise_zoo.py --runs /work/zoo_v2/device_out --data /work/zoo_v2/data

For every run ``RUNS/<set>/<name>/{model.safetensors, train.json}`` (:mod:`LesionSegLogic.zoo.handoff`):

1. its card (set, task, anatomy, inputs, training provenance from ``train.json``) and weights are staged in
   ``--work`` and loaded the way users load them (:class:`LesionSegLogic.predictor.Predictor`);
2. :func:`LesionSegLogic.zoo.measure.measure`: sliding-window maps of the set's threshold-optimisation subjects →
   recommended threshold by the median voxel-wise F1 (Hussein et al. 2023); maps of the shifted test subjects
   ``DATA/<set>/test`` → held-out metrics at 0.5 and at that threshold under the set's rule, and the calibration
   (ECE + reliability bins). The threshold-optimisation subjects (``--threshold-split``, :func:`choose_subjects`)
   are the set's threshold-optimisation set ``DATA/<set>/tune`` (generator setting ``tune``: never trained on, and
   sharing no acquisition value with the test set) when it exists; otherwise, or with ``--threshold-split pool``,
   pool subjects the run did not train on (:func:`threshold_subjects`);
3. ``--models/<zoo name>/{card.json, model.safetensors}`` (names: :meth:`LesionSegLogic.zoo.sets.ZooSet.model_name`).

Then ``docs/zoo.md`` and ``docs/zoo_reliability_<set>.png`` are written from the cards in ``--models``
(:mod:`LesionSegLogic.zoo.report`). ``--replace-v1`` removes the format-1 cards (the v1 zoo) once the v2 models are
in. Resumable: a measured run (``--work/<name>/measured.json`` for the same weights, inference settings and
threshold-optimisation subjects) is not measured again. At most
``--jobs`` runs at a time, one torch thread each; progress on stdout.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from multiprocessing import get_context
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))  # zoo_data: the splits' generator settings

MEASURED = "measured.json"
#: the whole bundled zoo must stay below this (issue 12)
ZOO_LIMIT_BYTES = 50_000_000
#: pool subjects used for the threshold when the run's train.json names none it left out (the last ones)
DEFAULT_THRESHOLD_SUBJECTS = 4
#: keys under which a train.json may list the subjects a run trained or validated on
_USED_KEYS = ("train", "training", "validation", "val")
#: ``--threshold-split`` choices: the set's threshold-optimisation set (``DATA/<set>/tune``), or the training pool
THRESHOLD_SPLITS = ("tune", "pool")


def _names_under(value: Any, keys: tuple[str, ...]) -> set[str]:
    """Every string in lists found under ``keys`` anywhere in a JSON value (subject names)."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, item in value.items():
            if key in keys and isinstance(item, list):
                found |= {Path(str(v)).name for v in item if isinstance(v, str)}
            else:
                found |= _names_under(item, keys)
    elif isinstance(value, list):
        for item in value:
            found |= _names_under(item, keys)
    return found


def threshold_subjects(info: dict[str, Any], pool: list[Path], count: int) -> tuple[list[Path], str]:
    """The threshold-optimisation subjects of a run and how they were chosen: those ``train.json`` lists under
    ``threshold``; else the pool subjects it did not train or validate on; else its validation subjects (never
    trained on, only used to keep the best checkpoint); else (it lists none) the last ``count`` pool subjects."""
    listed = _names_under(info, ("threshold",))
    if listed:
        return [p for p in pool if p.name in listed], "the run's threshold-optimisation subjects (train.json)"
    used = _names_under(info, _USED_KEYS)
    if used:
        left = [p for p in pool if p.name not in used]
        if left:
            return left, "the pool subjects the run neither trained nor validated on"
    validation = _names_under(info, ("validation", "val"))
    chosen = [p for p in pool if p.name in validation]
    if chosen:
        return chosen, ("the run's validation subjects: every other pool subject was trained on; these were never "
                        "trained on, only used to keep the best-validation checkpoint")
    return pool[-count:], (f"the last {count} pool subjects (train.json does not say which subjects it trained on: "
                           "they may have been seen in training)")


def choose_subjects(info: dict[str, Any], data: Path, split: str, count: int) -> tuple[list[Path], str]:
    """The threshold-optimisation subjects of a run of the set in ``data`` and how they were chosen: with ``split``
    ``"tune"``, the cases of ``data/tune`` (generator setting ``tune``) when there are any; otherwise (or with
    ``"pool"``) :func:`threshold_subjects` of the training pool."""
    from LesionSegLogic.phantom.presets import TUNE

    tune = _cases(data / "tune") if split == "tune" else []
    if tune:
        return tune, (f"the threshold-optimisation set DATA/<set>/tune: generator setting `{TUNE.name}`, never "
                      "trained on, sharing no acquisition value with the shifted test set")
    return threshold_subjects(info, _cases(data / "pool"), count)


def subject_names(folders: tuple[Path, ...] | list[Path]) -> list[str]:
    """``split/case`` names (``tune/phantom0003``): case names alone repeat across splits."""
    return [f"{f.parent.name}/{f.name}" for f in folders]


def threshold_setting(folders: tuple[Path, ...] | list[Path]) -> dict[str, str]:
    """The split the threshold-optimisation subjects come from and its generator setting (name, description)."""
    from zoo_data import SPLIT_SETTINGS, split_setting

    split = folders[0].parent.name
    if split not in SPLIT_SETTINGS:
        return {"split": split}
    setting = split_setting(split)
    return {"split": split, "name": setting.name, "description": setting.description}


def _cases(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if p.is_dir() and (p / "phantom.json").is_file()) \
        if folder.is_dir() else []


def training_spacing(pool: list[Path], card) -> tuple[float, float, float] | None:
    """The grid the run was trained on: the spacing of its pool's grid images when they all share one (the
    training preset's), rounded to µm; ``None`` when they differ (then the model runs on each input's own grid)."""
    from LesionSegLogic.io.read import read_header
    from LesionSegLogic.zoo.measure import case_images

    role = card.grid_image()  # the header's spacing is in ITK (x, y, z) order, the card's in array (z, y, x) order
    spacings: set[tuple[float, float, float]] = set()
    for case in pool:
        x, y, z = (round(float(v), 3) for v in read_header(case_images(case, card)[role]).spacing)
        spacings.add((z, y, x))
    return next(iter(spacings)) if len(spacings) == 1 else None


def stage_run(run, work: Path, pool: list[Path], native: bool = False):
    """Copy the weights and write the provisional card into ``work/<zoo name>``; returns (folder, card). The card's
    ``target_spacing`` is the training grid (:func:`training_spacing`) unless the run states one: the predictor
    resamples a held-out image with thick slices onto the grid the network learnt, and the map back."""
    from LesionSegLogic.zoo.card import CARD_FILE, WEIGHTS_FILE
    from LesionSegLogic.zoo.weights import sha256_of

    folder = work / run.zoo_name
    folder.mkdir(parents=True, exist_ok=True)
    sha = sha256_of(run.weights)
    if not (folder / WEIGHTS_FILE).is_file() or sha256_of(folder / WEIGHTS_FILE) != sha:
        shutil.copyfile(run.weights, folder / WEIGHTS_FILE)
    card = run.card().with_updates(weights_sha256=sha)
    if native:  # --native-grid: every image on its own grid (no resampling), for comparison
        card = card.with_updates(target_spacing=None)
    elif card.target_spacing is None:
        card = card.with_updates(target_spacing=training_spacing(pool, card))
    card.validate(folder / CARD_FILE).to_json(folder / CARD_FILE)
    return folder, card


#: the files of Kamraoui's frozen lesion-wise F1 estimator, kept beside a Dice + LF1 model (its loss's part)
ESTIMATOR_FILES = ("lf1_estimator.json", "lf1_estimator.safetensors")


def estimator_files(run, models: Path) -> dict[str, bytes]:
    """The LF1 estimator a Dice + LF1 run was trained with (train.json ``lf1_estimator.path``, a zoo folder such as
    ``Resources/Models/dice_lf1``), to ship beside the model; empty for other runs."""
    spec = run.info.get("lf1_estimator") or run.config.get("lf1_estimator")
    path = spec.get("path") if isinstance(spec, dict) else spec
    if not path:
        return {}
    folder = Path(path) if Path(path).is_absolute() else ROOT / path
    if not folder.is_dir():
        folder = models / Path(path).name
    return {name: (folder / name).read_bytes() for name in ESTIMATOR_FILES if (folder / name).is_file()}


def _measured_key(card, tuning: tuple[Path, ...] | list[Path]) -> dict[str, Any]:
    """What a measurement depends on: the weights, how the card runs them and the threshold-optimisation subjects
    (resume only when all are equal)."""
    key = {"weights_sha256": card.weights_sha256, "target_spacing": card.target_spacing,
           "inference": card.inference, "patch_size": card.patch_size, "inputs": card.inputs,
           "threshold_subjects": subject_names(tuning)}
    return json.loads(json.dumps(key))  # as read back from measured.json (tuples become lists)


@dataclass
class Staged:
    """A run staged for measuring: its card and weights in ``stage``, its measurement (``None``: not yet) and its
    (threshold-optimisation, test, how chosen) subjects."""

    run: Any
    stage: Path
    card: Any
    measured: dict[str, Any] | None
    subjects: tuple[tuple[Path, ...], tuple[Path, ...], str]


def finalise_runs(job: tuple[Any, ...]) -> list[dict[str, Any]]:
    """Measure runs of one set (those not measured yet, sharing the reading and preprocessing of every case) and
    write their zoo folders; one summary line's facts (or ``error``) per run."""
    run_dirs, data_s, work_s, models_s, count, *rest = job
    native = bool(rest and rest[0])
    split = rest[1] if len(rest) > 1 else THRESHOLD_SPLITS[0]
    import torch

    torch.set_num_threads(1)
    from LesionSegLogic.errors import LesionSegError
    from LesionSegLogic.predictor import Predictor, PredictSettings
    from LesionSegLogic.zoo.handoff import read_run
    from LesionSegLogic.zoo.measure import measure

    start = time.time()
    staged: list[Staged] = []
    results: list[dict[str, Any]] = []
    for run_dir in run_dirs:
        try:
            run = read_run(run_dir)
            data = Path(data_s) / run.zoo_set.data
            pool, test = _cases(data / "pool"), _cases(data / "test")
            stage, card = stage_run(run, Path(work_s), pool, native)
            tuning, how = choose_subjects(run.info, data, split, count)
            if not tuning or not test:
                raise LesionSegError(f"no threshold ({len(tuning)}) or test ({len(test)}) subjects in {data}")
        except LesionSegError as error:
            results.append({"run": run_dir, "error": str(error)})
            continue
        measured_path = stage / MEASURED
        measured = json.loads(measured_path.read_text()) if measured_path.is_file() else {}
        fresh = measured.get("card") == _measured_key(card, tuning)
        staged.append(Staged(run, stage, card, measured if fresh else None, (tuple(tuning), tuple(test), how)))
    groups: dict[tuple[Any, ...], list[Staged]] = {}
    for item in staged:
        if item.measured is None:
            groups.setdefault((item.run.zoo_set.name, item.subjects), []).append(item)
    for (_, (tuning, test, how)), members in groups.items():
        predictors = [Predictor.load(m.stage, PredictSettings(device="cpu")) for m in members]
        names = ", ".join(m.run.zoo_name for m in members)
        done, total = [0], len(tuning) + len(test)

        def progress(case: str, names=names, done=done, total=total) -> None:
            done[0] += 1
            print(f"  [{names}] {case} ({done[0]}/{total}, {time.time() - start:.0f} s)", flush=True)

        zoo_set = members[0].run.zoo_set
        for member, measured in zip(members, measure(predictors, tuning, test, zoo_set, progress=progress),
                                    strict=True):
            measured["validation"]["threshold_subjects_chosen_as"] = how
            measured["validation"]["threshold_setting"] = threshold_setting(tuning)
            measured["card"] = _measured_key(member.card, tuning)
            measured["measure_seconds"] = round((time.time() - start) / len(members), 1)
            (member.stage / MEASURED).write_text(json.dumps(measured, indent=1))
            member.measured = measured
    for item in staged:
        assert item.measured is not None  # every group was measured above
        item.measured["validation"]["threshold_subjects_chosen_as"] = item.subjects[2]  # today's words for it
        results.append(write_zoo_folder(item.run, item.stage, item.card, item.measured, Path(models_s), start))
    return results


def write_zoo_folder(run, stage: Path, card, measured: dict[str, Any], models: Path, start: float) -> dict[str, Any]:
    """``models/<zoo name>/`` = the measured card + the staged weights (+ an LF1 estimator), loaded back once."""
    from LesionSegLogic.zoo import load_model
    from LesionSegLogic.zoo.card import CARD_FILE, WEIGHTS_FILE

    final = card.with_updates(recommended_threshold=measured["recommended_threshold"],
                              threshold_objective=measured["threshold_objective"],
                              validation=measured["validation"], calibration=measured["calibration"])
    target = models / run.zoo_name
    companions = estimator_files(run, models)  # read before the old folder goes (it may hold them)
    if target.exists():
        shutil.rmtree(target)  # a clean folder: no file of an older model stays
    target.mkdir(parents=True)
    for name, content in companions.items():
        (target / name).write_bytes(content)
    shutil.copyfile(stage / WEIGHTS_FILE, target / WEIGHTS_FILE)
    final.validate(target / CARD_FILE).to_json(target / CARD_FILE)
    load_model(target)  # the card and the weights load as users load them
    mean = measured["validation"]["at_recommended"]["mean"]
    return {"run": str(run.folder), "name": run.zoo_name, "threshold": final.recommended_threshold,
            "dice": mean.get("voxel_dice"), "f1": mean.get("lesion_f1"), "ece": final.calibration.get("ece"),
            "seconds": time.time() - start}


def finalise_run(job: tuple[Any, ...]) -> dict[str, Any]:
    """:func:`finalise_runs` for one run."""
    return finalise_runs(([job[0]], *job[1:]))[0]


def chunks(runs: list[Path], jobs: int) -> list[list[str]]:
    """The runs split by set into at most ``jobs`` chunks per set (the models of a chunk share every case's
    preprocessing), the biggest chunks first."""
    by_set: dict[str, list[str]] = {}
    for run in runs:
        by_set.setdefault(run.parent.name, []).append(str(run))
    out = []
    for members in by_set.values():
        n = min(jobs, len(members))
        out += [members[k::n] for k in range(n)]
    return sorted(out, key=len, reverse=True)


def _fmt(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.3f}"


def remove_v1(models: Path) -> list[str]:
    """Remove the model folders whose card is format 1 (the v1 zoo); returns their names."""
    from LesionSegLogic.zoo import list_models

    removed = []
    for entry in list_models([models]):
        if entry.folder.parent.resolve() == models.resolve() and entry.card is not None \
                and entry.card.format_version == 1:
            shutil.rmtree(entry.folder)
            removed.append(entry.folder.name)
    return removed


def write_docs(models: Path, docs: Path, runs: str, data: str) -> Path:
    """``docs/zoo.md`` and one reliability PNG per set, from the cards in ``models``."""
    from LesionSegLogic.zoo.card import CARD_FILE, ModelCard
    from LesionSegLogic.zoo.report import grouped, reliability_figure, zoo_markdown
    from LesionSegLogic.zoo.sets import ZOO_SETS

    cards = [ModelCard.from_json(p) for p in sorted(models.glob(f"*/{CARD_FILE}"))]
    groups = grouped(cards)
    pictures = {}
    for zoo_set in ZOO_SETS:
        png = reliability_figure(zoo_set, groups.get(zoo_set.name, []),
                                 docs.parent / f"zoo_reliability_{zoo_set.name}.png")
        if png is not None:
            pictures[zoo_set.name] = png.name
    size = sum(p.stat().st_size for p in models.rglob("*") if p.is_file())
    docs.write_text(zoo_markdown(cards, pictures, size, runs, data), encoding="utf-8")
    return docs


def choose_grids(models: Path, native: Path) -> list[str]:
    """Per model of ``models`` that ``native`` (a ``--native-grid --models NATIVE`` run: the same weights measured
    on each image's own grid) also holds: keep the card of the grid with the higher median voxel-wise F1 on the
    threshold-optimisation subjects (:func:`LesionSegLogic.zoo.grid_choice.choose_grid`; the test set plays no
    part), its choice recorded in ``validation["grid"]``. One line per model."""
    from LesionSegLogic.zoo import load_model
    from LesionSegLogic.zoo.card import CARD_FILE, ModelCard
    from LesionSegLogic.zoo.grid_choice import choose_grid

    lines = []
    for path in sorted(models.glob(f"*/{CARD_FILE}")):
        other = native / path.parent.name / CARD_FILE
        if not other.is_file():
            continue
        training = ModelCard.from_json(path)
        if training.target_spacing is None:  # chosen before (or never had a training grid): finalise again first
            lines.append(f"{path.parent.name}: already on its own grid, left as it is")
            continue
        choice = choose_grid(training, ModelCard.from_json(other))
        choice.card.validate(path).to_json(path)
        load_model(path.parent)  # the card and the weights load as users load them
        lines.append(f"{path.parent.name}: {choice.grid} grid (tune median voxel F1 "
                     + ", ".join(f"{k} {v:.3f}" for k, v in choice.scores.items()) + ")")
    return lines


def main(argv: list[str] | None = None) -> int:
    from LesionSegLogic.zoo.sets import SET_NAMES

    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--runs", default="/work/zoo_v2/device_out", help="RUNS/<set>/<name>/{model.safetensors,train.json}")
    p.add_argument("--data", default="/work/zoo_v2/data", help="DATA/<set>/{pool,test}/<case>/ (phantom layout)")
    p.add_argument("--models", default=str(ROOT / "Resources" / "Models"))
    p.add_argument("--work", default=str(ROOT / "build" / "zoo_v2"), help="staged cards and measurements")
    p.add_argument("--docs", default=str(ROOT / "docs" / "zoo.md"))
    p.add_argument("--set", nargs="*", choices=SET_NAMES, dest="sets", help="only these sets (default: all)")
    p.add_argument("--only", nargs="*", help="only these run names (e.g. dice) or zoo names (e.g. cord_dice)")
    p.add_argument("--jobs", type=int, default=2, help="runs measured at a time (one torch thread each)")
    p.add_argument("--threshold-split", choices=THRESHOLD_SPLITS, default=THRESHOLD_SPLITS[0],
                   help="choose each recommended threshold on DATA/<set>/tune (the threshold-optimisation set, "
                        "generator setting `tune`; the pool when a set has none) or on the training pool")
    p.add_argument("--threshold-subjects", type=int, default=DEFAULT_THRESHOLD_SUBJECTS,
                   help="pool subjects used when a run's train.json does not say which it trained on")
    p.add_argument("--docs-only", action="store_true", help="only rewrite docs/zoo.md and the pictures")
    p.add_argument("--native-grid", action="store_true",
                   help="cards without target_spacing (each image predicted on its own grid), to compare with the "
                        "default: the training grid")
    p.add_argument("--replace-v1", action="store_true", help="remove the v1 (format-1) cards after finalising")
    p.add_argument("--choose-grid", metavar="NATIVE_MODELS",
                   help="a --native-grid run's --models folder: per model keep the grid with the higher median "
                        "voxel-wise F1 on the threshold-optimisation subjects (LesionSegLogic.zoo.grid_choice)")
    args = p.parse_args(argv)
    from LesionSegLogic.zoo.handoff import find_runs
    from LesionSegLogic.zoo.sets import get_set

    models, work = Path(args.models), Path(args.work)
    if not args.docs_only:
        runs = [r for r in find_runs(args.runs, tuple(args.sets) if args.sets else None)
                if not args.only or r.name in args.only or get_set(r.parent.name).model_name(r.name) in args.only]
        print(f"{len(runs)} run(s) to finalise from {args.runs}", flush=True)
        jobs = [(chunk, args.data, str(work), str(models), args.threshold_subjects, args.native_grid,
                 args.threshold_split)
                for chunk in chunks(runs, max(1, args.jobs))]
        failed = 0
        with ProcessPoolExecutor(max(1, args.jobs), mp_context=get_context("spawn")) as pool:
            for results in pool.map(finalise_runs, jobs):
                for res in results:
                    if "error" in res:
                        failed += 1
                        print(f"FAILED {res['run']}: {res['error']}", flush=True)
                        continue
                    print(f"{res['name']}: threshold {res['threshold']:.2f}, held-out Dice {_fmt(res['dice'])}, "
                          f"lesion F1 {_fmt(res['f1'])}, ECE {_fmt(res['ece'])} ({res['seconds']:.0f} s)", flush=True)
        if args.replace_v1 and not failed:
            print("removed v1 models:", ", ".join(remove_v1(models)) or "none", flush=True)
    if args.choose_grid:
        for line in choose_grids(models, Path(args.choose_grid)):
            print(line, flush=True)
    print(f"wrote {write_docs(models, Path(args.docs), args.runs, args.data)}", flush=True)
    size = sum(p.stat().st_size for p in models.rglob("*") if p.is_file())
    verdict = "" if size <= ZOO_LIMIT_BYTES else " — TOO LARGE"
    print(f"zoo size {size / 1e6:.2f} MB (limit {ZOO_LIMIT_BYTES / 1e6:.0f} MB){verdict}", flush=True)
    return 0 if size <= ZOO_LIMIT_BYTES else 1


if __name__ == "__main__":
    sys.exit(main())
