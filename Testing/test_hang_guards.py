"""Issue 18 item 6: values that make the work explode (``sweep --step 1e-7``, ``predict --overlap 0.99``) are
refused before the work starts, with a message that states the cost."""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from LesionSegLogic.cli import main
from LesionSegLogic.cli.sweep import MAX_THRESHOLDS, check_threshold_count
from LesionSegLogic.errors import ConfigError
from LesionSegLogic.image import Image
from LesionSegLogic.inference import WindowGrid, predict_volume
from LesionSegLogic.inference.windows import MAX_WINDOWS, window_count
from LesionSegLogic.io import write_image
from LesionSegLogic.threshold.sweep import threshold_grid
from LesionSegLogic.zoo import ModelCard, save_model


def _numbers(text: str) -> list[int]:
    return [int(n.replace(",", "")) for n in re.findall(r"\d[\d,]*\d|\d", text)]


def test_sweep_refuses_a_tiny_step_before_reading_anything(tmp_path: Path, capsys) -> None:
    missing = [str(tmp_path / "nowhere.nii.gz")] * 2
    assert main(["sweep", "--prob", *missing, "--ref", *missing, "--step", "1e-7"]) == 2
    err = capsys.readouterr().err.strip()
    assert "\n" not in err and "Traceback" not in err
    # the message states the cost: thresholds per subject and evaluations in all (2 subjects)
    assert "10,000,001 thresholds" in err and "20,000,002" in err and str(MAX_THRESHOLDS) in err.replace(",", "")


@pytest.mark.parametrize("step", [0.05, 0.1, 0.3, 0.001, 1.0])
def test_the_threshold_count_is_the_grid_the_sweep_uses(step: float) -> None:
    assert check_threshold_count(step, 1) == len(threshold_grid(step))


@pytest.mark.parametrize("step", [0.0009, 1e-7, 0.0, -0.1, float("nan"), float("inf")])
def test_steps_beyond_the_bound_are_refused(step: float) -> None:
    with pytest.raises(ConfigError):
        check_threshold_count(step, 3)


@pytest.mark.parametrize("shape,patch,overlap", [
    ((40, 20, 16), (16, 16, 16), 0.5), ((97, 33, 16), (16, 8, 16), 0.75), ((10, 50, 70), (16, 16, 16), 0.9),
    ((64, 64, 64), (48, 48, 48), 0.0), ((20, 21, 22), (5, 7, 3), 0.3),
])  # fmt: skip
def test_window_count_is_the_length_of_the_grid(shape, patch, overlap) -> None:
    padded = tuple(max(n, p) for n, p in zip(shape, patch, strict=True))
    grid = WindowGrid.build(padded, patch, overlap)
    assert window_count(shape, patch, overlap) == len(grid) == len(list(itertools.islice(iter(grid), 10**6)))


def test_a_grid_over_the_budget_is_refused_with_its_cost() -> None:
    shape, patch = (160, 192, 160), (48, 48, 48)
    expected = window_count(shape, patch, 0.99)
    assert expected > MAX_WINDOWS
    with pytest.raises(ConfigError) as caught:
        WindowGrid.build(shape, patch, 0.99)
    message = str(caught.value)
    assert f"{expected:,}" in message and f"{window_count(shape, patch, 0.5):,}" in message
    assert f"{MAX_WINDOWS:,}" in message and "\n" not in message
    assert len(WindowGrid.build(shape, patch, 0.5)) == window_count(shape, patch, 0.5) <= MAX_WINDOWS


class _Counting(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.calls = 0

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        self.calls += 1
        return x[:, :1]


def test_predict_volume_refuses_before_the_first_forward_pass() -> None:
    model = _Counting()
    image = np.ones((1, 160, 192, 160), np.float32)
    with pytest.raises(ConfigError, match="windows"):
        predict_volume(model, image, patch_size=(48, 48, 48), overlap=0.99, device="cpu", skip_background=False)
    assert model.calls == 0


def test_cli_predict_overlap_099_is_a_one_line_refusal(tmp_path: Path, capsys) -> None:
    from LesionSegLogic.models import build_model

    params = {"in_channels": 1, "features": [2, 4], "norm": "batch"}
    card = ModelCard(name="tiny", architecture="unet3d", architecture_params=params, inputs=("flair",),
                     patch_size=(16, 16, 16), loss="dice")
    save_model(build_model("unet3d", **params), card, tmp_path / "tiny")
    head = np.random.default_rng(0).normal(100, 5, (112, 112, 112)).astype(np.float32)
    flair = write_image(Image(head), tmp_path / "flair.nii.gz")
    code = main(["predict", "--model", str(tmp_path / "tiny"), "--flair", str(flair), "--out",
                 str(tmp_path / "out"), "--overlap", "0.99", "--device", "cpu", "--no-progress"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1].startswith("lesionseg predict: error: overlap 0.99 needs")
    assert _numbers(err[-1])[2] == window_count((112, 112, 112), (16, 16, 16), 0.99)  # 0, 99, count, ...
    assert not (tmp_path / "out" / "summary.json").exists()
