"""``lesionseg study`` refuses a bad study before any training, with one line naming the file and the problem."""

from __future__ import annotations

import json

import pytest
from study_cases import make_study_data, tiny_config
from training_cases import write_volume

from LesionSegLogic.cli import main
from LesionSegLogic.errors import ConfigError, LesionSegError
from LesionSegLogic.study import read_config, run_study, validate
from LesionSegLogic.study.config import config_from_dict, merged
from LesionSegLogic.study.data import Subjects, make_folds
from LesionSegLogic.study.presets import PRESETS, preset_dict
from LesionSegLogic.study.stats import holm, summarise
from LesionSegLogic.training.data import Case


def _write(tmp_path, raw, name="study.json"):
    path = tmp_path / name
    path.write_text(json.dumps(raw))
    return path


def _cli_error(capsys, argv) -> str:
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    return err


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"losses": [{"name": "dice"}, {"name": "no_such_loss"}]}, "unknown loss 'no_such_loss'"),
        ({"losses": [{"name": "tversky", "params": {"gamma_typo": 1}}]}, "loss tversky: bad parameters"),
        ({"splits": {"folds": 5}}, "impossible split"),
        ({"splits": {"threshold": 0}}, "impossible split: 'threshold'"),
        ({"thresholds": {"values": []}}, "threshold grid is empty"),
        ({"thresholds": {"step": 0}}, "threshold grid is empty"),
        ({"objective": "accuracy"}, "unknown objective 'accuracy'"),
        ({"rule": "nearest"}, "unknown matching rule 'nearest'"),
        ({"training": {"seed": 3}}, "'training' may not set seed"),
        ({"seeds": [0, 0]}, "repeats a seed"),
    ],
)
def test_bad_config_is_one_line_before_training(tmp_path, capsys, change, expected):
    path = _write(tmp_path, merged(preset_dict("tiny"), change))
    out = tmp_path / "out"
    err = _cli_error(capsys, ["study", str(path), "--out", str(out)])
    assert expected in err and str(path) in err
    assert not out.exists()  # nothing trained, nothing written


def test_data_folder_without_references_is_refused_before_training(tmp_path, capsys):
    data = tmp_path / "data"
    for i in range(3):
        (data / f"c{i}").mkdir(parents=True)
        write_volume(data / f"c{i}" / "flair.nii.gz", __import__("numpy").ones((4, 4, 4), "float32"))
        write_volume(data / f"c{i}" / "t2.nii.gz", __import__("numpy").ones((4, 4, 4), "float32"))
    path = _write(tmp_path, {**preset_dict("tiny"), "data": {"folder": str(data)}})
    err = _cli_error(capsys, ["study", str(path), "--out", str(tmp_path / "out")])
    assert "no reference mask" in err and "c0" in err
    assert not (tmp_path / "out" / "runs").exists()


def test_too_few_subjects_in_a_folder_is_an_impossible_split(tmp_path):
    data = make_study_data(tmp_path / "data", n_lesion=3, n_free=1)
    config = validate(tiny_config(data, splits={"train": 2}))  # needs 2 + 1 + 1 + 1 = 5 subjects with lesions
    with pytest.raises(ConfigError, match="impossible split: 3 subject"):
        run_study(config, tmp_path / "out", progress=False)
    assert not (tmp_path / "out" / "runs").exists()


def test_presets_are_valid_and_toml_lays_over_a_preset(tmp_path):
    assert {"tiny", "quick", "paper"} <= set(PRESETS)
    for name in PRESETS:
        validate(read_config(preset=name))
    quick = read_config(preset="quick")
    assert len(quick.losses) == 4 and len(quick.seeds) == 2  # issue 14: 4 losses x 2 seeds
    path = tmp_path / "override.toml"
    path.write_text('seeds = [5]\n[training]\nmax_epochs = 3\n[[losses]]\nname = "dice"\nlabel = "dice_a"\n')
    config = validate(read_config(path, "quick"))
    assert config.seeds == (5,) and config.training["max_epochs"] == 3
    assert config.training["patch_size"] == [24, 24, 24]  # kept from the preset
    assert config.loss_keys() == ["dice_a"] and config.source == str(path)
    with pytest.raises(LesionSegError, match="unknown key"):
        config_from_dict({"loss": ["dice"]})


def _cases(prefix, n):
    return tuple(Case(f"{prefix}{i:02d}", (), None) for i in range(n))  # type: ignore[arg-type]


def test_folds_are_subject_level_with_a_fixed_unseen_set():
    subjects = Subjects(_cases("sub", 12), _cases("ctl", 4))
    config = config_from_dict({"splits": {"train": 5, "validation": 1, "threshold": 2, "test": 4, "folds": 4}})
    folds = make_folds(subjects, config.splits, (2, 2))
    assert len(folds) == 4
    for f in folds:
        names = f.names()
        everyone = sum(names.values(), [])
        assert len(everyone) == len(set(everyone))  # disjoint sets
        assert names["test"] == folds[0].names()["test"]  # the unseen set never changes
        assert all(not n.startswith("ctl") for n in names["train"] + names["validation"])
        assert sum(n.startswith("ctl") for n in names["threshold"]) == 2
        assert names["validation"] and [n for n in names["threshold"] if n.startswith("sub")]
    held = [n for f in folds for n in f.names()["validation"] + f.names()["threshold"] if n.startswith("sub")]
    assert len(held) == len(set(held)) == 8  # every development subject held out exactly once


def test_holm_matches_its_definition_and_summary_skips_undefined():
    p = [0.01, 0.04, 0.03, 0.2]
    adjusted = holm(p)
    order = sorted(range(4), key=lambda i: p[i])
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (4 - rank) * p[i]))
        assert adjusted[i] == pytest.approx(running)
    assert adjusted[0] == pytest.approx(0.04) and adjusted[3] == pytest.approx(0.2)
    s = summarise([1.0, None, 3.0, float("nan"), 2.0])
    assert (s.median, s.mean, s.n) == (2.0, 2.0, 3) and s.std == pytest.approx(1.0)
    assert s.text(1) == "2.0 (2.0 ± 1.0)" and summarise([None]).text() == "–"
