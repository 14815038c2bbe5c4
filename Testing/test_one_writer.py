"""Issue 17 ("one atomic writer"): the training configuration and the lesion-F1 estimator are written through
``LesionSegLogic.io.write`` — a failed write is one :class:`OutputError` naming the file and leaves no staging
debris; a written file reads back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from LesionSegLogic.errors import OutputError
from LesionSegLogic.phantom.case import CASE_JSON, PhantomCase, write_case
from LesionSegLogic.training.config import TrainConfig


def test_the_training_configuration_is_written_atomically(tmp_path: Path) -> None:
    config = TrainConfig(lr=3e-4, max_epochs=7)
    path = tmp_path / "config.json"
    config.save(path)
    assert json.loads(path.read_text()) == json.loads(json.dumps(config.to_dict()))
    assert TrainConfig.from_dict(json.loads(path.read_text())).max_epochs == 7
    assert path.read_text().endswith("}\n")  # the one JSON text (jsonfile.json_text)
    folder = tmp_path / "taken.json"
    folder.mkdir()  # a folder where the file should go: the write fails after staging
    with pytest.raises(OutputError) as raised:
        config.save(folder)
    assert str(folder) in str(raised.value) and "training configuration" in str(raised.value)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["config.json", "taken.json"]  # no staging debris


def test_the_estimator_writes_through_the_staged_writer(tmp_path: Path, monkeypatch) -> None:
    """``save_estimator`` hands safetensors a staging path, never the final name (a killed save leaves no
    half-written ``lf1_estimator.safetensors``)."""
    import torch

    from LesionSegLogic.training import lf1_estimator

    seen: list[str] = []

    def save_file(tensors, filename) -> None:
        seen.append(str(filename))
        Path(filename).write_bytes(b"weights")

    monkeypatch.setattr("safetensors.torch.save_file", save_file)
    report = lf1_estimator.EstimatorReport(n_train=4, n_test=2, epochs=1, mse=0.1, mae=0.2, pearson=0.9,
                                           target_histogram=[1, 1])
    model = torch.nn.Linear(1, 1)
    weights = lf1_estimator.save_estimator(model, report, tmp_path)  # type: ignore[arg-type]
    assert seen and Path(seen[0]).name != weights.name and weights.read_bytes() == b"weights"
    meta = json.loads((tmp_path / "lf1_estimator.json").read_text())
    assert len(meta["sha256"]) == 64
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lf1_estimator.json", "lf1_estimator.safetensors"]


def test_a_replaced_phantom_case_is_never_half_new_with_the_old_description(tmp_path: Path, monkeypatch) -> None:
    """Moving a new case's files into an earlier case folder that fails half way leaves no ``phantom.json``
    (the marker of a complete case, moved in last), not the earlier one beside half of the new images."""
    import os

    import numpy as np
    from tiny_case import grid_image, lesion_mask

    mask = lesion_mask()
    flair = grid_image((300 + 400 * mask.astype(np.int16)).astype(np.int16))
    case = PhantomCase(seed=1, anatomy="brain", flair=flair, t2=flair, lesions=grid_image(mask),
                       lesion_labels=grid_image(mask), records=(), snr=30.0)
    out = write_case(case, tmp_path / "case_000")
    assert (out / CASE_JSON).is_file()
    real_replace, moved = os.replace, []

    def fails_on_the_second_move(source, target) -> None:
        if Path(target).parent == out:
            moved.append(target)
            if len(moved) == 2:
                raise OSError(28, "No space left on device")
        real_replace(source, target)

    monkeypatch.setattr(os, "replace", fails_on_the_second_move)
    with pytest.raises(OutputError, match="no space left on device"):
        write_case(case, out)
    assert not (out / CASE_JSON).exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]  # no staging left
