"""ONNX: ``export_onnx`` writes a model + card that onnxruntime runs to torch's probability map (≤ 1e-4).

The quick tests export with the TorchScript exporter (a few seconds); the heavy one runs ``lesionseg export-onnx``
(the ``torch.export``-based exporter, the default) end to end.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("onnxruntime")  # (onnxscript: only the heavy test's torch.export-based exporter needs it)

import torch

from LesionSegLogic.cli import main
from LesionSegLogic.errors import ModelFileError, OutputError
from LesionSegLogic.external import model_kind
from LesionSegLogic.external.onnx_card import OnnxSpec, read_onnx_card
from LesionSegLogic.external.onnx_model import OnnxModule, load_onnx
from LesionSegLogic.image import Image
from LesionSegLogic.io import read_image, write_image
from LesionSegLogic.predictor import Predictor, PredictSettings
from LesionSegLogic.zoo import load_card, sha256_of

ZOO_MODEL = "dice"


@pytest.fixture(scope="module")
def exported(tmp_path_factory) -> Path:
    from LesionSegLogic.external.onnx_export import export_onnx

    return export_onnx(ZOO_MODEL, tmp_path_factory.mktemp("onnx") / "dice_onnx", dynamo=False).onnx_path.parent


@pytest.fixture(scope="module")
def case(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("case")
    rng = np.random.default_rng(3)
    shape = (36, 44, 40)
    z, y, x = np.indices(shape)
    head = ((z - 18) / 15) ** 2 + ((y - 22) / 19) ** 2 + ((x - 20) / 17) ** 2 <= 1
    images = {}
    for name, base in (("flair", 100.0), ("t2", 160.0)):
        a = np.where(head, base + 6 * rng.standard_normal(shape), 1.0).astype(np.float32)
        a[15:20, 18:24, 10:15] = 3.5 * base  # a bright lesion-like blob
        images[name] = write_image(Image(a, (1.5, 1.5, 1.5)), root / f"{name}.nii.gz")
    return images


def test_card_describes_the_onnx_file(exported):
    card, spec = read_onnx_card(exported / "card.json")
    zoo = load_card(ZOO_MODEL)
    assert card.weights_file == "model.onnx" and card.weights_sha256 == sha256_of(exported / "model.onnx")
    assert (card.inputs, card.patch_size, card.normalisation) == (zoo.inputs, zoo.patch_size, zoo.normalisation)
    assert card.recommended_threshold == zoo.recommended_threshold
    assert spec.output == "logits" and spec.export_check["max_abs_logit_difference"] <= 1e-4
    assert model_kind(exported) == "onnx" and model_kind(exported / "model.onnx") == "onnx"


def test_onnx_probability_equals_torch(exported, case, tmp_path):
    settings = PredictSettings(device="cpu")
    images = {"flair": case["flair"], "t2": case["t2"]}
    torch_map = Predictor.load(ZOO_MODEL, settings).run(images).probability.array
    assert main(["predict", "--model", str(exported / "model.onnx"), "--flair", str(case["flair"]), "--t2",
                 str(case["t2"]), "--out", str(tmp_path / "out"), "--device", "cpu", "--no-progress"]) == 0
    onnx_map = read_image(tmp_path / "out" / "probability.nii.gz", role="probability").array
    assert float(np.abs(onnx_map - torch_map).max()) <= 1e-4
    assert float(torch_map.max()) > 0.5  # the blob is found: the comparison is not between two empty maps
    summary = json.loads((tmp_path / "out" / "summary.json").read_text())
    assert summary["model"]["weights_sha256"] == sha256_of(exported / "model.onnx")


@pytest.mark.heavy
def test_cli_export_with_the_default_exporter_equals_torch(case, tmp_path):
    pytest.importorskip("onnxscript")  # here: importing it costs the default suite's collection a second or two
    out = tmp_path / "dice_onnx"
    assert main(["export-onnx", ZOO_MODEL, str(out)]) == 0
    assert read_onnx_card(out / "card.json")[1].export_check["exporter"] == "dynamo"
    images = {"flair": case["flair"], "t2": case["t2"]}
    torch_map = Predictor.load(ZOO_MODEL, PredictSettings(device="cpu")).run(images).probability.array
    onnx_map = Predictor.load(out, PredictSettings(device="cpu")).run(images).probability.array
    assert float(np.abs(onnx_map - torch_map).max()) <= 1e-4


def _copy_with_card(exported: Path, target: Path, **changes) -> Path:
    shutil.copytree(exported, target)
    data = json.loads((target / "card.json").read_text())
    data.update(changes)
    (target / "card.json").write_text(json.dumps(data))
    return target


def test_input_shape_not_matching_the_card_is_refused(exported, tmp_path):
    patch = ", ".join(str(n) for n in read_onnx_card(exported / "card.json")[0].patch_size)  # the exported model's
    folder = _copy_with_card(exported, tmp_path / "m", patch_size=[16, 16, 16])
    with pytest.raises(ModelFileError, match=rf"model\.onnx: input 'image' has shape .*{patch}.*patch \[16, 16"):
        load_onnx(folder)


def test_channel_count_not_matching_the_card_is_refused(exported, case, tmp_path):
    folder = _copy_with_card(exported, tmp_path / "m", inputs=["flair"])
    out = tmp_path / "out"
    code = main(["predict", "--model", str(folder), "--flair", str(case["flair"]), "--out", str(out),
                 "--device", "cpu", "--no-progress"])
    assert code == 2 and not out.exists()


def test_replaced_onnx_file_fails_its_sha256(exported, tmp_path):
    folder = _copy_with_card(exported, tmp_path / "m", weights_sha256="0" * 64)
    with pytest.raises(ModelFileError, match="sha256 mismatch"):
        load_onnx(folder)


def test_export_does_not_overwrite(exported):
    with pytest.raises(OutputError, match="already exists"):
        from LesionSegLogic.external.onnx_export import export_onnx

        export_onnx(ZOO_MODEL, exported)


class _Session:
    """A stand-in onnxruntime session that returns fixed probabilities."""

    def __init__(self, probabilities: np.ndarray) -> None:
        self.probabilities = probabilities

    def run(self, names, feeds):
        return [self.probabilities[: len(next(iter(feeds.values())))]]


def test_probability_output_becomes_logits_the_engine_inverts():
    p = np.random.default_rng(0).uniform(0.001, 0.999, (2, 1, 4, 4, 4)).astype(np.float32)
    module = OnnxModule(_Session(p), OnnxSpec(output="probabilities"), None, Path("m.onnx"))
    back = torch.sigmoid(module(torch.zeros(2, 1, 4, 4, 4))).numpy()
    assert float(np.abs(back - p).max()) < 1e-5


def test_cli_export_of_an_unknown_model_is_one_line(tmp_path, capsys):
    assert main(["export-onnx", "no_such_model", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "lesionseg export-onnx: error:" in err[0] and "no_such_model" in err[0]
    assert not (tmp_path / "out").exists()
