"""Models you bring, as :class:`~LesionSegLogic.predictor.Predictor` objects: same preprocess → predict → export.

* **ONNX** — a plain ``Predictor`` over :class:`.onnx_model.OnnxModule`: the card's preprocessing, LesionSeg's
  sliding-window engine, the card's threshold.
* **nnU-Net v2** — :class:`NnUNetFolderPredictor`: the images are read, checked and put on the FLAIR grid as for
  any model, handed **raw** (nnU-Net normalises and resamples itself) in dataset.json's channel order to
  nnU-Net's predictor (:mod:`.nnunet`); its probability comes back on the FLAIR grid. Options: overlap →
  nnU-Net's ``tile_step_size = 1 - overlap``; ``tta`` ``flip`` (default, nnU-Net's mirroring over the axes it
  trained with) or ``none``; its fusion is always its Gaussian; ``nnunet_label``, ``nnunet_folds``,
  ``nnunet_checkpoint`` (``final``/``best``) from :class:`~LesionSegLogic.predictor.PredictSettings`.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np

from LesionSegLogic.errors import ConfigError
from LesionSegLogic.external.nnunet import NnUNetModel, load_nnunet
from LesionSegLogic.inference import CancelToken, Progress, resolve_device
from LesionSegLogic.predictor import Predictor, PredictSettings, Preprocessed
from LesionSegLogic.zoo.card import ModelCard

#: what an external model's card says about anatomy: it does not know (no anatomy warning is given)
UNKNOWN_ANATOMY = "unknown"
NNUNET_TTAS = ("none", "flip")


def nnunet_card(model: NnUNetModel) -> ModelCard:
    """A model card describing an nnU-Net folder as LesionSeg runs it (no normalisation: nnU-Net does its own)."""
    from LesionSegLogic.zoo import sha256_of

    folder = model.folder
    name = str(folder.plans.get("dataset_name") or folder.path.parent.name or folder.path.name)
    folds = [c.path.parent.name for c in model.checkpoints]
    first = model.checkpoints[0].path
    return ModelCard(
        name=name,
        architecture=f"nnunetv2:{model.configuration_manager.network_arch_class_name.rsplit('.', 1)[-1]}",
        inputs=folder.channels, patch_size=model.patch_size,  # type: ignore[arg-type]  # three axes (nnU-Net 3d) recommended_threshold=0.5, anatomy=UNKNOWN_ANATOMY,
        normalisation={"method": "none"},
        inference={"overlap": 0.5, "fusion": "gaussian", "tta": "flip" if model.mirroring_axes else "none"},
        weights_file=str(first.relative_to(folder.path)), weights_sha256=sha256_of(first),
        command=f"nnU-Net v2 {model.checkpoints[0].trainer_name} / {model.configuration_name}",
        note=(f"nnU-Net v2 model folder {folder.path}: label {model.label!r} (output channel "
              f"{model.label_channel}), {', '.join(folds)}, {first.name}. The probability is nnU-Net's own "
              "(softmax, or sigmoid for region-based models); 0.5 is its argmax for a binary model."),
    )  # fmt: skip


class NnUNetFolderPredictor(Predictor):
    """A :class:`Predictor` whose predict step is nnU-Net's own predictor."""

    def __init__(self, model: NnUNetModel, settings: PredictSettings | None = None, model_path: str = "") -> None:
        super().__init__(model.network, nnunet_card(model), settings, model_path)
        self.nnunet = model
        if self.config["fusion"] != "gaussian":
            raise ConfigError(f"nnU-Net fuses windows with its Gaussian only, not {self.config['fusion']!r}")
        if self.config["tta"] not in NNUNET_TTAS:
            raise ConfigError(f"nnU-Net's test-time augmentation is mirroring: tta must be one of "
                              f"{list(NNUNET_TTAS)}, got {self.config['tta']!r}")

    def predict(
        self, pre: Preprocessed, *, progress: Callable[[Progress], None] | None = None,
        cancel: CancelToken | None = None, notify: Callable[[str], None] | None = None,
    ) -> tuple[np.ndarray, dict[str, Any]]:
        c = self.config
        device = resolve_device(c["device"])
        if cancel is not None:
            cancel.raise_if_cancelled()
        if progress is not None:
            progress(Progress(0, 1, 0.0))
        start = time.perf_counter()
        probability = self.nnunet.probability(
            pre.channels, pre.model_grid.spacing, device=device, tile_step_size=1.0 - c["overlap"],
            mirroring=c["tta"] == "flip",
        )  # fmt: skip
        seconds = time.perf_counter() - start
        if progress is not None:
            progress(Progress(1, 1, seconds))
        facts: dict[str, Any] = {"predict_s": seconds, "windows": None, "device": str(device), "fallbacks": [],
                 "windows_per_s": None, "backend": "nnunetv2"}
        return probability, facts


def load_nnunet_predictor(path: str | PathLike[str], settings: PredictSettings | None = None) -> Predictor:
    s = settings or PredictSettings()
    model = load_nnunet(Path(path), label=s.nnunet_label, folds=s.nnunet_folds, checkpoint=s.nnunet_checkpoint)
    return NnUNetFolderPredictor(model, s, str(Path(path).resolve()))


def load_onnx_predictor(path: str | PathLike[str], settings: PredictSettings | None = None) -> Predictor:
    from LesionSegLogic.external.onnx_model import load_onnx, resolve_onnx

    s = settings or PredictSettings()
    module, card = load_onnx(path, device=str(resolve_device(s.device).type))
    return Predictor(module, card, s, str(resolve_onnx(path)[0]))
