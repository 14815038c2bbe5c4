"""Issue 17 ("typed errors everywhere a user can cause one"): the notes of a saved review, a review.json's file
entries, a phantom grid, a zoo set name and the web app's edit tool and state handlers refuse bad values with a
one-line :class:`LesionSegError` naming the file or option, and stay the built-in error their callers catch."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from LesionSegLogic.errors import ConfigError, GeometryError, LesionSegError
from LesionSegLogic.lesion_notes import NoteRecordError, notes_from_record
from LesionSegLogic.phantom.grid import Grid, GridMismatchError
from LesionSegLogic.review_file import REVIEW_FILE, ReviewFileError, SavedReview, read_review, saved_file
from LesionSegLogic.zoo.sets import SET_NAMES, UnknownZooSetError, get_set


def _one_line(error: BaseException) -> str:
    text = str(error)
    assert text and "\n" not in text
    return text


@pytest.mark.parametrize("notes,words", [
    ({"a": 1}, '"notes" must be a list'),
    (["x"], "must be an object"),
    ([{"kind": "reference", "centroid_ras": [1, 2], "voxels": 3}], '"centroid_ras" must be three numbers'),
])  # fmt: skip
def test_malformed_notes_are_typed_and_still_value_errors(notes, words) -> None:
    with pytest.raises(NoteRecordError) as raised:
        notes_from_record(notes)
    assert isinstance(raised.value, ValueError) and words in _one_line(raised.value)


def _saved(folder: Path, flair: Path, **changes) -> None:
    folder.mkdir(exist_ok=True)
    document = SavedReview(files={"flair": saved_file(flair, folder)}, threshold=0.5, rule="anima",
                           mode="lesion").document(folder)
    (folder / REVIEW_FILE).write_text(json.dumps({**document, **changes}))


@pytest.mark.parametrize("changes,words", [
    ({"notes": {"a": 1}}, '"notes" must be a list'),
    ({"files": {"flair": "flair.nii.gz"}}, "a file entry must be an object"),
    ({"files": {"flair": {"path": "relative.nii.gz", "sha256": "0" * 64}}}, "is not absolute"),
    ({"files": {"flair": {"path": "/data/flair.nii.gz", "sha256": "0"}}}, "is not 64 hex digits"),
    ({"threshold": 2.0}, "outside [0, 1]"),
])  # fmt: skip
def test_a_malformed_review_json_names_the_file_and_the_problem(tmp_path, changes, words) -> None:
    flair = tmp_path / "flair.nii.gz"
    flair.write_bytes(b"not read: check=False")
    _saved(tmp_path / "review", flair, **changes)
    with pytest.raises(ReviewFileError) as raised:
        read_review(tmp_path / "review", check=False)
    line = _one_line(raised.value)
    assert line.startswith(str((tmp_path / "review" / REVIEW_FILE).resolve())) and words in line
    assert "malformed" in line and "Error:" not in line  # the problem in words, not a Python exception's name


def test_a_phantom_grid_refuses_an_array_of_another_shape() -> None:
    grid = Grid((4, 5, 6), (1.0, 1.0, 1.0), (0.0, 0.0, 0.0))
    with pytest.raises(GridMismatchError) as raised:
        grid.image(np.zeros((4, 5, 7)))
    assert isinstance(raised.value, GeometryError) and isinstance(raised.value, ValueError)
    assert "(4, 5, 7)" in _one_line(raised.value) and "(4, 5, 6)" in str(raised.value)


def test_an_unknown_zoo_set_names_the_known_ones() -> None:
    with pytest.raises(UnknownZooSetError) as raised:
        get_set("liver")
    assert isinstance(raised.value, ConfigError) and isinstance(raised.value, KeyError)
    line = _one_line(raised.value)
    assert line.startswith("unknown zoo set 'liver'") and all(name in line for name in SET_NAMES)


def test_the_web_edit_tool_and_state_handlers_are_typed() -> None:
    pytest.importorskip("trame_slicer")
    from LesionSegWeb.client_values import CheckedState, UnruledHandlerError
    from LesionSegWeb.editing import EDIT_TOOLS, AcceptedEditor, EditToolError

    editor = AcceptedEditor.__new__(AcceptedEditor)  # set_tool checks the name before touching the editor
    with pytest.raises(EditToolError) as raised:
        editor.set_tool("lasso")
    assert isinstance(raised.value, LesionSegError) and isinstance(raised.value, ValueError)
    assert "'lasso'" in _one_line(raised.value) and all(tool in str(raised.value) for tool in EDIT_TOOLS)
    with pytest.raises(UnruledHandlerError) as refused:
        CheckedState({}, {"no_such_name": print}, print)
    assert isinstance(refused.value, ValueError) and "no_such_name" in _one_line(refused.value)
