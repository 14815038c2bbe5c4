"""Phantom CLI end to end, file geometry (SimpleITK vs nibabel), longitudinal and cord constraints."""

from __future__ import annotations

import json

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from phantom_cases import KINDS
from scipy import ndimage

from LesionSegLogic.cli import main
from LesionSegLogic.phantom import generate_case
from LesionSegLogic.phantom.cord import SEGMENT_MM
from LesionSegLogic.phantom.generate import build_scene
from LesionSegLogic.phantom.options import PhantomOptions
from LesionSegLogic.phantom.signal import CORD_GM, CORD_WM

FAST = ["--spacing", "3", "--fov", "60,90,90", "--lesions", "5"]


@pytest.fixture(scope="module")
def maps(brain_maps):
    return brain_maps  # loaded once per session (conftest.py)


def _geometry_agrees(path) -> None:
    itk = sitk.ReadImage(str(path))
    nii = nib.load(str(path))
    assert np.array_equal(sitk.GetArrayFromImage(itk), np.asarray(nii.dataobj).transpose(2, 1, 0))
    direction = np.array(itk.GetDirection()).reshape(3, 3)
    affine_lps = np.eye(4)
    affine_lps[:3, :3] = direction @ np.diag(itk.GetSpacing())
    affine_lps[:3, 3] = itk.GetOrigin()
    np.testing.assert_allclose(np.diag([-1, -1, 1, 1]) @ affine_lps, nii.affine, atol=1e-4)


def test_cli_writes_valid_cases(tmp_path, capsys) -> None:
    assert main(["phantom", str(tmp_path), "--cases", "2", "--seed", "5", *FAST]) == 0
    for name in ("case_000", "case_001"):
        folder = tmp_path / name
        meta = json.loads((folder / "phantom.json").read_text())
        assert meta["anatomy"] == "brain" and meta["n_lesions"] == len(meta["lesions"])
        for file in ("flair.nii.gz", "t2.nii.gz", "lesions.nii.gz"):
            _geometry_agrees(folder / file)
        truth = sitk.GetArrayFromImage(sitk.ReadImage(str(folder / "lesions.nii.gz")))
        spacing = meta["grid"]["spacing_zyx_mm"]
        assert truth.sum() * np.prod(spacing) == pytest.approx(sum(x["volume_mm3"] for x in meta["lesions"]))
        itk = sitk.ReadImage(str(folder / "flair.nii.gz"))
        for lesion in meta["lesions"]:  # each centre falls on (or next to) its lesion
            index = itk.TransformPhysicalPointToContinuousIndex(lesion["centre_lps"])
            zyx = np.round(index[::-1]).astype(int)
            near = truth[tuple(slice(max(0, i - 2), i + 3) for i in zyx)]
            assert near.any()
    a = json.loads((tmp_path / "case_000" / "phantom.json").read_text())
    b = json.loads((tmp_path / "case_001" / "phantom.json").read_text())
    assert a["seed"] != b["seed"]


def test_cli_rejects_bad_arguments(tmp_path, capsys) -> None:
    assert main(["phantom", str(tmp_path), "--cases", "0"]) == 2
    assert "--cases" in capsys.readouterr().err


def test_longitudinal_new_lesions_are_exact(longitudinal_phantom) -> None:
    case = longitudinal_phantom.case
    assert case.baseline_flair is not None and case.new_lesions is not None
    assert case.baseline_flair.same_grid(case.flair) and case.new_lesions.same_grid(case.flair)
    new_ids = [r.id for r in case.records if r.status == "new"]
    assert len(new_ids) == KINDS["longitudinal"].options["n_new"]
    expected = np.isin(case.lesion_labels.array, new_ids)
    assert np.array_equal(case.new_lesions.array > 0, expected)
    # new lesions are absent from the baseline ground truth; enlarging ones grew
    assert not (case.baseline_lesions.array[expected] > 0).any()
    for record in case.records:
        if record.status == "enlarging":
            assert record.volume_mm3 > record.baseline_volume_mm3
    shift = np.array(case.metadata["longitudinal"]["shift_lps_mm"])
    assert 0 < np.abs(shift).max() <= 2.0
    assert not np.array_equal(case.baseline_flair.array, case.flair.array)


def test_cord_lesions_are_short_partial_and_inside_the_cord() -> None:
    options = PhantomOptions(n_lesions=5, fov_mm=(160.0, 60.0, 33.6))
    case = generate_case(2, anatomy="cord", options=options)
    assert np.array_equal(case.flair.array, case.t2.array)
    assert case.flair.spacing == (0.6, 0.6, 2.8)
    scene = build_scene("cord", options)
    fractions = scene.fractions(np.zeros(3))
    cord = (fractions[CORD_WM] + fractions[CORD_GM]) >= 0.5
    cord_soft = (fractions[CORD_WM] + fractions[CORD_GM]) > 0
    labels = case.lesion_labels.array
    assert len(case.records) >= 3
    for record in case.records:
        mask = labels == record.id
        assert cord_soft[mask].all()
        zs = np.flatnonzero(mask.any(axis=(1, 2)))
        assert (zs.max() - zs.min() + 1) * case.flair.spacing[0] < 2 * SEGMENT_MM
        for z in zs:  # axial rows: less than half the cord's cross-section
            assert mask[z].sum() <= 0.5 * max(cord[z].sum(), 1)
    regions = [r.region for r in case.records]
    assert set(regions) <= {"dorsal", "lateral", "ventral", "central"}
    t2 = case.t2.array.astype(float)
    lesion = case.lesions.array > 0
    normal = cord & ~ndimage.binary_dilation(lesion, iterations=2)
    assert t2[lesion].mean() > t2[normal].mean()
