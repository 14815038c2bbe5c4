"""``lesionseg models``: list the bundled model zoo grouped by its four sets (brain FLAIR + T2, brain FLAIR only,
spinal cord T2-w, new lesions: :data:`LesionSegLogic.zoo.sets.ZOO_SETS`) — name, task, anatomy, inputs, loss,
architecture, recommended threshold, held-out Dice and lesion F1 — then the recommended model of each set
(:func:`LesionSegLogic.defaults.pick_model`). ``--json`` prints the cards.

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


#: the columns of the table, and the card value each shows
COLUMNS = ("name", "task", "anatomy", "inputs", "loss", "architecture", "threshold", "Dice", "lesion F1")


def _row(card) -> tuple[str, ...]:
    from LesionSegLogic.cli.text_tables import ratio

    mean = ((card.validation or {}).get("at_recommended") or {}).get("mean") or {}
    return (card.name, card.task, card.anatomy, "+".join(card.inputs), card.loss, card.architecture,
            f"{card.recommended_threshold:.2f}", ratio(mean.get("voxel_dice")), ratio(mean.get("lesion_f1")))


def table_text(entries) -> str:
    """The zoo as plain-text tables, one per set (:data:`LesionSegLogic.zoo.sets.ZOO_SETS`), then the models of no
    set and the unreadable folders; Dice and lesion F1 are the card's held-out means at its recommended threshold
    (under the set's rule)."""
    from LesionSegLogic.cli.text_tables import _grid  # the one layout of the CLI's tables
    from LesionSegLogic.zoo.sets import ZOO_SETS, set_of

    cards = [e.card for e in entries if e.card is not None]
    groups = [(f"{s.title} (set {s.name}; held-out metrics under the {s.rule} rule)", [c for c in cards if s.holds(c)])
              for s in ZOO_SETS]
    groups.append(("other models", [c for c in cards if set_of(c) is None]))
    lines = []
    for title, group in groups:
        if group:
            lines += ["", title, *_grid([COLUMNS, *(_row(c) for c in sorted(group, key=lambda c: c.name))])]
    broken = [e for e in entries if e.card is None]
    if broken:
        lines += ["", "unreadable model folders"]
        width = max(len(e.folder.name) for e in broken)
        lines += [f"{e.folder.name:<{width}}  invalid card: {e.problem}" for e in broken]
    return "\n".join(lines[1:]) + "\n"


def run(args: argparse.Namespace) -> int:
    from LesionSegLogic.defaults import pick_model
    from LesionSegLogic.zoo import list_models
    from LesionSegLogic.zoo.sets import ZOO_SETS

    entries = [_checked(e) for e in list_models(args.zoo)]
    if args.json:
        print(json.dumps([e.card.to_dict() if e.card else {"folder": str(e.folder), "problem": e.problem}
                          for e in entries], indent=2))
        return 0
    if not entries:
        print("no bundled models (train some with `lesionseg train`, see docs/inference.md)")
        return 0
    print(table_text(entries), end="")
    cards = [e.card for e in entries if e.card is not None]
    print(f"\n{len(cards)} model(s); Dice and lesion F1: held-out means at the recommended threshold "
          "(docs/zoo.md); demonstration only, not for clinical use.")
    for zoo_set in ZOO_SETS:
        pick = pick_model(cards, zoo_set.images, zoo_set.anatomy)
        if pick is not None and zoo_set.holds(pick.card):
            print(f"recommended for {zoo_set.title}: {pick.name}")
    return 0
