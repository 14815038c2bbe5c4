"""CLI output for people (issue 16): ``evaluate``/``sweep`` print a short table (best threshold first) and JSON only
with ``--json``; ``predict`` reports every phase and an ETA only once it means something; every ``--help`` is plain
text; a headless web-app start prints no VTK X-server or deprecation notices (and still shows other messages)."""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from cli_cases import SPACING, over_segmented_case, write_map_and_reference

from LesionSegLogic.cli import build_parser, main, plain_text
from LesionSegLogic.cli.progress import PredictProgress, WindowEta
from LesionSegLogic.cli.text_tables import ratio
from LesionSegLogic.image import Image
from LesionSegLogic.io import write_image

REPO = Path(__file__).resolve().parents[1]


def _case(folder: Path, seed: int) -> tuple[str, str]:
    """The paths of :func:`cli_cases.over_segmented_case` written to ``folder``."""
    prob, reference = write_map_and_reference(folder, *over_segmented_case(seed))
    return str(prob), str(reference)


def test_evaluate_prints_a_table_of_the_json_numbers(tmp_path: Path, capsys) -> None:
    prob, ref = _case(tmp_path, 0)
    args = ["evaluate", "--prob", prob, "--ref", ref, "--threshold", "0.4", "--no-surface"]
    assert main([*args, "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    table = capsys.readouterr().out
    with pytest.raises(json.JSONDecodeError):
        json.loads(table)
    lines = table.splitlines()
    assert len(lines) <= 8 and lines[0].startswith("threshold 0.40, rule ")
    voxel = next(line.split() for line in lines if line.startswith("voxel"))
    lesion = next(line.split() for line in lines if line.startswith("lesion "))
    v, les = data["voxel"], data["lesion"]
    assert voxel[1:] == [str(v["tp"]), str(v["fp"]), str(v["fn"]), ratio(v["sensitivity"]), ratio(v["precision"]),
                         ratio(v["dice"])]  # fmt: skip
    assert lesion[1:] == [str(les["tp_reference"]), str(les["fp"]), str(les["fn"]), ratio(les["sensitivity"]),
                          ratio(les["precision"]), ratio(les["f1"])]  # fmt: skip
    # --json OUT keeps the file contract (design.md) and stdout still gets the table
    out = tmp_path / "eval.json"
    assert main([*args, "--json", str(out)]) == 0
    assert capsys.readouterr().out == table
    written = json.loads(out.read_text())
    assert written["voxel"] == data["voxel"] and written["lesion"] == data["lesion"]


def test_sweep_prints_the_best_threshold_first(tmp_path: Path, capsys) -> None:
    cases = [_case(tmp_path / f"s{i}", i) for i in range(2)]
    args = ["sweep", "--prob", *(p for p, _ in cases), "--ref", *(r for _, r in cases), "--step", "0.05"]
    assert main([*args, "--json", "-"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert main(args) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) < 20, "a short table, not the 1,301 lines of JSON"
    best = data["best_threshold"]
    assert lines[0].startswith(f"best threshold {best:.2f}: median voxel-f1 {ratio(data['best_value'])}")
    header = next(i for i, line in enumerate(lines) if line.startswith("threshold "))
    rows = [line.split() for line in lines[header + 1 :] if re.match(r"^\d\.\d\d", line)]
    assert rows[0][:2] == [f"{best:.2f}", "*"], "the best threshold is the first row"
    dice = [float(r[2 if r[1] == "*" else 1]) for r in rows]
    assert dice == sorted(dice, reverse=True) and len(rows) == 10
    median = dict(zip(data["thresholds"], data["median"]["voxel.dice"], strict=True))
    assert all(ratio(median[float(r[0])]) == ratio(d) for r, d in zip(rows, dice, strict=True))


def test_every_help_is_plain_text() -> None:
    parser = build_parser()
    subparsers = next(a for a in parser._actions if isinstance(a, type(parser._subparsers._group_actions[0])))
    markup = re.compile(r"``|:[a-z]+:`|\*\*|(?<![\w*])\*\w[^*\n]*\*(?!\w)|`")
    for name, sub in subparsers.choices.items():
        text = sub.format_help()
        assert not markup.search(text), f"lesionseg {name} --help shows markup: {markup.search(text).group(0)!r}"
    assert len(subparsers.choices) >= 10


def test_plain_text_keeps_literal_text() -> None:
    rst = ("``lesionseg predict`` writes ``sub-*/anat/*_FLAIR`` (:func:`~LesionSegLogic.bids.prediction_pairs`, "
           ":mod:`LesionSegLogic.defaults`), see `lesionseg models`; **not** *clinical*; for example::")
    assert plain_text(rst) == ("lesionseg predict writes sub-*/anat/*_FLAIR (prediction_pairs, "
                               "LesionSegLogic.defaults), see 'lesionseg models'; not clinical; for example:")


def test_eta_waits_for_the_warm_up_and_then_tracks_the_rate() -> None:
    """The first batch pays for start-up (here 60 s for 4 windows, then 0.5 s per window): a rate taken from it
    promised hours; the ETA comes from the rate after the first update, and only once it is measured."""
    now = [0.0]
    eta = WindowEta(clock=lambda: now[0])
    total = 200
    assert eta.update(0, total) is None
    now[0] = 60.0
    assert eta.update(4, total) is None  # the first update: start of the measurement
    shown = []
    for done in range(8, total + 1, 4):
        now[0] += 2.0
        shown.append((done, eta.update(done, total)))
    first = next(i for i, (_, left) in enumerate(shown) if left is not None)
    done, left = shown[first]
    assert done - 4 >= 8 and left == pytest.approx((total - done) * 0.5)
    assert all(left == pytest.approx((total - d) * 0.5) for d, left in shown[first:])


def test_predict_progress_names_every_phase(tmp_path: Path) -> None:
    import torch
    from torch import nn

    from LesionSegLogic.predictor import RUN_PHASES, WRITE_PHASE, Predictor, PredictSettings
    from LesionSegLogic.zoo import ModelCard

    class Scaled(nn.Module):
        def forward(self, x: torch.Tensor) -> torch.Tensor:
            return 3.0 * x[:, :1]

    flair = write_image(Image(np.random.default_rng(0).random((20, 24, 24)).astype(np.float32) * 100, spacing=SPACING),
                        tmp_path / "flair.nii.gz")  # fmt: skip
    card = ModelCard(name="scaled", architecture="custom", inputs=("flair",), patch_size=(8, 8, 8),
                     weights_sha256="0" * 64)
    heard: list[str] = []
    stream = io.StringIO()
    shown = PredictProgress((*RUN_PHASES, WRITE_PHASE), stream=stream)

    def phase(name: str) -> None:
        heard.append(name)
        shown.phase(name)

    Predictor(Scaled(), card, PredictSettings(device="cpu", skip_background=False)).run(
        {"flair": flair}, None, phase=phase, progress=shown.windows)
    shown.phase(WRITE_PHASE)
    shown.close()
    assert heard == list(RUN_PHASES)
    text = stream.getvalue()
    for number, name in enumerate((*RUN_PHASES, WRITE_PHASE), start=1):
        assert f"predict [{number}/5] {name}" in text
    assert "ETA" in text


def test_known_vtk_notices_only_are_dropped() -> None:
    from LesionSegLib.vtk_output import X_WINDOW_CLASS, messages_to_show

    captured = ("Generic Warning: In vtkXOpenGLRenderWindow.cxx, line 1460\nbad X server connection. DISPLAY=\n\n\n"
                "Warning: In vtkObject.cxx, line 742\nvtkXRenderWindowInteractor (0x1): WindowResizeEvent will not be "
                "generated by vtkRenderWindowInteractor after VTK 9.6.\nUse ConfigureEvent instead.\n\n\n"
                "Warning: In vtkImageData.cxx, line 9\nsomething real\n\n\n")  # fmt: skip
    assert messages_to_show(captured, "vtkEGLRenderWindow") == ["Warning: In vtkImageData.cxx, line 9\nsomething real"]
    shown = messages_to_show(captured, X_WINDOW_CLASS)  # no offscreen fallback: the X failure is real
    assert any("bad X server connection" in m for m in shown) and any("something real" in m for m in shown)


@pytest.mark.slicer
@pytest.mark.heavy  # ~15 s: a fresh process builds the whole web app (the X probe happens once per process)
def test_headless_app_start_prints_no_vtk_notices(tmp_path: Path) -> None:
    pytest.importorskip("trame_slicer")
    flair = write_image(Image(np.ones((8, 16, 16), np.float32), spacing=SPACING), tmp_path / "flair.nii.gz")
    script = ("import sys; from pathlib import Path; from LesionSegWeb.app import AppConfig, ReviewWebApp; "
              "ReviewWebApp(AppConfig(flair=Path(sys.argv[1]), out=Path(sys.argv[2]))); print('started')")
    env = {k: v for k, v in os.environ.items() if k != "DISPLAY"}  # the child's environment only
    env["PYTHONPATH"] = os.pathsep.join([str(REPO), str(REPO / "LesionSegExtension"), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-c", script, str(flair), str(tmp_path / "out")], env=env, cwd=tmp_path,
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0 and "started" in done.stdout, done.stderr[-2000:]
    for notice in ("bad X server connection", "WindowResizeEvent", "vtkXOpenGLRenderWindow"):
        assert notice not in done.stderr, done.stderr[-2000:]
