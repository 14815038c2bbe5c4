"""BIDS cohorts in, a BIDS derivatives dataset out — with a small matcher instead of pybids.

Why not pybids: it pulls pandas, SQLAlchemy and formulaic, indexes the whole dataset into a database and
validates far more than LesionSeg reads. LesionSeg needs four patterns of the BIDS specification (1.9,
"Anatomy imaging data" and "Common data types and metadata" for derivatives), matched by file name only:

* raw images ``sub-<label>/[ses-<label>/]anat/sub-<label>[_ses-<label>][_<key>-<value>...]_FLAIR.nii[.gz]``
  and ``..._T2w.nii[.gz]``;
* reference masks ``derivatives/<pipeline>/sub-<label>/[ses-<label>/]anat/..._mask.nii[.gz]`` or
  ``..._dseg.nii[.gz]`` (a one-label discrete segmentation);
* outputs ``<OUT>/sub-<label>/[ses-<label>/]anat/<FLAIR entities>_desc-lesion_probseg.nii.gz``, ``_mask.nii.gz``,
  ``_lesions.tsv`` and ``_summary.json`` (written last), plus ``<OUT>/dataset_description.json`` with
  ``DatasetType: derivative`` and ``GeneratedBy``.

A name is ``_``-separated ``key-value`` entities followed by a suffix; files that do not parse are ignored.
Matching rules, each one way only:

* one case per FLAIR file (several FLAIRs of one session — ``acq-``, ``run-`` — are several cases);
* its T2w is the session's only T2w, or the one whose ``acq``/``rec``/``run`` entities equal the FLAIR's;
  anything else is ambiguous, an error only when the model needs a T2;
* its reference is the ``mask``/``dseg`` of the same subject and session in ``derivatives/`` (not LesionSeg's own
  outputs) whose ``acq``/``rec``/``run`` entities do not contradict the FLAIR's; ``reference_pipeline`` names the
  derivatives folder when several pipelines have one.
"""

from __future__ import annotations

import csv
import io
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from os import PathLike
from pathlib import Path
from typing import Any

from LesionSegLogic.errors import FileMissingError, InputError, LesionSegError, OutputError
from LesionSegLogic.jsonfile import json_text, read_json

#: the raw image suffix of each image role (roles of :data:`LesionSegLogic.zoo.card.IMAGE_ROLES` BIDS holds)
ROLE_SUFFIXES = {"flair": "FLAIR", "t2": "T2w"}
REFERENCE_SUFFIXES = ("mask", "dseg")
IMAGE_EXTENSIONS = (".nii.gz", ".nii")
#: entities that must agree between the FLAIR and the T2w / reference chosen for it
PAIRING_ENTITIES = ("acq", "rec", "run")
PIPELINE_NAME = "lesionseg"
OUTPUT_DESC = "lesion"
#: output name (suffix + extension after ``desc-lesion``) of each thing a prediction writes
OUTPUTS = {"probability": "probseg.nii.gz", "mask": "mask.nii.gz", "lesions": "lesions.tsv",
           "summary": "summary.json"}  # fmt: skip
BIDS_VERSION = "1.9.0"
_PART = re.compile(r"^([a-zA-Z0-9]+)-([a-zA-Z0-9]+)$")


@dataclass(frozen=True)
class BidsName:
    """A parsed BIDS file name: ordered ``(key, value)`` entities, the suffix and the extension."""

    entities: tuple[tuple[str, str], ...]
    suffix: str
    extension: str

    @classmethod
    def parse(cls, name: str, extensions: Sequence[str] = IMAGE_EXTENSIONS) -> BidsName | None:
        extension = next((e for e in extensions if name.endswith(e)), None)
        if extension is None:
            return None
        *parts, suffix = name[: -len(extension)].split("_")
        matched = [_PART.match(p) for p in parts]
        found = [m for m in matched if m is not None]
        if not parts or len(found) < len(parts) or not suffix.isalnum() or found[0].group(1) != "sub":
            return None
        return cls(tuple((m.group(1), m.group(2)) for m in found), suffix, extension)

    def get(self, key: str) -> str | None:
        return dict(self.entities).get(key)

    def derived(self, desc: str, suffix_and_extension: str) -> str:
        """This name's entities (without ``desc``) + ``desc-<desc>`` + the new suffix/extension."""
        kept = [f"{k}-{v}" for k, v in self.entities if k != "desc"]
        return "_".join([*kept, f"desc-{desc}", suffix_and_extension])

    def agrees_with(self, other: BidsName) -> bool:
        """No pairing entity (:data:`PAIRING_ENTITIES`) set in both names with different values."""
        return all(self.get(k) is None or other.get(k) is None or self.get(k) == other.get(k)
                   for k in PAIRING_ENTITIES)  # fmt: skip


@dataclass(frozen=True)
class BidsCase:
    """One FLAIR of a BIDS dataset with what goes with it."""

    root: Path
    subject: str
    session: str | None
    flair: Path
    name: BidsName
    t2: Path | None = None
    reference: Path | None = None
    problems: dict[str, str] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The FLAIR's entities, e.g. ``sub-01_ses-02`` (``acq``/``run`` too when the session has several)."""
        return "_".join(f"{k}-{v}" for k, v in self.name.entities)

    @property
    def anat(self) -> Path:
        """The folder of the case relative to the dataset root: ``sub-X[/ses-Y]/anat``."""
        return self.flair.parent.relative_to(self.root)

    def images(self, needed: Iterable[str]) -> dict[str, Path]:
        """The images of the roles ``needed`` (an error naming the problem when one cannot be matched)."""
        found = {"flair": self.flair, "t2": self.t2}
        out: dict[str, Path] = {}
        for role in needed:
            if role not in ROLE_SUFFIXES:
                raise InputError(f"{self.label}: a BIDS dataset holds no {role} image for this model "
                                 f"(BIDS suffixes read: {', '.join(ROLE_SUFFIXES.values())})", self.root)  # fmt: skip
            if found[role] is None:
                raise InputError(self.problems.get(role, f"{self.label}: no _{ROLE_SUFFIXES[role]} image"),
                                 self.flair.parent)  # fmt: skip
            out[role] = found[role]  # type: ignore[assignment]  # checked not None just above
        return out

    def outputs(self, out_root: str | PathLike[str]) -> dict[str, Path]:
        """Where this case's outputs go in the derivatives dataset ``out_root``."""
        folder = Path(out_root) / self.anat
        return {key: folder / self.name.derived(OUTPUT_DESC, tail) for key, tail in OUTPUTS.items()}


def find_cases(
    root: str | PathLike[str],
    participants: Sequence[str] | None = None,
    sessions: Sequence[str] | None = None,
    *,
    references: bool | str = False,
    reference_pipeline: str | None = None,
    exclude: Sequence[str | PathLike[str]] = (),
) -> list[BidsCase]:
    """Every FLAIR under ``root`` (of the ``participants``/``sessions`` given, with or without ``sub-``/``ses-``),
    sorted by name; with ``references=True`` each must have exactly one reference mask in ``derivatives/``, with
    ``references="optional"`` at most one (cases without keep ``reference=None``).
    ``exclude`` names derivatives folders never searched for references (LesionSeg's own output)."""
    base = Path(root)
    if not base.is_dir():
        raise FileMissingError("BIDS dataset folder not found", base)
    if not (base / "dataset_description.json").is_file():
        raise InputError("is not a BIDS dataset (no dataset_description.json)", base)
    wanted_subjects = {_label(p, "sub") for p in participants or ()}
    wanted_sessions = {_label(s, "ses") for s in sessions or ()}
    subjects = sorted(p for p in base.glob("sub-*") if p.is_dir())
    unknown = sorted(wanted_subjects - {p.name[4:] for p in subjects})
    if unknown:
        raise InputError(f"no such participant(s): {', '.join(unknown)}", base)
    cases: list[BidsCase] = []
    for subject_dir in subjects:
        subject = subject_dir.name[4:]
        if wanted_subjects and subject not in wanted_subjects:
            continue
        for anat in _anat_folders(subject_dir):
            session = anat.parent.name[4:] if anat.parent.name.startswith("ses-") else None
            if wanted_sessions and session not in wanted_sessions:
                continue
            names = _parsed(anat)
            t2s = [(p, n) for p, n in names if n.suffix == ROLE_SUFFIXES["t2"]]
            for flair, name in ((p, n) for p, n in names if n.suffix == ROLE_SUFFIXES["flair"]):
                problems: dict[str, str] = {}
                t2 = _pick(name, t2s, "T2w", problems, "t2")
                case = BidsCase(base, subject, session, flair, name, t2, None, problems)
                if references:
                    case = _with_reference(case, reference_pipeline, exclude, references is True)
                cases.append(case)
    if not cases:
        which = f" for participant(s) {', '.join(sorted(wanted_subjects))}" if wanted_subjects else ""
        raise InputError(f"no sub-*/[ses-*/]anat/*_FLAIR.nii[.gz] images found{which}", base)
    return sorted(cases, key=lambda c: c.label)


def write_dataset_description(out_root: str | PathLike[str], source: str | PathLike[str], model: str,
                              version: str) -> Path:
    """``OUT/dataset_description.json`` (a BIDS derivative dataset, ``GeneratedBy`` LesionSeg); an existing one
    is kept when it is LesionSeg's, refused otherwise."""
    from LesionSegLogic.io.write import write_json

    target = Path(out_root) / "dataset_description.json"
    if target.is_file():
        try:
            existing = read_json(target, "dataset_description.json")
        except LesionSegError:
            existing = {}
        names = [g.get("Name") for g in existing.get("GeneratedBy", []) if isinstance(g, dict)]
        if "LesionSeg" not in names:
            raise OutputError(f"{target}: another dataset's description; choose an empty --out for LesionSeg")
        return target
    document = {
        "Name": "LesionSeg lesion segmentations",
        "BIDSVersion": BIDS_VERSION,
        "DatasetType": "derivative",
        "GeneratedBy": [{"Name": "LesionSeg", "Version": version,
                         "Description": f"MS lesion probability maps and masks, model {model}"}],
        "SourceDatasets": [{"URL": Path(source).resolve().as_uri()}],
    }  # fmt: skip
    write_json(target, document)
    return target


def write_case_outputs(case: BidsCase, out_root: str | PathLike[str], probability, mask,
                       lesions: Sequence[Mapping[str, Any]], columns: Sequence[str],
                       summary: Mapping[str, Any]) -> dict[str, Path]:
    """Write one case's outputs via a staging folder; ``_summary.json`` (with BIDS ``Sources``) is moved last."""
    from LesionSegLogic.io.write import staged_outputs, write_image

    targets = case.outputs(out_root)
    sources = [f"bids:raw:{p.relative_to(case.root).as_posix()}" for p in (case.flair, case.t2) if p is not None]
    protect = [str(case.flair), *([str(case.t2)] if case.t2 else [])]
    order = [targets[key] for key in ("probability", "mask", "lesions", "summary")]
    with staged_outputs(order, what="outputs") as staging:
        write_image(probability, staging / targets["probability"].name, dtype="float32", protect=protect)
        write_image(mask, staging / targets["mask"].name, dtype="uint8", protect=protect)
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=list(columns), delimiter="\t", lineterminator="\n")
        writer.writeheader()
        for row in lesions:
            writer.writerow({k: "n/a" if row.get(k) is None else row[k] for k in columns})
        (staging / targets["lesions"].name).write_text(buffer.getvalue(), encoding="utf-8")
        (staging / targets["summary"].name).write_text(json_text({"Sources": sources, **summary}), encoding="utf-8")
    return targets


def is_done(case: BidsCase, out_root: str | PathLike[str]) -> bool:
    """True when the case's outputs are complete (the summary is written last)."""
    return all(path.is_file() for path in case.outputs(out_root).values())


# helpers ----------------------------------------------------------------------------------------------------
def _label(text: str, key: str) -> str:
    return text[len(key) + 1:] if text.startswith(f"{key}-") else text


def _anat_folders(subject_dir: Path) -> list[Path]:
    sessions = sorted(p for p in subject_dir.glob("ses-*") if p.is_dir())
    folders = [s / "anat" for s in sessions] + [subject_dir / "anat"]
    return [f for f in folders if f.is_dir()]


def _parsed(folder: Path) -> list[tuple[Path, BidsName]]:
    named = ((p, BidsName.parse(p.name)) for p in sorted(folder.iterdir()) if p.is_file())
    return [(p, n) for p, n in named if n is not None]


def _pick(flair: BidsName, candidates: list[tuple[Path, BidsName]], what: str, problems: dict[str, str],
          role: str) -> Path | None:
    """The one candidate for ``flair`` (see the module docstring); a problem is recorded when ambiguous."""
    if len(candidates) == 1:
        return candidates[0][0]
    agreeing = [p for p, n in candidates if all(n.get(k) == flair.get(k) for k in PAIRING_ENTITIES)]
    if len(agreeing) == 1:
        return agreeing[0]
    if candidates:
        label = "_".join(f"{k}-{v}" for k, v in flair.entities)
        listing = ", ".join(p.name for p, _ in candidates)
        problems[role] = f"{label}: {len(candidates)} _{what} images and none pairs with the FLAIR by " \
                         f"{'/'.join(PAIRING_ENTITIES)}: {listing}"
    return None


def _with_reference(case: BidsCase, pipeline: str | None, exclude: Sequence[str | PathLike[str]],
                    required: bool = True) -> BidsCase:
    derivatives = case.root / "derivatives"
    skipped = {Path(p).resolve() for p in exclude} | {(derivatives / PIPELINE_NAME).resolve()}
    pipelines = sorted(p for p in derivatives.glob("*") if p.is_dir() and p.resolve() not in skipped) \
        if derivatives.is_dir() else []  # fmt: skip
    if pipeline is not None:
        pipelines = [p for p in pipelines if p.name == pipeline]
        if not pipelines:
            raise InputError(f"no derivatives/{pipeline} folder", case.root)
    found: list[Path] = []
    for folder in pipelines:
        anat = folder / case.anat
        if anat.is_dir():
            found += [p for p, n in _parsed(anat) if n.suffix in REFERENCE_SUFFIXES and n.agrees_with(case.name)]
    if len(found) > 1:
        listing = ", ".join(str(p.relative_to(case.root)) for p in found)
        raise InputError(f"{case.label}: {len(found)} reference masks ({listing}); choose a pipeline with "
                         "--ref-pipeline", case.root)  # fmt: skip
    if not found:
        if required:
            raise InputError(f"{case.label}: no reference mask in derivatives/*/{case.anat.as_posix()}/ (*_mask or "
                             "*_dseg)", case.root)  # fmt: skip
        return case
    return BidsCase(case.root, case.subject, case.session, case.flair, case.name, case.t2, found[0], case.problems)


def prediction_pairs(
    root: str | PathLike[str], predictions: str | PathLike[str], participants: Sequence[str] | None = None,
    sessions: Sequence[str] | None = None, reference_pipeline: str | None = None,
) -> tuple[list[tuple[str, Path, Path]], list[str]]:
    """``(case label, probability map, reference mask)`` of every case of ``root`` that has a reference, and the
    labels of the cases left out for having none (none with one is an error); the maps are taken from the
    derivatives dataset ``predictions`` (``lesionseg predict --bids``'s ``--out``)."""
    cases = find_cases(root, participants, sessions, references="optional", reference_pipeline=reference_pipeline,
                       exclude=[predictions])  # fmt: skip
    with_reference = [c for c in cases if c.reference is not None]
    if not with_reference:
        raise InputError("no case has a reference mask in derivatives/*/ (*_mask or *_dseg)", root)
    pairs = []
    for case in with_reference:
        probability = case.outputs(predictions)["probability"]
        if not probability.is_file():
            raise FileMissingError(f"{case.label}: no prediction; run `lesionseg predict --bids` first", probability)
        if case.reference is not None:
            pairs.append((case.label, probability, case.reference))
    return pairs, [c.label for c in cases if c.reference is None]


#: a phantom case folder's files → (BIDS suffix, derivatives pipeline or None for raw, extra entities)
CASE_TO_BIDS = {"flair.nii.gz": ("FLAIR", None, ()), "t2.nii.gz": ("T2w", None, ()),
                "lesions.nii.gz": ("mask", "phantom", (("label", "lesion"),))}  # fmt: skip


def case_bids_targets(root: str | PathLike[str], subject: str) -> dict[str, Path]:
    """Where :func:`write_case_as_bids` puts each file of :data:`CASE_TO_BIDS` for ``sub-<subject>``."""
    targets = {}
    for name, (suffix, pipeline, extra) in CASE_TO_BIDS.items():
        top = Path(root) if pipeline is None else Path(root) / "derivatives" / pipeline
        entities = "_".join([f"sub-{subject}", *(f"{k}-{v}" for k, v in extra)])
        targets[name] = top / f"sub-{subject}" / "anat" / f"{entities}_{suffix}.nii.gz"
    return targets


def write_case_as_bids(case_folder: str | PathLike[str], root: str | PathLike[str], subject: str,
                       ignore: Sequence[str] = ()) -> list[Path]:
    """Copy a case folder's images into the BIDS dataset ``root`` as ``sub-<subject>`` (:data:`CASE_TO_BIDS`:
    FLAIR and T2w raw, the ground truth as ``derivatives/phantom/.../_label-lesion_mask``), writing the dataset
    descriptions (and a ``.bidsignore`` of the ``ignore`` patterns) when missing. Files are copied next to their
    final name and moved into place."""
    from LesionSegLogic.io.write import staged_file, write_json, write_text

    base, source = Path(root), Path(case_folder)
    if not re.fullmatch(r"[a-zA-Z0-9]+", subject):
        raise InputError(f"BIDS labels are letters and digits only, got {subject!r}")
    descriptions = {base: {"Name": "LesionSeg phantoms", "BIDSVersion": BIDS_VERSION, "DatasetType": "raw"},
                    base / "derivatives" / "phantom": {
                        "Name": "LesionSeg phantom ground truth", "BIDSVersion": BIDS_VERSION,
                        "DatasetType": "derivative", "GeneratedBy": [{"Name": "LesionSeg phantom"}]}}  # fmt: skip
    for folder, document in descriptions.items():
        if not (folder / "dataset_description.json").is_file():
            write_json(folder / "dataset_description.json", document)
    written = []
    for name, target in case_bids_targets(base, subject).items():
        if not (source / name).is_file():
            continue
        with staged_file(target, what="BIDS image") as staged:
            shutil.copyfile(source / name, staged)
        written.append(target)
    if ignore and not (base / ".bidsignore").is_file():
        write_text(base / ".bidsignore", "".join(f"{pattern}\n" for pattern in ignore))
    return written


def recorded_settings(probability_map: str | PathLike[str]) -> dict[str, Any]:
    """``{"summary", "model", "threshold", "rule"}`` recorded in the ``_desc-lesion_summary.json`` beside a map
    ``lesionseg predict --bids`` wrote (values ``None`` when missing or unreadable)."""
    path = Path(probability_map)
    summary = path.with_name(path.name.replace(OUTPUTS["probability"], OUTPUTS["summary"]))
    try:
        document = read_json(summary, "summary")
        settings, model = document.get("settings", {}), document.get("model", {})
    except (LesionSegError, AttributeError):
        settings, model = {}, {}
    threshold = settings.get("threshold") if isinstance(settings, dict) else None
    return {"summary": str(summary), "model": model.get("name") if isinstance(model, dict) else None,
            "threshold": threshold if isinstance(threshold, int | float) and 0 <= threshold <= 1 else None,
            "rule": settings.get("rule") if isinstance(settings, dict) else None}  # fmt: skip
