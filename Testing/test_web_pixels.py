"""Offscreen pixels: after the threshold moves, the web app's axial slice view shows the TP (green), FP (red)
and FN (blue) overlay where the threshold engine puts them."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("slicer")
pytest.importorskip("trame_slicer")

from view_pixels import rendered_rgb
from web_apps import direct_app
from web_cases import write_case

from LesionSegWeb.app import AppConfig, ReviewWebApp
from LesionSegWeb.services import DemoLibrary, ModelInfo, Services

pytestmark = pytest.mark.slicer

SIZE = 240
#: the dominant channel of each overlay label's colour (1 TP green, 2 FP red, 3 FN blue).
CHANNEL = {1: 1, 2: 0, 3: 2}


@pytest.fixture(scope="module")
def web(tmp_path_factory) -> ReviewWebApp:
    root = tmp_path_factory.mktemp("pixels")
    services = Services(models=lambda: [ModelInfo("m", 0.4)], demos=DemoLibrary(root / "demos", seeds=()))
    app = direct_app(AppConfig(case=write_case(root / "case"), services=services, views="direct"))
    app.server.state.ready()
    app.server.state.update({"opacity": 1.0})
    app.server.state.flush()
    for view in app.viewport.slice_views():
        view.render_window().SetSize(SIZE, SIZE)
        view.interactor().InvokeEvent("WindowResizeEvent")
        view.fit_view_to_content()
    return app


def axial_pixels(app: ReviewWebApp) -> np.ndarray:
    view = next(v for v in app.viewport.slice_views() if v.get_orientation() == "Axial")
    return rendered_rgb(view)[::-1]


def engine_label_at_centre(app: ReviewWebApp, row: dict) -> int:
    """The engine's overlay label at the voxel under the lesion centre (where the view centres)."""
    r, a, s = next(x.centroid_ras for x in app.session.lesions if x.id == row["id"] and x.kind == row["kind"])
    index = np.round(app.session.flair.physical_to_index(np.array([[-r, -a, s]]))[0]).astype(int)
    return int(app.session.state.overlay[tuple(index)])


def centre_colour(app: ReviewWebApp, row: dict) -> np.ndarray:
    app.binding.jump(row["id"], row["kind"])
    pixels = axial_pixels(app)
    h, w, _ = pixels.shape
    return pixels[h // 2 - 1: h // 2 + 2, w // 2 - 1: w // 2 + 2].reshape(-1, 3).mean(axis=0)


@pytest.mark.parametrize("threshold", [0.25, 0.5])
def test_each_lesion_centre_shows_the_engines_colour(web, threshold) -> None:
    web.server.state.threshold = threshold
    web.server.state.flush()
    rows = web.server.state.lesions
    labels = [engine_label_at_centre(web, row) for row in rows]
    assert {1, 2, 3} <= set(labels), labels  # every colour is exercised
    for row, label in zip(rows, labels, strict=True):
        colour = centre_colour(web, row)
        channel = CHANNEL[label]
        others = [c for c in range(3) if c != channel]
        assert colour[channel] > colour[others].max() + 40, (threshold, row, label, colour)


def test_moving_the_threshold_changes_a_lesion_colour_on_screen(web) -> None:
    web.server.state.threshold = 0.25
    web.server.state.flush()
    # the reference lesions peaking at p≈0.3 and 0.55 are detected at 0.25 and wholly missed at 0.95
    detected = {(r["kind"], r["id"]): r["status"] for r in web.server.state.lesions}
    web.server.state.threshold = 0.95
    web.server.state.flush()
    missed = {(r["kind"], r["id"]): r["status"] for r in web.server.state.lesions}
    changed = [k for k in missed if k[0] == "reference" and detected.get(k) == "TP" and missed[k] == "FN"]
    assert changed, (detected, missed)
    row = {"id": changed[0][1], "kind": changed[0][0]}
    assert engine_label_at_centre(web, row) == 3
    blue = centre_colour(web, row)
    web.server.state.threshold = 0.25
    web.server.state.flush()
    assert engine_label_at_centre(web, row) == 1
    green = centre_colour(web, row)
    assert blue[2] > blue[1] + 40 and green[1] > green[2] + 40, (blue, green)


def test_overlay_redraws_when_only_the_threshold_moves(web) -> None:
    """The views stay put (no jump, no slice change) while the threshold moves: the labelmap is rewritten in
    place, and the slice view must still redraw from it (a stale overlay keeps the old colour)."""
    statuses = {}
    for threshold in (0.25, 0.95):
        web.server.state.threshold = threshold
        web.server.state.flush()
        statuses[threshold] = {(r["kind"], r["id"]): r["status"] for r in web.server.state.lesions}
    kind, lesion_id = next(k for k, status in statuses[0.95].items()
                           if k[0] == "reference" and status == "FN" and statuses[0.25].get(k) == "TP")
    row = {"id": lesion_id, "kind": kind}
    web.binding.jump(row["id"], row["kind"])  # the last time the views move

    def centre() -> np.ndarray:
        pixels = axial_pixels(web)
        h, w, _ = pixels.shape
        return pixels[h // 2 - 1: h // 2 + 2, w // 2 - 1: w // 2 + 2].reshape(-1, 3).mean(axis=0)

    seen = []
    for threshold in (0.25, 0.95, 0.25, 0.95):
        web.server.state.threshold = threshold
        web.server.state.flush()
        label = engine_label_at_centre(web, row)
        colour = centre()
        channel = CHANNEL[label]
        others = [c for c in range(3) if c != channel]
        assert colour[channel] > colour[others].max() + 40, (threshold, label, colour)
        seen.append(label)
    assert seen == [1, 3, 1, 3]
