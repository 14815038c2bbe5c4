"""Models you bring: nnU-Net v2 model folders, ONNX networks, and probability maps from other tools.

``model_kind(spec)`` says how ``lesionseg predict --model SPEC`` runs a model: ``"nnunet"`` (a folder with
``dataset.json``, ``plans.json`` and ``fold_*``: :mod:`.nnunet`), ``"onnx"`` (a ``.onnx`` file or a folder whose
``card.json`` has an ``"onnx"`` entry: :mod:`.onnx_model`) or ``"zoo"`` (a bundled name or a LesionSeg model
folder). :func:`load_external_predictor` returns the :class:`~LesionSegLogic.predictor.Predictor` for the first
two and ``None`` for the zoo. Probability maps in other formats (4-D softmax, integer-scaled) are read by
:mod:`.probability_maps`. See ``docs/models.md``. nnunetv2 and onnxruntime are optional extras, imported on use.
"""

from __future__ import annotations

from os import PathLike
from typing import TYPE_CHECKING, Literal

from LesionSegLogic.external.nnunet_folder import is_nnunet_folder
from LesionSegLogic.external.onnx_card import is_onnx_model

if TYPE_CHECKING:
    from LesionSegLogic.predictor import Predictor, PredictSettings

ModelKind = Literal["zoo", "nnunet", "onnx"]
MODEL_KINDS: tuple[str, ...] = ("zoo", "nnunet", "onnx")


def model_kind(spec: str | PathLike[str]) -> ModelKind:
    """How a ``--model`` argument is run (see the module docstring)."""
    if is_nnunet_folder(spec):
        return "nnunet"
    if is_onnx_model(spec):
        return "onnx"
    return "zoo"


def load_external_predictor(spec: str | PathLike[str], settings: PredictSettings | None = None) -> Predictor | None:
    """The predictor of an nnU-Net folder or an ONNX model; ``None`` for a zoo model."""
    kind = model_kind(spec)
    if kind == "nnunet":
        from LesionSegLogic.external.predictors import load_nnunet_predictor

        return load_nnunet_predictor(spec, settings)
    if kind == "onnx":
        from LesionSegLogic.external.predictors import load_onnx_predictor

        return load_onnx_predictor(spec, settings)
    return None


__all__ = ["MODEL_KINDS", "ModelKind", "is_nnunet_folder", "is_onnx_model", "load_external_predictor", "model_kind"]
