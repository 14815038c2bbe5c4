"""The ``lesionseg`` command line.

Each subcommand lives in its own module ``LesionSegLogic.cli.<name>`` exposing ``add_parser(subparsers)`` and
``run(args) -> int``. Modules import heavy packages (torch, scipy) inside ``run`` so ``--help`` stays fast.
A :class:`~LesionSegLogic.errors.LesionSegError` becomes a one-line reason on stderr and exit status 2.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import sys
from collections.abc import Sequence

from LesionSegLogic import __version__
from LesionSegLogic.errors import LesionSegError

#: Subcommands in the order ``--help`` lists them. A name whose module does not exist yet is left out.
SUBCOMMANDS = (
    "demo",
    "phantom",
    "montage",
    "models",
    "losses",
    "predict",
    "evaluate",
    "sweep",
    "train",
    "study",
    "app",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lesionseg",
        description="MS lesion segmentation with a live, lesion-wise review of the decision threshold.",
    )
    parser.add_argument("--version", action="version", version=f"lesionseg {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    subparsers.required = True
    for name in SUBCOMMANDS:
        module_name = f"{__name__}.{name}"
        if importlib.util.find_spec(module_name) is None:
            continue
        module = importlib.import_module(module_name)
        sub = module.add_parser(subparsers)
        sub.set_defaults(_run=module.run)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args._run(args) or 0)
    except LesionSegError as error:
        print(f"lesionseg {args.command}: error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"lesionseg {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
