"""Montage: a PNG of the right size comes out of a written case; missing folders raise typed errors."""

from __future__ import annotations

import numpy as np
import pytest

from LesionSegLogic.errors import FileMissingError
from LesionSegLogic.image import Image
from LesionSegLogic.montage import montage_case, render_montage


def test_render_montage_writes_png(tmp_path) -> None:
    from matplotlib.image import imread

    rng = np.random.default_rng(0)
    image = Image(rng.uniform(1, 100, (20, 30, 25)).astype(np.float32), (3.0, 1.0, 1.0))
    truth = np.zeros(image.shape, np.uint8)
    truth[12:15, 10:15, 8:12] = 1
    out = render_montage({"FLAIR": image, "T2": image}, image.with_array(truth), tmp_path / "m.png", dpi=40)
    picture = imread(out)
    assert picture.ndim == 3 and picture.shape[0] > 100 and picture.shape[1] > 200
    assert picture[..., :3].std() > 0.01  # not a blank canvas


def test_montage_case_errors(tmp_path) -> None:
    with pytest.raises(FileMissingError):
        montage_case(tmp_path / "nope", tmp_path / "x.png")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileMissingError):
        montage_case(tmp_path / "empty", tmp_path / "x.png")


def test_montage_cli_on_a_phantom(tmp_path) -> None:
    from LesionSegLogic.cli import main

    assert main(["phantom", str(tmp_path), "--anatomy", "cord", "--fov", "60,40,22.4", "--lesions", "1"]) == 0
    assert main(["montage", str(tmp_path / "case_000"), str(tmp_path / "m.png")]) == 0
    assert (tmp_path / "m.png").stat().st_size > 1000
