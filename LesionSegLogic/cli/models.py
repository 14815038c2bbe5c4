"""``lesionseg models``: list the bundled model zoo (name, loss, architecture, inputs, anatomy, recommended
threshold), then the recommended model for each anatomy and set of input images
(:func:`LesionSegLogic.defaults.recommended_model`).

A broken model folder never stops the listing (issue 18): a card that cannot be read or validated, or whose network
cannot be built as the card says (:func:`LesionSegLogic.zoo.registry.check_card_model`, measured without
allocating), is listed as ``invalid card: <reason>`` and left out of the recommendations."""

from __future__ import annotations

import argparse
import json


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = subparsers.add_parser("models", help="list the bundled models", description=__doc__)
    p.add_argument("--json", action="store_true", help="print the cards as JSON")
    p.add_argument("--zoo", action="append", default=[], metavar="DIR", help="also list models in DIR")
    return p


def _checked(entry):
    """``entry``, or the same folder marked broken when its card's network cannot be built."""
    from dataclasses import replace

    from LesionSegLogic.errors import LesionSegError
    from LesionSegLogic.zoo.card import CARD_FILE
    from LesionSegLogic.zoo.registry import check_card_model

    if entry.card is None:
        return entry
    try:
        check_card_model(entry.card, entry.folder / CARD_FILE, memory=False)
    except LesionSegError as error:
        return replace(entry, card=None, problem=str(error))
    return entry


def run(args: argparse.Namespace) -> int:
    from LesionSegLogic.defaults import recommended_model
    from LesionSegLogic.zoo import list_models

    entries = [_checked(e) for e in list_models(args.zoo)]
    if args.json:
        print(json.dumps([e.card.to_dict() if e.card else {"folder": str(e.folder), "problem": e.problem}
                          for e in entries], indent=2))
        return 0
    if not entries:
        print("no bundled models (train some with `lesionseg train`, see docs/inference.md)")
        return 0
    rows = [("name", "loss", "architecture", "inputs", "anatomy", "threshold")]
    for e in entries:
        if e.card is None:
            rows.append((e.folder.name, "INVALID", e.problem or "", "", ""))
            continue
        c = e.card
        rows.append((c.name, c.loss, c.architecture, "+".join(c.inputs), c.anatomy, f"{c.recommended_threshold:.2f}"))
    valid = [r for r in rows if r[1] != "INVALID"]
    widths = [max(len(r[i]) for r in valid) for i in range(len(rows[0]))]
    for r in rows:
        if r[1] == "INVALID":
            print(f"{r[0]:<{widths[0]}}  invalid card: {r[2]}")
        else:
            print("  ".join(f"{v:<{w}}" for v, w in zip(r, widths, strict=True)).rstrip())
    cards = [e.card for e in entries if e.card is not None]
    print(f"\n{len(cards)} model(s); demonstration only, not for clinical use.")
    for anatomy, images in sorted({(c.anatomy, c.images_needed()) for c in cards}, key=lambda x: (x[0], sorted(x[1]))):
        best = recommended_model(cards, images, anatomy)
        if best is not None:
            print(f"recommended for {anatomy} {'+'.join(sorted(images))}: {best.name}")
    return 0
