"""ONNX models: a ``model.onnx`` and its card, run with onnxruntime through LesionSeg's sliding-window engine.

The card (:mod:`.onnx_card`) is the zoo's model card plus an ``"onnx"`` entry (output logits or probabilities,
input/output names, opset).

``OnnxModule`` wraps the onnxruntime session as a ``torch.nn.Module`` mapping ``(B, C, *patch)`` to logits
``(B, 1, *patch)`` (a probability output is turned into logits with ``torch.logit``), so
:func:`LesionSegLogic.inference.predict_volume` drives it like any zoo network: same windows, fusion, TTA and
foreground skipping. The session's input shape is checked against the card before anything runs.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from LesionSegLogic.errors import ConfigError, FileMissingError, ModelFileError
from LesionSegLogic.external.onnx_card import OnnxSpec, read_onnx_card
from LesionSegLogic.zoo.card import CARD_FILE, ModelCard

INSTALL_HINT = "ONNX models need the onnx extra: pip install 'lesionseg[onnx]'"
#: probabilities are clipped to [eps, 1 - eps] before ``logit`` so the engine's sigmoid gives them back
PROBABILITY_EPS = 1e-7


def _onnxruntime() -> Any:
    try:
        import onnxruntime
    except ImportError as error:
        raise ConfigError(f"{INSTALL_HINT} ({error})") from None
    return onnxruntime


class OnnxModule(nn.Module):
    """An onnxruntime session as a patch network: ``(B, C, *patch)`` float → logits ``(B, 1, *patch)``."""

    def __init__(self, session: Any, spec: OnnxSpec, fixed_batch: int | None, path: Path) -> None:
        super().__init__()
        self.session = session
        self.spec = spec
        self.fixed_batch = fixed_batch
        self.path = path

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        array = np.ascontiguousarray(x.detach().float().cpu().numpy())
        step = self.fixed_batch or array.shape[0]
        outs = [self.session.run([self.spec.output_name], {self.spec.input_name: array[i:i + step]})[0]
                for i in range(0, array.shape[0], step)]  # fmt: skip
        out = torch.from_numpy(np.concatenate(outs).astype(np.float32, copy=False)).to(x.device)
        if self.spec.output == "probabilities":
            out = torch.logit(out.clamp(PROBABILITY_EPS, 1.0 - PROBABILITY_EPS))
        return out


def resolve_onnx(spec: str | PathLike[str]) -> tuple[Path, Path]:
    """``(model.onnx path, card.json path)`` for a ``.onnx`` file (card beside it) or an ONNX model folder."""
    path = Path(spec)
    if not path.exists():
        raise FileMissingError("ONNX model not found", path)
    folder = path.parent if path.is_file() else path
    card_path = folder / CARD_FILE
    card, _ = read_onnx_card(card_path)
    onnx_path = path if path.is_file() else folder / card.weights_file
    if onnx_path.name != card.weights_file:
        raise ModelFileError(f"the card beside it describes {card.weights_file!r}, not this file", onnx_path)
    if not onnx_path.is_file():
        raise FileMissingError("the ONNX file the card names is missing", onnx_path)
    return onnx_path, card_path


def load_onnx(spec: str | PathLike[str], device: str = "cpu") -> tuple[OnnxModule, ModelCard]:
    """``(OnnxModule, card)``: sha256 checked, the graph's input/output shapes checked against the card."""
    from LesionSegLogic.zoo.weights import sha256_of

    onnx_path, card_path = resolve_onnx(spec)
    card, onnx_spec = read_onnx_card(card_path)
    actual = sha256_of(onnx_path)
    if actual != card.weights_sha256.lower():
        raise ModelFileError(f"sha256 mismatch: the card expects {card.weights_sha256}, the file has {actual} "
                             "(corrupt or replaced model)", onnx_path)
    ort = _onnxruntime()
    providers = ["CPUExecutionProvider"]
    if device != "cpu" and "CUDAExecutionProvider" in ort.get_available_providers():
        providers.insert(0, "CUDAExecutionProvider")
    try:
        session = ort.InferenceSession(str(onnx_path), providers=providers)
    except Exception as error:  # onnxruntime raises its own exception types for bad graphs
        raise ModelFileError(f"onnxruntime cannot load the model ({str(error).splitlines()[0][:200]})",
                             onnx_path) from None
    fixed_batch = check_onnx_shapes(session, card, onnx_spec, onnx_path)
    return OnnxModule(session, onnx_spec, fixed_batch, onnx_path), card


def check_onnx_shapes(session: Any, card: ModelCard, spec: OnnxSpec, path: Path) -> int | None:
    """Refuse a graph whose input/output does not match the card; return its fixed batch size (None: dynamic)."""
    inputs = {i.name: i for i in session.get_inputs()}
    outputs = {o.name: o for o in session.get_outputs()}
    if spec.input_name not in inputs or spec.output_name not in outputs:
        raise ModelFileError(f"the graph has inputs {list(inputs)} and outputs {list(outputs)}, the card names "
                             f"{spec.input_name!r} → {spec.output_name!r}", path)
    shape = list(inputs[spec.input_name].shape)
    expected = [None, len(card.inputs), *card.patch_size]
    fits = len(shape) == 5 and all(
        want is None or not isinstance(got, int) or got == want for got, want in zip(shape, expected, strict=True)
    )
    if not fits:
        shown = ["B", *expected[1:]]
        raise ModelFileError(f"input {spec.input_name!r} has shape {shape}, the card says (batch, channels, *patch) "
                             f"= {shown} ({', '.join(card.inputs)}; patch {list(card.patch_size)})", path)
    out_shape = list(outputs[spec.output_name].shape)
    if len(out_shape) != 5 or (isinstance(out_shape[1], int) and out_shape[1] != 1):
        raise ModelFileError(f"output {spec.output_name!r} has shape {out_shape}; expected (batch, 1, *patch)", path)
    return shape[0] if isinstance(shape[0], int) else None
