"""The static review picture shows the engine's TP/FP/FN colours, and the demo picks the best zoo card."""

from __future__ import annotations

import numpy as np
import pytest

from LesionSegLogic.errors import OutputError
from LesionSegLogic.image import Image
from LesionSegLogic.review_figure import OVERLAY_COLOURS, render_review
from LesionSegLogic.threshold import OVERLAY_FN, OVERLAY_FP, OVERLAY_TP, ThresholdEngine


def _case() -> tuple[Image, ThresholdEngine]:
    shape = (24, 40, 40)
    flair = np.full(shape, 100.0, dtype=np.float32)
    reference = np.zeros(shape, dtype=np.uint8)
    probability = np.zeros(shape, dtype=np.float32)
    reference[10:14, 8:14, 8:14] = 1  # detected (TP)
    probability[10:14, 8:14, 8:14] = 0.9
    reference[10:14, 25:31, 25:31] = 1  # missed (FN)
    probability[10:14, 25:31, 8:14] = 0.8  # false positive (FP)
    image = Image(flair, spacing=(1.0, 1.0, 1.0))
    return image, ThresholdEngine(probability, image.spacing, reference, rule="any-overlap")


def test_review_picture_shows_each_status_colour(tmp_path):
    from matplotlib.image import imread

    flair, engine = _case()
    statuses = set(np.unique(engine.at(0.5).overlay)) - {0}
    assert statuses == {OVERLAY_TP, OVERLAY_FP, OVERLAY_FN}
    path = render_review(flair, engine, 0.5, tmp_path / "review.png", slices=1)
    png = imread(path)
    assert np.asarray(png[0, 0, :3]).sum() < 0.05  # the figure's black background
    # overlay colours are blended over grey, so look for pixels where the status's dominant channel stands out
    for value in (OVERLAY_TP, OVERLAY_FP, OVERLAY_FN):
        dominant = int(np.argmax(OVERLAY_COLOURS[value][:3]))
        channel = png[..., dominant]
        others = np.delete(png[..., :3], dominant, axis=-1).max(axis=-1)
        assert ((channel - others) > 0.35).sum() > 20, f"no {value} pixels"


def test_a_missed_lesion_inside_a_true_prediction_is_blue_in_the_picture(tmp_path):
    """The overlay rule: lesion C lies wholly inside a predicted lesion that is true (anima: 17 % of it is
    reference) while C is missed (the prediction leaks 83 % outside it); C must show FN blue, not TP green."""
    from matplotlib.image import imread

    shape = (24, 40, 40)
    reference = np.zeros(shape, dtype=np.uint8)
    probability = np.zeros(shape, dtype=np.float32)
    reference[10:14, 17:23, 17:23] = 1
    probability[9:15, 14:26, 14:26] = 0.9
    flair = Image(np.full(shape, 100.0, dtype=np.float32), spacing=(1.0, 1.0, 1.0))
    engine = ThresholdEngine(probability, flair.spacing, reference, rule="anima")
    result = engine.at(0.5)
    assert [r.status for r in result.lesions] == ["TP", "FN"]  # the prediction, then the reference lesion
    png = imread(render_review(flair, engine, 0.5, tmp_path / "rule.png", slices=1))

    def pixels(value: int) -> int:
        dominant = int(np.argmax(OVERLAY_COLOURS[value][:3]))
        others = np.delete(png[..., :3], dominant, axis=-1).max(axis=-1)
        return int(((png[..., dominant] - others) > 0.35).sum())

    blue, green = pixels(OVERLAY_FN), pixels(OVERLAY_TP)
    assert blue > 20 and green > blue  # C (6×6 voxels) blue inside the green 12×12 ring
    assert abs(blue / (blue + green) - 36 / 144) < 0.08


def test_above_every_probability_the_picture_has_no_prediction(tmp_path):
    flair, engine = _case()
    result = engine.at(0.95)
    assert not (result.overlay == OVERLAY_TP).any() and not (result.overlay == OVERLAY_FP).any()
    assert render_review(flair, engine, 0.95, tmp_path / "empty.png").exists()


def test_unwritable_target_is_a_typed_error(tmp_path):
    flair, engine = _case()
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError):
        render_review(flair, engine, 0.5, blocker / "review.png")


def test_demo_picks_the_card_with_the_best_held_out_lesion_f1(monkeypatch):
    from LesionSegLogic import demo
    from LesionSegLogic.zoo import ModelCard, ZooEntry

    def card(name: str, f1: float | None) -> ModelCard:
        validation = {"at_recommended": {"mean": {"lesion_f1": f1}}} if f1 is not None else {}
        return ModelCard(name=name, architecture="unet3d", inputs=("flair",), patch_size=(16, 16, 16),
                         validation=validation)

    entries = [ZooEntry(None, card("a", 0.5)), ZooEntry(None, card("b", 0.8)), ZooEntry(None, card("c", None)),
               ZooEntry(None, None, "broken card")]
    monkeypatch.setattr("LesionSegLogic.zoo.list_models", lambda: entries)
    assert demo.best_zoo_model() == "b"
    monkeypatch.setattr("LesionSegLogic.zoo.list_models", lambda: [])
    assert demo.best_zoo_model() is None


def test_the_static_curve_draws_the_series_every_face_draws() -> None:
    """The picture's and the report's curve take names, colours and dashes from curve_style (none of them the
    overlay's green, red or blue), as the web page and the desktop plot do."""
    from matplotlib.colors import to_rgb
    from matplotlib.figure import Figure

    from LesionSegLogic.curve_style import CURVE_SERIES_STYLE
    from LesionSegLogic.review_figure import plot_curve_series

    curves = [{"lesion": {"f1": 0.5, "sensitivity": 0.6, "precision": None}, "voxel": {"dice": 0.4}}] * 3
    axes = Figure().add_subplot(1, 1, 1)
    plot_curve_series(axes, [0.2, 0.5, 0.8], curves)
    lines = axes.get_lines()
    assert [line.get_label() for line in lines] == [s.label for s in CURVE_SERIES_STYLE]
    for line, series in zip(lines, CURVE_SERIES_STYLE, strict=True):
        assert np.allclose(to_rgb(line.get_color()), series.color, atol=1 / 255)
        assert (line.get_linestyle() == "-") == (not series.dash)
    assert np.isnan(lines[[s.key for s in CURVE_SERIES_STYLE].index("precision")].get_ydata()).all()
