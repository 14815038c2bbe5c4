"""An nnU-Net v2 trained-model folder, read and checked without torch or nnunetv2.

The folder nnU-Net writes after training (``nnUNet_results/DatasetXXX_Name/<trainer>__<plans>__<configuration>``)
holds ``dataset.json``, ``plans.json`` and one ``fold_<k>/`` per trained fold with ``checkpoint_final.pth`` (and
``checkpoint_best.pth``) — Isensee et al. (2021), *nnU-Net: a self-configuring method for deep learning-based
biomedical image segmentation*, Nature Methods 18:203–211, and the nnU-Net v2 documentation.

What LesionSeg needs from it, all checked before anything runs:

* **channels** — ``dataset.json`` ``channel_names`` (``{"0": "FLAIR", "1": "T2"}``) matched by name to the
  images a user gives (:data:`CHANNEL_ALIASES`); a channel LesionSeg cannot supply is an error naming it.
* **the lesion label** — ``dataset.json`` ``labels``; the only non-background label, or the one the user names
  (``--nnunet-label``); its channel in nnU-Net's probability output (:meth:`NnUNetFolder.label_channel`).
* **folds and checkpoint** — every ``fold_<k>`` holding the checkpoint (nnU-Net's own auto-detection:
  ``fold_all`` only when no numbered fold has one), or the folds asked for; a missing one is an error naming the
  path.
* **plans** — the configuration the checkpoint was trained with must exist in ``plans.json``; the plans' per-channel
  intensity statistics must cover dataset.json's channels; the reader must give arrays in SimpleITK's
  ``(z, y, x)`` order (``SimpleITKIO``, ``NibabelIO``); the network and the layers it names must come from
  :data:`ALLOWED_CLASS_PREFIXES` (plans name Python classes that nnU-Net imports: a plans file naming any other
  module is refused, so a model folder cannot make LesionSeg import arbitrary code).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

from LesionSegLogic.errors import FileMissingError, ModelFileError
from LesionSegLogic.jsonfile import read_json

DATASET_FILE = "dataset.json"
PLANS_FILE = "plans.json"
CHECKPOINTS = {"final": "checkpoint_final.pth", "best": "checkpoint_best.pth"}
#: image role → the dataset.json channel names (lower case, letters and digits only) that mean it
CHANNEL_ALIASES: dict[str, tuple[str, ...]] = {
    "flair": ("flair", "t2flair", "flairt2", "t2wflair", "3dflair", "flair3d"),
    "t2": ("t2", "t2w", "t2weighted"),
    "baseline": ("baseline", "baselineflair", "flairbaseline", "priorflair", "previousflair"),
}
#: readers whose arrays are SimpleITK's (z, y, x) order with spacing in the same order, as LesionSeg's images
SUPPORTED_READERS = ("SimpleITKIO", "NibabelIO")
#: the only modules plans.json may name classes from (network, convolution, norm, dropout, non-linearity)
ALLOWED_CLASS_PREFIXES = ("dynamic_network_architectures.", "torch.nn.")
_FOLD = re.compile(r"^fold_(\d+|all)$")


def _normalised(name: str) -> str:
    return re.sub(r"[^a-z0-9]", "", name.lower())


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileMissingError("not found (an nnU-Net v2 model folder holds dataset.json and plans.json)", path)
    data = read_json(path, path.name, error=ModelFileError)  # size, UTF-8, nesting: one line naming the file
    if not isinstance(data, dict):
        raise ModelFileError("must hold a JSON object", path)
    return data


def is_nnunet_folder(path: str | PathLike[str]) -> bool:
    """True for a folder with ``dataset.json``, ``plans.json`` and at least one ``fold_*`` folder."""
    folder = Path(path)
    return (
        folder.is_dir()
        and (folder / DATASET_FILE).is_file()
        and (folder / PLANS_FILE).is_file()
        and any(p.is_dir() and _FOLD.match(p.name) for p in folder.iterdir())
    )


@dataclass(frozen=True)
class NnUNetFolder:
    """The parsed, checked folder. ``channels`` are image roles in dataset.json's channel order."""

    path: Path
    dataset: dict[str, Any]
    plans: dict[str, Any]
    channels: tuple[str, ...]

    @classmethod
    def open(cls, path: str | PathLike[str]) -> NnUNetFolder:
        folder = Path(path)
        if not folder.is_dir():
            raise FileMissingError("nnU-Net model folder not found", folder)
        dataset = _read_json(folder / DATASET_FILE)
        plans = _read_json(folder / PLANS_FILE)
        names = dataset.get("channel_names", dataset.get("modality"))
        if not isinstance(names, dict) or not names:
            raise ModelFileError("has no 'channel_names' object", folder / DATASET_FILE)
        try:
            order = sorted(names, key=int)
        except ValueError:
            raise ModelFileError(f"channel_names keys must be 0, 1, ...; got {list(names)}",
                                 folder / DATASET_FILE) from None
        if [int(k) for k in order] != list(range(len(order))):
            raise ModelFileError(f"channel_names keys must be 0, 1, ...; got {order}", folder / DATASET_FILE)
        channels = tuple(_role_of(str(names[k]), int(k), folder / DATASET_FILE) for k in order)
        if len(set(channels)) != len(channels):
            raise ModelFileError(f"two channels mean the same image: {[names[k] for k in order]}",
                                 folder / DATASET_FILE)
        if not isinstance(dataset.get("labels"), dict) or not dataset["labels"]:
            raise ModelFileError("has no 'labels' object", folder / DATASET_FILE)
        made = cls(folder.resolve(), dataset, plans, channels)
        made._check_plans()
        return made

    # plans ----------------------------------------------------------------------------------------------
    def _check_plans(self) -> None:
        plans_path = self.path / PLANS_FILE
        if not isinstance(self.plans.get("configurations"), dict) or not self.plans["configurations"]:
            raise ModelFileError("has no 'configurations'", plans_path)
        reader = str(self.plans.get("image_reader_writer", "SimpleITKIO"))
        if reader not in SUPPORTED_READERS:
            raise ModelFileError(
                f"image_reader_writer {reader!r} is not supported: LesionSeg gives nnU-Net arrays in SimpleITK's "
                f"(z, y, x) order, which only {', '.join(SUPPORTED_READERS)} read", plans_path,
            )  # fmt: skip
        stats = self.plans.get("foreground_intensity_properties_per_channel")
        if isinstance(stats, dict) and set(stats) != {str(i) for i in range(len(self.channels))}:
            raise ModelFileError(
                f"plans/dataset mismatch: plans.json has intensity statistics for channels {sorted(stats)}, "
                f"dataset.json names {len(self.channels)} channel(s)", plans_path,
            )  # fmt: skip

    def configuration(self, name: str) -> dict[str, Any]:
        """The plans' configuration ``name`` (``inherits_from`` resolved), its class names checked."""
        plans_path = self.path / PLANS_FILE
        configurations = self.plans["configurations"]
        if name not in configurations:
            raise ModelFileError(
                f"plans/dataset mismatch: the checkpoint was trained with configuration {name!r}, plans.json has "
                f"{sorted(configurations)}", plans_path,
            )  # fmt: skip
        merged: dict[str, Any] = {}
        seen: list[str] = []
        current: str | None = name
        while current is not None:
            if current in seen or current not in configurations:
                raise ModelFileError(f"configuration {name!r} inherits from a missing or cyclic one", plans_path)
            seen.append(current)
            merged = {**configurations[current], **merged}
            current = configurations[current].get("inherits_from")
        if merged.get("previous_stage") or merged.get("previous_stage_name"):
            raise ModelFileError(f"configuration {name!r} is a cascade stage (it needs the low-resolution stage's "
                                 "segmentation); run the low-resolution or full-resolution model instead", plans_path)
        architecture = merged.get("architecture", {})
        named = [architecture.get("network_class_name", "")]
        kwargs = architecture.get("arch_kwargs", {})
        named += [kwargs.get(k) for k in architecture.get("_kw_requires_import", []) if kwargs.get(k) is not None]
        for class_name in named:
            if not isinstance(class_name, str) or not class_name.startswith(ALLOWED_CLASS_PREFIXES):
                raise ModelFileError(
                    f"configuration {name!r} names class {class_name!r}; LesionSeg only builds networks from "
                    f"{', '.join(ALLOWED_CLASS_PREFIXES)} (plans name code that would be imported)", plans_path,
                )  # fmt: skip
        return merged

    # labels ---------------------------------------------------------------------------------------------
    def foreground_labels(self) -> dict[str, Any]:
        """``name → value`` of dataset.json's labels other than background and ignore."""
        return {k: v for k, v in self.dataset["labels"].items() if k not in ("background", "ignore")}

    def choose_label(self, name: str | None) -> str:
        """The lesion label: ``name`` when given, else the only foreground label."""
        labels = self.foreground_labels()
        where = self.path / DATASET_FILE
        if name is not None:
            if name not in labels:
                raise ModelFileError(f"has no label {name!r}; its labels: {sorted(labels)}", where)
            return name
        if len(labels) != 1:
            raise ModelFileError(
                f"has {len(labels)} foreground labels {sorted(labels)}: name the lesion one (--nnunet-label NAME)",
                where,
            )
        return next(iter(labels))

    # folds ----------------------------------------------------------------------------------------------
    def checkpoint_paths(self, folds: tuple[str, ...] | None, checkpoint: str = "final") -> list[Path]:
        """The checkpoint file of each fold; ``folds=None``: every numbered fold that has one (else ``all``)."""
        if checkpoint not in CHECKPOINTS:
            raise ModelFileError(f"checkpoint must be one of {list(CHECKPOINTS)}, got {checkpoint!r}", self.path)
        file_name = CHECKPOINTS[checkpoint]
        if folds is None:
            found = sorted((p for p in self.path.iterdir() if p.is_dir() and _FOLD.match(p.name)
                            and (p / file_name).is_file()), key=_fold_key)  # fmt: skip
            numbered = [p for p in found if p.name != "fold_all"]
            chosen = numbered or found
            if not chosen:
                raise FileMissingError(f"no fold_*/{file_name} in the nnU-Net model folder", self.path)
            return [p / file_name for p in chosen]
        paths = []
        for fold in folds:
            if not re.fullmatch(r"\d+|all", str(fold)):
                raise ModelFileError(f"a fold is a number or 'all', got {fold!r}", self.path)
            path = self.path / f"fold_{fold}" / file_name
            if not path.is_file():
                raise FileMissingError(f"fold {fold} has no {file_name} (missing fold)", path)
            paths.append(path)
        return paths


def _fold_key(path: Path) -> tuple[int, int]:
    suffix = path.name.split("_", 1)[1]
    return (1, 0) if suffix == "all" else (0, int(suffix))


def _role_of(name: str, index: int, where: Path) -> str:
    key = _normalised(name)
    for role, aliases in CHANNEL_ALIASES.items():
        if key in aliases:
            return role
    known = "; ".join(f"{role}: {', '.join(aliases)}" for role, aliases in CHANNEL_ALIASES.items())
    raise ModelFileError(
        f"channel {index} {name!r} is not an image LesionSeg can give the model (names it knows — {known})", where
    )
