"""Zoo v2 (issue 12): card format 2 (task, calibration, provenance), float16 weights, the four sets, T2-w-only
models, the one auto-pick, the calibration metric and the finaliser (hand-off → measured card → docs)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import save_file

from LesionSegLogic.anatomy import ANATOMIES
from LesionSegLogic.cli import main
from LesionSegLogic.defaults import pick_model
from LesionSegLogic.errors import InputError, ModelFileError
from LesionSegLogic.image import Image
from LesionSegLogic.io import read_image, write_image
from LesionSegLogic.metrics.calibration import bin_sums, ece_above, reliability
from LesionSegLogic.models import build_model
from LesionSegLogic.predictor import Predictor, PredictSettings
from LesionSegLogic.zoo import CARD_FILE, ModelCard, load_model, save_model
from LesionSegLogic.zoo.card import TASKS
from LesionSegLogic.zoo.sets import SET_NAMES, ZOO_SETS, get_set, set_of

ROOT = Path(__file__).resolve().parents[1]
TINY = {"in_channels": 1, "features": [4, 8], "norm": "batch"}


def _card(name="m", inputs=("flair", "t2"), anatomy="brain", f1=None, **kw) -> ModelCard:
    validation = {"at_recommended": {"mean": {"lesion_f1": f1}}} if f1 is not None else {}
    return ModelCard(name=name, architecture="unet3d", inputs=inputs, patch_size=(16, 16, 16), anatomy=anatomy,
                     validation=validation, **kw)


def _tiny(inputs: tuple[str, ...]) -> torch.nn.Module:
    torch.manual_seed(0)
    return build_model("unet3d", in_channels=len(inputs), features=(4, 8), norm="batch")


# card format 2 --------------------------------------------------------------------------------------------------
def test_format_1_cards_load_with_a_derived_task_and_format_2_validates_the_task(tmp_path: Path) -> None:
    old = _card(weights_sha256="a" * 64).to_dict()
    for key in ("task", "calibration"):
        del old[key]
    old["format_version"] = 1
    (tmp_path / CARD_FILE).write_text(json.dumps(old))
    loaded = ModelCard.from_json(tmp_path / CARD_FILE)
    assert loaded.task == "lesions" and loaded.calibration == {} and loaded.format_version == 1
    assert _card(inputs=("baseline_flair", "flair", "difference")).task == "new_lesions"  # derived from the inputs
    assert _card().format_version == 2
    with pytest.raises(ModelFileError, match="task must be one of"):
        _card(task="tumours", weights_sha256="a" * 64).validate()


def test_float16_weights_load_as_float32_and_give_the_same_network(tmp_path: Path) -> None:
    model = _tiny(("flair",))
    folder = tmp_path / "half"
    written = save_model(model, _card("half", inputs=("flair",), architecture_params=TINY), folder)
    half = {k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()}
    save_file(half, str(folder / "model.safetensors"))
    from LesionSegLogic.zoo.weights import sha256_of

    written.with_updates(weights_sha256=sha256_of(folder / "model.safetensors")).to_json(folder / CARD_FILE)
    loaded, _ = load_model(folder)
    state = loaded.state_dict()
    assert all(v.dtype == torch.float32 for v in state.values() if v.is_floating_point())
    for key, value in model.state_dict().items():
        if value.is_floating_point():  # float16 rounding only: relative error ≤ 2⁻¹¹
            torch.testing.assert_close(state[key], value.half().float(), rtol=0, atol=0)
    x = torch.randn(1, 1, 16, 16, 16)
    model.eval()
    with torch.no_grad():
        assert torch.allclose(loaded(x), model(x), atol=5e-2)


# the four sets ---------------------------------------------------------------------------------------------------
def test_sets_use_the_one_vocabulary_and_give_unique_names() -> None:
    assert {s.task for s in ZOO_SETS} <= set(TASKS) and {s.anatomy for s in ZOO_SETS} <= set(ANATOMIES)
    names = [s.model_name("dice") for s in ZOO_SETS]
    assert len(set(names)) == len(ZOO_SETS) == len(SET_NAMES)
    assert get_set("cord").model_name("dice") == "cord_dice" and get_set("brain").model_name("dice") == "dice"
    assert set_of(_card(inputs=("t2",), anatomy="cord")).name == "cord"
    assert set_of(_card(inputs=("flair",))).name == "brain_flair"
    assert set_of(_card(inputs=("baseline_flair", "flair", "difference"))).name == "longitudinal"
    assert set_of(_card(inputs=("t2",))) is None  # a brain T2-only model is no set of the zoo
    with pytest.raises(KeyError, match="unknown zoo set"):
        get_set("liver")


# auto-pick ------------------------------------------------------------------------------------------------------
def test_pick_model_follows_the_images_and_says_why() -> None:
    cards = [_card("both", f1=0.8), _card("both_weak", f1=0.3), _card("flair_x", inputs=("flair",), f1=0.9),
             _card("cord_x", inputs=("t2",), anatomy="cord", f1=0.7),
             _card("new_x", inputs=("baseline_flair", "flair", "difference"), f1=0.6)]
    assert pick_model(cards, {"flair"}, "brain").name == "flair_x"
    both = pick_model(cards, {"flair", "t2"}, "brain", "guessed")
    assert both.name == "both"  # the model reading both images, although the FLAIR-only one scores higher
    assert "both" in both.reason and "FLAIR + T2" in both.reason and "0.800" in both.reason and "guessed" in both.reason
    assert pick_model(cards, {"flair", "baseline"}, "brain").name == "new_x"
    assert pick_model(cards, {"flair", "t2", "baseline"}, "brain").name == "new_x"  # a baseline → new lesions
    assert pick_model(cards, {"flair", "t2"}, "cord").name == "cord_x"
    assert pick_model(cards, {"flair"}, "cord") is None  # the cord models read the T2-w image
    assert pick_model(cards, {"flair", "t2"}, "brain").to_json()["auto"] is True


# calibration ----------------------------------------------------------------------------------------------------
def test_ece_is_guo_equation_3_over_equal_width_bins() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, (6, 7, 8))
    p[0, 0, 0] = 1.0  # p = 1 falls in the last bin
    ref = rng.uniform(0, 1, p.shape) < 0.3
    result = reliability([p], [ref], n_bins=5)
    expected = 0.0
    for b in range(5):  # an independent loop over the bins
        inside = (p >= b / 5) & ((p < (b + 1) / 5) if b < 4 else (p <= 1.0))
        expected += inside.sum() / p.size * abs(ref[inside].mean() - p[inside].mean())
    assert result.ece == pytest.approx(expected, rel=1e-12)
    assert sum(b.count for b in result.bins) == p.size == result.n_voxels
    bins = result.to_json()["bins"]
    assert ece_above(bins, 0.0) == pytest.approx(result.ece, rel=1e-12)
    upper = p >= 0.4  # bins 2..4 only: the same sum over those voxels
    manual = sum(((p >= b / 5) & ((p < (b + 1) / 5) if b < 4 else (p <= 1))).sum() / upper.sum()
                 * abs(ref[(p >= b / 5) & ((p < (b + 1) / 5) if b < 4 else (p <= 1))].mean()
                       - p[(p >= b / 5) & ((p < (b + 1) / 5) if b < 4 else (p <= 1))].mean()) for b in range(2, 5))
    assert ece_above(bins, 0.4) == pytest.approx(manual, rel=1e-12)


def test_a_calibrated_map_has_a_small_ece_and_an_overconfident_one_a_large_one() -> None:
    rng = np.random.default_rng(1)
    p = rng.uniform(0, 1, 200_000)
    calibrated = rng.uniform(0, 1, p.size) < p
    assert reliability([p], [calibrated]).ece < 0.01
    assert reliability([np.round(p)], [calibrated]).ece > 0.2  # 0/1 predictions of a 50 % coin


def test_calibration_counts_only_the_region_and_pools_subjects() -> None:
    p = np.full((4, 4, 4), 0.05)
    ref = np.zeros((4, 4, 4), bool)
    region = np.zeros((4, 4, 4), bool)
    region[:2] = True
    one = bin_sums(p, ref, region, 10)
    assert one[:, 0].sum() == region.sum()
    pooled = reliability([p, p], [ref, ref], [region, None])
    assert pooled.n_voxels == region.sum() + p.size
    with pytest.raises(InputError, match="in \\[0, 1\\]"):
        bin_sums(p + 1.0, ref)


# T2-w-only models (the cord set) --------------------------------------------------------------------------------
def _cord_image(seed=0) -> Image:
    rng = np.random.default_rng(seed)
    a = 50 + 5 * rng.standard_normal((16, 40, 20)).astype(np.float32)
    a[6:10, 10:30, 8:12] = 300.0
    return Image(a, spacing=(0.6, 0.6, 2.8))


@pytest.fixture()
def t2_only_model(tmp_path: Path) -> Path:
    card = _card("cord_tiny", inputs=("t2",), anatomy="cord", f1=0.99,  # above every bundled cord model
                 architecture_params=TINY)
    save_model(_tiny(("t2",)), card, tmp_path / "zoo" / "cord_tiny")
    return tmp_path / "zoo" / "cord_tiny"


def test_a_t2_only_model_runs_on_the_t2_alone_and_refuses_a_flair(tmp_path: Path, t2_only_model: Path) -> None:
    t2 = write_image(_cord_image(), tmp_path / "case" / "t2.nii.gz")
    predictor = Predictor.load(t2_only_model, PredictSettings(device="cpu"))
    result = predictor.run({"t2": t2}, tmp_path / "out")
    assert result.probability.same_grid(read_image(t2)) and result.summary["inputs"] == {"t2": str(t2)}
    with pytest.raises(InputError, match="missing: t2 \\(given: flair; give --t2 IMAGE\\)"):
        predictor.run({"flair": t2}, tmp_path / "out2")
    with pytest.raises(InputError, match="no flair image"):
        predictor.run({"t2": t2, "flair": t2}, tmp_path / "out3")


def test_cli_predict_takes_t2_alone_and_says_when_an_image_is_missing(tmp_path, t2_only_model, capsys) -> None:
    t2 = write_image(_cord_image(), tmp_path / "case" / "t2.nii.gz")
    assert main(["predict", "--model", str(t2_only_model), "--t2", str(t2), "--out", str(tmp_path / "o"),
                 "--no-progress"]) == 0
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["model_choice"] == {"model": str(t2_only_model), "auto": False}
    assert read_image(tmp_path / "o" / "probability.nii.gz", role="probability").same_grid(read_image(t2))
    assert main(["predict", "--model", str(t2_only_model), "--out", str(tmp_path / "o2")]) != 0
    assert "give the images" in capsys.readouterr().err


def test_cli_predict_without_model_picks_the_bundled_model_for_the_images(tmp_path, capsys) -> None:
    from LesionSegLogic.zoo import list_cards

    cards = list_cards()
    if pick_model(cards, {"flair", "t2"}, "brain") is None:
        pytest.skip("no bundled brain FLAIR + T2 model in this checkout")
    rng = np.random.default_rng(0)
    images = {name: write_image(Image((100 + 5 * rng.standard_normal((32, 48, 48))).astype(np.float32),
                                      (1.5, 1.5, 1.5)), tmp_path / "c" / f"{name}.nii.gz") for name in ("flair", "t2")}
    code = main(["predict", "--flair", str(images["flair"]), "--t2", str(images["t2"]), "--anatomy", "brain",
                 "--out", str(tmp_path / "o"), "--no-progress", "--device", "cpu"])
    err = capsys.readouterr().err
    expected = pick_model(cards, {"flair", "t2"}, "brain", "given")
    assert code == 0 and f"auto-picked model {expected.name}" in err
    summary = json.loads((tmp_path / "o" / "summary.json").read_text())
    assert summary["model_choice"]["model"] == expected.name == summary["model"]["name"]
    assert summary["model_choice"]["reason"] == expected.reason


# lesionseg models -----------------------------------------------------------------------------------------------
def test_models_groups_the_zoo_by_set(tmp_path: Path, t2_only_model: Path, capsys) -> None:
    save_model(_tiny(("flair",)), _card("flair_tiny", inputs=("flair",), f1=0.4,
                                        architecture_params=TINY),
               tmp_path / "zoo" / "flair_tiny")
    assert main(["models", "--zoo", str(tmp_path / "zoo")]) == 0
    lines = capsys.readouterr().out.splitlines()
    flair_head = next(i for i, ln in enumerate(lines) if ln.startswith(get_set("brain_flair").title))
    cord_head = next(i for i, ln in enumerate(lines) if ln.startswith(get_set("cord").title))
    row = next(i for i, ln in enumerate(lines) if ln.startswith("cord_tiny"))
    assert flair_head < cord_head < row
    assert lines[row].split()[1:4] == ["lesions", "cord", "t2"]
    assert "recommended for spinal cord, T2-w: cord_tiny" in lines
    assert main(["models", "--zoo", str(tmp_path / "zoo"), "--json"]) == 0
    cards = {c["name"]: c for c in json.loads(capsys.readouterr().out)}
    assert cards["cord_tiny"]["task"] == "lesions" and cards["cord_tiny"]["inputs"] == ["t2"]


# the finaliser --------------------------------------------------------------------------------------------------
def _case(folder: Path, seed: int) -> None:
    rng = np.random.default_rng(seed)
    shape = (24, 32, 32)
    z, y, x = np.indices(shape)
    head = ((z - 12) / 10) ** 2 + ((y - 16) / 14) ** 2 + ((x - 16) / 14) ** 2 <= 1
    lesion = ((z - 12) ** 2 + (y - 14 - seed % 3) ** 2 + (x - 16) ** 2) <= 9
    for name, bright in (("flair", 300.0), ("t2", 250.0)):
        a = np.where(head, 100 + 5 * rng.standard_normal(shape), 1.0).astype(np.float32)
        a[lesion] = bright
        write_image(Image(a, (1.5, 1.5, 1.5)), folder / f"{name}.nii.gz")
    write_image(Image(lesion.astype(np.uint8), (1.5, 1.5, 1.5)), folder / "lesions.nii.gz")
    (folder / "phantom.json").write_text("{}")


@pytest.fixture()
def handoff(tmp_path: Path) -> dict[str, Path]:
    for split, seeds in (("pool", (1, 2, 3)), ("test", (7, 8))):
        for seed in seeds:
            _case(tmp_path / "data" / "brain" / split / f"case{seed}", seed)
    run = tmp_path / "runs" / "brain" / "dice"
    run.mkdir(parents=True)
    model = _tiny(("flair", "t2"))
    save_file({k: (v.half() if v.is_floating_point() else v).contiguous() for k, v in model.state_dict().items()},
              str(run / "model.safetensors"))
    run.joinpath("train.json").write_text(json.dumps({
        "set": "brain", "task": "lesions", "anatomy": "brain", "inputs": ["flair", "t2"], "loss": "dice",
        "config": {"architecture": "unet3d", "model_params": {"features": [4, 8], "norm": "batch"},
                   "patch_size": [16, 16, 16], "seed": 0},
        "iterations": 3, "best_val_loss": 0.9, "device": "cpu (test)", "wall_s": 1.5, "commit": "abc123",
        "weights_dtype": "float16", "data": {"preset": "train", "seeds": [1, 2, 3], "train": ["case1"],
                                             "validation": ["case2"]},
    }))
    return {"runs": tmp_path / "runs", "data": tmp_path / "data", "models": tmp_path / "models",
            "work": tmp_path / "work", "docs": tmp_path / "docs" / "zoo.md"}


def test_finaliser_measures_a_handed_over_run_and_documents_it(handoff: dict[str, Path], capsys) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    import finalise_zoo

    job = (str(handoff["runs"] / "brain" / "dice"), str(handoff["data"]), str(handoff["work"]),
           str(handoff["models"]), 2)
    facts = finalise_zoo.finalise_run(job)
    assert "error" not in facts, facts
    card = ModelCard.from_json(handoff["models"] / "dice" / CARD_FILE)
    assert card.task == "lesions" and card.format_version == 2 and set_of(card).name == "brain"
    assert card.training["commit"] == "abc123" and card.training["iterations"] == 3
    assert card.training["wall_seconds"] == 1.5 and card.training["weights_dtype"] == "float16"
    assert card.target_spacing == (1.5, 1.5, 1.5)  # the training pool's grid: held-out images are resampled onto it
    validation = card.validation
    assert validation["subjects"] == {"threshold": ["case3"], "test": ["case7", "case8"]}  # not trained on
    assert validation["rule"] == "anima" and validation["at_recommended"]["threshold"] == card.recommended_threshold
    assert card.recommended_threshold in validation["threshold_curve"]["thresholds"]
    foreground = sum(b["count"] for b in card.calibration["bins"])
    assert foreground == card.calibration["n_voxels"] > 0 and 0 <= card.calibration["ece"] <= 1
    load_model(handoff["models"] / "dice")
    measured = (handoff["work"] / "dice" / "measured.json").stat().st_mtime_ns
    assert "error" not in finalise_zoo.finalise_run(job)  # resumable: the same weights are not measured again
    assert (handoff["work"] / "dice" / "measured.json").stat().st_mtime_ns == measured
    finalise_zoo.write_docs(handoff["models"], handoff["docs"], "RUNS", "DATA")
    text = handoff["docs"].read_text()
    row = next(ln for ln in text.splitlines() if ln.startswith("| dice |"))
    dice = validation["at_recommended"]["mean"]["voxel_dice"]
    assert f"{dice:.3f}" in row and f"{card.calibration['ece']:.3f}" in row  # read from the card
    assert "--set brain" in text and "abc123" in text
    assert (handoff["docs"].parent / "zoo_reliability_brain.png").is_file()


def test_threshold_subjects_are_never_trained_on() -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from finalise_zoo import threshold_subjects

    pool = [Path(f"p{i}") for i in range(6)]
    left, how = threshold_subjects({"data": {"subjects": {"train": ["p0", "p1", "p2"], "validation": ["p3"]}}}, pool, 2)
    assert [p.name for p in left] == ["p4", "p5"] and "neither trained" in how
    everything = {"data": {"subjects": {"train": ["p0", "p1", "p2", "p3"], "validation": ["p4", "p5"]}}}
    chosen, how = threshold_subjects(everything, pool, 2)
    assert [p.name for p in chosen] == ["p4", "p5"] and "validation subjects" in how
    assert [p.name for p in threshold_subjects({}, pool, 2)[0]] == ["p4", "p5"]


def test_thresholds_come_from_the_tune_set_when_there_is_one_and_pool_is_a_choice(tmp_path: Path) -> None:
    sys.path.insert(0, str(ROOT / "scripts"))
    from finalise_zoo import choose_subjects

    for split, names in (("pool", ("p0", "p1", "p2")), ("tune", ("t0", "t1"))):
        for name in names:
            (tmp_path / split / name).mkdir(parents=True)
            (tmp_path / split / name / "phantom.json").write_text("{}")
    (tmp_path / "tune" / "not-a-case").mkdir()  # no phantom.json: not a subject
    info = {"data": {"train": ["p0"], "validation": ["p1"]}}
    tune, how = choose_subjects(info, tmp_path, "tune", 2)
    assert [p.name for p in tune] == ["t0", "t1"] and "`tune`" in how
    pool, how = choose_subjects(info, tmp_path, "pool", 2)  # --threshold-split pool: the old rule
    assert [p.name for p in pool] == ["p2"] and "neither trained" in how
    for case in (tmp_path / "tune").iterdir():
        (case / "phantom.json").unlink(missing_ok=True)
    assert [p.name for p in choose_subjects(info, tmp_path, "tune", 2)[0]] == ["p2"]  # no tune set: the pool rule


def test_pick_for_images_reads_the_anatomy_and_names_what_no_model_takes(tmp_path, t2_only_model) -> None:
    from LesionSegLogic.zoo.autopick import image_anatomy, pick_for_images

    t2 = write_image(_cord_image(), tmp_path / "case" / "t2.nii.gz")
    zoo = [t2_only_model.parent]
    pick = pick_for_images({"flair": None, "t2": t2, "baseline": None}, "cord", extra=zoo)
    assert pick.name == "cord_tiny" and "cord (given)" in pick.reason
    assert image_anatomy({"t2": t2}) == (None, "the field of view does not say")  # 9.6 mm S-I: not a cord
    with pytest.raises(InputError, match="no bundled model takes the images given \\(baseline\\)"):
        pick_for_images({"baseline": t2}, "cord", extra=zoo)


def test_the_bundled_v2_zoo_covers_the_four_sets_within_50_mb() -> None:
    from LesionSegLogic.zoo import list_models

    entries = [e for e in list_models() if e.card is not None and e.card.format_version >= 2]
    if not entries:
        pytest.skip("the bundled zoo is still v1 in this checkout")
    assert {s.name for e in entries if (s := set_of(e.card)) is not None} == set(SET_NAMES)
    folder = entries[0].folder.parent
    assert sum(p.stat().st_size for p in folder.rglob("*") if p.is_file()) <= 50_000_000


def test_a_prediction_counts_lesions_under_the_rule_its_card_was_measured_with() -> None:
    cord = ModelCard(name="c", architecture="unet3d", inputs=("t2",), patch_size=(16, 16, 16), anatomy="cord",
                     validation={"at_recommended": {"rule": "hussein", "mean": {}}})
    assert PredictSettings().resolved(cord)["rule"] == "hussein"
    assert PredictSettings(rule="anima").resolved(cord)["rule"] == "anima"  # the user's word wins
    assert PredictSettings().resolved(_card())["rule"] == "anima"  # no rule on the card: the default


def test_the_grid_is_chosen_on_the_tune_subjects_and_recorded() -> None:
    from LesionSegLogic.errors import ModelFileError
    from LesionSegLogic.zoo.grid_choice import NATIVE, TRAINING, choose_grid, tune_score

    training = ModelCard.from_json(ROOT / "Resources" / "Models" / "cord_dice" / CARD_FILE)
    curve = training.validation["threshold_curve"]

    def native_with(score_shift: float) -> ModelCard:
        scores = [s + score_shift for s in curve["median_voxel_f1"]]
        return training.with_updates(target_spacing=None, validation={
            **training.validation, "threshold_curve": {**curve, "median_voxel_f1": scores}})

    better = choose_grid(training, native_with(0.05))
    assert better.grid == NATIVE and better.card.target_spacing is None
    assert better.scores[NATIVE] == pytest.approx(tune_score(training) + 0.05)
    record = better.card.validation["grid"]
    assert record["chosen"] == NATIVE and record["training_target_spacing"] == list(training.target_spacing)
    assert choose_grid(training, native_with(0.0)).grid == TRAINING  # a tie keeps the training grid
    worse = choose_grid(training, native_with(-0.05))
    assert worse.grid == TRAINING and worse.card.target_spacing == training.target_spacing
    with pytest.raises(ModelFileError, match="different weights"):
        choose_grid(training, native_with(0.05).with_updates(weights_sha256="0" * 64))
