"""``lesionseg evaluate`` / ``sweep`` take their threshold and rule from the summary.json beside the map, say so on
stderr (stdout stays JSON), and fall back to the one set of defaults (LesionSegLogic.defaults)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from cli_cases import SPACING, over_segmented_case, write_map_and_reference

from LesionSegLogic.cli import main
from LesionSegLogic.defaults import DEFAULT_RULE, FALLBACK_THRESHOLD
from LesionSegLogic.image import Image
from LesionSegLogic.io import write_image
from LesionSegLogic.threshold import ThresholdEngine


def _write(folder: Path, p: np.ndarray, ref: np.ndarray, summary: dict | None) -> tuple[Path, Path]:
    prob, ref_path = write_map_and_reference(folder, p, ref)
    if summary is not None:
        (folder / "summary.json").write_text(json.dumps(summary))
    return prob, ref_path


def _metrics(p: np.ndarray, ref: np.ndarray, threshold: float, rule: str) -> dict:
    return ThresholdEngine(p, SPACING, ref, rule=rule).at(threshold).metrics


def _summary(threshold: float, rule: str | None, model: str = "strong") -> dict:
    settings = {"threshold": threshold, "threshold_source": "card", **({"rule": rule} if rule else {})}
    return {"model": {"name": model, "recommended_threshold": threshold}, "settings": settings}


def test_evaluate_reads_the_summary_beside_the_map(tmp_path: Path, capsys) -> None:
    p, ref = over_segmented_case()
    prob, ref_path = _write(tmp_path, p, ref, _summary(0.75, "any-overlap"))
    assert main(["evaluate", "--prob", str(prob), "--ref", str(ref_path), "--no-surface", "--json", "-"]) == 0
    out = capsys.readouterr()
    data = json.loads(out.out)  # stdout is only the JSON
    assert data["threshold"] == 0.75 and data["rule"] == "any-overlap"
    assert data["lesion"] == pytest.approx(_metrics(p, ref, 0.75, "any-overlap")["lesion"])
    assert data["lesion"] != _metrics(p, ref, FALLBACK_THRESHOLD, "hussein")["lesion"]  # the test can fail
    line = out.err.strip()
    assert len(line.splitlines()) == 1 and "threshold 0.75" in line and "strong" in line
    assert "summary.json" in line and "rule any-overlap" in line
    assert data["defaults"]["model"] == "strong"


def test_evaluate_user_values_win_and_fallback_says_so(tmp_path: Path, capsys) -> None:
    p, ref = over_segmented_case()
    prob, ref_path = _write(tmp_path / "rec", p, ref, _summary(0.75, "any-overlap"))
    assert main(["evaluate", "--prob", str(prob), "--ref", str(ref_path), "--threshold", "0.3", "--rule", "hussein",
                 "--no-surface", "--json", "-"]) == 0
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert (data["threshold"], data["rule"]) == (0.3, "hussein") and "given" in out.err
    assert data["voxel"] == pytest.approx(_metrics(p, ref, 0.3, "hussein")["voxel"])

    bare, bare_ref = _write(tmp_path / "bare", p, ref, None)
    assert main(["evaluate", "--prob", str(bare), "--ref", str(bare_ref), "--no-surface", "--json", "-"]) == 0
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert (data["threshold"], data["rule"]) == (FALLBACK_THRESHOLD, DEFAULT_RULE)
    assert "fallback" in out.err and "default rule" in out.err


def test_evaluate_a_mask_takes_the_rule_beside_it(tmp_path: Path, capsys) -> None:
    p, ref = over_segmented_case()
    _, ref_path = _write(tmp_path, p, ref, _summary(0.6, "any-overlap"))
    mask = write_image(Image((p >= 0.6).astype(np.uint8), spacing=SPACING), tmp_path / "mask.nii.gz", dtype=np.uint8)
    assert main(["evaluate", "--mask", str(mask), "--ref", str(ref_path), "--no-surface", "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["threshold"] is None and data["rule"] == "any-overlap"
    assert main(["evaluate", "--mask", str(mask), "--ref", str(ref_path), "--threshold", "0.5"]) == 2
    assert "--threshold goes with --prob" in capsys.readouterr().err


def test_sweep_rule_from_the_summaries(tmp_path: Path, capsys) -> None:
    maps, refs = [], []
    for i, rule in enumerate(("any-overlap", "any-overlap")):
        p, ref = over_segmented_case(i)
        prob, ref_path = _write(tmp_path / f"s{i}", p, ref, _summary(0.5 + 0.1 * i, rule, model=f"m{i}"))
        maps.append(str(prob))
        refs.append(str(ref_path))
    assert main(["sweep", "--prob", *maps, "--ref", *refs, "--step", "0.25", "--objective", "lesion-f1",
                 "--json", "-"]) == 0
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert data["rule"] == "any-overlap" and "recorded beside the maps" in out.err
    assert "m0 (0.50)" in out.err and "m1 (0.60)" in out.err
    assert [r["model"] for r in data["defaults"]["recorded"]] == ["m0", "m1"]
    # the summaries disagree: the default rule, and the line says why
    (tmp_path / "s1" / "summary.json").write_text(json.dumps(_summary(0.6, "hussein")))
    assert main(["sweep", "--prob", *maps, "--ref", *refs, "--step", "0.25", "--json", "-"]) == 0
    out = capsys.readouterr()
    assert json.loads(out.out)["rule"] == DEFAULT_RULE and "disagree" in out.err


def test_predict_then_evaluate_uses_the_models_threshold(tmp_path: Path, capsys) -> None:
    """The whole path: the predictor records the card's threshold and the rule; evaluate picks them up."""
    import torch
    from torch import nn

    from LesionSegLogic.predictor import Predictor, PredictSettings
    from LesionSegLogic.zoo import ModelCard

    class Identity(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return 3.0 * (x[:, :1] - 1.0)

    p, ref = over_segmented_case()
    flair = write_image(Image(p * 100 + 10, spacing=SPACING), tmp_path / "in" / "flair.nii.gz")
    ref_path = write_image(Image(ref.astype(np.uint8), spacing=SPACING), tmp_path / "in" / "ref.nii.gz",
                           dtype=np.uint8)
    card = ModelCard(name="ident", architecture="custom", inputs=("flair",), patch_size=(16, 16, 16),
                     recommended_threshold=0.7, weights_sha256="0" * 64)
    Predictor(Identity(), card, PredictSettings(device="cpu")).run({"flair": flair}, tmp_path / "out")
    capsys.readouterr()
    prob = tmp_path / "out" / "probability.nii.gz"
    assert main(["evaluate", "--prob", str(prob), "--ref", str(ref_path), "--no-surface", "--json", "-"]) == 0
    out = capsys.readouterr()
    data = json.loads(out.out)
    assert data["threshold"] == 0.7 and data["rule"] == DEFAULT_RULE
    assert "ident's recommended threshold" in out.err and f"rule {DEFAULT_RULE} (recorded in" in out.err
