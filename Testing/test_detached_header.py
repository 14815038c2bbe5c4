"""Issue 18 item 3: a detached header (.nhdr ``data file``, .mhd ``ElementDataFile``, also their LIST and pattern
forms) must not make the reader load a file outside the header's own folder unless the user asks for it; the web
app's folder gate applies its allow-list to the data files too."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from LesionSegLogic.cli import main
from LesionSegLogic.io import read_image
from LesionSegLogic.io.detached import ExternalDataError, check_data_files, data_files

SHAPE = (4, 5, 6)  # z, y, x


def _voxels(seed: int) -> np.ndarray:
    return np.random.default_rng(seed).integers(1, 250, size=SHAPE, dtype=np.uint8)


def _nhdr(path: Path, data_field: str, tail: str = "") -> Path:
    z, y, x = SHAPE
    path.write_text(f"NRRD0004\ntype: uint8\ndimension: 3\nsizes: {x} {y} {z}\nspacings: 1 1 1\n"
                    f"encoding: raw\ndata file: {data_field}\n{tail}")
    return path


def _mhd(path: Path, data_field: str, tail: str = "") -> Path:
    z, y, x = SHAPE
    path.write_text(f"ObjectType = Image\nNDims = 3\nDimSize = {x} {y} {z}\nElementType = MET_UCHAR\n"
                    f"ElementSpacing = 1 1 1\nElementDataFile = {data_field}\n{tail}")
    return path


@pytest.fixture
def layout(tmp_path: Path) -> dict[str, Path]:
    """``case/`` (where headers go), a secret outside it and a slice folder outside it."""
    case, outside = tmp_path / "case", tmp_path / "outside"
    case.mkdir()
    outside.mkdir()
    secret = outside / "secret.raw"
    secret.write_bytes(_voxels(1).tobytes())
    (case / "inside.raw").write_bytes(_voxels(2).tobytes())
    (case / "sub").mkdir()
    (case / "sub" / "deeper.raw").write_bytes(_voxels(3).tobytes())
    for k, plane in enumerate(_voxels(4)):
        (outside / f"slice{k:02d}.raw").write_bytes(plane.tobytes())
        (case / f"slice{k:02d}.raw").write_bytes(plane.tobytes())
    return {"case": case, "outside": outside, "secret": secret}


@pytest.mark.parametrize("make", [_nhdr, _mhd], ids=["nhdr", "mhd"])
@pytest.mark.parametrize("where", ["dotdot", "absolute", "symlink"])
def test_a_data_file_outside_the_header_folder_is_refused_naming_both(layout, make, where) -> None:
    case, secret = layout["case"], layout["secret"]
    if where == "symlink":
        os.symlink(secret, case / "link.raw")
    field = {"dotdot": "../outside/secret.raw", "absolute": str(secret), "symlink": "link.raw"}[where]
    header = make(case / f"evil{'.nhdr' if make is _nhdr else '.mhd'}", field)
    with pytest.raises(ExternalDataError) as caught:
        read_image(header, role="image")
    message = str(caught.value)
    assert str(header) in message and "secret.raw" in message and "\n" not in message
    assert "--allow-external-data" in message
    # asked for explicitly, the same header reads the outside file's bytes as voxels
    image = read_image(header, role="image", allow_external_data=True)
    assert np.array_equal(image.array, _voxels(1).astype(np.float32))


@pytest.mark.parametrize("make", [_nhdr, _mhd], ids=["nhdr", "mhd"])
def test_data_files_in_the_header_folder_or_below_are_read(layout, make) -> None:
    case = layout["case"]
    ext = ".nhdr" if make is _nhdr else ".mhd"
    for name, seed in (("inside.raw", 2), ("sub/deeper.raw", 3), ("./sub/../inside.raw", 2)):
        header = make(case / f"ok{ext}", name)
        assert np.array_equal(read_image(header).array, _voxels(seed).astype(np.float32)), name


def test_list_forms_are_checked_entry_by_entry(layout) -> None:
    case = layout["case"]
    local = "".join(f"slice{k:02d}.raw\n" for k in range(SHAPE[0]))
    one_outside = local.replace("slice02.raw", "../outside/slice02.raw")
    for make, field in ((_nhdr, "LIST 2"), (_mhd, "LIST 2D")):
        ext = ".nhdr" if make is _nhdr else ".mhd"
        ok = make(case / f"list{ext}", field, local)
        assert [p.name for p in data_files(ok)] == [f"slice{k:02d}.raw" for k in range(SHAPE[0])]
        assert np.array_equal(read_image(ok).array, _voxels(4).astype(np.float32))
        bad = make(case / f"list_bad{ext}", field, one_outside)
        with pytest.raises(ExternalDataError, match="slice02.raw"):
            read_image(bad)


def test_every_data_file_field_counts_whichever_the_reader_uses(layout) -> None:
    header = _nhdr(layout["case"] / "twice.nhdr", "inside.raw", "data file: ../outside/secret.raw\n")
    assert [p.name for p in data_files(header)] == ["inside.raw", "secret.raw"]
    with pytest.raises(ExternalDataError, match="secret.raw"):
        read_image(header)
    # comments and key/value pairs (``key:=value``) are not fields
    quiet = _nhdr(layout["case"] / "quiet.nhdr", "inside.raw", "# data file: ../outside/secret.raw\n"
                  "data file:=../outside/secret.raw\n")
    assert [p.name for p in data_files(quiet)] == ["inside.raw"]


@pytest.mark.parametrize("make", [_nhdr, _mhd], ids=["nhdr", "mhd"])
def test_pattern_forms_are_expanded_and_checked(layout, make) -> None:
    case = layout["case"]
    ext = ".nhdr" if make is _nhdr else ".mhd"
    last = SHAPE[0] - 1
    ok = make(case / f"pattern{ext}", f"slice%02d.raw 0 {last} 1 2")
    assert [p.name for p in data_files(ok)] == [f"slice{k:02d}.raw" for k in range(SHAPE[0])]
    with pytest.raises(ExternalDataError, match="slice00.raw"):
        check_data_files(make(case / f"pattern_bad{ext}", f"../outside/slice%02d.raw 0 {last} 1 2"))


def test_attached_data_name_the_header_itself_and_are_not_refused(tmp_path: Path) -> None:
    from LesionSegLogic.image import Image
    from LesionSegLogic.io import write_image

    image = Image(_voxels(5).astype(np.float32), (1.0, 1.0, 1.0))
    for ext in (".nrrd", ".mha", ".nii.gz"):
        path = write_image(image, tmp_path / f"attached{ext}")
        assert data_files(path) == [path]
        # a symlinked attached file (its target elsewhere) is still fine: its voxels are the header's own
        link = tmp_path / "links"
        link.mkdir(exist_ok=True)
        os.symlink(path, link / path.name)
        assert np.array_equal(read_image(link / path.name).array, image.array)


def test_the_cli_refuses_with_one_line_and_reads_with_allow_external_data(layout, capsys) -> None:
    header = _nhdr(layout["case"] / "evil.nhdr", "../outside/secret.raw")
    (layout["case"] / "mask.raw").write_bytes((_voxels(6) > 128).astype(np.uint8).tobytes())
    reference = _nhdr(layout["case"] / "ref.nhdr", "mask.raw")
    assert main(["evaluate", "--mask", str(header), "--ref", str(reference), "--no-surface"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("lesionseg evaluate: error: ") and "secret.raw" in err[-1]
    assert str(header) in err[-1] and "Traceback" not in "".join(err)
    # with the flag the outside file is read (and then judged: its bytes are no binary mask)
    assert main(["evaluate", "--mask", str(header), "--ref", str(reference), "--no-surface",
                 "--allow-external-data"]) == 2
    assert "not a binary mask" in capsys.readouterr().err


def test_the_web_gate_applies_its_allow_list_to_the_data_files(layout) -> None:
    from LesionSegWeb.files import OutsideAllowedError, PathGate

    case = layout["case"]
    gate = PathGate.from_paths([case])
    ok = _nhdr(case / "ok.nhdr", "sub/deeper.raw")
    assert gate.file(ok) == ok.resolve()
    evil = _nhdr(case / "evil.nhdr", str(layout["secret"]))
    with pytest.raises(OutsideAllowedError, match="secret.raw"):
        gate.file(evil, "FLAIR file")
    # allowing the outside folder too makes the same header acceptable to the gate
    wider = PathGate.from_paths([case, layout["outside"]])
    assert wider.file(evil) == evil.resolve()


def test_the_web_gate_checks_each_file_of_a_case_folder(layout, tmp_path) -> None:
    from LesionSegLogic.image import Image
    from LesionSegLogic.io import write_image
    from LesionSegWeb.files import OutsideAllowedError, PathGate

    case = layout["case"]
    elsewhere = write_image(Image(_voxels(7).astype(np.float32)), layout["outside"] / "other_patient.nii.gz")
    gate = PathGate.from_paths([case])
    write_image(Image(_voxels(8).astype(np.float32)), case / "flair.nii.gz")
    assert gate.case(case).flair == (case / "flair.nii.gz").resolve()
    os.symlink(elsewhere, case / "t2.nii.gz")  # a case file that is a link out of the allowed folders
    with pytest.raises(OutsideAllowedError, match="t2"):
        gate.case(case)
    _nhdr(case / "lesions.nhdr", str(layout["secret"]))
    (case / "t2.nii.gz").unlink()
    with pytest.raises(OutsideAllowedError, match="data file"):
        gate.case(case)


def test_predict_refuses_external_data_and_reads_it_when_asked(layout, tmp_path, capsys) -> None:
    from LesionSegLogic.models import build_model
    from LesionSegLogic.zoo import ModelCard, save_model

    params = {"in_channels": 1, "features": [2, 4], "norm": "batch"}
    card = ModelCard(name="tiny", architecture="unet3d", architecture_params=params, inputs=("flair",),
                     patch_size=(4, 4, 4), loss="dice")
    save_model(build_model("unet3d", **params), card, tmp_path / "tiny")
    header = _nhdr(layout["case"] / "flair.nhdr", "../outside/secret.raw")
    argv = ["predict", "--model", str(tmp_path / "tiny"), "--flair", str(header), "--device", "cpu", "--no-progress",
            "--out"]
    assert main([*argv, str(tmp_path / "refused")]) == 2
    assert "secret.raw" in capsys.readouterr().err and not (tmp_path / "refused").exists()
    assert main([*argv, str(tmp_path / "asked"), "--allow-external-data"]) == 0
    assert (tmp_path / "asked" / "summary.json").is_file()
