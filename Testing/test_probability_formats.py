"""Probability maps as other tools write them: 4-D / vector softmax (a channel is chosen) and integer-scaled maps."""

from __future__ import annotations

import warnings

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk

from LesionSegLogic.errors import DimensionError, InputError
from LesionSegLogic.external.probability_maps import ProbabilityScaleWarning
from LesionSegLogic.image import Image
from LesionSegLogic.io import read_image, write_image

SHAPE = (6, 7, 8)  # (z, y, x)
AFFINE = np.array([[-1.2, 0, 0, 30.0], [0, -0.9, 0, 20.0], [0, 0, 2.5, -10.0], [0, 0, 0, 1]])


def _probabilities(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).uniform(0, 1, SHAPE).astype(np.float32)


def _nifti(array_zyx_or_zyxc: np.ndarray, path) -> None:
    """Write with nibabel (x, y, z[, c] on disk) as other tools do."""
    data = np.moveaxis(array_zyx_or_zyxc, (0, 1, 2), (2, 1, 0))
    nib.save(nib.Nifti1Image(data, AFFINE), str(path))


def _reference_grid(tmp_path) -> Image:
    _nifti(_probabilities(), tmp_path / "grid.nii.gz")
    return read_image(tmp_path / "grid.nii.gz", role="probability")


def test_uint8_map_is_divided_by_255_and_said(tmp_path):
    p = _probabilities()
    stored = np.round(p * 255).astype(np.uint8)
    _nifti(stored, tmp_path / "p.nii.gz")
    with pytest.warns(ProbabilityScaleWarning, match=r"p\.nii\.gz: .*0\.\.255 .*8-bit"):
        image = read_image(tmp_path / "p.nii.gz", role="probability")
    assert np.allclose(image.array, stored / 255.0, atol=1e-6)
    assert image.same_grid(_reference_grid(tmp_path))


def test_permille_map_is_detected_from_its_maximum(tmp_path):
    stored = np.round(_probabilities(1) * 1000).astype(np.int16)
    stored.flat[0] = 1000
    _nifti(stored, tmp_path / "p.nii.gz")
    with pytest.warns(ProbabilityScaleWarning, match=r"0\.\.1000"):
        image = read_image(tmp_path / "p.nii.gz", role="probability")
    assert np.allclose(image.array, stored / 1000.0, atol=1e-6)


def test_ambiguous_integer_map_asks_for_the_scale(tmp_path):
    stored = np.round(_probabilities(2) * 200).astype(np.int16)  # max ≤ 255 in a 16-bit type: 255 or 1000?
    _nifti(stored, tmp_path / "p.nii.gz")
    with pytest.raises(InputError, match=r"p\.nii\.gz: is an integer map .*ambiguous.*scale"):
        read_image(tmp_path / "p.nii.gz", role="probability")
    with pytest.warns(ProbabilityScaleWarning, match="given scale 255"):
        image = read_image(tmp_path / "p.nii.gz", role="probability", scale=255)
    assert np.allclose(image.array, stored / 255.0, atol=1e-6)


def test_header_slope_is_applied_and_said(tmp_path):
    stored = np.round(_probabilities(3) * 255).astype(np.uint8)
    path = tmp_path / "p.nii"
    _nifti(stored, path)
    raw = bytearray(path.read_bytes())  # nibabel rewrites scl_* on save: set them in the file (NIfTI-1 bytes 112-119)
    raw[112:120] = np.array([1 / 255, 0.0], dtype="<f4").tobytes()
    path.write_bytes(bytes(raw))
    with pytest.warns(ProbabilityScaleWarning, match=r"p\.nii: .*scl_slope 0\.00392"):
        image = read_image(path, role="probability")
    assert np.allclose(image.array, stored / 255.0, atol=1e-5)


def test_float_map_reads_silently(tmp_path):
    _nifti(_probabilities(), tmp_path / "p.nii.gz")
    with warnings.catch_warnings():
        warnings.simplefilter("error", ProbabilityScaleWarning)
        read_image(tmp_path / "p.nii.gz", role="probability")


def test_4d_softmax_needs_a_channel_and_keeps_the_grid(tmp_path):
    lesion = _probabilities(4)
    softmax = np.stack([1 - lesion, lesion], axis=-1)  # (z, y, x, c) → nibabel (x, y, z, c)
    _nifti(softmax, tmp_path / "softmax.nii.gz")
    with pytest.raises(DimensionError, match=r"softmax\.nii\.gz: is a 2-channel map .*channel=K, 0\.\.1"):
        read_image(tmp_path / "softmax.nii.gz", role="probability")
    image = read_image(tmp_path / "softmax.nii.gz", role="probability", channel=1)
    assert np.allclose(image.array, lesion, atol=1e-6)
    assert image.same_grid(_reference_grid(tmp_path))
    background = read_image(tmp_path / "softmax.nii.gz", role="probability", channel=0)
    assert np.allclose(background.array, 1 - lesion, atol=1e-6)
    with pytest.raises(DimensionError, match="no channel 2"):
        read_image(tmp_path / "softmax.nii.gz", role="probability", channel=2)
    with pytest.raises(DimensionError):  # an image is still refused as 4-D
        read_image(tmp_path / "softmax.nii.gz", role="image")


def test_vector_pixel_softmax(tmp_path):
    lesion = _probabilities(5)
    vector = sitk.GetImageFromArray(np.stack([1 - lesion, 0 * lesion, lesion], axis=-1), isVector=True)
    vector.SetSpacing((0.8, 0.9, 2.0))
    sitk.WriteImage(vector, str(tmp_path / "softmax.nrrd"))
    with pytest.raises(DimensionError, match="3-channel map"):
        read_image(tmp_path / "softmax.nrrd", role="probability")
    image = read_image(tmp_path / "softmax.nrrd", role="probability", channel=2)
    assert np.allclose(image.array, lesion, atol=1e-6) and image.spacing == (2.0, 0.9, 0.8)


def test_single_channel_map_has_no_channel_1(tmp_path):
    write_image(Image(_probabilities()), tmp_path / "p.nii.gz")
    with pytest.raises(DimensionError, match="single-channel map: there is no channel 1"):
        read_image(tmp_path / "p.nii.gz", role="probability", channel=1)
    assert read_image(tmp_path / "p.nii.gz", role="probability", channel=0).shape == SHAPE


def test_evaluate_and_sweep_read_other_tools_maps_with_channel_and_scale(tmp_path, capsys):
    """`--channel`/`--scale` on the CLI reach read_image (and the memory pre-check reads the chosen channel's
    header): a 2-channel softmax and a 0..200 integer map give the numbers of the plain float map; without the
    option each is a one-line error naming the file."""
    import json

    from LesionSegLogic.cli import main

    p = _probabilities(3)
    _nifti((p > 0.7).astype(np.uint8), tmp_path / "ref.nii.gz")
    _nifti(p, tmp_path / "plain.nii.gz")
    _nifti(np.stack([1 - p, p], axis=-1), tmp_path / "softmax.nii.gz")
    stored = np.round(p * 200).astype(np.int16)
    _nifti(stored, tmp_path / "per200.nii.gz")
    _nifti((stored / 200.0).astype(np.float32), tmp_path / "per200_plain.nii.gz")

    def evaluate(prob: str, *extra: str) -> tuple[int, dict | None]:
        out = tmp_path / f"{prob}{'-'.join(extra)}.json"
        code = main(["evaluate", "--prob", str(tmp_path / prob), "--ref", str(tmp_path / "ref.nii.gz"),
                     "--threshold", "0.5", "--rule", "any-overlap", "--no-surface", "--json", str(out), *extra])
        return code, json.loads(out.read_text()) if code == 0 else None

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ProbabilityScaleWarning)
        _, plain = evaluate("plain.nii.gz")
        code, picked = evaluate("softmax.nii.gz", "--channel", "1")
        assert code == 0 and picked["voxel"] == plain["voxel"] and picked["lesion"] == plain["lesion"]
        _, scaled_plain = evaluate("per200_plain.nii.gz")
        code, scaled = evaluate("per200.nii.gz", "--scale", "200")
        assert code == 0 and scaled["voxel"] == scaled_plain["voxel"]
        capsys.readouterr()
        for prob in ("softmax.nii.gz", "per200.nii.gz"):
            code, _ = evaluate(prob)
            err = capsys.readouterr().err
            assert code == 2 and prob in err and "Traceback" not in err
        code = main(["sweep", "--prob", str(tmp_path / "softmax.nii.gz"), "--ref", str(tmp_path / "ref.nii.gz"),
                     "--rule", "any-overlap", "--channel", "1", "--json", str(tmp_path / "sweep.json")])
    assert code == 0 and json.loads((tmp_path / "sweep.json").read_text())
