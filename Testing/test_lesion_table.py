"""The lesion table a reader uses (issue 16): rows of the current threshold with mean/max probability, slice and
region; sorting, filtering, "next FN/FP" in sorted order; the lesion-load summary per McDonald region, live; the
jump that centres, zooms and marks. Qt-free, on real MRML (slicer-core)."""

from __future__ import annotations

import math

import numpy as np
import pytest

slicer = pytest.importorskip("slicer")

from LesionSegLib.headless import make_scene  # noqa: E402
from LesionSegLib.lesion_focus import LesionFocus  # noqa: E402
from LesionSegLib.lesion_list import LesionList, LesionOrder, load_summary, sorted_rows  # noqa: E402
from LesionSegLib.session import ReviewSession  # noqa: E402
from LesionSegLib.tables import LesionRow, table_column  # noqa: E402

from LesionSegLogic.errors import InputError  # noqa: E402
from LesionSegLogic.image import Image  # noqa: E402
from LesionSegLogic.regions import PRECEDENCE, RegionAtlas  # noqa: E402

pytestmark = pytest.mark.slicer

#: lesion centres (z, y, x), radius, peak probability: three found at 0.5, one weak (found below 0.3), one missed
REFERENCE = [(6, 8, 8, 2.5, 0.97), (6, 24, 24, 2.0, 0.8), (14, 8, 24, 2.0, 0.55), (14, 24, 8, 2.0, 0.25),
             (20, 16, 16, 2.0, 0.0)]
FALSE_ALARMS = [(10, 16, 22, 0.9), (20, 6, 28, 0.6)]


def make_case() -> tuple[Image, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(5)
    shape = (26, 32, 32)
    zz, yy, xx = np.indices(shape)
    reference = np.zeros(shape, bool)
    probability = rng.random(shape).astype(np.float32) * 0.05
    for z, y, x, r, peak in REFERENCE:
        d = np.sqrt((zz - z) ** 2 + (yy - y) ** 2 + (xx - x) ** 2)
        reference |= d <= r
        probability = np.maximum(probability, peak * np.clip(1.2 - d / (r + 1.5), 0, 1))
    for z, y, x, peak in FALSE_ALARMS:
        d = np.sqrt((zz - z) ** 2 + (yy - y) ** 2 + (xx - x) ** 2)
        probability = np.maximum(probability, peak * np.clip(1.2 - d / 3, 0, 1))
    flair = Image((100 + 60 * reference + rng.normal(0, 4, shape)).astype(np.float32), (2.0, 1.0, 1.0),
                  (-16.0, 20.0, -30.0), np.eye(3), "flair")
    return flair, reference, np.clip(probability, 0, 1).astype(np.float32)


def halves_atlas(shape: tuple[int, int, int]) -> RegionAtlas:
    """Left half of the array (x < 16) periventricular, right half deep white matter, slices z ≥ 18 infratentorial."""
    codes = np.full(shape, PRECEDENCE.index("deep_white_matter"), np.uint8)
    codes[:, :, :16] = PRECEDENCE.index("periventricular")
    codes[18:] = PRECEDENCE.index("infratentorial")
    return RegionAtlas("test halves", codes)


@pytest.fixture()
def session():
    flair, reference, probability = make_case()
    scene = make_scene().scene
    review = ReviewSession(scene, view_controller=LesionFocus(scene))
    review.set_inputs(flair)
    review.set_reference(flair.with_array(reference.astype(np.uint8)))
    review.load_probability(flair.with_array(probability), 0.5)
    return review


def test_rows_carry_mean_max_slice_and_match_the_metrics(session) -> None:
    rows = session.lesions
    metrics = session.metrics["lesion"]
    assert sum(r.status == "FN" for r in rows) == metrics["fn"] >= 1
    assert sum(r.status == "FP" for r in rows) == metrics["fp"] >= 1
    probability = session.probability.array
    for row in rows:
        assert 0.0 <= row.mean_probability <= row.max_probability <= 1.0
        lps = np.array([-row.centroid_ras[0], -row.centroid_ras[1], row.centroid_ras[2]])
        z = session.flair.physical_to_index(lps)[0][0]
        assert row.slice_index == round(z)
        if row.kind == "predicted":  # a predicted lesion's maximum is the map's peak around it
            assert row.max_probability <= float(probability.max())
    # the 4-digit maxima tell the predicted rows apart (the table no longer shows 1.00 everywhere)
    predicted = [f"{r.max_probability:.4f}" for r in rows if r.kind == "predicted"]
    assert len(set(predicted)) == len(predicted)
    # the MRML table has the new columns, row for row
    assert table_column(session.lesion_table, "mean_probability") == pytest.approx([r.mean_probability for r in rows])
    assert table_column(session.lesion_table, "slice") == [r.slice_index for r in rows]


def test_sort_by_every_column_and_flip() -> None:
    rows = [LesionRow(1, "predicted", "TP", 12.0, (0, 0, 0), 0.9, 0.6, "periventricular", 3),
            LesionRow(2, "predicted", "FP", 40.0, (0, 0, 0), 0.7, 0.55, "juxtacortical", 9),
            LesionRow(1, "reference", "FN", 25.0, (0, 0, 0), 0.2, math.nan, "deep_white_matter", 5),
            LesionRow(2, "reference", "TP", 8.0, (0, 0, 0), 0.95, 0.7, "periventricular", 1)]
    table = LesionList(rows)
    table.sort_by("volume_mm3")
    assert [r.volume_mm3 for r in table.rows] == [40.0, 25.0, 12.0, 8.0]
    table.sort_by("volume_mm3")  # the header clicked again: ascending
    assert [r.volume_mm3 for r in table.rows] == [8.0, 12.0, 25.0, 40.0]
    table.sort_by("mean_probability", descending=False)
    assert [r.key for r in table.rows][-1] == ("reference", 1)  # NaN last in both directions
    table.sort_by("mean_probability", descending=True)
    assert [r.key for r in table.rows][-1] == ("reference", 1)
    table.sort_by("region")
    assert [r.region for r in table.rows] == sorted(r.region for r in rows)
    table.sort_by("slice", descending=False)
    assert [r.slice_index for r in table.rows] == [1, 3, 5, 9]
    with pytest.raises(InputError):
        table.sort_by("colour")


def test_filter_by_status_region_and_volume(session) -> None:
    table = LesionList(session.lesions)
    table.set_filter(statuses=["FN"])
    assert table.rows and all(r.status == "FN" for r in table.rows)
    assert len(table.rows) == session.metrics["lesion"]["fn"]
    table.set_filter(statuses=[], min_volume_mm3=40.0)
    assert table.rows and all(r.volume_mm3 >= 40.0 for r in table.rows)
    assert len(table.rows) < len(session.lesions)
    with pytest.raises(InputError):
        table.set_filter(statuses=["MAYBE"])
    with pytest.raises(InputError):
        table.set_filter(regions=["frontal"])


def test_next_fn_walks_the_sorted_visible_rows_and_wraps(session) -> None:
    session.set_threshold(0.6)  # two reference lesions missed
    table = LesionList(session.lesions)
    table.sort_by("volume_mm3", descending=True)
    expected = [r.key for r in table.rows if r.status == "FN"]
    assert len(expected) >= 2
    seen = [table.next("FN").key for _ in range(len(expected) + 1)]
    assert seen == [*expected, expected[0]]  # in the table's order, then round again
    assert table.next("FN", backwards=True).key == expected[-1]
    fps = [r.key for r in table.rows if r.status == "FP"]
    assert table.next("FP").key == fps[0]
    table.set_filter(statuses=["TP"])  # FN rows filtered out: nothing to step to
    assert table.next("FN") is None
    # a new threshold keeps the focus while the lesion exists
    table.set_filter(statuses=[])
    table.focus_on(*expected[0])
    table.set_rows(session.set_threshold(0.58).lesions)
    assert table.focus == expected[0]


def test_regions_and_lesion_load_follow_the_threshold(session) -> None:
    session.set_region_atlas(halves_atlas(session.flair.shape))
    rows = session.lesions
    assert all(r.region for r in rows)
    for row in rows:  # the test atlas: by the centroid's side and slice (the lesions are small and far apart)
        lps = np.array([-row.centroid_ras[0], -row.centroid_ras[1], row.centroid_ras[2]])
        z, _, x = session.flair.physical_to_index(lps)[0]
        expected = "infratentorial" if z + 2.5 >= 18 else ("periventricular" if x < 16 else "deep_white_matter")
        assert row.region == expected, row
    high = load_summary(session.lesions, has_reference=True)
    low = load_summary(session.set_threshold(0.2).lesions, has_reference=True)
    assert low.predicted.count > high.predicted.count  # the weak lesion and more false alarms appear
    assert low.predicted.count == session.metrics["lesion"]["n_predicted"]
    assert low.predicted.volume_mm3 == pytest.approx(sum(r.volume_mm3 for r in session.lesions
                                                         if r.kind == "predicted"))
    assert sum(low.predicted.by_region.values()) == low.predicted.count
    assert low.reference == high.reference  # the reference does not move with the slider
    assert low.reference.count == len(REFERENCE)
    assert low.reference.dis_regions == 2  # periventricular + infratentorial; deep white matter does not count


def test_jump_centres_zooms_and_marks(session) -> None:
    scene = session.scene
    for name in ("Red", "Yellow", "Green"):
        node = scene.AddNewNodeByClass("vtkMRMLSliceNode", name)
        node.SetFieldOfView(250.0, 200.0, 1.0)
    if scene.GetFirstNodeByClass("vtkMRMLCrosshairNode") is None:
        scene.AddNewNodeByClass("vtkMRMLCrosshairNode")
    row = max((r for r in session.lesions if r.kind == "predicted"), key=lambda r: r.volume_mm3)
    ras = session.jump_to_lesion(row.id, "predicted")
    expected = LesionFocus(scene).field_of_view_mm(row.diameter_mm)
    for index in range(scene.GetNumberOfNodesByClass("vtkMRMLSliceNode")):
        node = scene.GetNthNodeByClass(index, "vtkMRMLSliceNode")
        width, height, _ = node.GetFieldOfView()
        assert min(width, height) == pytest.approx(expected)
        assert width / height == pytest.approx(250.0 / 200.0)  # aspect kept
        centre = np.asarray(node.GetSliceToRAS())[:3, 3] if hasattr(node.GetSliceToRAS(), "shape") else \
            np.array([node.GetSliceToRAS().GetElement(i, 3) for i in range(3)])
        np.testing.assert_allclose(centre, ras, atol=1e-6)
    crosshair = scene.GetFirstNodeByClass("vtkMRMLCrosshairNode")
    np.testing.assert_allclose(crosshair.GetCrosshairRAS(), ras, atol=1e-6)
    assert crosshair.GetCrosshairMode() != crosshair.NoCrosshair


def test_sorted_rows_is_total() -> None:
    rows = [LesionRow(i, "predicted", "FP", 10.0, (0, 0, 0), 0.5) for i in (3, 1, 2)]
    assert [r.id for r in sorted_rows(rows, LesionOrder("volume_mm3"))] == [1, 2, 3]


def test_desktop_navigator_steps_in_table_order_and_describes_the_load(session) -> None:
    from LesionSegLib.lesion_panel import LesionNavigator

    session.set_threshold(0.6)
    navigator = LesionNavigator()
    missed = [i for i, r in enumerate(session.lesions) if r.status == "FN"]
    assert [navigator.next(session, "FN") for _ in missed] == missed  # table rows, in the table's order
    assert navigator.next(session, "FN") == missed[0]  # wraps
    navigator.clicked(session, missed[-1])
    assert navigator.next(session, "FN") == missed[0]
    text = LesionNavigator.load_text(session)
    assert text.startswith(f"Predicted: {session.metrics['lesion']['n_predicted']} lesions")
    assert f"Reference: {len(REFERENCE)} lesions" in text and "regions not labelled yet" in text
    with pytest.raises(InputError, match="brain from spinal cord"):  # 52 × 32 × 32 mm: neither by its extent
        LesionNavigator.label_regions(session)
    session.set_region_atlas(halves_atlas(session.flair.shape))
    assert "DIS areas 2" in LesionNavigator.load_text(session)
