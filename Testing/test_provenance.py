"""Every export records the same provenance (issue 16): ``predict``'s summary.json, ``evaluate``/``sweep``'s JSON
and the review export name their input files with the sha256 of their bytes, the model card (name, card sha256,
format version, weights sha256), threshold, rule, LesionSeg version and UTC time; every lesion CSV gives centroids
in RAS under the same column names; counts are written as integers."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from datetime import datetime, timedelta, timezone
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from LesionSegLogic import __version__
from LesionSegLogic.cli import main
from LesionSegLogic.image import Image
from LesionSegLogic.io import read_image, write_image
from LesionSegLogic.metrics.report import CENTROID_COLUMNS
from LesionSegLogic.predictor import Predictor, PredictSettings
from LesionSegLogic.provenance import card_file_of, folder_sha256, model_record
from LesionSegLogic.zoo import ModelCard
from LesionSegLogic.zoo.card import FORMAT_VERSION

SPACING = (2.0, 1.0, 1.5)
ORIGIN = (12.0, -30.0, 40.0)  # ITK (x, y, z) LPS: the RAS centroids differ from LPS ones in sign


class Bright(nn.Module):
    """Logits from the FLAIR: bright voxels are lesions (no weights, fully determined)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return 4.0 * (x[:, :1] - 1.0)


def _sha(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def _case(folder: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(1)
    flair = 100 + 5 * rng.random((16, 32, 28)).astype(np.float32)
    ref = np.zeros(flair.shape, bool)
    ref[4:8, 6:12, 5:10] = ref[10:13, 20:26, 15:22] = True
    flair[ref] += 400
    flair[2:4, 26:29, 2:5] += 400  # a false positive
    image = Image(flair, spacing=SPACING, origin=ORIGIN)
    return (write_image(image, folder / "flair.nii.gz"),
            write_image(image.with_array(ref.astype(np.uint8)), folder / "ref.nii.gz", dtype=np.uint8))


def _predict(tmp_path: Path, threshold: float = 0.6) -> tuple[Path, Path, Path]:
    flair, ref = _case(tmp_path / "in")
    card = ModelCard(name="bright", architecture="custom", inputs=("flair",), patch_size=(8, 16, 16),
                     recommended_threshold=threshold, weights_sha256="ab" * 32)
    Predictor(Bright(), card, PredictSettings(device="cpu")).run({"flair": flair}, tmp_path / "out")
    return flair, ref, tmp_path / "out"


def _check_common(block: dict, threshold: float | None, rule: str) -> None:
    assert block["lesionseg_version"] == __version__
    created = datetime.fromisoformat(block["created_utc"].replace("Z", "+00:00"))
    assert created.tzinfo is not None and abs(datetime.now(timezone.utc) - created) < timedelta(minutes=5)
    assert block["threshold"] == threshold and block["rule"] == rule


def test_predict_summary_records_inputs_model_and_settings(tmp_path: Path) -> None:
    flair, _, out = _predict(tmp_path)
    summary = json.loads((out / "summary.json").read_text())
    block = summary["provenance"]
    _check_common(block, 0.6, summary["settings"]["rule"])
    assert block["inputs"] == [{"role": "flair", "path": str(flair.resolve()), "sha256": _sha(flair)}]
    assert block["models"] == [{"name": "bright", "card_sha256": None, "card_format_version": FORMAT_VERSION,
                                "weights_sha256": "ab" * 32}]  # fmt: skip
    # an image given in memory has no file to name
    from LesionSegLogic.io import read_image

    image = read_image(flair)
    card = ModelCard(name="bright", architecture="custom", inputs=("flair",), patch_size=(8, 16, 16),
                     weights_sha256="ab" * 32)
    result = Predictor(Bright(), card, PredictSettings(device="cpu")).run({"flair": image})
    assert result.summary["provenance"]["inputs"] == [{"role": "flair", "path": None, "sha256": None}]


def test_card_and_folder_hashes(tmp_path: Path) -> None:
    card = ModelCard(name="bright", architecture="custom", inputs=("flair",), patch_size=(8, 16, 16),
                     weights_sha256="ab" * 32)
    folder = tmp_path / "model"
    folder.mkdir()
    card.to_json(folder / "card.json")
    assert card_file_of(folder) == folder / "card.json" == card_file_of(folder / "model.onnx")
    assert card_file_of(tmp_path) is None
    record = model_record("bright", card_path=card_file_of(folder), card_format_version=1, weights_sha256="ab" * 32)
    assert record["card_sha256"] == _sha(folder / "card.json")
    # a DICOM-like folder: the same files give the same hash wherever the folder lies; one changed byte does not
    series = tmp_path / "series"
    (series / "sub").mkdir(parents=True)
    for i in range(3):
        (series / f"{i}.dcm").write_bytes(bytes([i]) * 100)
    (series / "sub" / "x.dcm").write_bytes(b"x")
    copy = shutil.copytree(series, tmp_path / "elsewhere" / "series")
    assert folder_sha256(series) == folder_sha256(copy)
    (copy / "1.dcm").write_bytes(bytes([9]) * 100)
    assert folder_sha256(series) != folder_sha256(copy)


def test_evaluate_and_sweep_json_record_the_same_provenance(tmp_path: Path, capsys) -> None:
    _, ref, out = _predict(tmp_path)
    prob = out / "probability.nii.gz"
    predicted = json.loads((out / "summary.json").read_text())["provenance"]
    capsys.readouterr()
    assert main(["evaluate", "--prob", str(prob), "--ref", str(ref), "--no-surface", "--json", "-"]) == 0
    block = json.loads(capsys.readouterr().out)["provenance"]
    _check_common(block, 0.6, predicted["rule"])  # the threshold and rule recorded beside the map
    assert block["inputs"] == [{"role": "probability", "path": str(prob.resolve()), "sha256": _sha(prob)},
                               {"role": "reference", "path": str(ref.resolve()), "sha256": _sha(ref)}]
    assert block["models"] == predicted["models"]
    assert main(["sweep", "--prob", str(prob), "--ref", str(ref), "--step", "0.25", "--json", "-"]) == 0
    sweep = json.loads(capsys.readouterr().out)["provenance"]
    _check_common(sweep, None, predicted["rule"])
    assert sweep["inputs"] == block["inputs"] and sweep["models"] == predicted["models"]
    # a map nobody recorded: no model, and evaluate says so rather than guessing
    bare = shutil.copy(prob, tmp_path / "bare.nii.gz")
    assert main(["evaluate", "--prob", str(bare), "--ref", str(ref), "--no-surface", "--json", "-"]) == 0
    assert json.loads(capsys.readouterr().out)["provenance"]["models"] == []


def test_lesion_csvs_share_one_ras_convention(tmp_path: Path) -> None:
    """predict's lesions.csv and the BIDS-free Python path agree with the image geometry: RAS = LPS with x, y
    negated, under the columns CENTROID_COLUMNS."""
    flair, _, out = _predict(tmp_path)
    rows = list(csv.DictReader((out / "lesions.csv").open()))
    assert rows and set(CENTROID_COLUMNS) <= set(rows[0]) and not any("lps" in c for c in rows[0])
    from LesionSegLogic.io import read_image

    grid = read_image(flair)
    for row in rows:
        ijk = [float(row[k]) for k in ("centroid_i", "centroid_j", "centroid_k")]
        lps = grid.index_to_physical(np.array(ijk[::-1]))[0]
        ras = [float(row[c]) for c in CENTROID_COLUMNS]
        np.testing.assert_allclose(ras, [-lps[0], -lps[1], lps[2]], atol=1e-4)
        assert row["n_voxels"].isdigit() and row["id"].isdigit()


@pytest.mark.slicer
def test_review_export_records_provenance_ras_and_integer_counts(tmp_path: Path) -> None:
    pytest.importorskip("slicer")
    from LesionSegLib.export import export_review
    from LesionSegLib.headless import make_scene
    from LesionSegLib.session import ReviewSession

    flair, ref, out = _predict(tmp_path)
    prob = out / "probability.nii.gz"
    session = ReviewSession(make_scene().scene)
    session.set_inputs(flair)
    session.set_reference(ref)
    session.load_probability(prob, recommended_threshold=0.6)
    # maps read from paths: the session remembers their files (session.source_files), no caller has to pass them
    files = export_review(session, tmp_path / "review")
    named = export_review(session, tmp_path / "named", input_files={"probability": prob, "reference": ref})
    assert (json.loads(named.metrics_json.read_text())["provenance"]["inputs"]
            == json.loads(files.metrics_json.read_text())["provenance"]["inputs"])
    # a map given as an in-memory image has no file: its path and hash are null, said rather than guessed
    session.load_probability(read_image(prob, role="probability"), recommended_threshold=0.6)
    bare = export_review(session, tmp_path / "bare")
    unnamed = {i["role"]: i for i in json.loads(bare.metrics_json.read_text())["provenance"]["inputs"]}
    assert "probability" not in unnamed or unnamed["probability"]["path"] is None
    session.load_probability(prob, recommended_threshold=0.6)
    document = json.loads(files.metrics_json.read_text())
    block = document["provenance"]
    _check_common(block, pytest.approx(0.6), session.state.metrics["rule"])
    by_role = {item["role"]: item for item in block["inputs"]}
    for role, path in (("flair", flair), ("probability", prob), ("reference", ref)):
        assert by_role[role] == {"role": role, "path": str(path.resolve()), "sha256": _sha(path)}
    predicted = json.loads((out / "summary.json").read_text())["provenance"]
    assert block["models"] == predicted["models"] != []  # the model recorded beside the probability map
    # counts are integers in the metrics CSV and JSON
    metrics = {(g, m): v for g, m, v in csv.reader(files.metrics_csv.open())}
    for key in (("voxel", "tp"), ("voxel", "fp"), ("lesion", "n_reference"), ("lesion", "fn")):
        assert metrics[key].isdigit(), (key, metrics[key])
    assert metrics[("lesion", "n_reference")] == str(document["lesion"]["n_reference"]) == "2"
    assert isinstance(document["voxel"]["tp"], int)
    # the review's lesions CSV: the same RAS columns, and the predicted lesions where predict's lesions.csv has them
    review = [r for r in csv.DictReader(files.lesions_csv.open()) if r["kind"] == "predicted"]
    predicted_rows = list(csv.DictReader((out / "lesions.csv").open()))
    assert set(CENTROID_COLUMNS) <= set(review[0]) and len(review) == len(predicted_rows) == 3

    def centroids(rows: list[dict]) -> np.ndarray:
        return np.array(sorted(tuple(round(float(r[c]), 3) for c in CENTROID_COLUMNS) for r in rows))

    np.testing.assert_allclose(centroids(review), centroids(predicted_rows), atol=1e-2)
