"""Issue 19 items 1–4: one write policy for every command that writes (docs/io.md, "Writing").

One test runs every writing ``lesionseg`` command over earlier results (files with known bytes) and checks that it
stops before doing any work, names the files in the way, and leaves every byte as it was; the list of commands is
checked against the parser, so a new writing command cannot slip past. Outputs that are inputs are refused even
with ``--force``.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable
from pathlib import Path

import pytest
from tiny_case import digest, tree_digest, write_tiny_case

from LesionSegLogic.cli import build_parser, main
from LesionSegLogic.errors import OutputError
from LesionSegLogic.io.write_policy import claim_outputs, refuse_inputs

EARLIER = b"an earlier result the user wants to keep\n"


def _montage(root: Path, case: dict[str, Path]) -> tuple[list[str], list[Path]]:
    out = root / "out" / "montage.png"
    return ["montage", str(case["flair"].parent), str(out)], [out]


def _phantom(root: Path, case: dict[str, Path]) -> tuple[list[str], list[Path]]:
    out = root / "out"
    return ["phantom", str(out), "--cases", "1"], [out / "case_000" / "flair.nii.gz"]


def _train(root: Path, case: dict[str, Path]) -> tuple[list[str], list[Path]]:
    out = root / "out"
    return ["train", str(case["flair"].parent.parent), "--out", str(out)], [out / "best.safetensors", out / "log.csv"]


def _predict(root: Path, case: dict[str, Path]) -> tuple[list[str], list[Path]]:
    out = root / "out"
    argv = ["predict", "--model", "dice", "--flair", str(case["flair"]), "--t2", str(case["t2"]), "--out", str(out)]
    return argv, [out / "mask.nii.gz", out / "summary.json"]


def _predict_cases(root: Path, case: dict[str, Path]) -> tuple[list[str], list[Path]]:
    out = root / "out"
    # a partial earlier result (no summary.json): --cases does not skip it, and must not replace it either
    return ["predict", "--model", "dice", "--cases", str(case["flair"].parent), "--out", str(out),
            "--no-progress"], [out / case["flair"].parent.name / "mask.nii.gz"]


def _evaluate(root: Path, case: dict[str, Path]) -> tuple[list[str], list[Path]]:
    out = root / "out" / "metrics.json"
    return ["evaluate", "--prob", str(case["probability"]), "--ref", str(case["lesions"]), "--json", str(out)], [out]


def _sweep(root: Path, case: dict[str, Path]) -> tuple[list[str], list[Path]]:
    out = root / "out" / "sweep.json"
    return ["sweep", "--prob", str(case["probability"]), "--ref", str(case["lesions"]), "--json", str(out)], [out]


def _demo(root: Path, case: dict[str, Path]) -> tuple[list[str], list[Path]]:
    out = root / "out"
    return ["demo", str(out)], [out / "review.png", out / "case" / "lesions.nii.gz"]


def _export_onnx(root: Path, case: dict[str, Path]) -> tuple[list[str], list[Path]]:
    out = root / "out"
    return ["export-onnx", "dice", str(out)], [out / "model.onnx"]


def _report(root: Path, case: dict[str, Path]) -> tuple[list[str], list[Path]]:
    import json

    from LesionSegLogic.review_file import REVIEW_FILE, SavedReview, saved_file

    folder = root / "review"
    folder.mkdir()
    review = SavedReview(files={"flair": saved_file(case["flair"], folder)}, threshold=0.5, rule="anima",
                         mode="lesion")
    (folder / REVIEW_FILE).write_text(json.dumps(review.document(folder)))
    out = root / "out" / "report.html"
    return ["report", str(folder), "--out", str(out), "--regions", "no"], [out]


#: every command that writes: (name, build(root, case) -> (argv, earlier results in the way), exit status)
WRITING_COMMANDS: list[tuple[str, Callable[[Path, dict[str, Path]], tuple[list[str], list[Path]]], int]] = [
    ("montage", _montage, 2),
    ("phantom", _phantom, 2),
    ("train", _train, 2),
    ("predict", _predict, 2),
    ("predict --cases", _predict_cases, 1),  # a cohort reports the failed case and carries on
    ("evaluate --json", _evaluate, 2),
    ("sweep --json", _sweep, 2),
    ("demo", _demo, 2),
    ("export-onnx", _export_onnx, 2),
    ("report", _report, 2),
]
#: writing commands without --force, and why
NO_FORCE = {"export-onnx": "it refuses any earlier model.onnx/card.json outright: choose another output folder"}
#: subcommands with an output option that this policy does not cover, and why
NOT_COVERED = {
    "study": "a study folder is resumable by design (re-running continues it; issue 16)",
    "app": "the web app's exports go through LesionSegLib/export.py (the web face's own refusal)",
}


def test_every_writing_command_refuses_earlier_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    for name, build, status in WRITING_COMMANDS:
        root = tmp_path / name.replace(" ", "_")
        case = write_tiny_case(root / "data" / "case_a")
        argv, earlier = build(root, case)
        for path in earlier:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(EARLIER)
        before = tree_digest(root)
        code = main(argv)
        err = capsys.readouterr().err
        assert code == status, f"{name}: exit {code}\n{err}"
        assert "earlier results in the way" in err, f"{name}: {err}"
        assert ("--force" in err) != (name in NO_FORCE), f"{name}: {err}"
        for path in earlier:
            assert path.name in err, f"{name} does not name {path.name}: {err}"
        assert tree_digest(root) == before, f"{name} changed or added files although it refused"


def test_the_list_covers_every_command_with_an_output() -> None:
    """A subcommand with an ``out``/``--json`` value is in WRITING_COMMANDS or NOT_COVERED (with a reason)."""
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    covered = {name.split()[0] for name, _, _ in WRITING_COMMANDS} | set(NOT_COVERED)
    for command, parser in subparsers.choices.items():
        writes = [a for a in parser._actions if a.dest in ("out", "json") and a.nargs != 0]
        if writes:
            assert command in covered, f"`lesionseg {command}` writes ({writes[0].dest}) but is not in the test"
        if command in covered - set(NOT_COVERED) - set(NO_FORCE):
            assert {"force", "resume"} & {a.dest for a in parser._actions}, f"{command} has no --force"


def test_force_replaces_earlier_results(tmp_path: Path) -> None:
    case = write_tiny_case(tmp_path / "case")
    out = tmp_path / "m.json"
    out.write_bytes(EARLIER)
    argv = ["evaluate", "--prob", str(case["probability"]), "--ref", str(case["lesions"]), "--json", str(out)]
    assert main([*argv, "--force"]) == 0
    assert out.read_bytes() != EARLIER and out.read_text().startswith("{")
    png = tmp_path / "m.png"
    png.write_bytes(EARLIER)
    assert main(["montage", str(tmp_path / "case"), str(png), "--force"]) == 0
    assert png.read_bytes().startswith(b"\x89PNG")


@pytest.mark.parametrize("target", ["lesions.nii.gz", "flair.nii.gz", "symlink.png", "hardlink.png"])
def test_montage_never_writes_over_an_input(tmp_path: Path, target: str, capsys: pytest.CaptureFixture[str]) -> None:
    """Item 1: `montage CASE CASE/lesions.nii.gz` replaced the ground truth with a PNG."""
    case = write_tiny_case(tmp_path / "case")
    out = tmp_path / "case" / target
    if target == "symlink.png":
        out.symlink_to(case["lesions"])
    elif target == "hardlink.png":
        os.link(case["lesions"], out)
    before = tree_digest(tmp_path)
    assert main(["montage", str(tmp_path / "case"), str(out), "--force"]) == 2
    err = capsys.readouterr().err
    assert str(out) in err and ("input" in err or ".png path" in err)
    assert tree_digest(tmp_path) == before


def test_evaluate_and_predict_never_write_over_an_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    case = write_tiny_case(tmp_path / "case")
    before = tree_digest(tmp_path)
    assert main(["evaluate", "--prob", str(case["probability"]), "--ref", str(case["lesions"]),
                 "--json", str(case["lesions"]), "--force"]) == 2
    assert "refusing to overwrite it" in capsys.readouterr().err
    link = tmp_path / "case" / "alias"
    link.symlink_to(tmp_path / "case")
    assert main(["predict", "--model", "dice", "--flair", str(link / "probability.nii.gz"), "--t2",
                 str(case["t2"]), "--out", str(tmp_path / "case"), "--force"]) == 2
    assert "refusing to overwrite it" in capsys.readouterr().err
    link.unlink()
    assert tree_digest(tmp_path) == before


def test_claim_outputs_names_the_files_and_passes_when_free(tmp_path: Path) -> None:
    free = [tmp_path / "a.json", tmp_path / "sub" / "b.json"]
    assert claim_outputs(free) == free
    (tmp_path / "a.json").write_text("x")
    with pytest.raises(OutputError, match=r"earlier results in the way \(a\.json\).*--resume"):
        claim_outputs(free, override="--resume")
    assert claim_outputs(free, force=True) == free
    with pytest.raises(OutputError, match="refusing to overwrite it"):
        refuse_inputs([tmp_path / "sub" / ".." / "a.json"], [tmp_path / "a.json"])
    assert digest(tmp_path / "a.json") == digest(tmp_path / "a.json")
