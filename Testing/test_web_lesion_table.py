"""The web page's lesion table in-process (issue 16): trame state ⇄ LesionList — sort, filter chips, next FN/FP
(also by the N/P key trigger), the jump that centres, zooms and marks, regions and lesion load, live with the
slider. No browser (Testing/test_web_browser_table.py drives the same page in Chromium)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("slicer")
pytest.importorskip("trame_slicer")

from web_apps import direct_app, set_state
from web_cases import write_case

from LesionSegWeb.app import AppConfig, ReviewWebApp
from LesionSegWeb.services import ModelInfo, Services

pytestmark = pytest.mark.slicer


def write_cord_case(folder: Path) -> Path:
    """The synthetic case of web_cases with a ``phantom.json`` that says it is a spinal-cord phantom (the
    region atlas is then the cord's: every lesion "spinal cord" with its position along the cord)."""
    write_case(folder)
    (folder / "phantom.json").write_text(json.dumps({"format": "lesionseg-phantom/1", "anatomy": "cord",
                                                     "lesions": []}), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def web(tmp_path_factory) -> ReviewWebApp:
    root = tmp_path_factory.mktemp("web-table")
    case = write_cord_case(root / "cases" / "cord-a")
    services = Services(models=lambda: [ModelInfo("fake-model", 0.4)])
    app = direct_app(AppConfig(case=case, services=services, views="direct", out=root / "out"))
    app.server.state.ready()
    return app


def volumes(state) -> list[float]:
    return [float(row["volume"]) for row in state.lesions]


def test_rows_show_four_digit_maxima_mean_slice_and_cord_level(web) -> None:
    assert web.binding.label_regions()
    state = web.server.state
    assert state.lesions and len(state.lesions) == state.lesion_count == len(web.session.lesions)
    for item, row in zip(state.lesions, web.session.lesions, strict=True):
        assert item["pmax"] == f"{row.max_probability:.4f}"
        assert item["pmean"] == f"{row.mean_probability:.2f}"
        assert item["slice"] == str(row.slice_index)
        assert item["region"] == "SC" and "mm below the top of the image" in item["region_title"]
    assert [c["value"] for c in state.region_choices] == ["spinal_cord"]
    assert state.load["predicted"].startswith(f"{web.session.metrics['lesion']['n_predicted']} lesions")
    assert state.load["method"].startswith("cord phantom")


def test_sort_filter_and_next_fn_stay_live_with_the_slider(web) -> None:
    table = web.binding.lesion_table
    set_state(web, threshold=0.5)
    table.sort("volume_mm3")
    state = web.server.state
    assert state.lesion_sort == "volume_mm3" and state.lesion_descending
    assert volumes(state) == sorted(volumes(state), reverse=True)
    table.sort("volume_mm3")
    assert volumes(state) == sorted(volumes(state))
    table.sort("volume_mm3")
    table.toggle_status("FN")
    assert state.lesion_statuses == ["FN"]
    assert state.lesions and {row["status"] for row in state.lesions} == {"FN"}
    assert len(state.lesions) == web.session.metrics["lesion"]["fn"]
    set_state(web, threshold=0.7)  # a new threshold: same sort and filter, the rows of 0.7
    web.binding.threshold_end(0.7)
    assert {row["status"] for row in state.lesions} == {"FN"}
    assert len(state.lesions) == web.session.metrics["lesion"]["fn"]
    assert volumes(state) == sorted(volumes(state), reverse=True)
    table.toggle_status("FN")
    assert state.lesion_statuses == [] and len(state.lesions) == state.lesion_count


def test_next_fn_and_the_n_key_jump_zoom_and_mark(web) -> None:
    table = web.binding.lesion_table
    set_state(web, threshold=0.7)
    web.binding.threshold_end(0.7)
    if web.server.state.lesion_sort != "volume_mm3":
        table.sort("volume_mm3")
    order = [(row["kind"], row["id"]) for row in web.server.state.lesions if row["status"] == "FN"]
    assert len(order) >= 2
    scene = web.slicer_app.scene
    crosshair = scene.GetFirstNodeByClass("vtkMRMLCrosshairNode")
    for expected in (order[0], order[1]):
        table.key_next("n")
        state = web.server.state
        assert state.lesion_focus == f"{expected[0]}:{expected[1]}"
        assert state.lesions[state.lesion_scroll]["key"] == state.lesion_focus
        row = next(r for r in web.session.lesions if r.key == expected)
        assert f"lesion {row.id} at R {row.centroid_ras[0]:.1f}" in state.message
        np.testing.assert_allclose(crosshair.GetCrosshairRAS(), row.centroid_ras, atol=1e-6)
        for index in range(scene.GetNumberOfNodesByClass("vtkMRMLSliceNode")):
            node = scene.GetNthNodeByClass(index, "vtkMRMLSliceNode")
            assert min(node.GetFieldOfView()[:2]) == pytest.approx(
                web.session.view_controller.field_of_view_mm(row.diameter_mm))
    table.key_next("N", True)  # Shift+N: back to the first
    assert web.server.state.lesion_focus == f"{order[0][0]}:{order[0][1]}"


def test_min_volume_field_hides_small_lesions(web) -> None:
    table, state = web.binding.lesion_table, web.server.state
    every = volumes(state)
    cut = sorted(every)[len(every) // 2]
    table.set_min_volume(str(cut))
    assert state.lesion_min_volume == cut and volumes(state) and min(volumes(state)) >= cut
    assert len(state.lesions) == sum(v >= cut for v in every) < len(every)
    table.set_min_volume("")
    assert len(state.lesions) == len(every)


def test_a_bad_column_or_status_is_refused_in_the_panel(web) -> None:
    table = web.binding.lesion_table
    before = list(web.server.state.lesions)
    table.sort("__proto__")
    assert web.server.state.message_kind == "error" and "cannot sort" in web.server.state.message
    table.toggle_status("MAYBE")
    assert "unknown status" in web.server.state.message
    table.set_min_volume("lots")
    assert "minimum lesion volume must be a number" in web.server.state.message
    assert web.server.state.lesions == before
