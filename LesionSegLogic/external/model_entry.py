"""A model the user brings, as the model pickers of both faces list it — read without torch, nnunetv2 or onnxruntime.

:func:`describe_model` takes an nnU-Net v2 model folder or an ONNX model (a ``.onnx`` file with its ``card.json``
beside it, or a folder holding both) and returns an :class:`ExternalModel`: what kind it is, the label a picker
shows ("nnU-Net: Dataset501_MS (fold 0)", "ONNX: name"), its recommended threshold and inputs, and — for an
nnU-Net dataset with several foreground labels — the labels the user must choose the lesion one from. Running it
is :func:`LesionSegLogic.predictor.Predictor.load` (nnU-Net's own predictor, or onnxruntime through LesionSeg's
sliding window), exactly as ``lesionseg predict --model PATH`` does; the faces pass the label as
``PredictSettings.nnunet_label`` (``--nnunet-label``).
"""

from __future__ import annotations

from dataclasses import dataclass
from os import PathLike
from pathlib import Path

from LesionSegLogic.errors import FileMissingError, ModelFileError
from LesionSegLogic.external import ModelKind, model_kind
from LesionSegLogic.external.nnunet_folder import NnUNetFolder
from LesionSegLogic.external.onnx_card import read_onnx_card
from LesionSegLogic.zoo.card import CARD_FILE

#: what a picker's label starts with, by kind (one vocabulary: :data:`LesionSegLogic.external.MODEL_KINDS`)
KIND_TITLES: dict[str, str] = {"nnunet": "nnU-Net", "onnx": "ONNX"}
#: nnU-Net's probability is its softmax: 0.5 is its argmax for a binary model (:func:`.predictors.nnunet_card`)
NNUNET_THRESHOLD = 0.5


@dataclass(frozen=True)
class ExternalModel:
    """One model the user added: ``spec`` (the resolved path ``Predictor.load`` takes) and what a picker shows."""

    kind: ModelKind
    spec: str
    name: str
    title: str
    recommended_threshold: float
    inputs: tuple[str, ...]
    #: nnU-Net only: dataset.json's foreground labels; with more than one the user names the lesion label
    labels: tuple[str, ...] = ()
    loss: str = ""

    @property
    def needs_label(self) -> bool:
        return len(self.labels) > 1

    def check_label(self, label: str | None) -> str | None:
        """The label to pass as ``nnunet_label``: ``None`` when the model has one foreground label (or is not an
        nnU-Net model); a clear error when a multi-label dataset was given no label or one it does not have."""
        if not self.needs_label:
            if label and label not in self.labels:
                raise ModelFileError(f"has no label {label!r}; its labels: {list(self.labels)}", self.spec)
            return None
        if not label:
            raise ModelFileError(f"has {len(self.labels)} foreground labels {list(self.labels)}: choose the lesion "
                                 "label", self.spec)
        if label not in self.labels:
            raise ModelFileError(f"has no label {label!r}; its labels: {list(self.labels)}", self.spec)
        return label


def describe_model(path: str | PathLike[str]) -> ExternalModel:
    """The :class:`ExternalModel` of an nnU-Net v2 model folder or an ONNX model; an error naming the path when it
    is neither (or its json/card is broken)."""
    given = Path(path).expanduser()
    if not given.exists():
        raise FileMissingError("model not found", given)
    resolved = given.resolve()
    kind = model_kind(resolved)
    if kind == "nnunet":
        return _nnunet_entry(resolved)
    if kind == "onnx":
        return _onnx_entry(resolved)
    raise ModelFileError("is neither an nnU-Net v2 model folder (dataset.json, plans.json, fold_*/) nor an ONNX "
                         "model (.onnx with its card.json)", resolved)


def _nnunet_entry(path: Path) -> ExternalModel:
    folder = NnUNetFolder.open(path)
    folds = [p.parent.name.removeprefix("fold_") for p in folder.checkpoint_paths(None)]
    name = str(folder.plans.get("dataset_name") or path.parent.name or path.name)
    fold_text = f"fold{'s' if len(folds) > 1 else ''} {', '.join(folds)}"
    return ExternalModel(
        kind="nnunet", spec=str(path), name=name, title=f"{KIND_TITLES['nnunet']}: {name} ({fold_text})",
        recommended_threshold=NNUNET_THRESHOLD, inputs=folder.channels,
        labels=tuple(sorted(folder.foreground_labels())),
    )  # fmt: skip


def _onnx_entry(path: Path) -> ExternalModel:
    folder = path.parent if path.is_file() else path
    card, _ = read_onnx_card(folder / CARD_FILE)
    onnx_path = path if path.is_file() else folder / card.weights_file
    if onnx_path.name != card.weights_file:
        raise ModelFileError(f"the card beside it describes {card.weights_file!r}, not this file", onnx_path)
    if not onnx_path.is_file():
        raise FileMissingError("the ONNX file the card names is missing", onnx_path)
    return ExternalModel(
        kind="onnx", spec=str(path), name=card.name, title=f"{KIND_TITLES['onnx']}: {card.name}",
        recommended_threshold=float(card.recommended_threshold), inputs=tuple(card.inputs), loss=card.loss or "",
    )  # fmt: skip


def model_files(model: ExternalModel) -> list[Path]:
    """Every file running ``model`` reads (json, card, checkpoints, the ``.onnx``): the web app checks each against
    the folders it may read (a link out of them is refused)."""
    root = Path(model.spec)
    if root.is_file():
        return [root, root.parent / CARD_FILE]
    return sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink())


__all__ = ["KIND_TITLES", "ExternalModel", "describe_model", "model_files"]
