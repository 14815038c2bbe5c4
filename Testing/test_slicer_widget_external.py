"""Issue 13 in the desktop panel, on the fake qt/ctk widgets over real MRML with the heavy packages blocked
(``Testing/slicer_fakes/run_external_models.py``, a child process like ``test_slicer_widget_fakes.py``): "Add model
folder…" lists an nnU-Net model by its label, asks for the lesion label of a multi-label dataset, remembers model
and label in the parameter node, and names a path that is no model."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytest.importorskip("slicer")
pytest.importorskip("nnunetv2")

import nnunet_folder_fixture as fx

pytestmark = pytest.mark.slicer
FAKES = Path(__file__).resolve().parent / "slicer_fakes"


#: a Slicer source checkout: when set, the flow also runs with Slicer's own parameterNodeWrapper
SLICER_SOURCE = os.environ.get("LESIONSEG_SLICER_SOURCE", "")


@pytest.mark.parametrize("slicer_source", [
    "", pytest.param(SLICER_SOURCE, marks=pytest.mark.skipif(not SLICER_SOURCE, reason="set LESIONSEG_SLICER_SOURCE "
                                                             "to a Slicer source checkout"))], ids=["fake", "slicer"])
def test_add_model_folder_lists_it_asks_its_label_and_remembers_both(tmp_path, slicer_source) -> None:
    folder = fx.write_folder(tmp_path / "models", dataset_json=fx.dataset(
        channels={"0": "FLAIR"}, labels={"background": 0, "lesion": 1, "edema": 2})).resolve()
    (tmp_path / "empty").mkdir()
    source = ["--slicer-source", slicer_source] if slicer_source else []
    done = subprocess.run([sys.executable, str(FAKES / "run_external_models.py"), *source, str(folder),
                           str(tmp_path / "empty")], capture_output=True, text=True, cwd=FAKES, timeout=300)
    assert done.returncode == 0 and "Traceback" not in done.stderr, (done.stdout + done.stderr)[-4000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    title = "nnU-Net: Dataset990_LesionSegTest (fold 0)"
    assert report["models"][-1] == title and report["shown"] == title and report["stored"] == str(folder)
    assert not report["labels_visible_before"] and report["labels_visible"]
    assert report["labels"][1:] == ["edema", "lesion"] and report["label_chosen"] == ""  # none picked for the user
    assert title in report["model_info"]
    assert report["stored_label"] == report["presenter_label"] == "lesion"
    assert (report["after_enter"], report["after_enter_model"], report["after_enter_label"]) == (
        title, str(folder), "lesion")
    assert report["errors"] and "neither an nnU-Net v2 model folder" in report["errors"][-1]
    assert report["models_after_bad"] == report["models"]
    assert report["export_formats"] == ["NIfTI"]  # nothing under review, no DICOM input
    from LesionSegLib.presenter import MAP_CHANNELS, MAP_SCALES

    assert report["map_channels"] == list(MAP_CHANNELS) and report["map_scales"] == list(MAP_SCALES)
    assert not report["labels_visible_zoo"] and report["stored_zoo"] == report["models"][0]
    assert report["blocked_loaded"] == []
