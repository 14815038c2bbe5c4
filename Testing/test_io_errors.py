"""Every bad input raises its typed error, and the message names the file."""

from __future__ import annotations

import gzip
import os
import struct
import subprocess
import sys
from pathlib import Path

import nibabel as nib
import numpy as np
import pytest
import SimpleITK as sitk
from image_builders import random_image

from LesionSegLogic.errors import (
    ConstantImageError,
    CorruptFileError,
    DimensionError,
    FileMissingError,
    GeometryError,
    MaskError,
    NonFiniteError,
    OutputError,
    ProbabilityRangeError,
)
from LesionSegLogic.image import Image
from LesionSegLogic.io import read_image, write_image


def raises_naming(error: type[Exception], path: Path, role: str = "image") -> str:
    with pytest.raises(error) as info:
        read_image(path, role=role)  # type: ignore[arg-type]
    message = str(info.value)
    assert str(path) in message and "\n" not in message
    return message


def test_missing_file(tmp_path: Path) -> None:
    raises_naming(FileMissingError, tmp_path / "nope.nii.gz")


def test_folder_instead_of_file(tmp_path: Path) -> None:
    folder = tmp_path / "dir.nii"
    folder.mkdir()
    raises_naming(FileMissingError, folder)


def test_unknown_extension(tmp_path: Path) -> None:
    path = tmp_path / "scan.dcm"
    path.write_bytes(b"\0" * 100)
    assert "unsupported" in raises_naming(CorruptFileError, path)


@pytest.mark.parametrize("ext", [".nii", ".nii.gz", ".nrrd", ".mha"])
@pytest.mark.parametrize("keep", [0.0, 0.05, 0.5, 0.98])
def test_truncated_file(tmp_path: Path, ext: str, keep: float) -> None:
    full = write_image(random_image((8, 9, 10)), tmp_path / f"full{ext}").read_bytes()
    path = tmp_path / f"cut{ext}"
    path.write_bytes(full[: int(len(full) * keep)])
    raises_naming(CorruptFileError, path)


@pytest.mark.parametrize("ext", [".nii", ".nrrd", ".mha"])
def test_garbage_file(tmp_path: Path, ext: str) -> None:
    path = tmp_path / f"garbage{ext}"
    path.write_bytes(np.random.default_rng(0).bytes(4000))
    raises_naming(CorruptFileError, path)


def test_nifti_header_declaring_huge_size_is_refused_before_allocating(tmp_path: Path) -> None:
    path = write_image(random_image((4, 5, 6)), tmp_path / "a.nii")
    data = bytearray(path.read_bytes())
    data[42:48] = struct.pack("<3h", 30000, 30000, 30000)  # dim[1..3]
    path.write_bytes(bytes(data))
    assert "voxels" in raises_naming(DimensionError, path)


def test_nifti_header_size_larger_than_file(tmp_path: Path) -> None:
    path = write_image(random_image((4, 5, 6)), tmp_path / "a.nii")
    data = bytearray(path.read_bytes())
    data[42:48] = struct.pack("<3h", 400, 400, 400)  # 64 M voxels, 256 MB declared, 500 bytes on disk
    path.write_bytes(bytes(data))
    assert "truncated" in raises_naming(CorruptFileError, path)


def test_gzip_with_huge_declared_size(tmp_path: Path) -> None:
    nifti = nib.Nifti1Image(np.ones((4, 5, 6), np.float32), np.eye(4))
    header = bytearray(nifti.header.binaryblock)
    header[42:48] = struct.pack("<3h", 1000, 1000, 500)
    path = tmp_path / "bomb.nii.gz"
    path.write_bytes(gzip.compress(bytes(header) + b"\0" * 4 + b"\0" * 480))
    raises_naming(CorruptFileError, path)


def test_two_d_image(tmp_path: Path) -> None:
    path = tmp_path / "slice.nii.gz"
    array = np.random.default_rng(0).random((6, 7)).astype(np.float32)
    sitk.WriteImage(sitk.GetImageFromArray(array), str(path))
    assert "2-D" in raises_naming(DimensionError, path)


def test_single_slice_volume(tmp_path: Path) -> None:
    path = tmp_path / "slice3d.nrrd"
    array = np.random.default_rng(0).random((1, 6, 7)).astype(np.float32)
    sitk.WriteImage(sitk.GetImageFromArray(array), str(path))
    assert "single slice" in raises_naming(DimensionError, path)


def test_real_four_d_image(tmp_path: Path) -> None:
    path = tmp_path / "dwi.nii.gz"
    array = np.random.default_rng(0).random((5, 6, 7, 3)).astype(np.float32)
    nib.save(nib.Nifti1Image(array, np.eye(4)), path)
    assert "4-D" in raises_naming(DimensionError, path)


def test_vector_image(tmp_path: Path) -> None:
    path = tmp_path / "rgb.nrrd"
    array = np.random.default_rng(0).random((4, 5, 6, 3)).astype(np.float32)
    sitk.WriteImage(sitk.GetImageFromArray(array, isVector=True), str(path))
    assert "components" in raises_naming(DimensionError, path)


@pytest.mark.parametrize("ext", [".nii", ".nii.gz", ".nrrd", ".mha"])
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_values(tmp_path: Path, ext: str, bad: float) -> None:
    array = random_image().array.copy()
    array[2, 3, 4] = bad
    path = write_image(Image(array), tmp_path / f"nan{ext}")
    raises_naming(NonFiniteError, path)


def test_nan_in_big_endian_float64_nifti(tmp_path: Path) -> None:
    data = np.random.default_rng(0).random((5, 6, 7)).astype(">f8")
    data[1, 2, 3] = np.nan
    path = tmp_path / "be.nii"
    nib.save(nib.Nifti1Image(data, np.eye(4)), path)
    raises_naming(NonFiniteError, path)


@pytest.mark.parametrize("role", ["image", "mask", "probability"])
def test_non_finite_mask_or_probability(tmp_path: Path, role: str) -> None:
    array = np.zeros((4, 5, 6), np.float32)
    array[0, 0, 0] = np.nan
    raises_naming(NonFiniteError, write_image(Image(array), tmp_path / "n.nrrd"), role)


@pytest.mark.parametrize("ext", [".nii.gz", ".nrrd", ".mha"])
def test_constant_image(tmp_path: Path, ext: str) -> None:
    path = write_image(Image(np.full((4, 5, 6), 7.0, np.float32)), tmp_path / f"const{ext}")
    assert "constant" in raises_naming(ConstantImageError, path)


def test_constant_probability_is_fine(tmp_path: Path) -> None:
    path = write_image(Image(np.zeros((4, 5, 6), np.float32)), tmp_path / "zero.nii.gz")
    assert float(read_image(path, role="probability").array.max()) == 0.0


@pytest.mark.parametrize(
    "values", [[0, 1, 2], [0, 0.5, 1], [0, -1], [0, 3, 7]], ids=["two_labels", "fraction", "negative", "3_7"]
)
def test_non_binary_mask(tmp_path: Path, values: list[float]) -> None:
    array = np.zeros((4, 5, 6), np.float32)
    for i, v in enumerate(values):
        array[i, :, :] = v
    path = write_image(Image(array), tmp_path / "mask.nii.gz")
    assert "binary" in raises_naming(MaskError, path, "mask")


def test_probability_out_of_range(tmp_path: Path) -> None:
    array = np.linspace(0, 1.5, 120, dtype=np.float32).reshape(4, 5, 6)
    path = write_image(Image(array), tmp_path / "p.nii.gz")
    message = raises_naming(ProbabilityRangeError, path, "probability")
    assert "[0, 1]" in message and "1.5" in message


def _nrrd(tmp_path: Path, directions: str, name: str = "sing.nrrd") -> Path:
    data = np.arange(4 * 5 * 6, dtype=np.float32).tobytes()
    header = (
        "NRRD0004\ntype: float\ndimension: 3\nspace: left-posterior-superior\nsizes: 6 5 4\n"
        f"space directions: {directions}\nkinds: domain domain domain\nendian: little\nencoding: raw\n"
        "space origin: (0,0,0)\n\n"
    )
    path = tmp_path / name
    path.write_bytes(header.encode() + data)
    return path


def test_nrrd_with_singular_space_directions(tmp_path: Path) -> None:
    path = _nrrd(tmp_path, "(1,0,0) (2,0,0) (0,0,1)")
    assert "direction" in raises_naming(GeometryError, path)


def test_nrrd_with_valid_space_directions_reads(tmp_path: Path) -> None:
    image = read_image(_nrrd(tmp_path, "(0,2,0) (1,0,0) (0,0,3)", "ok.nrrd"))
    assert image.spacing == (3.0, 1.0, 2.0)


def test_mha_with_singular_transform_matrix(tmp_path: Path) -> None:
    data = np.arange(4 * 5 * 6, dtype=np.float32).tobytes()
    header = (
        "ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = False\n"
        "TransformMatrix = 1 0 0 1 0 0 0 0 1\nOffset = 0 0 0\nElementSpacing = 1 1 1\nDimSize = 6 5 4\n"
        "ElementType = MET_FLOAT\nElementDataFile = LOCAL\n"
    )
    path = tmp_path / "sing.mha"
    path.write_bytes(header.encode() + data)
    assert "direction" in raises_naming(GeometryError, path)


@pytest.mark.parametrize("spacing", ["0 1 1", "1 -2 1", "1 1 1e9"])
def test_mha_with_bad_spacing(tmp_path: Path, spacing: str) -> None:
    data = np.arange(4 * 5 * 6, dtype=np.float32).tobytes()
    header = (
        "ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = False\n"
        f"Offset = 0 0 0\nElementSpacing = {spacing}\nDimSize = 6 5 4\n"
        "ElementType = MET_FLOAT\nElementDataFile = LOCAL\n"
    )
    path = tmp_path / "spacing.mha"
    path.write_bytes(header.encode() + data)
    assert "spacing" in raises_naming(GeometryError, path)


# --- writing -----------------------------------------------------------------------------------------------


def test_write_refuses_to_overwrite_the_source(tmp_path: Path) -> None:
    path = write_image(random_image(), tmp_path / "in.nii.gz")
    before = path.read_bytes()
    image = read_image(path)
    with pytest.raises(OutputError, match="overwrite"):
        write_image(image, path)
    with pytest.raises(OutputError, match="overwrite"):
        write_image(image, tmp_path / "." / "in.nii.gz")
    assert path.read_bytes() == before


def test_write_refuses_protected_paths_including_symlinks(tmp_path: Path) -> None:
    flair = write_image(random_image(), tmp_path / "flair.nii.gz")
    link = tmp_path / "link.nii.gz"
    os.symlink(flair, link)
    other = random_image(seed=3)
    for target in (flair, link):
        with pytest.raises(OutputError):
            write_image(other, target, protect=[flair])
    assert np.array_equal(read_image(flair).array, random_image().array)


def test_write_creates_folders_and_leaves_no_temporary_files(tmp_path: Path) -> None:
    out = write_image(random_image(), tmp_path / "a" / "b" / "out.nhdr")
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.nhdr", "out.raw.gz"]
    write_image(random_image(seed=2), out)  # overwriting an output (not an input) is allowed
    assert sorted(p.name for p in out.parent.iterdir()) == ["out.nhdr", "out.raw.gz"]
    np.testing.assert_array_equal(read_image(out).array, random_image(seed=2).array)


def test_failed_write_leaves_the_old_file_and_no_debris(tmp_path: Path) -> None:
    out = write_image(random_image(), tmp_path / "o.nii.gz")
    before = out.read_bytes()
    bad = random_image().with_array(np.zeros((5, 6, 7), np.complex64))
    with pytest.raises(OutputError):
        write_image(bad, out)
    assert out.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["o.nii.gz"]


def test_write_dtype_and_bad_extension(tmp_path: Path) -> None:
    mask = random_image().with_array((random_image().array > 100).astype(np.float32))
    path = write_image(mask, tmp_path / "m.nii.gz", dtype=np.uint8)
    assert sitk.ReadImage(str(path)).GetPixelID() == sitk.sitkUInt8
    with pytest.raises(OutputError, match="file type"):
        write_image(mask, tmp_path / "m.png")


def test_unwritable_folder(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(OutputError):
        write_image(random_image(), blocker / "out.nii.gz")


# --- regressions found by the fuzzer (run in a subprocess: before the fix they crashed or hung ITK) -------


def _read_in_subprocess(path: Path) -> str:
    code = (
        "import sys\nfrom LesionSegLogic.io import read_image\n"
        "try:\n    read_image(sys.argv[1])\nexcept Exception as e:\n    print(type(e).__name__, e)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(path)], capture_output=True, text=True, timeout=60,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert result.returncode == 0, f"reader crashed with status {result.returncode}"
    return result.stdout.strip()


def test_nifti_sform_with_inf_is_refused_not_hung(tmp_path: Path) -> None:
    path = write_image(random_image(), tmp_path / "inf.nii.gz")
    raw = bytearray(gzip.decompress(path.read_bytes()))
    raw[300:304] = struct.pack("<f", np.inf)  # srow_y[1]
    path.write_bytes(gzip.compress(bytes(raw)))
    out = _read_in_subprocess(path)
    assert out.startswith("GeometryError") and str(path) in out and "sform" in out


@pytest.mark.parametrize("ndims", ["99", "-1", "2"])
def test_metaimage_with_absurd_ndims_is_refused_not_crashed(tmp_path: Path, ndims: str) -> None:
    data = np.arange(4 * 5 * 6, dtype=np.float32).tobytes()
    header = (
        f"ObjectType = Image\nNDims = {ndims}\nBinaryData = True\nBinaryDataByteOrderMSB = False\n"
        "ElementSpacing = 1 1 1\nDimSize = 6 5 4\nElementType = MET_FLOAT\nElementDataFile = LOCAL\n"
    )
    path = tmp_path / "nd.mha"
    path.write_bytes(header.encode() + data)
    out = _read_in_subprocess(path)
    assert out.split()[0] in ("DimensionError", "CorruptFileError") and str(path) in out


def test_metaimage_data_file_with_nul_byte(tmp_path: Path) -> None:
    header = (
        "ObjectType = Image\nNDims = 3\nBinaryData = True\nBinaryDataByteOrderMSB = False\n"
        "ElementSpacing = 1 1 1\nDimSize = 6 5 4\nElementType = MET_FLOAT\nElementDataFile = a\0b.raw\n"
    )
    path = tmp_path / "nul.mhd"
    path.write_bytes(header.encode())
    raises_naming(CorruptFileError, path)
