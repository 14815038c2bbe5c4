"""The overlay rule on screen: rendered offscreen in a trame-slicer axial slice view over a ``ReviewSession``, every
missed (FN) reference lesion shows blue on ≥ 90 % of its pixels in the slice through it, including a lesion wholly
covered by a true predicted component and one partly covered by a false one (the old rule painted them green/red)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("slicer")
pytest.importorskip("trame_slicer")

from LesionSegLib.nodes import add_volume_node, node_ijk_to_ras
from LesionSegLib.parameters import ReviewParameters
from LesionSegLib.session import ReviewSession
from LesionSegLib.views import SliceViewJumper
from overlay_cases import constructed_case
from view_pixels import rendered_rgb

from LesionSegLogic.image import Image
from LesionSegLogic.threshold import OVERLAY_FN

pytestmark = pytest.mark.slicer

SIZE = 240
THRESHOLD = 0.5


@pytest.fixture(scope="module")
def review():
    from trame_slicer.core import SlicerApp
    from trame_slicer.views import DirectViewFactory, ViewLayoutDefinition

    app = SlicerApp()
    app.view_manager.register_factory(DirectViewFactory(do_render_offscreen=True))
    view = app.view_manager.create_view(ViewLayoutDefinition.axial_view())
    probability, reference, lesions = constructed_case()
    rng = np.random.default_rng(0)
    flair = Image((100 + rng.normal(0, 5, probability.shape)).astype(np.float32), (1.0, 1.0, 1.0),
                  (-20.0, 15.0, -10.0), np.eye(3), "flair")
    flair_node = add_volume_node(app.scene, flair, "FLAIR")
    session = ReviewSession(app.scene, view_controller=SliceViewJumper(app.scene),
                            parameters=ReviewParameters(rule="anima"))
    session.set_inputs(flair_node)
    session.set_reference(flair.with_array(reference.astype(np.uint8)))
    session.load_probability(flair.with_array(probability.astype(np.float32)), THRESHOLD)
    session.review.node.GetDisplayNode().SetOpacity(1.0)
    app.display_manager.show_volume_in_slice_background(flair_node)
    app.display_manager.reset_views()
    view.render_window().SetSize(SIZE, SIZE)
    view.interactor().InvokeEvent("WindowResizeEvent")
    view.render()
    view.fit_view_to_content()
    return session, view, flair_node, lesions


def voxel_under_pixels(view, flair_node, shape: tuple[int, int]) -> np.ndarray:
    """(height, width, 3) (z, y, x) voxel index whose cell contains each pixel's centre."""
    xy_to_ras = np.array([[view.get_view_node().GetXYToRAS().GetElement(r, c) for c in range(4)] for r in range(4)])
    ras_to_ijk = np.linalg.inv(node_ijk_to_ras(flair_node))
    y, x = np.mgrid[0: shape[0], 0: shape[1]]
    xy = np.stack([x + 0.5, y + 0.5, np.zeros_like(x), np.ones_like(x)], -1).reshape(-1, 4).astype(float)
    ijk = (ras_to_ijk @ xy_to_ras @ xy.T).T[:, :3]
    return np.round(ijk[:, ::-1]).astype(int).reshape(shape[0], shape[1], 3)


def test_every_missed_lesion_renders_blue_in_its_axial_slice(review) -> None:
    session, view, flair_node, lesions = review
    state = session.set_threshold(THRESHOLD)
    missed = [row for row in state.lesions if row.kind == "reference" and row.status == "FN"]
    assert len(missed) == 3  # B (touched by a true lesion), C (inside a true lesion), D (partly under a false one)
    blue_fraction = {}
    for row in missed:
        session.jump_to_lesion(row.id, "reference")
        pixels = rendered_rgb(view)
        voxel = voxel_under_pixels(view, flair_node, pixels.shape[:2])
        inside = np.all((voxel >= 0) & (voxel < np.array(state.overlay.shape)), axis=-1)
        name = "ABCD"[row.id - 1]  # reference ids run in raster order
        lesion = np.zeros(pixels.shape[:2], bool)
        lesion[inside] = lesions[name][tuple(voxel[inside].T)]
        assert lesion.sum() > 100, (name, lesion.sum())  # the lesion is in this slice, several pixels per voxel
        colour = pixels[lesion]
        blue_fraction[name] = float(np.mean(colour[:, 2] > colour[:, :2].max(axis=1) + 40))
    assert min(blue_fraction.values()) >= 0.9, blue_fraction
    for name in blue_fraction:
        assert (state.overlay[lesions[name]] == OVERLAY_FN).all()  # the screen follows the engine's overlay
