"""One set of defaults (LesionSegLogic.defaults) and the anatomy guess (LesionSegLogic.anatomy)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pytest

from LesionSegLogic.anatomy import ANATOMIES, anatomy_warning, extent_lps_mm, guess_anatomy
from LesionSegLogic.defaults import (
    DEFAULT_RULE,
    FALLBACK_THRESHOLD,
    RULE_NAMES,
    defaults_for_map,
    read_recorded,
    recommended_model,
)
from LesionSegLogic.image import Image
from LesionSegLogic.metrics.rules import PRESETS
from LesionSegLogic.zoo import ModelCard, list_models


# anatomy ----------------------------------------------------------------------------------------------------
def _box(size_lr_ap_si: tuple[float, float, float], spacing: float = 4.0, direction=None) -> Image:
    """An image whose LPS extent is ``size`` (R-L, A-P, S-I) mm; array order (z, y, x) = (S-I, A-P, R-L)."""
    lr, ap, si = size_lr_ap_si
    shape = tuple(max(1, round(s / spacing)) for s in (si, ap, lr))
    return Image(np.zeros(shape, np.float32), spacing=(spacing,) * 3,
                 direction=np.eye(3) if direction is None else direction)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((44.8, 96.0, 240.0), "cord"),  # the cord phantom
        ((40.0, 250.0, 250.0), "cord"),  # a sagittal cervical T2 slab
        ((140.0, 172.0, 140.0), "brain"),  # an adult brain
        ((128.0, 128.0, 96.0), "brain"),  # the zoo's training crop
        ((240.0, 240.0, 160.0), "brain"),  # an axial head FLAIR
        ((40.0, 40.0, 40.0), None),  # a small crop: can't tell
        ((120.0, 120.0, 400.0), None),  # a whole-body-like slab
    ],
)
def test_guess_anatomy_from_the_field_of_view(size, expected) -> None:
    assert guess_anatomy(_box(size)) == expected


def test_guess_uses_patient_axes_not_array_axes() -> None:
    """A sagittal cord slab stored with R-L as the slowest array axis is still a cord."""
    # array (z, y, x) = (R-L, S-I, A-P): index i (x) → A-P, j (y) → S-I, k (z) → R-L
    direction = np.array([[0.0, 0.0, 1.0], [1.0, 0.0, 0.0], [0.0, 1.0, 0.0]])
    image = Image(np.zeros((11, 60, 24), np.float32), spacing=(4.0, 4.0, 4.0), direction=direction)
    assert extent_lps_mm(image) == pytest.approx((44.0, 96.0, 240.0))
    assert guess_anatomy(image) == "cord"


def test_phantoms_are_recognised(cord_phantom, brain_phantom) -> None:
    assert guess_anatomy(cord_phantom.case.flair) == "cord"
    assert guess_anatomy(brain_phantom.case.flair) == "brain"


def test_anatomy_warning_prefers_the_users_word() -> None:
    cord = _box((44.8, 96.0, 240.0))
    brain = _box((140.0, 172.0, 140.0))
    warning = anatomy_warning("m", "brain", cord)
    assert "spinal cord" in warning and "field of view" in warning
    assert anatomy_warning("m", "brain", brain) is None
    assert anatomy_warning("m", "brain", cord, user="brain") is None
    assert "--anatomy cord" in anatomy_warning("m", "brain", brain, user="cord")
    assert anatomy_warning("m", "cord", cord) is None and "brain" in anatomy_warning("m", "cord", brain)


def test_one_anatomy_vocabulary() -> None:
    from LesionSegLogic.cli import build_parser
    from LesionSegLogic.phantom import ANATOMIES as PHANTOM_ANATOMIES

    assert PHANTOM_ANATOMIES is ANATOMIES
    assert tuple(_choices(build_parser(), "predict", "--anatomy")) == ANATOMIES


# the default rule -------------------------------------------------------------------------------------------
def _choices(parser: argparse.ArgumentParser, command: str, option: str):
    sub = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction)).choices[command]
    return next(a for a in sub._actions if option in a.option_strings).choices


def test_rule_choices_and_defaults_come_from_one_place() -> None:
    from LesionSegLogic.cli import build_parser

    assert tuple(PRESETS) == RULE_NAMES and DEFAULT_RULE in RULE_NAMES
    parser = build_parser()
    for command in ("evaluate", "sweep", "app", "demo", "predict"):
        assert tuple(_choices(parser, command, "--rule")) == RULE_NAMES, command
    app = parser.parse_args(["app"])
    demo = parser.parse_args(["demo"])
    assert app.rule == demo.rule == DEFAULT_RULE


def test_review_parameters_default_rule_is_the_default() -> None:
    pytest.importorskip("slicer")
    from LesionSegLib.parameters import ReviewParameters

    assert ReviewParameters().rule == DEFAULT_RULE


def test_default_rule_is_the_rule_the_cards_were_measured_with() -> None:
    """The docstring's reason: every card's held-out metrics are under its set's rule — the default rule except the
    cord set (Hussein et al. 2023's) — and a prediction records that rule, so a review at the recommended
    threshold reproduces them."""
    from LesionSegLogic.defaults import card_rule
    from LesionSegLogic.zoo.sets import set_of

    cards = [e.card for e in list_models() if e.card is not None]
    assert cards, "the bundled zoo (Resources/Models) is part of the project: none found"
    for card in cards:
        zoo_set = set_of(card)
        expected = zoo_set.rule if zoo_set is not None and card.format_version >= 2 else DEFAULT_RULE
        assert card.validation["at_recommended"]["rule"] == expected == card_rule(card), card.name
        assert card.validation["at_0.5"]["rule"] == expected, card.name
        assert expected == DEFAULT_RULE or card.anatomy == "cord", card.name


# the threshold policy ---------------------------------------------------------------------------------------
def _summary(folder: Path, **settings) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    data = {"model": {"name": "m1", "recommended_threshold": 0.8}, "settings": settings}
    (folder / "summary.json").write_text(json.dumps(data))
    return folder / "probability.nii.gz"


def test_threshold_policy_order(tmp_path: Path) -> None:
    bare = tmp_path / "bare" / "probability.nii.gz"
    chosen = defaults_for_map(bare)
    assert chosen.threshold == FALLBACK_THRESHOLD and chosen.rule == DEFAULT_RULE
    assert "fallback" in chosen.threshold_source and "default" in chosen.rule_source

    recorded = _summary(tmp_path / "rec", threshold=0.65, threshold_source="card", rule="hussein")
    chosen = defaults_for_map(recorded)
    assert (chosen.threshold, chosen.rule, chosen.model) == (0.65, "hussein", "m1")
    assert "m1's recommended threshold" in chosen.describe() and "summary.json" in chosen.describe()

    user_at_predict = _summary(tmp_path / "user", threshold=0.3, threshold_source="user")
    chosen = defaults_for_map(user_at_predict)
    assert chosen.threshold == 0.3 and "prediction threshold" in chosen.threshold_source
    assert chosen.rule == DEFAULT_RULE  # no rule recorded

    only_model = _summary(tmp_path / "old")
    assert defaults_for_map(only_model).threshold == 0.8  # the model's recommended threshold

    given = defaults_for_map(recorded, threshold=0.2, rule="any-overlap")
    assert (given.threshold, given.rule) == (0.2, "any-overlap") and given.threshold_source == "given"
    assert defaults_for_map(recorded, need_threshold=False).threshold is None


def test_unreadable_summary_falls_back_and_says_so(tmp_path: Path) -> None:
    (tmp_path / "summary.json").write_text("{not json")
    chosen = defaults_for_map(tmp_path / "probability.nii.gz")
    assert chosen.threshold == FALLBACK_THRESHOLD and "unreadable" in chosen.threshold_source
    assert read_recorded(tmp_path / "probability.nii.gz").problem is not None
    (tmp_path / "summary.json").write_text(json.dumps({"settings": {"threshold": 7, "rule": "nope"}}))
    chosen = defaults_for_map(tmp_path / "probability.nii.gz")
    assert chosen.threshold == FALLBACK_THRESHOLD and chosen.rule == DEFAULT_RULE


# the recommended model --------------------------------------------------------------------------------------
def _card(name: str, inputs=("flair", "t2"), anatomy="brain", f1=None, dice=None) -> ModelCard:
    mean = {k: v for k, v in (("lesion_f1", f1), ("voxel_dice", dice)) if v is not None}
    return ModelCard(name=name, architecture="unet3d", inputs=inputs, patch_size=(16, 16, 16), anatomy=anatomy,
                     validation={"at_recommended": {"mean": mean}} if mean else {})


def test_recommended_model_rules() -> None:
    cards = [
        _card("weak", f1=0.1), _card("strong", f1=0.7, dice=0.5), _card("tie", f1=0.7, dice=0.6),
        _card("flair_only", inputs=("flair",), f1=0.95), _card("cord_model", anatomy="cord", f1=0.99),
        _card("longitudinal", inputs=("flair", "baseline_flair"), f1=0.98), _card("unmeasured"),
    ]
    assert recommended_model(cards, {"flair", "t2"}, "brain").name == "tie"  # exact inputs first, F1, then Dice
    assert recommended_model(cards, {"flair"}, "brain").name == "flair_only"
    assert recommended_model(cards, {"flair", "baseline"}, "brain").name == "longitudinal"
    # no exact match: the best usable subset
    assert recommended_model(cards, {"flair", "t2", "baseline"}, "brain").name == "longitudinal"
    assert recommended_model(cards, {"flair", "t2"}, "cord").name == "cord_model"  # anatomy filters
    assert recommended_model(cards, {"flair", "t2"}, None).name == "cord_model"  # None: any anatomy
    assert recommended_model(cards[:4], {"flair", "t2"}, "cord") is None  # no cord model: nothing recommended
    assert recommended_model(cards, {"t2"}, "brain") is None  # FLAIR is always needed
    assert recommended_model([], {"flair"}) is None
    assert recommended_model([_card("unmeasured"), _card("measured", f1=0.0)], {"flair", "t2"}).name == "measured"


def test_recommended_bundled_model_is_the_best_by_its_card() -> None:
    cards = [e.card for e in list_models() if e.card is not None]
    assert cards, "the bundled zoo (Resources/Models) is part of the project: none found"
    best = recommended_model(cards, {"flair", "t2"}, "brain")
    f1 = {c.name: c.validation["at_recommended"]["mean"]["lesion_f1"] for c in cards  # the brain FLAIR + T2 set
          if c.images_needed() == {"flair", "t2"} and c.anatomy == "brain" and c.task == "lesions"}
    assert f1[best.name] == max(f1.values())
    assert f1[best.name] > f1["bce"]  # issue 15: the app's old default was bce

    from LesionSegLogic.demo import best_zoo_model

    assert best_zoo_model() == best.name


def test_a_summary_describes_only_the_maps_predict_wrote(tmp_path: Path) -> None:
    _summary(tmp_path, threshold=0.65, threshold_source="card", rule="hussein")
    assert defaults_for_map(tmp_path / "mask.nii.gz").rule == "hussein"
    other = defaults_for_map(tmp_path / "probability_tta.nii.gz")
    assert (other.threshold, other.rule) == (FALLBACK_THRESHOLD, DEFAULT_RULE)
    assert "not probability_tta.nii.gz" in other.threshold_source
