"""Issue 12: the web face says which model the one auto-pick (``defaults.pick_model``) chose for the open inputs,
and why, in its model section (``state.model_reason`` shown under the select)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("slicer")
pytest.importorskip("trame_slicer")

from web_apps import direct_app
from web_cases import write_case

from LesionSegLogic.zoo import ModelCard
from LesionSegWeb.app import AppConfig
from LesionSegWeb.services import ModelInfo, Services

pytestmark = pytest.mark.slicer


def _info(name: str, inputs: tuple[str, ...], f1: float) -> ModelInfo:
    card = ModelCard(name=name, architecture="unet3d", inputs=inputs, patch_size=(16, 16, 16),
                     validation={"at_recommended": {"mean": {"lesion_f1": f1}}})
    return ModelInfo(name, 0.5, card=card)


def test_the_model_section_shows_the_auto_picked_model_and_why(tmp_path: Path) -> None:
    case = write_case(tmp_path / "case", with_probability=False)  # a FLAIR (and lesions), no T2
    models = [_info("both", ("flair", "t2"), 0.9), _info("flair_only", ("flair",), 0.6)]
    app = direct_app(AppConfig(case=case, services=Services(models=lambda: models), views="direct",
                               out=tmp_path / "out"))
    app.server.state.ready()
    state = app.server.state
    assert state.model == "flair_only"  # the better model needs a T2 this case lacks
    assert state.model_reason.startswith("auto-picked") and "flair_only" in state.model_reason
    assert 'id="model-reason"' in app.page.html and "{{ model_reason }}" in app.page.html
