"""nnU-Net v2 model folders: LesionSeg's probability equals nnU-Net's own; unsafe or inconsistent folders refused.

The folder is written through nnunetv2's API with untrained weights (``nnunet_folder_fixture``); the reference is
nnU-Net's own predictor loaded by its own loader (``initialize_from_trained_model_folder``, which unpickles with
``weights_only=False`` — acceptable here only because the test just wrote the file) reading the files with its
own ``SimpleITKIO``. The heavy test plans, preprocesses and trains with nnU-Net's own tools and compares with
``nnUNetv2_predict_from_modelfolder --save_probabilities``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("nnunetv2")

import nnunet_folder_fixture as fx
import torch

from LesionSegLogic.cli import main
from LesionSegLogic.errors import FileMissingError, ModelFileError
from LesionSegLogic.external import model_kind
from LesionSegLogic.external.nnunet import load_nnunet
from LesionSegLogic.external.nnunet_folder import NnUNetFolder
from LesionSegLogic.image import Image
from LesionSegLogic.io import read_image, write_image


def _case(root: Path, seed: int = 0) -> dict[str, Path]:
    flair, t2 = fx.head_arrays(seed)
    direction = np.array([[1.0, 0, 0], [0, 0.8, -0.6], [0, 0.6, 0.8]])
    out = {}
    for name, array in (("flair", flair), ("t2", t2)):
        image = Image(array, fx.CASE_SPACING, fx.CASE_ORIGIN, direction)
        out[name] = write_image(image, root / f"{name}.nii.gz")
    return out


def _nnunet_reference(folder: Path, images: dict[str, Path], mirroring: bool = False) -> np.ndarray:
    """nnU-Net's own loader, reader and predictor: the lesion channel of its probabilities."""
    from nnunetv2.imageio.simpleitk_reader_writer import SimpleITKIO
    from nnunetv2.inference.predict_from_raw_data import nnUNetPredictor

    predictor = nnUNetPredictor(tile_step_size=0.5, use_gaussian=True, use_mirroring=mirroring,
                                device=torch.device("cpu"), allow_tqdm=False)
    predictor.initialize_from_trained_model_folder(str(folder), ("0",), "checkpoint_final.pth")
    channel_files = [str(images[fx.CHANNELS[str(i)].lower()]) for i in range(len(fx.CHANNELS))]
    data, properties = SimpleITKIO().read_images(channel_files)
    _, probabilities = predictor.predict_single_npy_array(data, properties, None, None, True)
    return np.asarray(probabilities)[1]


@pytest.fixture(scope="module")
def model_folder(tmp_path_factory) -> Path:
    return fx.write_folder(tmp_path_factory.mktemp("nnunet"))


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> dict[str, Path]:
    return _case(tmp_path_factory.mktemp("case"))


def test_cli_probability_equals_nnunets_own(model_folder, case, tmp_path):
    assert model_kind(model_folder) == "nnunet"
    out = tmp_path / "out"
    code = main(["predict", "--model", str(model_folder), "--flair", str(case["flair"]), "--t2", str(case["t2"]),
                 "--out", str(out), "--device", "cpu", "--tta", "none", "--no-progress"])  # mirroring: 8× the time
    assert code == 0
    ours = read_image(out / "probability.nii.gz", role="probability")
    flair = read_image(case["flair"])
    assert ours.same_grid(flair)
    reference = _nnunet_reference(model_folder, case)
    assert reference.shape == ours.shape
    difference = float(np.abs(ours.array - reference).max())
    assert difference <= 1e-4, difference
    assert float(reference.max() - reference.min()) > 0.05  # the map is not flat: the comparison says something
    summary = json.loads((out / "summary.json").read_text())
    assert summary["model"]["inputs"] == ["t2", "flair"]
    assert summary["settings"]["tta"] == "none"


def test_mirroring_follows_tta(model_folder):
    from LesionSegLogic.external.predictors import load_nnunet_predictor
    from LesionSegLogic.predictor import PredictSettings

    default = load_nnunet_predictor(model_folder, PredictSettings(device="cpu"))
    assert default.config["tta"] == "flip"  # nnU-Net's default: mirroring over the trained axes
    model = default.nnunet
    assert model.predictor(torch.device("cpu"), 0.5, True).use_mirroring
    assert not model.predictor(torch.device("cpu"), 0.5, False).use_mirroring
    with pytest.raises(Exception, match="mirroring"):
        load_nnunet_predictor(model_folder, PredictSettings(device="cpu", tta="flip-rot"))


def test_channel_order_follows_dataset_json(model_folder, case):
    model = load_nnunet(model_folder)
    flair, t2 = read_image(case["flair"]), read_image(case["t2"])
    right = model.probability(np.stack([t2.array, flair.array]), flair.spacing, device=torch.device("cpu"),
                              mirroring=False)
    swapped = model.probability(np.stack([flair.array, t2.array]), flair.spacing, device=torch.device("cpu"),
                                mirroring=False)
    assert np.allclose(right, _nnunet_reference(model_folder, case), atol=1e-4)
    assert float(np.abs(right - swapped).max()) > 1e-3


class Boom:
    """A pickle payload: unpickling it would run ``touch`` (the weights-only unpickler must never call it)."""

    def __init__(self, target: Path) -> None:
        self.target = target

    def __reduce__(self):
        return (os.system, (f"touch {self.target}",))


def test_checkpoint_with_code_is_refused_and_never_run(tmp_path, case):
    pwned = tmp_path / "pwned"
    folder = fx.write_folder(tmp_path / "m", extra={"payload": Boom(pwned)})
    out = tmp_path / "out"
    with pytest.raises(ModelFileError, match=r"allow-list.*(system|posix)") as info:
        load_nnunet(folder)
    assert "checkpoint_final.pth" in str(info.value) and "nothing was run" in str(info.value)
    code = main(["predict", "--model", str(folder), "--flair", str(case["flair"]), "--t2", str(case["t2"]),
                 "--out", str(out), "--device", "cpu", "--no-progress"])
    assert code == 2 and not pwned.exists() and not out.exists()


def test_checkpoint_with_other_global_is_refused(tmp_path):
    import datetime

    folder = fx.write_folder(tmp_path, extra={"saved_at": datetime.datetime(2024, 1, 1)})
    with pytest.raises(ModelFileError, match="datetime"):
        load_nnunet(folder)


def test_missing_fold_is_named(model_folder):
    with pytest.raises(FileMissingError, match=r"fold_1.*missing fold"):
        load_nnunet(model_folder, folds=["0", "1"])


def test_best_checkpoint_missing_is_named(model_folder):
    with pytest.raises(FileMissingError, match="checkpoint_best.pth"):
        load_nnunet(model_folder, checkpoint="best")


def test_plans_dataset_channel_mismatch(tmp_path):
    folder = fx.write_folder(tmp_path)
    (folder / "dataset.json").write_text(json.dumps(fx.dataset(channels={"0": "FLAIR"})))
    with pytest.raises(ModelFileError, match=r"plans\.json: plans/dataset mismatch.*channels \['0', '1'\]"):
        load_nnunet(folder)


def test_checkpoint_trained_on_other_labels(tmp_path):
    folder = fx.write_folder(tmp_path)
    (folder / "dataset.json").write_text(json.dumps(fx.dataset(labels={"background": 0, "tumour": 1})))
    with pytest.raises(ModelFileError, match=r"checkpoint_final\.pth: plans/dataset mismatch.*labels"):
        load_nnunet(folder)


def test_plans_naming_foreign_code_is_refused(tmp_path):
    folder = fx.write_folder(tmp_path)
    plans = fx.plans()
    plans["configurations"]["3d_fullres"]["architecture"]["arch_kwargs"]["nonlin"] = "os.system"
    (folder / "plans.json").write_text(json.dumps(plans))
    with pytest.raises(ModelFileError, match=r"names class 'os\.system'"):
        load_nnunet(folder)


def test_several_labels_need_a_name(tmp_path):
    ds = fx.dataset(labels={"background": 0, "lesion": 1, "cord": 2})
    folder = NnUNetFolder.open(fx.write_folder(tmp_path, dataset_json=ds))
    with pytest.raises(ModelFileError, match=r"3? ?foreground labels \['cord', 'lesion'\].*--nnunet-label"):
        folder.choose_label(None)
    assert folder.choose_label("lesion") == "lesion"
    with pytest.raises(ModelFileError, match="no label 'edema'"):
        folder.choose_label("edema")


def test_unknown_channel_is_named(tmp_path):
    folder = fx.write_folder(tmp_path, dataset_json=fx.dataset(channels={"0": "FLAIR", "1": "PD"}))
    with pytest.raises(ModelFileError, match=r"channel 1 'PD'"):
        NnUNetFolder.open(folder)


def test_missing_channel_image_is_an_error(model_folder, case, tmp_path):
    code = main(["predict", "--model", str(model_folder), "--flair", str(case["flair"]), "--out", str(tmp_path / "o"),
                 "--device", "cpu", "--no-progress"])
    assert code == 2 and not (tmp_path / "o").exists()


@pytest.mark.heavy
def test_trained_folder_matches_nnunetv2_predict(tmp_path):
    """nnU-Net's own planning, preprocessing, a few training iterations and ``nnUNetv2_predict_from_modelfolder
    --save_probabilities``; LesionSeg's map of the same folder and case agrees within 1e-4."""
    cases, labels = [], []
    for i in range(5):
        images = _case(tmp_path / f"c{i}", seed=i)
        flair = read_image(images["flair"])
        labels.append(write_image(flair.with_array((flair.array > 250).astype(np.uint8)), tmp_path / f"l{i}.nii.gz"))
        cases.append(images)
    folder, env = fx.train_folder(tmp_path / "nnunet", cases, labels)
    reference = np.load(fx.nnunet_predict_probabilities(folder, cases[4], tmp_path, env))["probabilities"][1]
    ours = read_image(fx.lesionseg_predict(folder, cases[4], tmp_path / "ours", env), role="probability").array
    assert float(np.abs(ours - reference).max()) <= 1e-4
