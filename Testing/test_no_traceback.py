"""Issue 18 item 7: every CLI subcommand, fed a bad file, a bad model card or an absurd option, ends with exit
status 2 and one line on stderr, never a traceback. Runs in-process through ``LesionSegLogic.cli.main``; the
corpora are generated in a temporary folder."""

from __future__ import annotations

import argparse
import gzip
import json
import math
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import LesionSegLogic.memory as memory
from LesionSegLogic.cli import evaluate as evaluate_cli
from LesionSegLogic.cli import main
from LesionSegLogic.cli import sweep as sweep_cli
from LesionSegLogic.image import Image
from LesionSegLogic.io import write_image
from LesionSegLogic.zoo import ModelCard, save_model

SHAPE = (32, 32, 32)
#: what the machine "has" in these tests: the huge image must be refused whatever the real machine holds
SMALL_MEMORY = 2 << 30


def _run(argv: list[str], capsys) -> tuple[int, list[str]]:
    try:
        code = main(argv)
    except SystemExit as stopped:  # argparse's own refusals (one line too: cli.OneLineParser)
        code = stopped.code
    captured = capsys.readouterr()
    lines = [line for line in captured.err.splitlines() if line.strip() and "it/s]" not in line and "%|" not in line]
    return code, lines


def _assert_one_line_error(argv: list[str], capsys, *must_contain: str) -> str:
    code, lines = _run(argv, capsys)
    text = "\n".join(lines)
    assert "Traceback" not in text, text
    errors = [line for line in lines if ": error: " in line]
    assert code == 2 and len(errors) == 1, f"{argv}: exit {code}, stderr {lines}"
    for word in must_contain:
        assert word in errors[0], (word, errors[0])
    return errors[0]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> dict[str, Path]:
    """Good inputs (a FLAIR, a probability map, a mask, a tiny model) and the bad-file corpus."""
    root = tmp_path_factory.mktemp("corpus")
    rng = np.random.default_rng(0)
    z, y, x = np.indices(SHAPE)
    head = ((z - 16) ** 2 + (y - 16) ** 2 + (x - 16) ** 2) < 14**2
    flair = np.where(head, 100 + 5 * rng.standard_normal(SHAPE), 1.0).astype(np.float32)
    prob = np.clip(rng.random(SHAPE) * head, 0, 1).astype(np.float32)
    good = {
        "flair": write_image(Image(flair), root / "good" / "flair.nii.gz"),
        "prob": write_image(Image(prob), root / "good" / "probability.nii.gz"),
        "mask": write_image(Image((prob > 0.8).astype(np.uint8)), root / "good" / "lesions.nii.gz"),
    }
    from LesionSegLogic.models import build_model

    params = {"in_channels": 1, "features": [2, 4], "norm": "batch"}
    card = ModelCard(name="tiny", architecture="unet3d", architecture_params=params, inputs=("flair",),
                     patch_size=(16, 16, 16), loss="dice")
    save_model(build_model("unet3d", **params), card, root / "zoo" / "tiny")
    bad = root / "bad"
    bad.mkdir()
    (bad / "empty.nii.gz").write_bytes(b"")
    (bad / "text.nii.gz").write_text("not an image\n")
    whole = good["flair"].read_bytes()
    (bad / "truncated.nii.gz").write_bytes(whole[: len(whole) // 2])
    (bad / "garbage.nrrd").write_bytes(bytes(rng.integers(0, 256, 4096, dtype=np.uint8)))
    (bad / "ndims99.mha").write_text("ObjectType = Image\nNDims = 99\nDimSize = 2 2 2\nElementType = MET_UCHAR\n"
                                     "ElementDataFile = LOCAL\n")
    (root / "secret.raw").write_bytes(bytes(8 * 8 * 8))
    (bad / "external.nhdr").write_text("NRRD0004\ntype: uint8\ndimension: 3\nsizes: 8 8 8\nencoding: raw\n"
                                       "data file: ../secret.raw\n")
    (bad / "folder.nii.gz").mkdir()
    huge = _huge_nifti(bad / "huge.nii")
    paths = {**good, "zoo": root / "zoo", "tiny": root / "zoo" / "tiny", "root": root, "huge": huge}
    paths.update({p.name: p for p in bad.iterdir()})
    paths["missing.nii.gz"] = bad / "missing.nii.gz"
    paths["too_long.nii.gz"] = bad / ("x" * 300 + ".nii.gz")
    return paths


def _huge_nifti(path: Path, shape=(1024, 1024, 1000)) -> Path:
    """A valid 1024×1024×1000 uint8 NIfTI, as a sparse file (1 GB declared, nothing on disk)."""
    import nibabel as nib

    header = nib.Nifti1Header()
    header.set_data_dtype(np.uint8)
    header.set_data_shape(shape)
    header.set_qform(np.eye(4), 1)
    header.set_sform(np.eye(4), 1)
    with open(path, "wb") as handle:
        handle.write(header.binaryblock + bytes(4))
        handle.truncate(352 + math.prod(shape))
    return path


BAD_IMAGES = ("empty.nii.gz", "text.nii.gz", "truncated.nii.gz", "garbage.nrrd", "ndims99.mha", "external.nhdr",
              "folder.nii.gz", "missing.nii.gz", "too_long.nii.gz", "huge.nii")


@pytest.fixture
def small_machine(monkeypatch) -> None:
    monkeypatch.setattr(memory, "available_bytes", lambda: SMALL_MEMORY)


@pytest.mark.parametrize("bad", BAD_IMAGES)
def test_image_commands_over_the_bad_file_corpus(corpus, bad, small_machine, tmp_path, capsys) -> None:
    path, good = str(corpus[bad]), corpus
    commands: list[list[str]] = [
        ["evaluate", "--prob", path, "--ref", str(good["mask"]), "--no-surface"],
        ["evaluate", "--mask", str(good["mask"]), "--ref", path],
        ["sweep", "--prob", path, "--ref", str(good["mask"])],
        ["predict", "--model", str(good["tiny"]), "--flair", path, "--out", str(tmp_path / "out"), "--no-progress",
         "--device", "cpu"],
    ]  # fmt: skip
    for argv in commands:
        line = _assert_one_line_error(argv, capsys)
        assert len(line) < 600
    assert not (tmp_path / "out" / "summary.json").exists()


def test_the_huge_image_names_its_size_and_the_memory_needed(corpus, small_machine, capsys) -> None:
    mask = str(corpus["mask"])
    for argv in (["evaluate", "--prob", str(corpus["huge"]), "--ref", mask],
                 ["sweep", "--prob", str(corpus["huge"]), "--ref", mask]):
        _assert_one_line_error(argv, capsys, "1024×1024×1000", "GiB of memory", "2.0 GiB available")


def test_memory_estimates_are_upper_bounds_of_the_measured_peaks() -> None:
    """The per-voxel constants the CLI checks before reading stay above what evaluate and the threshold engine
    really allocate (tracemalloc) on a 64³ map with many lesions."""
    from LesionSegLogic.metrics.evaluate import evaluate
    from LesionSegLogic.metrics.voxel import average_precision
    from LesionSegLogic.threshold.engine import ThresholdEngine
    from LesionSegLogic.threshold.sweep import sweep_cohort, threshold_grid

    shape = (64, 64, 64)
    z, y, x = np.indices(shape)
    blobs = (np.sin(z / 3) * np.sin(y / 4) * np.sin(x / 5)) > 0.5
    prob = np.clip(np.random.default_rng(1).random(shape) * 0.3 + 0.7 * blobs, 0, 1).astype(np.float32)
    ref = (np.sin(z / 3 + 0.2) * np.sin(y / 4) * np.sin(x / 5)) > 0.6
    tracemalloc.start()
    try:
        evaluate(prob >= 0.5, ref, (1.0, 1.0, 1.0), "anima", threshold=0.5, surface=True)
        average_precision(prob, ref)
        evaluate_peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.reset_peak()
        engine = ThresholdEngine(Image(prob), reference=Image(ref), rule="anima")
        sweep_cohort([engine], threshold_grid(0.05), "voxel-f1")
        sweep_peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert evaluate_peak / prob.size < evaluate_cli.BYTES_PER_VOXEL
    assert sweep_peak / prob.size < sweep_cli.BYTES_PER_VOXEL


def test_unreadable_and_too_long_names_are_one_line(corpus, monkeypatch, capsys) -> None:
    too_long = str(corpus["too_long.nii.gz"])
    _assert_one_line_error(["evaluate", "--prob", too_long, "--ref", str(corpus["mask"])], capsys,
                           "File name too long")

    def denied(*args, **kwargs):
        raise PermissionError(13, "Permission denied", "/data/locked")

    # permission bits do not stop root (these tests may run as root): the operating system's answer is simulated
    monkeypatch.setattr("LesionSegLogic.cli.models.run", denied)
    _assert_one_line_error(["models"], capsys, "/data/locked: Permission denied")


def test_predict_cases_with_a_binary_list_file(corpus, tmp_path, capsys) -> None:
    listing = tmp_path / "cases.txt"
    listing.write_bytes(bytes(range(256)) * 4)
    _assert_one_line_error(["predict", "--model", str(corpus["tiny"]), "--cases", str(listing), "--out",
                            str(tmp_path / "out")], capsys, "cases.txt")


def test_phantom_with_a_tiny_spacing(tmp_path, capsys) -> None:
    _assert_one_line_error(["phantom", str(tmp_path / "out"), "--spacing", "0.001", "--anatomy", "cord"], capsys,
                           "voxels")
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").rglob("*.nii.gz"))


def _every_subcommand(corpus: dict[str, Path], tmp: Path) -> dict[str, list[str]]:
    """One bad invocation per subcommand (those not exercised at length elsewhere in this file); fast ones only."""
    nested = tmp / "nested.json"
    nested.write_text(_nested(100_000))
    return {
        "demo": ["demo", str(tmp / "demo"), "--device", "bogus"],  # a bad --model is found only after the phantom
        "phantom": ["phantom", str(tmp / "ph"), "--spacing", "0.001", "--anatomy", "cord"],
        "montage": ["montage", str(corpus["root"] / "bad"), str(tmp / "m.png")],
        "models": ["models", "--zoo", str(corpus["too_long.nii.gz"])],
        "losses": ["losses", "no_such_loss"],
        "predict": ["predict", "--model", str(corpus["tiny"]), "--flair", str(corpus["text.nii.gz"]), "--out",
                    str(tmp / "p")],
        "export_onnx": ["export-onnx", str(tmp / "no_model"), str(tmp / "onnx")],
        "evaluate": ["evaluate", "--prob", str(corpus["garbage.nrrd"]), "--ref", str(corpus["mask"])],
        "sweep": ["sweep", "--prob", str(corpus["prob"]), "--ref", str(corpus["mask"]), "--step", "1e-9"],
        "train": ["train", str(corpus["root"] / "good"), "--out", str(tmp / "t"), "--lr", "-1"],
        "study": ["study", str(nested), "--out", str(tmp / "s")],
        "app": ["app", "--flair", str(corpus["missing.nii.gz"])],
        "report": ["report", str(corpus["root"] / "good")],  # a folder without review.json
    }


def test_every_subcommand_refuses_bad_input_in_one_line(corpus, tmp_path, capsys) -> None:
    from LesionSegLogic.cli import build_parser

    commands = _every_subcommand(corpus, tmp_path)
    subparsers = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    assert {name.replace("-", "_") for name in subparsers.choices} == set(commands)
    for name, argv in commands.items():
        assert len(_assert_one_line_error(argv, capsys)) < 600, name


# the bad-card corpus -------------------------------------------------------------------------------------------
def _nested(depth: int) -> str:
    return "[" * depth + "]" * depth


BAD_CARDS: dict[str, Callable[[dict], dict | str | bytes]] = {
    "features_1e6": lambda c: {**c, "architecture_params": {**c["architecture_params"], "features": [10**6, 2]}},
    "in_channels_1e9": lambda c: {**c, "architecture_params": {**c["architecture_params"], "in_channels": 10**9}},
    "inputs_vs_channels": lambda c: {**c, "inputs": ["flair", "t2"]},
    "inputs_vs_weights": lambda c: {**c, "inputs": ["flair", "t2"], "architecture_params": {
        k: v for k, v in c["architecture_params"].items() if k != "in_channels"}},
    "weights_vs_card": lambda c: {**c, "inputs": ["flair", "t2"], "architecture_params": {
        **c["architecture_params"], "in_channels": 2}},  # a consistent card, but the weights take one channel
    "patch_1": lambda c: {**c, "patch_size": [1, 1, 1]},
    "patch_odd": lambda c: {**c, "patch_size": [17, 16, 16]},
    "patch_huge": lambda c: {**c, "patch_size": [10**6, 16, 16]},
    "patch_memory": lambda c: {**c, "patch_size": [512, 512, 512]},
    "spacing_1e-3": lambda c: {**c, "target_spacing": [1e-3, 1e-3, 1e-3]},
    "nyul_nan": lambda c: json.dumps({**c, "normalisation": {
        "method": "nyul", "percentiles": [1, 50, 99], "scale": [0, 100], "landmarks": [float("nan"), 1, 2]}}),
    "nyul_decreasing": lambda c: {**c, "normalisation": {
        "method": "nyul", "percentiles": [1, 50, 99], "scale": [0, 100], "landmarks": [5, 3, 1]}},
    "threshold_nan": lambda c: json.dumps({**c, "recommended_threshold": float("nan")}),
    "nested_json": lambda c: json.dumps(c)[:-1] + ', "validation": ' + _nested(100_000) + "}",
    "not_utf8": lambda c: json.dumps(c).encode("utf-8").replace(b'"loss"', b'"lo\xff\xfess"'),
    "binary": lambda c: gzip.compress(json.dumps(c).encode()),
    "not_an_object": lambda c: "[1, 2, 3]",
    "sha_mismatch": lambda c: {**c, "weights_sha256": "0" * 64},
}  # fmt: skip


@pytest.fixture(scope="module")
def bad_zoo(corpus, tmp_path_factory) -> Path:
    """A models folder: the valid ``tiny`` model and one folder per bad card (the same weights beside each)."""
    zoo = tmp_path_factory.mktemp("bad_zoo")
    card = json.loads((corpus["tiny"] / "card.json").read_text())
    weights = (corpus["tiny"] / "model.safetensors").read_bytes()
    for name, make in {"tiny": lambda c: c, **BAD_CARDS}.items():
        folder = zoo / name
        folder.mkdir()
        content = make({**card, "name": name.replace("e-3", "em3")})
        if isinstance(content, dict):
            content = json.dumps(content)
        (folder / "card.json").write_bytes(content if isinstance(content, bytes) else content.encode())
        (folder / "model.safetensors").write_bytes(weights)
    return zoo


@pytest.mark.parametrize("name", sorted(BAD_CARDS))
def test_predict_with_each_bad_card_is_one_line(bad_zoo, corpus, name, small_machine, tmp_path, capsys) -> None:
    card = bad_zoo / name
    _assert_one_line_error(["predict", "--model", str(card), "--flair", str(corpus["flair"]), "--out",
                            str(tmp_path / "out"), "--device", "cpu", "--no-progress"], capsys, str(card))
    assert not (tmp_path / "out").exists()


def test_models_lists_the_valid_card_and_marks_every_broken_one(bad_zoo, capsys) -> None:
    assert main(["models", "--zoo", str(bad_zoo)]) == 0
    out = capsys.readouterr().out.splitlines()
    rows = {line.split()[0]: line for line in out if line.strip() and not line.startswith(("name", "recommended"))}
    assert "invalid" not in rows["tiny"]
    # valid as cards and as networks; what is wrong shows when loading: the weights' sha256, the memory of a window
    only_at_load = {"sha_mismatch", "patch_memory", "weights_vs_card"}
    for name in BAD_CARDS:
        assert ("invalid card" in rows[name]) == (name not in only_at_load), (name, rows.get(name))
    assert main(["models", "--zoo", str(bad_zoo), "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert {e.get("name") or Path(e["folder"]).name for e in listed} >= {"tiny", *BAD_CARDS}


# training: bad manifests and absurd options -------------------------------------------------------------------
@pytest.fixture(scope="module")
def data_folder(corpus, tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("train_data")
    for i in range(5):
        case = root / f"case{i}"
        case.mkdir()
        for name in ("flair", "t2"):
            (case / f"{name}.nii.gz").write_bytes(corpus["flair"].read_bytes())
        (case / "lesions.nii.gz").write_bytes(corpus["mask"].read_bytes())
    return root


TRAIN_OPTIONS = {
    "lr_negative": ["--lr", "-1"],
    "lr_nan": ["--lr", "nan"],
    "patch_7": ["--patch", "7", "7", "7"],
    "patch_huge": ["--patch", "100000", "16", "16"],
    "spacing_tiny": ["--spacing", "0.001", "0.001", "0.001"],
    "features_1e6": ["--model-param", "features=[1000000,2]"],
    "memory": ["--patch", "256", "256", "256", "--batch-size", "64"],
}


@pytest.mark.parametrize("name", sorted(TRAIN_OPTIONS))
def test_train_refuses_absurd_options_before_reading_data(data_folder, name, small_machine, tmp_path, capsys):
    line = _assert_one_line_error(["train", str(data_folder), "--out", str(tmp_path / "run"), "--no-progress",
                                   *TRAIN_OPTIONS[name]], capsys)
    if name == "memory":
        assert "GiB of memory" in line
    assert not (tmp_path / "run" / "log.csv").exists()


@pytest.mark.heavy
def test_train_diverging_stops_naming_the_epoch(data_folder, tmp_path, capsys) -> None:
    _assert_one_line_error(["train", str(data_folder), "--out", str(tmp_path / "run"), "--no-progress", "--lr", "1e30",
                            "--epochs", "2", "--iterations", "2", "--batch-size", "1", "--patch", "16", "16", "16",
                            "--model-param", "features=[2,4]"], capsys, "at epoch 1", "lower the learning rate")


@pytest.mark.parametrize("manifest,content", [
    ("manifest.json", '{"cases": ' + _nested(100_000) + "}"),
    ("manifest.csv", b"case,flair,t2,mask\n\xff\xfe\x00bad,\x81,\x82,\x83\n"),
    ("manifest.json", b'{"cases": [{"case": "\xff"}]}'),
])  # fmt: skip
def test_train_with_bad_manifests(tmp_path, manifest, content, capsys) -> None:
    data = tmp_path / "data"
    data.mkdir()
    (data / manifest).write_bytes(content if isinstance(content, bytes) else content.encode())
    _assert_one_line_error(["train", str(data), "--out", str(tmp_path / "run"), "--no-progress", "--patch", "16",
                            "16", "16"], capsys, manifest)


def test_train_config_nested_too_deeply(tmp_path, capsys) -> None:
    config = tmp_path / "config.json"
    config.write_text(_nested(100_000))
    _assert_one_line_error(["train", "--config", str(config), "--out", str(tmp_path / "run")], capsys, "config.json")
