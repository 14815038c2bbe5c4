"""Volume nodes ⇄ Image with exact geometry, shared-labelmap segments and terminology, on real MRML."""

from __future__ import annotations

import numpy as np
import pytest

slicer = pytest.importorskip("slicer")
vtk = pytest.importorskip("vtk")

from LesionSegLib.headless import make_scene  # noqa: E402
from LesionSegLib.nodes import add_volume_node, image_from_volume_node, load_volume_node  # noqa: E402
from LesionSegLib.parameters import PREDICTION_SEGMENTS, REVIEW_SEGMENTS  # noqa: E402
from LesionSegLib.segmentation import (  # noqa: E402
    SharedLabelmapSegmentation,
    add_mask_segmentation,
    import_mask,
    segment_mask,
)
from LesionSegLib.terminology import TERMINOLOGY_FILE, load_terminology  # noqa: E402

from LesionSegLogic.errors import CorruptFileError, FileMissingError, GeometryError  # noqa: E402
from LesionSegLogic.image import Image  # noqa: E402
from LesionSegLogic.io import read_image, write_image  # noqa: E402

pytestmark = pytest.mark.slicer


def oblique_image(shape=(12, 14, 16), dtype=np.float32, seed=0) -> Image:
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(np.array([[0.9, -0.3, 0.1], [0.3, 0.9, 0.2], [0.05, -0.2, 0.97]]))
    if np.linalg.det(q) < 0:
        q[:, 0] *= -1
    return Image(rng.random(shape).astype(dtype), (1.3, 0.9, 1.1), (12.5, -30.25, 7.0), q, "oblique")


@pytest.fixture()
def scene():
    return make_scene().scene


def test_image_node_round_trip_is_exact_for_oblique_geometry(scene) -> None:
    image = oblique_image()
    node = add_volume_node(scene, image, "flair")
    back = image_from_volume_node(node)
    assert np.array_equal(back.array, image.array)
    np.testing.assert_allclose(back.affine_lps(), image.affine_lps(), atol=1e-9)
    # Slicer's own IJK->RAS of voxel (i, j, k) is the ITK LPS position with x, y negated.
    import vtk

    matrix = vtk.vtkMatrix4x4()
    node.GetIJKToRASMatrix(matrix)
    ras = matrix.MultiplyPoint((3.0, 5.0, 7.0, 1.0))[:3]
    lps = image.index_to_physical(np.array([7.0, 5.0, 3.0]))[0]
    np.testing.assert_allclose(ras, (-lps[0], -lps[1], lps[2]), atol=1e-9)


def test_volume_read_by_slicer_equals_volume_read_by_library(scene, tmp_path) -> None:
    image = oblique_image(dtype=np.float32)
    path = tmp_path / "flair.nii.gz"
    write_image(image, path)
    from_slicer = image_from_volume_node(load_volume_node(scene, path))
    from_file = read_image(path)
    assert np.array_equal(from_slicer.array, from_file.array)
    idx = np.array([[0, 0, 0], [11, 13, 15], [4.5, 2.25, 9.0]])
    positions = from_slicer.index_to_physical(idx)
    np.testing.assert_allclose(positions, from_file.index_to_physical(idx), atol=1e-4)
    np.testing.assert_allclose(from_file.index_to_physical(idx), image.index_to_physical(idx), atol=1e-4)


def test_load_volume_errors_name_the_file(scene, tmp_path) -> None:
    with pytest.raises(FileMissingError, match="missing.nii.gz"):
        load_volume_node(scene, tmp_path / "missing.nii.gz")
    bad = tmp_path / "bad.nii.gz"
    bad.write_bytes(b"not a nifti at all")
    with pytest.raises(CorruptFileError, match="bad.nii.gz"):
        load_volume_node(scene, bad)


def test_shared_labelmap_segments_match_labels_and_skip_unchanged(scene) -> None:
    image = oblique_image()
    node = add_volume_node(scene, image, "flair")
    review = SharedLabelmapSegmentation(scene, "review", node, REVIEW_SEGMENTS)
    labels = np.random.default_rng(1).integers(0, 4, image.shape).astype(np.uint8)
    assert review.update(labels) is True
    assert review.update(labels) is False  # the same array again: nothing to do
    segmentation = review.node.GetSegmentation()
    assert segmentation.GetNumberOfLayers() == 1
    for style in REVIEW_SEGMENTS:
        segment_id = review.segment_ids[style.label]
        assert segmentation.GetSegment(segment_id).GetName() == style.name
        assert np.array_equal(segment_mask(review.node, segment_id, node, scene), labels == style.label)
    with pytest.raises(GeometryError):
        review.update(labels[:-1])


def test_shared_labelmap_update_signals_every_segment_modified(scene) -> None:
    """What every view (desktop Slicer's and the web app's displayable managers) redraws from after an in-place
    labelmap rewrite: a ``SegmentModified`` event for each segment, on the segmentation and on the node."""
    image = oblique_image()
    node = add_volume_node(scene, image, "flair")
    review = SharedLabelmapSegmentation(scene, "review", node, REVIEW_SEGMENTS)
    on_segmentation: list[str] = []
    on_node: list[int] = []

    def segment_modified(_caller, _event, segment_id: str) -> None:
        on_segmentation.append(segment_id)

    segment_modified.CallDataType = vtk.VTK_STRING
    segmentation = review.node.GetSegmentation()
    segmentation.AddObserver(slicer.vtkSegmentation.SegmentModified, segment_modified)
    review.node.AddObserver(slicer.vtkSegmentation.SegmentModified, lambda *_: on_node.append(1))
    labels = np.random.default_rng(2).integers(0, 4, image.shape).astype(np.uint8)
    review.update(labels)
    assert sorted(set(on_segmentation)) == sorted(review.segment_ids.values())
    assert on_node, "the segmentation node does not forward SegmentModified"
    on_segmentation.clear()
    review.update(labels)  # nothing changed: no redraw asked for
    assert on_segmentation == []


def test_shared_labelmap_update_at_writes_only_the_given_voxels(scene) -> None:
    """The live path's write: given flat indices and values, only voxels whose label differs are written, their
    (z, y, x) box is returned, and only the segments whose voxels changed are told (one SegmentModified each)."""
    image = oblique_image()
    node = add_volume_node(scene, image, "flair")
    review = SharedLabelmapSegmentation(scene, "review", node, REVIEW_SEGMENTS)
    labels = np.zeros(image.shape, np.uint8)
    labels[2:5, 3:6, 4:8] = 1
    review.update(labels)
    told: list[str] = []

    def segment_modified(_caller, _event, segment_id: str) -> None:
        told.append(segment_id)

    segment_modified.CallDataType = vtk.VTK_STRING
    review.node.GetSegmentation().AddObserver(slicer.vtkSegmentation.SegmentModified, segment_modified)
    index = np.ravel_multi_index(([3, 3, 9], [4, 5, 1], [5, 6, 2]), image.shape)
    box = review.update_at(index, np.array([1, 3, 3], np.uint8))  # the first voxel already holds 1
    assert box == (slice(3, 10), slice(1, 6), slice(2, 7))
    expected = labels.copy()
    expected[3, 5, 6], expected[9, 1, 2] = 3, 3
    assert np.array_equal(review.labels, expected)
    assert sorted(set(told)) == sorted({review.segment_ids[1], review.segment_ids[3]})  # 1 → 3 and 0 → 3
    for style in REVIEW_SEGMENTS:
        assert np.array_equal(segment_mask(review.node, review.segment_ids[style.label], node, scene),
                              expected == style.label)
    told.clear()
    assert review.update_at(index, expected.reshape(-1)[index]) is None and told == []  # nothing differs
    with pytest.raises(GeometryError):
        review.update_at(np.array([expected.size]), np.array([1], np.uint8))
    with pytest.raises(GeometryError):
        review.update_at(index, np.array([1], np.uint8))


def test_metrics_table_rewrites_values_in_place_and_rebuilds_on_new_keys(scene) -> None:
    from LesionSegLib.tables import read_metrics_table, write_metrics_table

    table_node = scene.AddNewNodeByClass("vtkMRMLTableNode", "metrics")
    first = {"threshold": 0.3, "rule": "anima", "voxel": {"dice": 0.5, "tp": 3}, "lesion": {"f1": None}}
    write_metrics_table(table_node, first)
    table = table_node.GetTable()
    modified: list[int] = []
    table_node.AddObserver(vtk.vtkCommand.ModifiedEvent, lambda *_: modified.append(1))
    write_metrics_table(table_node, {**first, "threshold": 0.4, "voxel": {"dice": 0.75, "tp": 5}})
    assert table_node.GetTable() is table and modified  # same rows: values rewritten, views told
    got = read_metrics_table(table_node)
    assert got["threshold"] == {"threshold": 0.4} and got["voxel"] == {"dice": 0.75, "tp": 5.0}
    assert np.isnan(got["lesion"]["f1"])
    write_metrics_table(table_node, {**first, "surface": {"hd": 2.0}})  # a new metric: a new table
    assert table_node.GetTable() is not table and read_metrics_table(table_node)["surface"] == {"hd": 2.0}


def test_editable_segment_round_trip_through_import(scene) -> None:
    image = oblique_image()
    node = add_volume_node(scene, image, "flair")
    mask = image.array > 0.7
    seg_node, segment_id = add_mask_segmentation(scene, "accepted", mask, node, PREDICTION_SEGMENTS[0])
    assert np.array_equal(segment_mask(seg_node, segment_id, node, scene), mask)
    edited = mask.copy()
    edited[2:5, 2:5, 2:5] = True
    import_mask(edited, seg_node, segment_id, node, scene)
    assert np.array_equal(segment_mask(seg_node, segment_id, node, scene), edited)


def test_shipped_terminology_loads_in_slicer_and_serialises_identically() -> None:
    logic = slicer.vtkSlicerTerminologiesModuleLogic()
    assert logic.LoadContextFromFile(str(TERMINOLOGY_FILE))
    types = load_terminology()
    assert {s.terminology_label for s in PREDICTION_SEGMENTS + REVIEW_SEGMENTS} <= set(types)
    for label, kind in types.items():
        entry = slicer.vtkSlicerTerminologyEntry()
        context = kind.entry.split("~")[0]
        assert logic.FindTypeInTerminologyBy3dSlicerLabel(context, label, entry)
        assert logic.SerializeTerminologyEntry(entry) == kind.entry
