"""Predictor and ``lesionseg predict`` / ``lesionseg models``: outputs, geometry, cohorts, cancel."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import torch
from image_builders import noisy_head, rotation_zx
from torch import nn

from LesionSegLogic.cli import main
from LesionSegLogic.errors import Cancelled, InputError
from LesionSegLogic.image import Image
from LesionSegLogic.inference import CancelToken
from LesionSegLogic.io import read_image, write_image
from LesionSegLogic.predictor import OUTPUT_FILES, Predictor, PredictSettings
from LesionSegLogic.zoo import ModelCard


class Bright(nn.Module):
    """Logit = 4·(x − 2): probability ≈ 1 only where the normalised FLAIR is far above the brain's mean."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 4.0 * (x[:, :1] - 2.0)


def _head(shape=(28, 36, 32), blob=(14, 20, 12), seed=0) -> np.ndarray:
    bz, by, bx = blob
    bright = np.s_[bz - 3 : bz + 3, by - 3 : by + 3, bx - 3 : bx + 3]
    return noisy_head(shape, (11, 15, 13), bright, seed).astype(np.float32)


def _card(**kw) -> ModelCard:
    base = dict(
        name="bright",
        architecture="custom",
        inputs=("flair",),
        patch_size=(16, 16, 16),
        recommended_threshold=0.5,
        weights_sha256="0" * 64,
    )
    base.update(kw)
    return ModelCard(**base)


@pytest.fixture()
def oblique_flair(tmp_path: Path) -> Path:
    image = Image(_head(), spacing=(1.2, 1.0, 0.9), origin=(10.0, -20.0, 5.0), direction=rotation_zx(20, -15))
    return write_image(image, tmp_path / "in" / "flair.nii.gz")


@pytest.mark.parametrize("target_spacing", [None, (2.0, 1.5, 1.5)])
def test_probability_overlays_an_oblique_input(tmp_path: Path, oblique_flair: Path, target_spacing) -> None:
    predictor = Predictor(Bright(), _card(target_spacing=target_spacing), PredictSettings(device="cpu"))
    result = predictor.run({"flair": oblique_flair}, tmp_path / "out")
    for name in OUTPUT_FILES:
        assert (tmp_path / "out" / name).is_file()
    flair = read_image(oblique_flair)
    prob = read_image(tmp_path / "out" / "probability.nii.gz", role="probability")
    mask = read_image(tmp_path / "out" / "mask.nii.gz", role="mask")
    assert prob.same_grid(flair) and mask.same_grid(flair)
    np.testing.assert_allclose(
        nib.load(tmp_path / "out" / "probability.nii.gz").affine, nib.load(oblique_flair).affine, atol=1e-4
    )
    assert nib.load(tmp_path / "out" / "probability.nii.gz").get_data_dtype() == np.float32
    # the blob is where the input has it
    blob = flair.array >= 399
    core = np.zeros_like(blob)
    core[12:16, 18:22, 10:14] = True
    assert prob.array[core].min() > 0.9 and prob.array[~blob].mean() < 0.05
    assert np.array_equal(mask.array.astype(bool), prob.array >= 0.5)
    # one lesion, centroid at the blob's, in voxels and in RAS mm (the one CSV convention: LPS with x, y negated)
    rows = list(csv.DictReader((tmp_path / "out" / "lesions.csv").open()))
    assert len(rows) == 1 == len(result.lesions)
    centroid_zyx = np.argwhere(blob).mean(0)
    ijk = np.array([float(rows[0][k]) for k in ("centroid_i", "centroid_j", "centroid_k")])
    np.testing.assert_allclose(ijk, centroid_zyx[::-1], atol=0.6 if target_spacing else 0.05)
    ras = np.array([float(rows[0][f"centroid_ras_{a}"]) for a in "xyz"])
    np.testing.assert_allclose(ras, flair.index_to_physical(ijk[::-1])[0] * [-1, -1, 1], atol=1e-3)
    assert float(rows[0]["volume_mm3"]) == pytest.approx(int(mask.array.sum()) * flair.voxel_volume)
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["model"]["name"] == "bright" and summary["device"] == "cpu"
    assert summary["settings"]["threshold"] == 0.5 and summary["settings"]["fusion"] == "gaussian"
    assert summary["grid"]["input_shape_zyx"] == list(flair.shape)
    assert {"preprocess", "predict", "export", "total"} <= set(summary["timings_s"])


def test_threshold_override_and_t2_on_another_grid(tmp_path: Path, oblique_flair: Path) -> None:
    flair = read_image(oblique_flair)
    t2 = Image(
        _head(shape=(20, 30, 30), blob=(10, 15, 10), seed=1),
        spacing=(1.5, 1.2, 1.0),
        origin=flair.origin,
        direction=flair.direction,
    )
    t2_path = write_image(t2, tmp_path / "in" / "t2.nii.gz")
    card = _card(inputs=("flair", "t2"))
    predictor = Predictor(Bright(), card, PredictSettings(device="cpu", threshold=0.9))
    result = predictor.run({"flair": oblique_flair, "t2": t2_path}, None)
    assert result.summary["settings"]["threshold"] == 0.9
    assert result.summary["settings"]["threshold_source"] == "user"
    assert np.array_equal(result.mask.array.astype(bool), result.probability.array >= 0.9)
    with pytest.raises(InputError, match="missing: t2"):
        predictor.run({"flair": oblique_flair}, None)


def test_cancel_leaves_no_files(tmp_path: Path, oblique_flair: Path) -> None:
    token = CancelToken()
    token.cancel()
    predictor = Predictor(Bright(), _card(), PredictSettings(device="cpu"))
    with pytest.raises(Cancelled):
        predictor.run({"flair": oblique_flair}, tmp_path / "out", cancel=token)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_outputs_never_replace_an_input(tmp_path: Path) -> None:
    flair_path = write_image(Image(_head()), tmp_path / "probability.nii.gz")
    predictor = Predictor(Bright(), _card(), PredictSettings(device="cpu"))
    before = flair_path.read_bytes()
    with pytest.raises(Exception, match="overwrite"):
        predictor.run({"flair": flair_path}, tmp_path)
    assert flair_path.read_bytes() == before
    assert not (tmp_path / "summary.json").exists()


# CLI -------------------------------------------------------------------------------------------------
def test_cli_single_case(tmp_path: Path, tiny_model: Path, oblique_flair: Path, capsys) -> None:
    code = main(
        [
            "predict",
            "--model",
            str(tiny_model),
            "--flair",
            str(oblique_flair),
            "--out",
            str(tmp_path / "out"),
            "--device",
            "cpu",
            "--fusion",
            "bspline",
            "--tta",
            "flip",
            "--overlap",
            "0.25",
            "--no-progress",
        ]
    )
    assert code == 0
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["settings"]["fusion"] == "bspline" and summary["settings"]["tta"] == "flip"
    assert summary["settings"]["threshold"] == 0.4 and summary["model"]["name"] == "tiny"
    assert read_image(tmp_path / "out" / "probability.nii.gz", role="probability").same_grid(
        read_image(oblique_flair)
    )
    assert "lesion(s)" in capsys.readouterr().out


def test_cli_bad_model_is_one_line_error(tmp_path: Path, oblique_flair: Path, capsys) -> None:
    code = main(
        ["predict", "--model", "no_such_model", "--flair", str(oblique_flair), "--out", str(tmp_path / "o")]
    )
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert "unknown model 'no_such_model'" in err and len(err.splitlines()) == 1


def _cohort(root: Path) -> None:
    for i in range(3):
        write_image(Image(_head(seed=i)), root / f"case{i}" / "flair.nii.gz")
    (root / "case9").mkdir()
    (root / "case9" / "flair.nii.gz").write_bytes(b"\x1f\x8b not really gzip")


def _cohort_args(model: Path, tmp_path: Path) -> list[str]:
    """``lesionseg predict`` over the cohort ``tmp_path/cases`` into ``tmp_path/out`` on the CPU, quietly."""
    cases, out = str(tmp_path / "cases"), str(tmp_path / "out")
    return ["predict", "--model", str(model), "--cases", cases, "--out", out, "--device", "cpu", "--no-progress"]


def test_cli_cohort_skips_done_and_survives_a_bad_case(tmp_path: Path, tiny_model: Path, capsys) -> None:
    _cohort(tmp_path / "cases")
    args = _cohort_args(tiny_model, tmp_path)
    assert main(args) == 1
    out = capsys.readouterr()
    assert "3 predicted, 0 already done, 1 failed" in out.out and "case9" in out.err
    for i in range(3):
        assert all((tmp_path / "out" / f"case{i}" / n).is_file() for n in OUTPUT_FILES)
    assert not (tmp_path / "out" / "case9").exists() or not any((tmp_path / "out" / "case9").iterdir())
    assert main(args) == 1
    assert "0 predicted, 3 already done, 1 failed" in capsys.readouterr().out


def test_cli_cohort_shards_by_rank(tmp_path: Path, tiny_model: Path, monkeypatch, capsys) -> None:
    for i in range(5):
        write_image(Image(_head(seed=i)), tmp_path / "cases" / f"c{i}" / "flair.nii.gz")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "2")
    assert main(_cohort_args(tiny_model, tmp_path)) == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["c1", "c3"]


def test_cli_models_lists_zoo_and_handles_empty(tmp_path: Path, tiny_model: Path, capsys) -> None:
    assert main(["models", "--zoo", str(tiny_model.parent)]) == 0
    out = capsys.readouterr().out
    line = next(ln for ln in out.splitlines() if ln.startswith("tiny"))
    assert "dice" in line and "unet3d" in line and "flair" in line and "0.40" in line
    empty = tmp_path / "empty"
    empty.mkdir()
    from LesionSegLogic.zoo import list_models

    if not list_models():  # no bundled zoo in this checkout yet
        assert main(["models"]) == 0
        assert "no bundled models" in capsys.readouterr().out


# no silent wrong answers -------------------------------------------------------------------------------------
def test_an_image_the_model_does_not_take_is_refused_or_dropped_on_request(tmp_path: Path, oblique_flair) -> None:
    baseline = write_image(read_image(oblique_flair), tmp_path / "in" / "baseline_flair.nii.gz")
    refusing = Predictor(Bright(), _card(), PredictSettings(device="cpu"))
    with pytest.raises(InputError) as info:
        refusing.run({"flair": oblique_flair, "baseline": baseline}, tmp_path / "refused")
    assert str(baseline) in str(info.value) and "'bright'" in str(info.value) and "baseline" in str(info.value)
    assert not (tmp_path / "refused").exists()
    dropping = Predictor(Bright(), _card(), PredictSettings(device="cpu", ignore_extra_inputs=True))
    result = dropping.run({"flair": oblique_flair, "baseline": baseline}, tmp_path / "out")
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert "baseline" not in summary["inputs"] and summary["ignored_inputs"] == {"baseline": str(baseline)}
    assert any("ignored the baseline image" in w for w in summary["warnings"])
    assert result.warnings == summary["warnings"]
    with pytest.raises(InputError, match="missing: t2"):  # a FLAIR+T2 model without T2: an error, not a guess
        Predictor(Bright(), _card(inputs=("flair", "t2")), PredictSettings(device="cpu")).preprocess(
            {"flair": oblique_flair})


def test_summary_records_the_rule_lesions_are_counted_with(tmp_path: Path, oblique_flair: Path) -> None:
    from LesionSegLogic.defaults import DEFAULT_RULE

    default = Predictor(Bright(), _card(), PredictSettings(device="cpu")).run({"flair": oblique_flair})
    assert default.summary["settings"]["rule"] == DEFAULT_RULE
    settings = PredictSettings(device="cpu", rule="any-overlap")
    chosen = Predictor(Bright(), _card(), settings).run({"flair": oblique_flair})
    assert chosen.summary["settings"]["rule"] == "any-overlap"
    with pytest.raises(InputError, match="matching rule"):
        Predictor(Bright(), _card(), PredictSettings(rule="nearest"))


@pytest.fixture(scope="module")
def phantoms(brain_phantom, cord_phantom) -> dict[str, Path]:
    """The session's cord phantom and brain crop (like the zoo's training data) folders (conftest.py)."""
    return {"cord": cord_phantom.folder, "brain": brain_phantom.folder}


def _zoo_brain_model() -> str:
    from LesionSegLogic.defaults import recommended_model
    from LesionSegLogic.zoo import list_models

    best = recommended_model([e.card for e in list_models() if e.card], {"flair", "t2"}, "brain")
    assert best is not None, "the bundled zoo has no brain FLAIR + T2 model"
    return best.name


@pytest.mark.parametrize("anatomy", ["cord", "brain"])
def test_cli_warns_when_a_brain_model_meets_a_cord(tmp_path: Path, phantoms, anatomy: str, capsys) -> None:
    case = phantoms[anatomy]
    code = main(["predict", "--model", _zoo_brain_model(), "--flair", str(case / "flair.nii.gz"), "--t2",
                 str(case / "t2.nii.gz"), "--out", str(tmp_path / "out"), "--device", "cpu", "--no-progress"])
    assert code == 0
    err = [ln for ln in capsys.readouterr().err.splitlines() if "warning" in ln]
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    if anatomy == "cord":
        assert len(err) == 1 and "trained on brain images" in err[0] and "spinal cord" in err[0]
        assert len(summary["warnings"]) == 1 and summary["warnings"][0] in err[0]
    else:
        assert err == [] and summary["warnings"] == []
    assert summary["model"]["anatomy"] == "brain"


def test_the_users_anatomy_overrides_the_guess(phantoms) -> None:
    flair = phantoms["brain"] / "flair.nii.gz"
    said_cord = Predictor(Bright(), _card(), PredictSettings(device="cpu", anatomy="cord")).preprocess({"flair": flair})
    assert len(said_cord.warnings) == 1 and "--anatomy cord" in said_cord.warnings[0]
    cord_model = _card(anatomy="cord")
    on_cord = Predictor(Bright(), cord_model, PredictSettings(device="cpu")).preprocess(
        {"flair": phantoms["cord"] / "flair.nii.gz"})
    assert on_cord.warnings == []
    said_brain = Predictor(Bright(), cord_model, PredictSettings(device="cpu", anatomy="brain")).preprocess(
        {"flair": phantoms["cord"] / "flair.nii.gz"})
    assert "trained on spinal cord images" in said_brain.warnings[0]


def test_cli_baseline_for_a_cross_sectional_model(tmp_path: Path, tiny_model: Path, oblique_flair: Path,
                                                   capsys) -> None:
    args = ["predict", "--model", str(tiny_model), "--flair", str(oblique_flair), "--baseline", str(oblique_flair),
            "--out", str(tmp_path / "out"), "--device", "cpu", "--no-progress"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "'tiny'" in err and "baseline" in err and "--ignore-extra-inputs" in err
    assert not (tmp_path / "out" / "summary.json").exists()
    assert main([*args, "--ignore-extra-inputs"]) == 0
    assert "warning: ignored the baseline image" in capsys.readouterr().err
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert set(summary["inputs"]) == {"flair"} and set(summary["ignored_inputs"]) == {"baseline"}


def test_cli_cohort_reads_only_the_images_the_model_takes(tmp_path: Path, tiny_model: Path, capsys) -> None:
    """A longitudinal case folder given to a FLAIR-only model: its baseline is not an input (the user named no
    file), and summary.json says which images were used."""
    case = tmp_path / "cases" / "long0"
    write_image(Image(_head(seed=3)), case / "flair.nii.gz")
    write_image(Image(_head(seed=4)), case / "baseline_flair.nii.gz")
    assert main(["predict", "--model", str(tiny_model), "--cases", str(case), "--out", str(tmp_path / "out"),
                 "--device", "cpu", "--no-progress"]) == 0
    summary = json.loads((tmp_path / "out" / "long0" / "summary.json").read_text())
    assert set(summary["inputs"]) == {"flair"} and summary["ignored_inputs"] == {}
    with pytest.raises(InputError, match="anatomy must be one of"):
        Predictor(Bright(), _card(), PredictSettings(anatomy="knee"))
