"""``lesionseg losses``: the loss table (name, formula, parameters with defaults, source, convention)."""

from __future__ import annotations

import argparse
import json
from typing import Any


def add_parser(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "losses",
        help="list the training losses with formula, defaults and source",
        description=(
            "Every loss accepted by build_loss / `lesionseg train --loss`: its formula, parameters with their "
            "defaults, and the paper it is implemented from. Tversky convention: alpha weights false "
            "positives, beta false negatives."
        ),
    )
    parser.add_argument("--json", action="store_true", help="print the table as JSON")
    parser.add_argument("name", nargs="?", help="show one loss only (with its full docstring)")
    return parser


def _format_params(params: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v!r}" for k, v in params.items()) or "-"


def run(args: argparse.Namespace) -> int:
    from LesionSegLogic.losses import loss_info, loss_table

    rows = [loss_info(args.name).as_dict()] if args.name else loss_table()
    if args.json:
        print(json.dumps(rows, indent=2, ensure_ascii=False))
        return 0
    for row in rows:
        print(row["name"])
        print(f"  formula:    {row['formula']}")
        print(f"  defaults:   {_format_params(row['params'])}")
        print(f"  source:     {row['source']}")
        if row["convention"]:
            print(f"  convention: {row['convention']}")
    if args.name:
        doc = (loss_info(args.name).cls.__doc__ or "").strip()
        print()
        print(doc)
    return 0
