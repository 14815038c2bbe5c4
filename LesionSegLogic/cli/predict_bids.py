"""``lesionseg predict --bids ROOT --out DERIVATIVES``: every FLAIR of a BIDS dataset into a derivatives dataset.

The matching and the output names are :mod:`LesionSegLogic.bids`. Like ``--cases``: cases whose outputs are
complete are skipped (``--force`` redoes them), a partial earlier result is refused (the write policy, ``--force``
replaces it), a bad case is reported and the rest carry on (exit status 1 if
any failed), and under ``torchrun`` each rank takes ``cases[RANK::WORLD_SIZE]``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def run_bids(args: argparse.Namespace, settings) -> int:
    from tqdm import tqdm

    from LesionSegLogic import __version__
    from LesionSegLogic.bids import find_cases, is_done, write_case_outputs, write_dataset_description
    from LesionSegLogic.cli.predict import shard
    from LesionSegLogic.errors import LesionSegError
    from LesionSegLogic.io.write_policy import claim_outputs
    from LesionSegLogic.predictor import LESION_CSV_COLUMNS, Predictor

    out_root = Path(args.out)
    all_cases = find_cases(args.bids, args.participant_label, args.session_label, exclude=[out_root])
    cases, rank, world = shard(all_cases)
    predictor = Predictor.load(args.model, settings)
    needed = predictor.card.images_needed()
    write_dataset_description(out_root, args.bids, predictor.card.name, __version__)
    done, skipped, failed = 0, 0, []
    desc = "subjects" if world == 1 else f"subjects (rank {rank}/{world})"
    with tqdm(cases, unit="case", desc=desc, disable=args.no_progress, file=sys.stderr) as bar:
        for case in bar:
            if not args.force and is_done(case, out_root):
                skipped += 1
                continue
            bar.set_postfix_str(case.label)
            try:
                images = case.images(needed)
                claim_outputs(case.outputs(out_root).values(), inputs=images.values(), force=args.force)
                result = predictor.run(images, None, notify=lambda m, n=case.label: tqdm.write(f"{n}: {m}",  # type: ignore[misc]  # default-argument lambda (binds the case label)
                                                                                               file=sys.stderr))
                write_case_outputs(case, out_root, result.probability, result.mask, result.lesions, LESION_CSV_COLUMNS,
                                   {**result.summary, "bids": {"subject": case.subject, "session": case.session}})
                done += 1
            except (LesionSegError, ValueError, RuntimeError) as error:
                failed.append((case.label, str(error)))
                tqdm.write(f"lesionseg predict: {case.label}: FAILED: {error}", file=sys.stderr)
    print(f"{done} predicted, {skipped} already done, {len(failed)} failed (of {len(cases)} case(s) on this rank) "
          f"into {out_root}")
    for label, reason in failed:
        print(f"  failed {label}: {reason}", file=sys.stderr)
    return 1 if failed else 0
