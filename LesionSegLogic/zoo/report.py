"""``docs/zoo.md`` and its reliability pictures, written from the bundled cards (numbers read, never typed in).

One table per set (:data:`LesionSegLogic.zoo.sets.ZOO_SETS`): each model's loss, iterations, recommended threshold,
held-out voxel Dice and lesion-wise F1 (the set's rule) at 0.5 and at that threshold, lesion sensitivity and
precision there, and the expected calibration error; the command that regenerates the table; the training
provenance of the set (from the cards' ``training`` blocks); the issue-12 targets with what was reached; one
reliability picture per set (:func:`reliability_figure`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from LesionSegLogic.zoo.card import ModelCard
from LesionSegLogic.zoo.sets import ZOO_SETS, ZooSet, set_of

#: the second ECE column: voxels with a predicted probability of at least this (:func:`ece_above`)
ECE_LOWER = 0.1
REGENERATE = "nice -n 10 .venv/bin/python scripts/finalise_zoo.py --runs RUNS --data DATA --set {set}"


@dataclass(frozen=True)
class Target:
    """An issue-12 target on the shifted held-out set: the best model's ``metric`` at its recommended threshold
    must reach ``value`` (``every``: every model's)."""

    metric: str
    value: float
    every: bool = False

    def label(self) -> str:
        words = {"voxel_dice": "Dice", "lesion_f1": "lesion F1"}[self.metric]
        return f"{'every model' if self.every else 'best'} {words} ≥ {self.value:.2f}"


#: issue 12's targets per set (what was asked, not what was measured)
TARGETS: dict[str, tuple[Target, ...]] = {
    "brain": (Target("voxel_dice", 0.80), Target("lesion_f1", 0.85), Target("voxel_dice", 0.60, every=True)),
    "brain_flair": (Target("voxel_dice", 0.75), Target("lesion_f1", 0.80)),
    "cord": (Target("voxel_dice", 0.70), Target("lesion_f1", 0.75)),
    "longitudinal": (Target("lesion_f1", 0.75),),
}


def _mean(card: ModelCard, at: str, metric: str) -> float | None:
    value = (((card.validation or {}).get(at) or {}).get("mean") or {}).get(metric)
    return float(value) if isinstance(value, int | float) else None


def _fmt(value: float | None) -> str:
    return "–" if value is None else f"{value:.3f}"


def iterations(card: ModelCard) -> int | None:
    value = card.training.get("iterations")
    if isinstance(value, int | float):
        return int(value)
    epochs, per = card.training.get("epochs"), card.training.get("iterations_per_epoch")
    return int(epochs * per) if isinstance(epochs, int) and isinstance(per, int) else None


def grouped(cards: Sequence[ModelCard]) -> dict[str, list[ModelCard]]:
    """The cards by set name (:func:`set_of`; ``"other"`` for cards of no set), each sorted by held-out Dice at the
    recommended threshold, best first."""
    out: dict[str, list[ModelCard]] = {}
    for card in cards:
        zoo_set = set_of(card)
        out.setdefault(zoo_set.name if zoo_set else "other", []).append(card)
    for group in out.values():
        group.sort(key=lambda c: (-(_mean(c, "at_recommended", "voxel_dice") or -1.0), c.name))
    return out


def set_table(cards: Sequence[ModelCard]) -> str:
    """The markdown table of one set's cards."""
    from LesionSegLogic.metrics.calibration import ece_above

    head = ("| model | loss | iterations | threshold | Dice @0.5 | lesion F1 @0.5 | Dice @rec | lesion F1 @rec "
            f"| lesion sens @rec | lesion prec @rec | ECE | ECE p≥{ECE_LOWER:g} |\n"
            "|---|---|---|---|---|---|---|---|---|---|---|---|\n")
    rows = [
        f"| {c.name} | {c.loss} | {iterations(c) if iterations(c) is not None else '–'} | "
        f"{c.recommended_threshold:.2f} | {_fmt(_mean(c, 'at_0.5', 'voxel_dice'))} | "
        f"{_fmt(_mean(c, 'at_0.5', 'lesion_f1'))} | {_fmt(_mean(c, 'at_recommended', 'voxel_dice'))} | "
        f"{_fmt(_mean(c, 'at_recommended', 'lesion_f1'))} | {_fmt(_mean(c, 'at_recommended', 'lesion_sensitivity'))} "
        f"| {_fmt(_mean(c, 'at_recommended', 'lesion_precision'))} | {_fmt(c.calibration.get('ece'))} "
        f"| {_fmt(ece_above(c.calibration.get('bins') or [], ECE_LOWER))} |"
        for c in cards
    ]
    return head + "\n".join(rows) + "\n"


def targets_text(zoo_set: ZooSet, cards: Sequence[ModelCard]) -> str:
    """One line per issue-12 target of the set: what was asked and what the cards reach (met / not met)."""
    lines = []
    for target in TARGETS.get(zoo_set.name, ()):
        values = [(v, c.name) for c in cards if (v := _mean(c, "at_recommended", target.metric)) is not None]
        if not values:
            lines.append(f"- {target.label()}: not measured")
            continue
        value, name = min(values) if target.every else max(values)
        which = "lowest" if target.every else "best"
        verdict = "met" if value >= target.value else "**not met**"
        lines.append(f"- {target.label()}: {which} {value:.3f} (`{name}`) — {verdict}")
    return "\n".join(lines)


def provenance_text(cards: Sequence[ModelCard]) -> str:
    """The set's training provenance, from the cards' ``training`` blocks (a value shared by every card once):
    architecture, iterations, device, wall time, commit, weights dtype, subjects and the data generator settings."""
    def values(key: str) -> list[str]:
        found: list[str] = []
        for c in cards:
            v = c.training.get(key)
            text = v if isinstance(v, str) else _compact(v)
            if v is not None and text not in found:
                found.append(text)
        return found

    arch = sorted({f"{c.architecture} {_compact(c.architecture_params)}, patch {list(c.patch_size)}, target spacing "
                   f"{list(c.target_spacing) if c.target_spacing else 'none (input grid)'}" for c in cards})
    parts = [f"architecture: {'; '.join(arch)}"]
    counts = [n for c in cards if (n := iterations(c)) is not None]
    walls = [float(w) for c in cards if isinstance(w := c.training.get("wall_seconds"), int | float)]
    if counts:
        parts.append(f"iterations: {min(counts)}–{max(counts)}" if min(counts) != max(counts)
                     else f"iterations: {counts[0]}")
    if walls:
        parts.append(f"training wall time per model: {min(walls):.0f}–{max(walls):.0f} s")
    for key, label in (("device", "device"), ("commit", "commit"), ("weights_dtype", "weights stored as")):
        found = values(key)
        if found:
            parts.append(f"{label}: {'; '.join(found)}")
    for card in cards:
        warm = card.training.get("warm_start")
        if isinstance(warm, dict):
            parts.append(f"`{card.name}` continued on {card.training.get('device')} for "
                         f"{card.training.get('iterations_this_run')} iterations "
                         f"({card.training.get('wall_seconds')} s) from its run of {warm.get('previous_iterations')} "
                         f"iterations on {warm.get('previous_device', 'an earlier device')} "
                         f"({warm.get('previous_wall_seconds')} s, commit {str(warm.get('previous_commit'))[:7]})")
    data: list[dict[str, Any]] = [d for c in cards if isinstance(d := c.training.get("data"), dict)]
    subjects = (data[0].get("subjects") if data else None) or {}
    if isinstance(subjects, dict) and subjects:
        parts.append("training subjects: " + ", ".join(f"{len(v)} {k}" for k, v in subjects.items()
                                                       if isinstance(v, list)))
    settings = (data[0].get("generator_settings") if data else None) or {}
    if isinstance(settings, dict):
        for name, setting in settings.items():
            if isinstance(setting, dict) and setting.get("description"):
                parts.append(f"data generator, {name} (setting `{setting.get('name', name)}`): "
                             f"{setting['description']}")
    held_out = cards[0].validation.get("subjects", {}) if cards else {}
    if held_out:
        parts.append(f"threshold-optimisation subjects: {len(held_out.get('threshold', []))} "
                     f"({cards[0].validation.get('threshold_subjects_chosen_as', '')}); held-out test subjects "
                     f"(shifted setting): {len(held_out.get('test', []))}")
    for setting in threshold_settings(cards):
        if setting.get("description") and setting.get("split") not in settings:
            parts.append(f"data generator, {setting['split']} (setting `{setting.get('name', setting['split'])}`): "
                         f"{setting['description']}")
    return "\n".join(f"- {p}" for p in parts)


def threshold_settings(cards: Sequence[ModelCard]) -> list[dict[str, str]]:
    """The distinct generator settings the cards' thresholds were chosen on (``validation.threshold_setting``,
    written by ``scripts/finalise_zoo.py``); empty for cards that do not record one."""
    found: list[dict[str, str]] = []
    for c in cards:
        setting = (c.validation or {}).get("threshold_setting")
        if isinstance(setting, dict) and setting not in found:
            found.append(setting)
    return found


def threshold_sentence(cards: Sequence[ModelCard]) -> str:
    """Where the recommended thresholds were chosen, in words true of every card (wrapped for ``docs/zoo.md``): a
    threshold-optimisation set of its own when every card records one drawn with a setting other than ``train``,
    else the subjects named in each set's provenance."""
    import textwrap

    settings = threshold_settings(cards)
    names = {s.get("name") for s in settings}
    splits = {s.get("split") for s in settings}
    recorded = all(isinstance((c.validation or {}).get("threshold_setting"), dict) for c in cards)
    if cards and recorded and len(names) == 1 and names != {"train"}:
        text = (f"The threshold-optimisation subjects are a set of their own, `DATA/<set>/{next(iter(splits))}`, "
                f"drawn with the generator setting `{next(iter(names))}`: never trained on, between the training "
                "and the test acquisitions, and sharing no acquisition value with the shifted test set (see each "
                "set's data lines).")
    else:
        text = ("The threshold-optimisation subjects are named in each set's provenance; where they come from the "
                "training pool they share its acquisition setting, and the threshold may not transfer to the test "
                "set.")
    return textwrap.fill(text, width=116)


def grid_sentence(cards: Sequence[ModelCard]) -> str:
    """Which grid the cards run on and how that was chosen, true of every card (wrapped for ``docs/zoo.md``)."""
    import textwrap

    chosen = [((c.validation or {}).get("grid") or {}).get("chosen") for c in cards]
    training = ("the training grid (`target_spacing`: the predictor resamples a thick-slice image onto the grid the "
                "network learnt, and the map back)")
    if cards and all(chosen):
        own = [c.name for c, g in zip(cards, chosen, strict=True) if g == "native"]
        text = (f"Each card runs on the grid chosen on the threshold-optimisation subjects "
                f"(`LesionSegLogic.zoo.grid_choice`, the test set plays no part): {training}, or each image's own "
                "grid, whichever gives the higher median voxel-wise F1 there at its recommended threshold. "
                f"{len(own)} of {len(cards)} run on their images' own grid"
                + (f" ({', '.join(f'`{n}`' for n in sorted(own))})" if own else "")
                + ". `scripts/finalise_zoo.py --native-grid --models DIR --work DIR2` measures the models on the "
                "images' own grids, `--choose-grid DIR` makes the choice.")
    else:
        text = (f"The cards run on {training}; `scripts/finalise_zoo.py --native-grid --models DIR --work DIR2` "
                "measures the same weights on each image's own grid and `--choose-grid DIR` would keep, per model, "
                "the grid with the higher median voxel-wise F1 on the threshold-optimisation subjects (tried, not "
                "adopted: [zoo_limits.md](zoo_limits.md)).")
    return textwrap.fill(text, width=116)


def _compact(value: Any, limit: int = 400) -> str:
    import json

    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= limit else text[: limit - 1] + "…"


def reliability_figure(zoo_set: ZooSet, cards: Sequence[ModelCard], path: Path) -> Path | None:
    """One small PNG: a reliability diagram per model of the set (observed lesion frequency against mean predicted
    probability per bin, the diagonal = calibrated), its ECE in the title; ``None`` when no card has bins."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    measured = [c for c in cards if c.calibration.get("bins")]
    if not measured:
        return None
    cols = min(5, len(measured))
    rows = -(-len(measured) // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(max(4.0, 1.9 * cols), 1.9 * rows + 0.5), squeeze=False, dpi=72)
    for ax in axes.flat[len(measured):]:
        ax.axis("off")
    for ax, card in zip(axes.flat, measured, strict=False):
        bins = [b for b in card.calibration["bins"] if b.get("count")]
        ax.plot([0, 1], [0, 1], color="0.6", lw=0.8)
        ax.plot([b["confidence"] for b in bins], [b["accuracy"] for b in bins], marker="o", ms=2.5, lw=1.0)
        ax.set_xlim(0, 1)
        ax.set_ylim(0, 1)
        ax.set_title(f"{card.name}\nECE {card.calibration.get('ece', float('nan')):.3f}", fontsize=7)
        ax.tick_params(labelsize=6)
    for ax in axes[-1]:
        ax.set_xlabel("mean predicted p", fontsize=6)
    for ax in axes[:, 0]:
        ax.set_ylabel("lesion frequency", fontsize=6)
    fig.suptitle(f"{zoo_set.title}\nreliability on the shifted held-out set (diagonal: calibrated)", fontsize=7)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=72)
    plt.close(fig)
    return path


def zoo_markdown(cards: Sequence[ModelCard], pictures: dict[str, str], zoo_bytes: int, runs: str, data: str) -> str:
    """The whole ``docs/zoo.md``: the note, how the numbers are made, then per set the table, its regenerate
    command, the targets, the provenance and the reliability picture (``pictures``: set name → relative path)."""
    from LesionSegLogic.defaults import DEFAULT_RULE, pick_model

    groups = grouped(cards)
    parts = [f"""# The bundled model zoo (v2)

**Demonstration models trained on synthetic phantoms — not for clinical use.** They show what the loss and the
decision threshold do; to segment real scans, train on real annotated data (`lesionseg train`, see
[training.md](training.md)).

Four sets (`LesionSegLogic.zoo.sets`): every card states its `task` (lesions / new_lesions), `anatomy` and
`inputs`; `lesionseg models` lists them grouped the same way. Zoo size: {zoo_bytes / 1e6:.2f} MB
(`du -sh Resources/Models`).

**How the numbers are made** (`scripts/finalise_zoo.py`, `LesionSegLogic.zoo.measure`): every probability map
comes from the project's predictor with the card's inference settings (sliding windows, Gaussian fusion, the
card's normalisation — what `lesionseg predict` does). The **recommended threshold** is the one with the highest
median voxel-wise F1 over the set's threshold-optimisation subjects (Hussein et al. 2023; the same rule for every
set: it picks a voxel-wise operating point, which no lesion-matching rule changes).
{threshold_sentence(cards)}
The **held-out metrics** are means over the **shifted test set** — phantoms drawn with generator settings never
used in training or for the threshold (see the data line of each set) — at 0.5 and at the recommended threshold;
lesion-wise under the set's rule (anima for brain and new lesions, Hussein for the cord); new lesions against
`new_lesions.nii.gz`.
**ECE** is the expected calibration error (Guo et al. 2017, eq. 3) over ten equal-width bins of the lesion
probability, on the test subjects' voxels inside the foreground mask (`LesionSegLogic.metrics.calibration`). Over
every voxel it is dominated by the background bin [0, 0.1), where nearly all voxels sit and nearly all are right,
so it is small for every model; **ECE p≥0.1** is the same sum over the voxels the model gives at least 0.1 (the
probabilities a reader sees and a threshold acts on), computed from the same bins. The reliability diagrams show
every bin.
Rows are sorted by Dice at the recommended threshold.
{grid_sentence(cards)}

The default model of `lesionseg demo`, `lesionseg predict` without `--model`, the web app and the desktop panel is
picked by `LesionSegLogic.defaults.pick_model` from the images at hand; the default matching rule is
**{DEFAULT_RULE}**.

Where a target below is not met, [zoo_limits.md](zoo_limits.md) says what limited it and the GPU recipe that
continues these runs."""]
    for zoo_set in ZOO_SETS:
        group = groups.get(zoo_set.name, [])
        parts.append(f"## {zoo_set.title} (`{zoo_set.name}`: task {zoo_set.task}, anatomy {zoo_set.anatomy}, "
                     f"images {' + '.join(sorted(zoo_set.images))}, rule {zoo_set.rule})")
        if not group:
            parts.append("No model of this set is bundled.")
            continue
        pick = pick_model(group, zoo_set.images, zoo_set.anatomy, "the set's anatomy")
        command = REGENERATE.format(set=zoo_set.name).replace("RUNS", runs).replace("DATA", data)
        text = [set_table(group), f"Regenerate this table: `{command}`", "",
                "Targets (issue 12, shifted held-out set, at the recommended threshold):", targets_text(zoo_set, group),
                "", "Training provenance:", provenance_text(group)]
        if pick is not None:
            text += ["", f"Auto-pick for these images: {pick.reason}."]
        if zoo_set.name in pictures:
            text += ["", f"![reliability diagrams, {zoo_set.title}]({pictures[zoo_set.name]})"]
        parts.append("\n".join(text))
    lf1 = sorted(c.name for c in cards if "lf1" in c.loss)
    if lf1:
        parts.append(f"{', '.join(f'`{n}`' for n in lf1)}: Dice + 0.2·(1 − LF1̂) with Kamraoui et al. 2021's frozen "
                     "lesion-wise F1 estimator, shipped beside each model (`lf1_estimator.json` + "
                     "`lf1_estimator.safetensors`, with its own held-out accuracy).")
    other = groups.get("other", [])
    if other:
        parts.append("## Other models\n\n" + set_table(other))
    return "\n\n".join(parts) + "\n"


__all__ = ["REGENERATE", "TARGETS", "Target", "grouped", "iterations", "provenance_text", "reliability_figure",
           "set_table", "targets_text", "threshold_sentence", "threshold_settings", "zoo_markdown"]
