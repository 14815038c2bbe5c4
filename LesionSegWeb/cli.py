"""``lesionseg app`` — the review workflow in a browser (trame-slicer web app over the same ReviewSession).

The web package registers this subcommand itself: ``pyproject.toml`` names this module in the ``lesionseg.commands``
entry-point group, which the library's CLI (:func:`LesionSegLogic.cli.plugin_commands`) reads, so the Slicer-free
library never imports its web face. The app (trame, slicer-core) is imported inside :func:`run`, so
``lesionseg --help`` stays fast and works where the ``slicer`` extra is not installed.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from LesionSegLogic.cli import add_probability_format
from LesionSegLogic.defaults import DEFAULT_RULE, RULE_NAMES
from LesionSegLogic.errors import InputError


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "app",
        help="serve the review workflow in a browser (slice views, threshold slider, TP/FP/FN, metrics)",
        description=(
            "Serve the LesionSeg review in a browser: open a case (or the bundled demo phantom), run a zoo "
            "model or load a probability map, move the decision threshold and see lesion-wise TP/FP/FN "
            "overlays, metrics, the lesion table and the threshold curve; accept and export. Binds to "
            "loopback (127.0.0.1) unless --host says otherwise."
        ),
    )
    source = parser.add_mutually_exclusive_group()
    source.add_argument("--case", type=Path, help="case folder (flair.nii.gz [t2, lesions, probability])")
    source.add_argument("--flair", type=Path, help="FLAIR volume")
    source.add_argument("--demo", action="store_true", help="open the bundled demo phantom")
    parser.add_argument("--t2", type=Path, help="T2 volume (with --flair)")
    parser.add_argument("--reference", type=Path, help="reference lesion mask (with --flair)")
    parser.add_argument("--probability", type=Path, help="probability map on the FLAIR grid (with --flair)")
    parser.add_argument("--model", help="zoo model selected in the panel (default: the recommended one for the "
                                        "case's images, LesionSegLogic.defaults.recommended_model)")
    parser.add_argument("--rule", choices=RULE_NAMES, default=DEFAULT_RULE,
                        help=f"initial lesion matching rule (default {DEFAULT_RULE}, the one default of every "
                             "entry point: LesionSegLogic.defaults); the panel's Matching rule select changes it")
    parser.add_argument("--run", action="store_true", help="run the selected model as soon as the page opens")
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default: loopback)")
    parser.add_argument("--allow-origin", action="append", default=[], metavar="ORIGIN",
                        help="also accept requests from this origin (e.g. http://localhost:3000; repeatable); "
                             "by default only the page's own origin may connect, with the secret in the printed "
                             "address (see docs/security.md)")
    parser.add_argument("--port", type=int, default=8080, help="port (default 8080; 0 picks a free one)")
    parser.add_argument("--allow", type=Path, action="append", default=[], metavar="DIR",
                        help="folder whose files the panel may open (repeatable); the inputs' folders are "
                             "always allowed")
    parser.add_argument("--demo-dir", type=Path, metavar="DIR",
                        help="folder of demo cases (one sub-folder per case, as `lesionseg phantom` writes "
                             "them, optionally with probability.nii.gz); default OUT/demo-cases, where "
                             "missing phantoms are generated on first use")
    parser.add_argument("--out", type=Path, default=Path("lesionseg_review"),
                        help="export folder (default ./lesionseg_review)")
    add_probability_format(parser)  # --channel/--scale, as evaluate and sweep have them (with --probability)
    return parser


def _check(args: argparse.Namespace) -> None:
    if args.flair is None and any(x is not None for x in (args.t2, args.reference, args.probability)):
        raise InputError("--t2, --reference and --probability go with --flair")
    if args.probability is None and (args.channel is not None or args.scale is not None):
        raise InputError("--channel and --scale say how to read the map given with --probability")
    if args.channel is not None and args.channel < 0:
        raise InputError(f"--channel must be 0 or more, got {args.channel}")
    if args.scale is not None and not args.scale > 0:
        raise InputError(f"--scale must be a positive number, got {args.scale}")
    for path in (args.case, args.flair, args.t2, args.reference, args.probability):
        if path is not None and not path.exists():
            raise InputError("does not exist", path)
    for folder in args.allow:
        if not folder.is_dir():
            raise InputError("--allow needs an existing folder", folder)
    if not 0 <= args.port < 65536:
        raise InputError(f"--port must be between 0 and 65535, got {args.port}")
    for origin in args.allow_origin:
        if not re.fullmatch(r"https?://[^/\s]+", origin):
            raise InputError(f"--allow-origin takes an origin such as http://localhost:3000, got {origin!r}")


def run(args: argparse.Namespace) -> int:
    _check(args)
    from LesionSegWeb.app import AppConfig, ReviewWebApp  # heavy (trame, slicer-core)

    config = AppConfig(
        case=args.case, flair=args.flair, t2=args.t2, reference=args.reference, probability=args.probability,
        probability_channel=args.channel, probability_scale=args.scale, model=args.model, rule=args.rule,
        demo=args.demo, run=args.run, host=args.host, port=args.port,
        allow=tuple(args.allow), allow_origins=tuple(args.allow_origin), out=args.out, demo_dir=args.demo_dir,
    )
    app = ReviewWebApp(config)
    if args.host not in ("127.0.0.1", "localhost", "::1"):
        print(f"lesionseg app: warning: listening on {args.host}; anyone who can reach it can use the app")
    app.start()
    return 0
