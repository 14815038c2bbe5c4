"""Export a zoo model to ONNX: ``OUT/model.onnx`` and ``OUT/card.json`` (the zoo card plus an ``"onnx"`` entry).

The graph is written by ``torch.onnx.export`` with the ``torch.export``-based exporter (``dynamo=True``, which
needs ``onnxscript``; the TorchScript exporter is deprecated since PyTorch 2.9), a dynamic batch axis and the
card's patch size as the fixed spatial shape, in one file (no external data). The export is checked before it
is kept: onnxruntime runs a batch of random windows and its logits must match torch's within
:data:`EXPORT_TOLERANCE` (the measured maximum difference is written into the card). Files are staged in a
temporary folder inside ``OUT`` and moved into place, the card last.
"""

from __future__ import annotations

import contextlib
import io
import warnings
from dataclasses import dataclass
from os import PathLike
from pathlib import Path
from typing import Any

import numpy as np
import torch

from LesionSegLogic.errors import ConfigError, ModelFileError, OutputError
from LesionSegLogic.external.onnx_card import ONNX_FILE, OnnxSpec, write_onnx_card
from LesionSegLogic.external.onnx_model import _onnxruntime
from LesionSegLogic.io.write import staged_outputs
from LesionSegLogic.zoo.card import CARD_FILE

OPSET = 18
#: the largest |logit difference| between onnxruntime and torch an export may show on its check batch
EXPORT_TOLERANCE = 1e-4
CHECK_BATCH = 2


@dataclass(frozen=True)
class OnnxExport:
    """What ``export_onnx`` wrote and measured."""

    onnx_path: Path
    card_path: Path
    sha256: str
    max_abs_logit_difference: float


def export_onnx(
    name: str | PathLike[str], out_dir: str | PathLike[str], *, seed: int = 0, dynamo: bool = True
) -> OnnxExport:
    """Export zoo model ``name`` (or a model folder) to ``out_dir``; see the module docstring.

    ``dynamo=False`` uses the deprecated TorchScript exporter (``dynamic_axes``), a few times faster; the quick
    tests use it, the command line and the heavy test the default.
    """
    from LesionSegLogic.zoo import load_model, resolve_model, sha256_of

    model, card = load_model(name, device="cpu")
    out = Path(out_dir)
    for target in (out / ONNX_FILE, out / CARD_FILE):
        if target.exists():
            raise OutputError(f"{target}: already exists; choose an empty output folder")
    try:
        import onnx  # noqa: F401 - both exporters write through it
        if dynamo:
            import onnxscript  # noqa: F401 - the torch.export-based exporter needs it; say so before torch does
    except ImportError as error:
        raise ConfigError(f"exporting to ONNX needs the onnx extra: pip install 'lesionseg[onnx]' ({error})") from None
    with staged_outputs([out / ONNX_FILE, out / CARD_FILE], what="ONNX model") as staging:
        staged = staging / ONNX_FILE
        example = torch.zeros(1, len(card.inputs), *card.patch_size)
        if dynamo:
            batch = torch.export.Dim("batch", min=1, max=4096)
            axes: dict[str, Any] = {"dynamic_shapes": ({0: batch},), "external_data": False}
        else:
            axes = {"dynamic_axes": {"image": {0: "batch"}, "logits": {0: "batch"}}}
        with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
            warnings.simplefilter("ignore")
            torch.onnx.export(
                model.eval(), (example,), str(staged), input_names=["image"], output_names=["logits"],
                dynamo=dynamo, opset_version=OPSET, verbose=False, **axes,
            )  # fmt: skip
        difference = _check_against_torch(model, staged, len(card.inputs), card.patch_size, seed)
        if not difference <= EXPORT_TOLERANCE:
            raise ModelFileError(f"the ONNX export disagrees with torch by {difference:.2e} in logits "
                                 f"(tolerance {EXPORT_TOLERANCE:g}); not written", name)
        digest = sha256_of(staged)
        source = resolve_model(name)
        onnx_card = card.with_updates(
            weights_file=ONNX_FILE, weights_sha256=digest, command=f"lesionseg export-onnx {card.name} {out}",
            note=f"{card.note} Exported to ONNX from {source.name} (weights sha256 {card.weights_sha256}).",
        )  # fmt: skip
        spec = OnnxSpec(output="logits", input_name="image", output_name="logits", opset=OPSET,
                        export_check={"max_abs_logit_difference": difference, "batch": CHECK_BATCH, "seed": seed,
                                      "exporter": "dynamo" if dynamo else "torchscript"})
        write_onnx_card(onnx_card, spec, staging / CARD_FILE)
    return OnnxExport(out / ONNX_FILE, out / CARD_FILE, digest, difference)


def _check_against_torch(model: torch.nn.Module, path: Path, channels: int, patch: tuple[int, ...],
                         seed: int) -> float:
    """Max |logit difference| between onnxruntime and torch on a seeded batch of random windows."""
    ort = _onnxruntime()
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(CHECK_BATCH, channels, *patch, generator=generator)
    with torch.inference_mode():
        expected = model(x).float().numpy()
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    got = session.run(["logits"], {"image": x.numpy()})[0]
    return float(np.max(np.abs(got - expected)))
