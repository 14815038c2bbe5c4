"""``lesionseg predict``: one case (``--flair``) or a cohort (``--cases``), sharded across ``torchrun`` ranks.

One case: ``lesionseg predict --model dice --flair F [--t2 T] [--baseline B] --out DIR``; a T2-w-only model (the
spinal-cord models of the zoo) takes ``--t2 T`` alone. Without ``--model`` the bundled model for the images given is
picked (:func:`LesionSegLogic.defaults.pick_model`: a baseline → new lesions; FLAIR + T2 → brain FLAIR + T2; FLAIR
only → FLAIR-only; a spinal-cord image → cord) and the choice and its reason are said on stderr and recorded in
``summary.json["model_choice"]``.
A cohort: ``lesionseg predict --model dice --cases ROOT [ROOT ...] --out DIR`` where each ROOT is a case folder
(holding ``flair.nii.gz`` [``t2.nii.gz``] [``baseline_flair.nii.gz`` or ``baseline.nii.gz``]), a folder of case
folders, or a ``.txt`` file listing case folders; outputs go to ``DIR/<case>/``. Cases already done (all four
outputs present) are skipped, a bad case is reported and the rest carry on (exit status 1 if any failed).
Under ``torchrun`` each rank takes ``cases[RANK::WORLD_SIZE]`` (no process group is needed). With ``--cases`` only
the images the model reads are looked up in each folder (``summary.json`` lists the ones used).

A BIDS dataset: ``lesionseg predict --model dice --bids ROOT [--participant-label 01 02] --out
ROOT/derivatives/lesionseg`` predicts every FLAIR (with its T2w when the model takes one) and writes a BIDS
derivatives dataset (see ``LesionSegLogic.bids``); done cases are skipped, a bad case is reported.

Any image argument may be a DICOM series folder (``--series`` chooses among several series; the geometry is
checked, see ``LesionSegLogic.io.dicom``). With a DICOM FLAIR, ``--dicom-seg`` adds ``DIR/mask.seg.dcm`` (a DICOM
Segmentation referencing the FLAIR series) and ``--dicom-pmap`` ``DIR/probability.pm.dcm`` (a Parametric Map).

No silent wrong answers: ``--baseline`` (or ``--t2``) for a model that does not take it is an error naming the
model and the file, unless ``--ignore-extra-inputs`` (then it is dropped with a warning, recorded in
``summary.json``); a missing image the model needs is an error. A model trained on another anatomy than the image
shows (``--anatomy``, else guessed from the field of view) runs with a one-line warning on stderr, recorded in
``summary.json["warnings"]``.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TypeVar

from LesionSegLogic.anatomy import ANATOMIES
from LesionSegLogic.cli import add_allow_external_data
from LesionSegLogic.defaults import DEFAULT_RULE, RULE_NAMES
from LesionSegLogic.inference import DEVICES, FUSIONS, TTAS
from LesionSegLogic.zoo.card import ROLE_FILE_STEMS

_EXTENSIONS = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".mha", ".mhd")
_CONTRASTS = ROLE_FILE_STEMS  # image role → the file stems of a case folder


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "predict",
        help="segment lesions: probability map, mask, lesion table, summary",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("--model",
                   help="a bundled model name (see `lesionseg models`), a model folder, an nnU-Net v2 model folder "
                        "(dataset.json, plans.json, fold_*) or an ONNX model (FILE.onnx with card.json beside it); "
                        "see docs/models.md. Default (one case): the bundled model picked for the images given, "
                        "said on stderr and in summary.json")
    src = p.add_mutually_exclusive_group()
    src.add_argument("--flair", help="FLAIR image (the output grid of every model that reads one)")
    src.add_argument("--cases", nargs="+", metavar="PATH", help="case folders, folders of cases, or .txt lists")
    src.add_argument("--bids", metavar="ROOT",
                     help="a BIDS dataset: every sub-*/[ses-*/]anat/*_FLAIR (+ _T2w); --out is then a BIDS "
                          "derivatives dataset (e.g. ROOT/derivatives/lesionseg)")
    p.add_argument("--participant-label", nargs="+", metavar="LABEL", help="with --bids: only these subjects")
    p.add_argument("--session-label", nargs="+", metavar="LABEL", help="with --bids: only these sessions")
    p.add_argument("--t2", help="T2(-w) image: resampled onto the FLAIR grid for FLAIR + T2 models; the only image "
                                "(and the output grid) of the spinal-cord models")
    p.add_argument("--baseline", help="baseline FLAIR for longitudinal models")
    p.add_argument("--series", action="append", metavar="[ROLE=]SELECTOR",
                   help="which series of a DICOM folder holding several: SeriesDescription, SeriesNumber or "
                        "SeriesInstanceUID; ROLE is flair (the default), t2 or baseline; repeatable")
    p.add_argument("--dicom-seg", action="store_true",
                   help="also write DIR/mask.seg.dcm, a DICOM Segmentation referencing the FLAIR series "
                        "(the FLAIR must be a DICOM folder)")
    p.add_argument("--dicom-pmap", action="store_true",
                   help="also write DIR/probability.pm.dcm, a DICOM Parametric Map of the probability")
    p.add_argument("--out", required=True, help="output folder (per case: DIR/<case>/ with --cases)")
    p.add_argument("--device", default=DEVICES[0], choices=DEVICES)
    p.add_argument("--overlap", type=float, help="window overlap in [0, 1) (default: the model card's)")
    p.add_argument("--fusion", choices=FUSIONS, help="default: the card's")
    p.add_argument("--tta", choices=TTAS, help="default: the card's")
    p.add_argument("--threshold", type=float, help="decision threshold (default: the card's recommended one)")
    p.add_argument("--rule", choices=RULE_NAMES, help=f"lesion matching rule of lesions.csv (default {DEFAULT_RULE})")
    p.add_argument("--anatomy", choices=ANATOMIES,
                   help="what the image shows (default: guessed from its field of view); a model trained on "
                        "another anatomy warns")
    p.add_argument("--ignore-extra-inputs", action="store_true",
                   help="drop images the model does not take (e.g. --baseline for a cross-sectional model) with "
                        "a warning instead of refusing them")
    p.add_argument("--batch-size", type=int, help="windows per forward pass (default: by device)")
    nn = p.add_argument_group("nnU-Net v2 model folders")
    nn.add_argument("--nnunet-label", metavar="NAME",
                    help="the lesion label of dataset.json (default: its only foreground label)")
    nn.add_argument("--folds", nargs="+", metavar="K", help="folds to average, numbers or 'all' (default: every "
                    "trained fold)")
    nn.add_argument("--checkpoint", choices=("final", "best"), default="final",
                    help="checkpoint_final.pth (default) or checkpoint_best.pth; --tta none turns nnU-Net's "
                         "mirroring off")
    p.add_argument("--no-skip-background", action="store_true", help="run every window, even empty ones")
    p.add_argument("--force", action="store_true", help="redo cases whose outputs already exist")
    p.add_argument("--no-progress", action="store_true", help="no progress bar")
    add_allow_external_data(p)
    return p


def find_image(folder: Path, stems: tuple[str, ...]) -> Path | None:
    for stem in stems:
        for ext in _EXTENSIONS:
            if (folder / f"{stem}{ext}").is_file():
                return folder / f"{stem}{ext}"
    return None


def discover_cases(paths: list[str]) -> list[Path]:
    """Case folders from ``paths`` (a case folder, a folder of them, or a .txt list), sorted and unique."""
    from LesionSegLogic.errors import FileMissingError, InputError

    found: list[Path] = []
    for raw in paths:
        path = Path(raw)
        if not path.exists():
            raise FileMissingError("no such file or folder", path)
        if path.is_file():
            try:
                text = path.read_text(encoding="utf-8")
            except UnicodeDecodeError as error:
                reason = f"is not a text list of case folders (not UTF-8 at byte {error.start})"
                raise InputError(reason, path) from None
            if "\x00" in text:
                raise InputError("is not a text list of case folders (it holds NUL bytes)", path)
            lines = [ln.strip() for ln in text.splitlines()]
            found += [(path.parent / ln) for ln in lines if ln and not ln.startswith("#")]
        elif _has_image(path):
            found.append(path)
        else:
            found += sorted(d for d in path.iterdir() if d.is_dir() and _has_image(d))
    unique = sorted({p.resolve() for p in found}, key=lambda p: (p.name, str(p)))
    if not unique:
        raise InputError("no case folders with a flair or t2 image found", ", ".join(paths))
    return unique


def _has_image(folder: Path) -> bool:
    """A case folder: it holds a FLAIR, or a T2 (a T2-w-only cord case)."""
    return any(find_image(folder, _CONTRASTS[role]) is not None for role in ("flair", "t2"))


T = TypeVar("T")


def shard(cases: list[T]) -> tuple[list[T], int, int]:
    """This process's share under torchrun: ``cases[RANK::WORLD_SIZE]`` (everything when not distributed)."""
    rank = int(os.environ.get("RANK", "0"))
    world = max(1, int(os.environ.get("WORLD_SIZE", "1")))
    return cases[rank::world], rank, world


def _settings(args: argparse.Namespace):
    from LesionSegLogic.predictor import PredictSettings

    return PredictSettings(
        device=args.device, overlap=args.overlap, fusion=args.fusion, tta=args.tta, threshold=args.threshold,
        skip_background=not args.no_skip_background, batch_size=args.batch_size, rule=args.rule,
        anatomy=args.anatomy, ignore_extra_inputs=args.ignore_extra_inputs, nnunet_label=args.nnunet_label,
        nnunet_folds=None if args.folds is None else tuple(args.folds), nnunet_checkpoint=args.checkpoint,
    )  # fmt: skip


def read_dicom_inputs(args: argparse.Namespace) -> tuple[dict, dict]:
    """The images by role (DICOM folders read, with ``--series``) and the DICOM series read, by role."""
    from LesionSegLogic.errors import InputError
    from LesionSegLogic.io.dicom import parse_series_choices, read_inputs

    roles = tuple(_CONTRASTS)
    images, dicom = read_inputs({"flair": args.flair, "t2": args.t2, "baseline": args.baseline},
                                parse_series_choices(args.series, roles, "flair"))  # fmt: skip
    if (args.dicom_seg or args.dicom_pmap) and "flair" not in dicom:
        raise InputError("--dicom-seg/--dicom-pmap need the FLAIR as a DICOM series folder", args.flair)
    return images, dicom


def dicom_output_names(args: argparse.Namespace) -> tuple[str, ...]:
    """The DICOM objects ``--dicom-seg``/``--dicom-pmap`` add to the outputs (claimed with the others)."""
    from LesionSegLogic.io.dicom_seg import PARAMETRIC_MAP_FILE, SEGMENTATION_FILE

    return (SEGMENTATION_FILE,) * bool(args.dicom_seg) + (PARAMETRIC_MAP_FILE,) * bool(args.dicom_pmap)


def write_dicom_outputs(args: argparse.Namespace, result, dicom: dict) -> None:
    """``--dicom-seg``/``--dicom-pmap`` objects into ``args.out``; the series read are recorded in the summary."""
    from LesionSegLogic import __version__
    from LesionSegLogic.io.dicom_seg import DicomWriterInfo
    from LesionSegLogic.io.dicom_seg import write_dicom_outputs as write

    if dicom:
        result.summary["dicom"] = {role: {"folder": str(s.folder), "series_instance_uid": s.info.uid,
                                          "series_number": s.info.number, "series_description": s.info.description,
                                          "files": len(s.files)} for role, s in dicom.items()}  # fmt: skip
    if not (args.dicom_seg or args.dicom_pmap):
        return
    info = DicomWriterInfo(software_version=__version__, model_name=str(result.summary["model"]["name"]))
    written = write(result.mask if args.dicom_seg else None, result.probability if args.dicom_pmap else None,
                    dicom["flair"], args.out,
                    info, protect=[str(s.folder) for s in dicom.values()])  # fmt: skip
    result.summary["dicom"]["outputs"] = {name: str(path) for name, path in written.items()}


def read_external_data(images: dict, needed: frozenset[str], allow: bool) -> dict:
    """With ``--allow-external-data``: the image files the model reads, read here allowing a detached header's data
    outside its folder (the predictor reads paths with the default, which refuses them); else ``images`` as given."""
    if not allow:
        return images
    from LesionSegLogic.io import read_image

    return {role: read_image(value, allow_external_data=True)
            if role in needed and isinstance(value, (str, os.PathLike)) else value
            for role, value in images.items()}  # fmt: skip


def _run_one(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from LesionSegLogic.cli.progress import PredictProgress
    from LesionSegLogic.io.write_policy import claim_outputs, terminate_as_exit
    from LesionSegLogic.predictor import OUTPUT_FILES, RUN_PHASES, WRITE_PHASE, Predictor, write_outputs

    # the write policy (docs/io.md): earlier results are replaced only with --force, an input never
    claim_outputs([Path(args.out) / name for name in (*OUTPUT_FILES, *dicom_output_names(args))],
                  inputs=[args.flair, args.t2, args.baseline], force=args.force)
    choice = None
    if args.model is None:  # the bundled model for these images, and why (one line on stderr, summary.json)
        from LesionSegLogic.zoo.autopick import pick_for_images

        choice = pick_for_images({"flair": args.flair, "t2": args.t2, "baseline": args.baseline}, args.anatomy)
        print(f"lesionseg predict: auto-picked {choice.reason}", file=sys.stderr)
    predictor = Predictor.load(args.model or choice.name, _settings(args))  # type: ignore[union-attr]  # choice: set without --model; before any progress: one line
    shown = PredictProgress((*RUN_PHASES, WRITE_PHASE), enabled=not args.no_progress)
    try:
        shown.phase(RUN_PHASES[0])  # DICOM folders and --allow-external-data images are read here, the rest in run
        images, dicom = read_dicom_inputs(args)
        images = read_external_data(images, predictor.card.images_needed(), args.allow_external_data)
        result = predictor.run(
            images, None, progress=shown.windows, phase=shown.phase,
            notify=lambda m: tqdm.write(f"lesionseg predict: {m}", file=sys.stderr),
        )  # fmt: skip
        record_input_files(result.summary, args)
        result.summary["model_choice"] = choice.to_json() if choice else {"model": args.model, "auto": False}
        shown.phase(WRITE_PHASE)
        with terminate_as_exit():  # SIGTERM during the final write: the staging clean-up runs
            write_dicom_outputs(args, result, dicom)
            result.outputs = write_outputs(result, Path(args.out), protect=list(result.summary["inputs"].values()))
    finally:
        shown.close()
    s = result.summary
    print(
        f"{args.out}: {s['lesions']['count']} lesion(s), {s['lesions']['total_volume_mm3']:.1f} mm³ at "
        f"threshold {s['settings']['threshold']:.2f} ({s['model']['name']}, {s['device']}, "
        f"{s['timings_s']['total']:.1f} s)"
    )
    return 0


def record_input_files(summary: dict, args: argparse.Namespace) -> None:
    """The provenance's inputs as the files named on the command line: images read here (a DICOM series folder, an
    image allowed external data) reach the predictor in memory, but came from these files or folders."""
    from LesionSegLogic.provenance import input_files

    given = {"flair": args.flair, "t2": args.t2, "baseline": args.baseline}
    used = {role: given[role] for role in summary["inputs"] if given.get(role) is not None}
    summary["provenance"]["inputs"] = [item.record() for item in input_files(used)]


def _run_cases(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from LesionSegLogic.errors import LesionSegError
    from LesionSegLogic.io.write_policy import claim_outputs
    from LesionSegLogic.predictor import OUTPUT_FILES, Predictor, is_done

    cases, rank, world = shard(discover_cases(args.cases))
    predictor = Predictor.load(args.model, _settings(args))
    out_root = Path(args.out)
    done, skipped, failed = 0, 0, []
    desc = "cases" if world == 1 else f"cases (rank {rank}/{world})"
    with tqdm(cases, unit="case", desc=desc, disable=args.no_progress, file=sys.stderr) as bar:
        for case in bar:
            target = out_root / case.name
            if not args.force and is_done(target):
                skipped += 1
                continue
            bar.set_postfix_str(case.name)
            images = {k: find_image(case, stems) for k, stems in _CONTRASTS.items()
                      if k in predictor.card.images_needed()}
            try:
                name = case.name
                # a partial earlier result (no summary.json) is not replaced without --force either (docs/io.md)
                claim_outputs([target / n for n in OUTPUT_FILES], inputs=images.values(), force=args.force)
                inputs = read_external_data(images, predictor.card.images_needed(), args.allow_external_data)
                predictor.run(inputs, target, notify=lambda m, n=name: tqdm.write(f"{n}: {m}", file=sys.stderr))  # type: ignore[misc]  # default-argument lambda (binds the case name)
                done += 1
            except (LesionSegError, ValueError, RuntimeError) as error:
                failed.append((case.name, str(error)))
                tqdm.write(f"lesionseg predict: {case.name}: FAILED: {error}", file=sys.stderr)
    print(f"{done} predicted, {skipped} already done, {len(failed)} failed (of {len(cases)} case(s) on this rank)")
    for name, reason in failed:
        print(f"  failed {name}: {reason}", file=sys.stderr)
    return 1 if failed else 0


def run(args: argparse.Namespace) -> int:
    from LesionSegLogic.errors import InputError

    if (args.cases or args.bids) and (args.t2 or args.baseline):
        raise InputError("--t2/--baseline go with --flair; with --cases/--bids they are found for each case")
    if (args.cases or args.bids) and (args.series or args.dicom_seg or args.dicom_pmap):
        raise InputError("--series/--dicom-seg/--dicom-pmap go with --flair (a DICOM series folder)")
    if not args.bids and (args.participant_label or args.session_label):
        raise InputError("--participant-label/--session-label go with --bids")
    if not (args.cases or args.bids or args.flair or args.t2):
        raise InputError("give the images (--flair and/or --t2, --baseline), --cases or --bids")
    if (args.cases or args.bids) and not args.model:
        raise InputError("--model is needed with --cases/--bids (the model is picked automatically for one case)")
    if args.bids:
        from LesionSegLogic.cli.predict_bids import run_bids

        return run_bids(args, _settings(args))
    return _run_cases(args) if args.cases else _run_one(args)
