"""What the web app's slice views say in their corners (LesionSegLib.views.slice_labels, drawn by
LesionSegWeb.annotations): patient-direction letters at the edges, slice number and position, window/level — right
for an image stored LPS and for the same anatomy stored RAS; and the layout follows the anatomy (cord: sagittal
large)."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("slicer")
pytest.importorskip("trame_slicer")

from LesionSegLib.views import SliceViewJumper, direction_letters, slice_labels
from view_pixels import rendered_rgb
from web_apps import direct_app
from web_cases import write_case

from LesionSegLogic.image import Image
from LesionSegLogic.io import write_image
from LesionSegWeb.app import AppConfig, ReviewWebApp
from LesionSegWeb.services import DemoLibrary, ModelInfo, Services

pytestmark = pytest.mark.slicer

#: the patient direction at (left, right, top, bottom) of each view, as a radiologist reads them in 3D Slicer
EXPECTED_EDGES = {"Axial": ("R", "L", "A", "P"), "Coronal": ("R", "L", "S", "I"), "Sagittal": ("A", "P", "S", "I")}
#: which voxel axis (array order z, y, x) each view steps through
STEP_AXIS = {"Axial": 0, "Coronal": 1, "Sagittal": 2}
SHAPE = (20, 30, 40)
SPACING = (2.0, 1.0, 1.5)  # array order (z, y, x)


def test_direction_letters_name_the_dominant_axes() -> None:
    assert [direction_letters(d) for d in ((1, 0, 0), (-1, 0, 0), (0, 1, 0), (0, -1, 0), (0, 0, 1), (0, 0, -1))] \
        == ["R", "L", "A", "P", "S", "I"]
    assert direction_letters((0.8, -0.6, 0.0)) == "RP" and direction_letters((0.9, 0.1, 0.0)) == "R"


def _voxel_ras(image: Image, index_zyx: tuple[int, int, int]) -> np.ndarray:
    """RAS (mm) of a voxel centre from the image's own (ITK, LPS) geometry."""
    xyz = np.array(index_zyx[::-1], float) * np.array(image.spacing[::-1])
    lps = np.asarray(image.origin, float) + np.asarray(image.direction, float).reshape(3, 3) @ xyz
    return lps * np.array([-1.0, -1.0, 1.0])


def test_slice_number_comes_from_the_volume_grid_for_lps_and_ras_storage() -> None:
    axial = np.array([[-1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1]], float)  # 3D Slicer's axial preset
    for direction in (np.eye(3), np.diag([-1.0, -1.0, 1.0])):  # LPS-stored, RAS-stored
        image = Image(np.zeros(SHAPE, np.float32), SPACING, (5.0, -7.0, 3.0), direction)
        ijk_to_ras = np.eye(4)
        ijk_to_ras[:3, :3] = np.diag([-1, -1, 1]) @ direction @ np.diag(SPACING[::-1])
        ijk_to_ras[:3, 3] = np.array(image.origin) * [-1, -1, 1]
        for k in (0, 7, 19):
            slice_to_ras = axial.copy()
            slice_to_ras[:3, 3] = _voxel_ras(image, (k, 3, 4))
            labels = slice_labels(slice_to_ras, np.linalg.inv(ijk_to_ras), SHAPE[::-1])
            assert (labels.slice_number, labels.slice_count) == (k + 1, SHAPE[0])
            assert (labels.left, labels.right, labels.top, labels.bottom) == EXPECTED_EDGES["Axial"]
            assert labels.position == f"S {abs(_voxel_ras(image, (k, 3, 4))[2]):.1f} mm".replace("S -", "I ")
        slice_to_ras[:3, 3] = _voxel_ras(image, (25, 3, 4))  # beyond the volume: no slice number
        assert slice_labels(slice_to_ras, np.linalg.inv(ijk_to_ras), SHAPE[::-1]).slice_number is None


@pytest.fixture(scope="module")
def web(tmp_path_factory) -> ReviewWebApp:
    root = tmp_path_factory.mktemp("views")
    rng = np.random.default_rng(0)
    array = rng.normal(100, 10, SHAPE).astype(np.float32)
    for name, direction in (("lps", np.eye(3)), ("ras", np.diag([-1.0, -1.0, 1.0]))):
        write_image(Image(array, SPACING, (5.0, -7.0, 3.0), direction), root / name / "flair.nii.gz")
    cord = rng.normal(100, 10, (120, 12, 12)).astype(np.float32)  # 36 × 36 × 240 mm: a cord's field of view
    write_image(Image(cord, (2.0, 3.0, 3.0), (0.0, 0.0, 0.0), np.eye(3)), root / "cord" / "flair.nii.gz")
    write_case(root / "review")  # FLAIR, reference and probability map
    services = Services(models=lambda: [ModelInfo("m", 0.4)], demos=DemoLibrary(root / "demos", seeds=()))
    app = direct_app(AppConfig(case=root / "lps", allow=(root,), services=services, views="direct"))
    app.root = root
    return app


def _corner_texts(app: ReviewWebApp) -> dict[str, dict[int, str]]:
    return {view.get_orientation(): app.viewport.annotations.texts(view) for view in app.viewport.slice_views()}


@pytest.mark.parametrize("stored", ["lps", "ras"])
def test_views_show_letters_slice_numbers_and_window_level(web, stored) -> None:
    assert web.binding.open_case(str(web.root / stored)), web.server.state.message
    image = Image(np.zeros(SHAPE, np.float32), SPACING, (5.0, -7.0, 3.0),
                  np.eye(3) if stored == "lps" else np.diag([-1.0, -1.0, 1.0]))
    voxel = (6, 11, 29)
    SliceViewJumper(web.slicer_app.scene).jump_to(tuple(_voxel_ras(image, voxel)))
    for orientation, texts in _corner_texts(web).items():
        left, right, top, bottom = EXPECTED_EDGES[orientation]
        assert (texts[6], texts[5], texts[7], texts[4]) == (left, right, top, bottom), orientation
        axis = STEP_AXIS[orientation]
        assert f"slice {voxel[axis] + 1}/{SHAPE[axis]}" in texts[3], (orientation, texts[3])
        assert "W " in texts[3] and " L " in texts[3]


def test_window_level_drag_changes_the_window_and_its_annotation(web) -> None:
    assert web.binding.open_case(str(web.root / "lps"))
    view = next(v for v in web.viewport.slice_views() if v.get_orientation() == "Axial")
    view.render_window().SetSize(300, 300)
    view.interactor().InvokeEvent("WindowResizeEvent")
    display = web.session.flair_node.GetDisplayNode()
    before, text_before = (display.GetWindow(), display.GetLevel()), web.viewport.annotations.texts(view)[3]

    def drag() -> None:
        interactor = view.interactor()
        for event, x, y in [("MouseMoveEvent", 150, 150), ("LeftButtonPressEvent", 150, 150),
                            *[("MouseMoveEvent", 150 + 6 * i, 150 + 4 * i) for i in range(1, 10)],
                            ("LeftButtonReleaseEvent", 204, 186)]:
            interactor.SetEventPosition(x, y)
            interactor.InvokeEvent(event)

    drag()  # navigate mode: the drag does not touch the window
    assert (display.GetWindow(), display.GetLevel()) == before
    assert web.viewport.controls.set_mouse_mode("window_level")
    drag()
    assert (display.GetWindow(), display.GetLevel()) != before
    assert web.viewport.annotations.texts(view)[3] != text_before
    assert f"W {display.GetWindow():.0f}" in web.viewport.annotations.texts(view)[3]
    assert web.viewport.controls.set_mouse_mode("navigate") and not web.viewport.controls.set_mouse_mode("paint")
    assert web.viewport.controls.set_mouse_mode("window_level")
    web.server.state.ready()  # change callbacks run from now on (as once the page is served)
    web.server.state.edit_tool = "brush"  # choosing a brush gives the mouse back to navigation
    web.server.state.flush()
    assert web.server.state.mouse_mode == "navigate"
    interactor_mode = web.slicer_app.scene.GetNodeByID("vtkMRMLInteractionNodeSingleton").GetCurrentInteractionMode()
    assert interactor_mode != web.slicer_app.scene.GetNodeByID("vtkMRMLInteractionNodeSingleton").AdjustWindowLevel
    web.server.state.edit_tool = "none"
    web.server.state.flush()


def test_a_cord_opens_sagittal_large_until_the_user_picks_a_layout(web) -> None:
    controls = web.viewport.controls
    assert web.binding.open_case(str(web.root / "cord")), web.server.state.message
    assert controls.layout == "cord"
    assert web.binding.open_case(str(web.root / "lps")) and controls.layout == "brain"
    assert controls.choose_layout("cord") and not controls.choose_layout("quad")
    assert web.binding.open_case(str(web.root / "lps")) and controls.layout == "cord"  # the user's choice stays
    assert web.server.state.view_layout == "cord"


def _pixels(view) -> np.ndarray:
    """The RGB pixels of an offscreen view at 240 × 240, freshly rendered, one row per pixel."""
    view.render_window().SetSize(240, 240)
    return rendered_rgb(view).reshape(-1, 3)


def test_the_3d_switch_shows_lesion_surfaces_by_status_rebuilt_when_the_slider_rests(web) -> None:
    controls, binding, session = web.viewport.controls, web.binding, web.session
    assert web.binding.open_case(str(web.root / "review")), web.server.state.message
    surfaces = web.lesion_surfaces
    assert surfaces.node is None  # nothing built while the 3-D view is off
    assert controls.set_3d(True) and not controls.set_3d("yes")
    views = web.slicer_app.view_manager.get_views()
    assert any(not v.get_view_node().IsA("vtkMRMLSliceNode") for v in views)  # the 3-D view is in the layout
    node = surfaces.node
    segmentation = node.GetSegmentation()
    assert segmentation.ContainsRepresentation("Closed surface")
    assert not node.GetDisplayNode().GetVisibility2D() and node.GetDisplayNode().GetVisibility3D()
    names = {segmentation.GetNthSegment(i).GetName(): segmentation.GetNthSegment(i).GetColor()
             for i in range(segmentation.GetNumberOfSegments())}
    review_segments = session.review.node.GetSegmentation()
    assert names == {review_segments.GetNthSegment(i).GetName(): review_segments.GetNthSegment(i).GetColor()
                     for i in range(review_segments.GetNumberOfSegments())}  # TP/FP/FN, the overlay's colours
    assert np.array_equal(surfaces._copy.labels, session.review.labels)
    view = next(v for v in views if not v.get_view_node().IsA("vtkMRMLSliceNode"))
    rgb = _pixels(view)
    green = (rgb[:, 1] > rgb[:, 0] + 60) & (rgb[:, 1] > rgb[:, 2] + 60)
    assert green.sum() > 50  # the TP surfaces are drawn (in their overlay green) in the 3-D view
    at_rest = session.review.labels
    binding.threshold_start()
    binding.slider.change(0.2)  # a drag: the review follows, the surfaces wait
    assert not np.array_equal(session.review.labels, at_rest)
    assert np.array_equal(surfaces._copy.labels, at_rest)
    binding.threshold_end(0.2)  # released: rebuilt
    assert np.array_equal(surfaces._copy.labels, session.review.labels)
    assert segmentation.ContainsRepresentation("Closed surface")
    assert controls.set_3d(False) and not node.GetDisplayNode().GetVisibility()
