"""The one JSON policy (``jsonfile.json_ready``/``json_text``: NaN → null) and the one multi-file atomic writer
(``io.write.staged_outputs``), issue 17."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from LesionSegLogic.errors import OutputError
from LesionSegLogic.io.write import staged_outputs, write_json
from LesionSegLogic.jsonfile import json_ready, json_text


def test_json_ready_makes_plain_json_with_null_for_undefined_numbers() -> None:
    value = {1: (np.float32(0.25), np.int64(3)), "bad": [math.nan, -math.inf, np.float64(np.inf)],
             "path": Path("a") / "b.nii.gz", "ok": [True, None, "x"], "array0": np.array(2.5)}
    assert json_ready(value) == {"1": [0.25, 3], "bad": [None, None, None], "path": str(Path("a") / "b.nii.gz"),
                                 "ok": [True, None, "x"], "array0": 2.5}
    assert type(json_ready(np.int64(3))) is int and type(json_ready(np.float32(0.5))) is float


def test_json_text_refuses_what_json_cannot_hold() -> None:
    assert json.loads(json_text({"p": np.float32(math.nan)})) == {"p": None}
    with pytest.raises(TypeError):
        json_text({"device": object()})


def test_write_json_writes_nan_as_null(tmp_path: Path) -> None:
    target = write_json(tmp_path / "m.json", {"dice": math.nan, "n": np.int32(2)})
    text = target.read_text()
    assert "NaN" not in text and json.loads(text) == {"dice": None, "n": 2}


def test_staged_outputs_moves_the_set_and_the_last_file_last(tmp_path: Path) -> None:
    targets = [tmp_path / "out" / name for name in ("a.txt", "b.txt", "summary.json")]
    with staged_outputs(targets) as staging:
        assert staging.parent == targets[0].parent and staging.is_dir()
        for target in targets:
            (staging / target.name).write_text(target.name)
    assert [t.read_text() for t in targets] == ["a.txt", "b.txt", "summary.json"]
    assert sorted(p.name for p in targets[0].parent.iterdir()) == ["a.txt", "b.txt", "summary.json"]


def test_staged_outputs_leaves_the_earlier_set_untouched_on_failure(tmp_path: Path) -> None:
    targets = [tmp_path / name for name in ("a.txt", "summary.json")]
    for target in targets:
        target.write_text("earlier")
    with pytest.raises(RuntimeError, match="stop"), staged_outputs(targets) as staging:
        (staging / "a.txt").write_text("new")
        raise RuntimeError("stop")
    assert [t.read_text() for t in targets] == ["earlier", "earlier"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.txt", "summary.json"]  # no staging folder left


def test_staged_outputs_names_the_folder_when_a_file_is_missing(tmp_path: Path) -> None:
    targets = [tmp_path / "a.txt", tmp_path / "summary.json"]
    with pytest.raises(OutputError, match=str(tmp_path)), staged_outputs(targets) as staging:
        (staging / "summary.json").write_text("{}")  # a.txt never written: the move fails
    assert sorted(p.name for p in tmp_path.iterdir()) == []
