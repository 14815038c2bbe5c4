"""``lesionseg export-onnx NAME OUT``: a zoo model as ``OUT/model.onnx`` plus ``OUT/card.json``.

The card is the zoo card (inputs in channel order, patch size, target spacing, normalisation, recommended
threshold) with ``weights_file: model.onnx``, the ONNX file's sha256 and an ``"onnx"`` entry (output = logits,
input/output names, opset, and the measured agreement with torch). Run it with
``lesionseg predict --model OUT/model.onnx ...`` (needs ``pip install 'lesionseg[onnx]'``). See docs/models.md.
"""

from __future__ import annotations

import argparse


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser(
        "export-onnx",
        help="export a zoo model to ONNX (model.onnx + card.json)",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    p.add_argument("name", help="a bundled model name (see `lesionseg models`) or a model folder")
    p.add_argument("out", help="output folder (must not already hold model.onnx or card.json)")
    return p


def run(args: argparse.Namespace) -> int:
    from pathlib import Path

    from LesionSegLogic.external.onnx_card import ONNX_FILE
    from LesionSegLogic.external.onnx_export import export_onnx
    from LesionSegLogic.io.write_policy import claim_outputs
    from LesionSegLogic.zoo.card import CARD_FILE

    # the write policy (docs/io.md): earlier results are named before any work (this command has no --force)
    claim_outputs([Path(args.out) / ONNX_FILE, Path(args.out) / CARD_FILE], override="another output folder")
    result = export_onnx(args.name, args.out)
    print(f"{result.onnx_path}: sha256 {result.sha256}; card {result.card_path}; max |logit difference| with torch "
          f"{result.max_abs_logit_difference:.2e}")
    return 0
