"""The file picker (LesionSegWeb.browse): it lists only what the allowed folders hold (images, folders, DICOM
series folders), never a link out of them, refuses `..` and symbolic-link escapes above an allowed root, and puts
a chosen image in the panel's path field of its role."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from LesionSegWeb.browse import BrowserBinding, FolderBrowser
from LesionSegWeb.files import PathGate


class FakeState(dict):
    """trame's state: attribute and item access to the same values."""

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name, value):
        self[name] = value


@pytest.fixture
def tree(tmp_path: Path) -> dict[str, Path]:
    root = tmp_path / "allowed"
    case = root / "case-a"
    case.mkdir(parents=True)
    for name in ("flair.nii.gz", "t2.nrrd", "lesions.mha", "notes.txt", ".hidden.nii.gz"):
        (case / name).write_bytes(b"x")
    dicom = root / "series-1"
    dicom.mkdir()
    (dicom / "IM0001").write_bytes(b"\0" * 128 + b"DICM" + b"\0" * 16)
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "other.nii.gz").write_bytes(b"x")
    os.symlink(outside, root / "link-out")  # a folder link out of the allowed root
    os.symlink(outside / "other.nii.gz", case / "escape.nii.gz")  # a file link out of it
    os.symlink(case / "flair.nii.gz", root / "flair-link.nii.gz")  # a link that stays inside
    return {"root": root, "case": case, "dicom": dicom, "outside": outside}


def binding(tree) -> BrowserBinding:
    state = FakeState(path_flair="", path_t2="", path_reference="", path_probability="", path_case="",
                      message="", message_kind="info")
    return BrowserBinding(state, FolderBrowser(PathGate.from_paths([tree["root"]])))


def names(b: BrowserBinding) -> dict[str, str]:
    return {e["name"]: e["kind"] for e in b.state.browse_entries}


def test_lists_folders_images_and_dicom_series_but_nothing_outside(tree) -> None:
    b = binding(tree)
    assert [e["path"] for e in b.state.browse_entries] == [str(tree["root"].resolve())]
    assert b.enter(str(tree["root"]))
    assert names(b) == {"case-a": "folder", "series-1": "dicom", "flair-link.nii.gz": "image"}  # no link-out
    assert b.enter(str(tree["case"]))
    assert names(b) == {"flair.nii.gz": "image", "lesions.mha": "image", "t2.nrrd": "image"}  # no escape/txt/hidden


def test_up_stops_at_the_allowed_root_and_dotdot_is_refused(tree) -> None:
    b = binding(tree)
    b.enter(str(tree["case"]))
    assert b.up() and b.state.browse_folder == str(tree["root"].resolve())
    assert b.up() and b.state.browse_folder == "" and not b.state.browse_can_up  # the roots, not the parent
    b.enter(str(tree["case"]))
    listed = list(b.state.browse_entries)
    for escape in (tree["root"] / "..", tree["case"] / ".." / "..", tree["root"] / "link-out", "/etc"):
        assert not b.enter(str(escape))
        assert b.state.message_kind == "error" and "outside the folders" in b.state.message
        assert b.state.browse_folder == str(tree["case"].resolve()) and b.state.browse_entries == listed


def test_choosing_by_clicking_fills_the_path_fields(tree) -> None:
    b = binding(tree)
    b.enter(str(tree["case"]))
    assert b.activate(str(tree["case"] / "flair.nii.gz"), "image") and b.use("flair")
    assert b.state.path_flair == str((tree["case"] / "flair.nii.gz").resolve())
    assert b.activate(str(tree["case"] / "lesions.mha"), "image") and b.use("reference")
    assert b.state.path_reference.endswith("lesions.mha") and b.state.path_flair.endswith("flair.nii.gz")
    assert b.activate(str(tree["dicom"]), "dicom") and b.use("t2")  # a DICOM series folder is an image
    assert b.state.path_t2 == str(tree["dicom"].resolve())
    assert not b.use("../../etc/passwd")  # not a role
    assert b.use_folder_as_case() and b.state.path_case == str(tree["case"].resolve())


def test_a_file_outside_or_not_an_image_cannot_be_chosen(tree) -> None:
    b = binding(tree)
    b.enter(str(tree["case"]))
    for bad in (tree["case"] / "escape.nii.gz", tree["outside"] / "other.nii.gz", tree["case"] / "notes.txt",
                tree["case"] / ".." / ".." / "secret" / "other.nii.gz"):
        b.state.browse_selected = ""
        assert not b.select(str(bad)) and b.state.browse_selected == "" and b.state.message_kind == "error"
    assert not b.use("flair") and b.state.path_flair == ""
