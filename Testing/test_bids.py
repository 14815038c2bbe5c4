"""BIDS cohorts: the file-name matcher, reference masks in derivatives, and ``lesionseg predict --bids``."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from image_builders import noisy_head

from LesionSegLogic.bids import BidsName, find_cases
from LesionSegLogic.cli import main
from LesionSegLogic.errors import InputError
from LesionSegLogic.image import Image
from LesionSegLogic.io import read_image, write_image


def _head(seed: int, shape=(18, 24, 20)) -> Image:
    a = noisy_head(shape, (7, 10, 8), np.s_[7:11, 10:14, 8:12], seed)
    return Image(a.astype(np.float32), (1.3, 1.0, 1.1), (float(seed), -5.0, 3.0))


def _dataset(root: Path) -> Path:
    """sub-01 with two sessions (FLAIR + T2w), sub-02 without sessions with two runs of each, a stray file."""
    root.mkdir(parents=True)
    (root / "dataset_description.json").write_text(json.dumps({"Name": "toy", "BIDSVersion": "1.9.0"}))
    files = ["sub-01/ses-1/anat/sub-01_ses-1_FLAIR.nii.gz", "sub-01/ses-1/anat/sub-01_ses-1_T2w.nii.gz",
             "sub-01/ses-2/anat/sub-01_ses-2_FLAIR.nii.gz", "sub-01/ses-2/anat/sub-01_ses-2_T2w.nii.gz",
             "sub-02/anat/sub-02_run-1_FLAIR.nii.gz", "sub-02/anat/sub-02_run-2_FLAIR.nii.gz",
             "sub-02/anat/sub-02_run-1_T2w.nii.gz", "sub-02/anat/sub-02_run-2_T2w.nii.gz"]  # fmt: skip
    for seed, name in enumerate(files):
        write_image(_head(seed), root / name)
    (root / "sub-02" / "anat" / "notes_FLAIR.txt").write_text("not an image")
    return root


def test_names_parse_into_entities_and_derive_output_names() -> None:
    name = BidsName.parse("sub-01_ses-2_acq-3D_run-1_FLAIR.nii.gz")
    assert name is not None and name.suffix == "FLAIR" and name.get("acq") == "3D"
    assert name.derived("lesion", "probseg.nii.gz") == "sub-01_ses-2_acq-3D_run-1_desc-lesion_probseg.nii.gz"
    for bad in ("sub-01_FLAIR.txt", "ses-1_FLAIR.nii.gz", "sub-01_ses_FLAIR.nii.gz", "sub-01-FLAIR.nii.gz"):
        assert BidsName.parse(bad) is None


def test_the_matcher_finds_one_case_per_flair_and_pairs_t2_by_run(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "bids")
    cases = find_cases(root)
    assert [c.label for c in cases] == ["sub-01_ses-1", "sub-01_ses-2", "sub-02_run-1", "sub-02_run-2"]
    for case in cases:
        assert case.t2 is not None and case.t2.parent == case.flair.parent
        assert case.t2.name.replace("T2w", "FLAIR") == case.flair.name
    assert [c.label for c in find_cases(root, ["sub-02"])] == ["sub-02_run-1", "sub-02_run-2"]
    assert [c.label for c in find_cases(root, ["01"], ["2"])] == ["sub-01_ses-2"]
    with pytest.raises(InputError, match="no such participant"):
        find_cases(root, ["03"])
    (root / "dataset_description.json").unlink()
    with pytest.raises(InputError, match="not a BIDS dataset"):
        find_cases(root)


def test_an_ambiguous_t2_is_an_error_only_when_the_model_needs_it(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "bids")
    anat = root / "sub-01/ses-1/anat"
    write_image(_head(9), anat / "sub-01_ses-1_acq-fast_T2w.nii.gz")
    assert find_cases(root, ["01"], ["1"])[0].t2 == anat / "sub-01_ses-1_T2w.nii.gz"  # same acq/rec/run: pairs
    (anat / "sub-01_ses-1_T2w.nii.gz").rename(anat / "sub-01_ses-1_acq-slow_T2w.nii.gz")
    case = find_cases(root, ["01"], ["1"])[0]
    assert case.t2 is None and case.images(["flair"]) == {"flair": case.flair}
    with pytest.raises(InputError, match="2 _T2w images and none pairs"):
        case.images(["flair", "t2"])


def test_references_come_from_derivatives_but_never_from_lesionsegs_own(tmp_path: Path) -> None:
    root = _dataset(tmp_path / "bids")
    manual = root / "derivatives" / "manual" / "sub-01" / "ses-1" / "anat"
    write_image(_head(0).with_array(np.zeros((18, 24, 20), np.uint8)), manual / "sub-01_ses-1_label-lesion_mask.nii.gz")
    ours = root / "derivatives" / "lesionseg" / "sub-01" / "ses-1" / "anat"
    write_image(_head(0).with_array(np.zeros((18, 24, 20), np.uint8)), ours / "sub-01_ses-1_desc-lesion_mask.nii.gz")
    case = find_cases(root, ["01"], ["1"], references=True)[0]
    assert case.reference == manual / "sub-01_ses-1_label-lesion_mask.nii.gz"
    other = root / "derivatives" / "rater2" / "sub-01" / "ses-1" / "anat"
    write_image(_head(0).with_array(np.zeros((18, 24, 20), np.uint8)), other / "sub-01_ses-1_dseg.nii.gz")
    with pytest.raises(InputError, match="2 reference masks .*--ref-pipeline"):
        find_cases(root, ["01"], ["1"], references=True)
    chosen = find_cases(root, ["01"], ["1"], references=True, reference_pipeline="rater2")[0]
    assert chosen.reference == other / "sub-01_ses-1_dseg.nii.gz"
    with pytest.raises(InputError, match="no reference mask"):
        find_cases(root, ["02"], references=True)


def test_predict_bids_writes_a_derivatives_dataset_skips_done_and_survives_a_bad_case(
    tmp_path: Path, tiny_model_flair_t2: Path, capsys
) -> None:
    root = _dataset(tmp_path / "bids")
    bad = root / "sub-02/anat/sub-02_run-2_FLAIR.nii.gz"
    bad.unlink()
    write_image(_head(0).with_array(np.full((18, 24, 20), 7.0, np.float32)), bad)  # constant: refused
    out = root / "derivatives" / "lesionseg"
    args = ["predict", "--model", str(tiny_model_flair_t2), "--bids", str(root), "--out", str(out), "--device", "cpu",
            "--no-progress"]  # fmt: skip
    assert main(args) == 1
    captured = capsys.readouterr()
    assert "3 predicted, 0 already done, 1 failed" in captured.out and "sub-02_run-2" in captured.err
    description = json.loads((out / "dataset_description.json").read_text())
    assert description["DatasetType"] == "derivative" and description["GeneratedBy"][0]["Name"] == "LesionSeg"
    anat = out / "sub-01" / "ses-2" / "anat"
    written = sorted(p.name for p in anat.iterdir())
    assert written == [f"sub-01_ses-2_desc-lesion_{tail}" for tail in
                       ("lesions.tsv", "mask.nii.gz", "probseg.nii.gz", "summary.json")]  # fmt: skip
    flair = read_image(root / "sub-01/ses-2/anat/sub-01_ses-2_FLAIR.nii.gz")
    assert read_image(anat / "sub-01_ses-2_desc-lesion_probseg.nii.gz", role="probability").same_grid(flair)
    summary = json.loads((anat / "sub-01_ses-2_desc-lesion_summary.json").read_text())
    assert summary["Sources"] == ["bids:raw:sub-01/ses-2/anat/sub-01_ses-2_FLAIR.nii.gz",
                                  "bids:raw:sub-01/ses-2/anat/sub-01_ses-2_T2w.nii.gz"]  # fmt: skip
    assert summary["bids"] == {"subject": "01", "session": "2"} and summary["model"]["name"] == "tiny2"
    header = (anat / "sub-01_ses-2_desc-lesion_lesions.tsv").read_text().splitlines()[0].split("\t")
    assert header[:3] == ["id", "n_voxels", "volume_mm3"]
    assert not (out / "sub-02" / "anat" / "sub-02_run-2_desc-lesion_summary.json").exists()
    assert not list(out.rglob(".lesionseg-staging-*"))
    # a second run: the reference search skips LesionSeg's own folder, done cases are skipped
    assert main([*args, "--participant-label", "01"]) == 0
    assert "0 predicted, 2 already done, 0 failed" in capsys.readouterr().out


def test_predict_bids_refuses_dicom_options_and_a_foreign_output_dataset(tmp_path: Path, tiny_model_flair_t2: Path,
                                                                         capsys) -> None:
    root = _dataset(tmp_path / "bids")
    base = ["predict", "--model", str(tiny_model_flair_t2), "--bids", str(root), "--no-progress"]
    assert main([*base, "--out", str(tmp_path / "o"), "--dicom-seg"]) == 2
    assert "--dicom-seg" in capsys.readouterr().err and not (tmp_path / "o").exists()
    assert main([*base, "--out", str(root)]) == 2  # the raw dataset's own description is not LesionSeg's
    assert "another dataset's description" in capsys.readouterr().err
    assert not list(root.rglob("*desc-lesion*"))


def test_evaluate_and_sweep_take_a_bids_cohort(tmp_path: Path, tiny_model_flair_t2: Path, capsys) -> None:
    root = _dataset(tmp_path / "bids")
    for rel in ("sub-01/ses-1/anat/sub-01_ses-1", "sub-02/anat/sub-02_run-2"):
        reference = np.zeros((18, 24, 20), np.uint8)
        reference[7:11, 10:14, 8:12] = 1
        grid = read_image(root / f"{rel}_FLAIR.nii.gz")
        write_image(grid.with_array(reference), root / "derivatives" / "manual" / f"{rel}_label-lesion_mask.nii.gz")
    assert main(["predict", "--model", str(tiny_model_flair_t2), "--bids", str(root), "--participant-label", "01", "02",
                 "--out", str(root / "derivatives" / "lesionseg"), "--device", "cpu", "--no-progress"]) == 0
    capsys.readouterr()
    with pytest.raises(InputError, match="no reference mask"):  # required: every case needs one
        find_cases(root, references=True, exclude=[root / "derivatives" / "lesionseg"])
    assert main(["evaluate", "--bids", str(root), "--participant-label", "sub-02", "--json",
                 str(tmp_path / "eval.json")]) == 0
    document = json.loads((tmp_path / "eval.json").read_text())
    assert list(document["cases"]) == ["sub-02_run-2"]
    result = document["cases"]["sub-02_run-2"]  # at the threshold predict recorded (the card's 0.4), said so
    assert result["threshold"] == 0.4 and "sub-02_run-2_desc-lesion_summary.json" in result["defaults"][
        "threshold_source"]
    beside = root / "derivatives/lesionseg/sub-02/anat/sub-02_run-2_desc-lesion_eval.json"
    single = tmp_path / "single.json"
    assert main(["evaluate", "--prob", str(root / "derivatives/lesionseg/sub-02/anat/"
                                          "sub-02_run-2_desc-lesion_probseg.nii.gz"),
                 "--ref", str(root / "derivatives/manual/sub-02/anat/sub-02_run-2_label-lesion_mask.nii.gz"),
                 "--threshold", "0.4", "--json", str(single)]) == 0  # fmt: skip
    expected = json.loads(single.read_text())
    assert json.loads(beside.read_text())["voxel"] == expected["voxel"] == document["cases"]["sub-02_run-2"]["voxel"]
    assert "sub-02_run-2: voxel dice" in capsys.readouterr().out
    # sweep: sub-01's second session has no reference → only the participants with references
    assert main(["sweep", "--bids", str(root), "--participant-label", "02", "--json", str(tmp_path / "s.json")]) == 0
    swept = json.loads((tmp_path / "s.json").read_text())
    assert swept["best_threshold"] is not None and len(swept["subjects"]) == 1
    assert main(["sweep", "--bids", str(root), "--prob", "x.nii.gz"]) == 2
    assert "leave out --prob/--ref" in capsys.readouterr().err


def test_a_case_folder_as_bids_and_as_dicom(tmp_path: Path) -> None:
    pytest.importorskip("pydicom")  # the dicom extra (make setup-test installs it)
    from LesionSegLogic.bids import write_case_as_bids
    from LesionSegLogic.io.dicom import read_dicom_series
    from LesionSegLogic.io.dicom_write import write_case_dicom

    case = tmp_path / "case_007"
    flair = _head(1).with_array(_head(1).array / 3.0)  # non-integer intensities: stored with a rescale slope
    write_image(flair, case / "flair.nii.gz")
    write_image(_head(2), case / "t2.nii.gz")
    write_image(flair.with_array((flair.array > 120).astype(np.uint8)), case / "lesions.nii.gz")
    written = write_case_dicom(case)
    series = {name: read_dicom_series(w.folder) for name, w in written.items()}
    assert set(series) == {"flair.nii.gz", "t2.nii.gz"}
    assert series["flair.nii.gz"].info.description == "FLAIR" and len(series["t2.nii.gz"].files) == 18
    uids = {pydicom_study(s.files[0]) for s in series.values()}
    assert len(uids) == 1  # one study, one frame of reference
    nifti = read_image(case / "flair.nii.gz")
    assert series["flair.nii.gz"].image.same_grid(nifti)
    assert np.abs(series["flair.nii.gz"].image.array - nifti.array).max() <= written["flair.nii.gz"].slope / 2 + 1e-4
    root = tmp_path / "bids"
    write_case_as_bids(case, root, "007", ignore=["case_*/"])
    found = find_cases(root, references=True)
    assert [c.label for c in found] == ["sub-007"] and found[0].t2 is not None
    assert np.array_equal(read_image(found[0].reference, role="mask").array,
                          read_image(case / "lesions.nii.gz", role="mask").array)
    assert (root / ".bidsignore").read_text() == "case_*/\n"
    with pytest.raises(InputError, match="letters and digits"):
        write_case_as_bids(case, root, "0_7")


def pydicom_study(path: Path) -> tuple[str, str]:
    import pydicom

    ds = pydicom.dcmread(path, stop_before_pixels=True)
    return ds.StudyInstanceUID, ds.FrameOfReferenceUID


@pytest.mark.heavy
def test_phantom_cases_laid_out_as_bids_and_as_dicom(tmp_path: Path) -> None:
    pytest.importorskip("pydicom")  # the dicom extra (make setup-test installs it)
    from LesionSegLogic.io.dicom import read_dicom_series

    out = tmp_path / "phantoms"
    assert main(["phantom", str(out), "--cases", "2", "--seed", "5", "--anatomy", "cord", "--fov", "60,30,30",
                 "--lesions", "2", "--dicom", "--bids"]) == 0  # fmt: skip
    cases = find_cases(out, references=True)
    assert [c.label for c in cases] == ["sub-000", "sub-001"]
    for case, folder in zip(cases, ("case_000", "case_001"), strict=True):
        nifti = read_image(out / folder / "flair.nii.gz")
        assert np.array_equal(read_image(case.flair).array, nifti.array)
        assert np.array_equal(read_image(case.reference, role="mask").array,
                              read_image(out / folder / "lesions.nii.gz", role="mask").array)
        dicom = read_dicom_series(out / folder / "flair_dicom")
        t2 = read_dicom_series(out / folder / "t2_dicom")
        assert dicom.image.same_grid(nifti) and t2.image.same_grid(nifti)
        step = float(pydicom_slope(dicom.files[0]))
        assert np.abs(dicom.image.array - nifti.array).max() <= step / 2 + 1e-3
    assert (out / ".bidsignore").read_text() == "case_*/\n"
    # an earlier run's files (NIfTI and DICOM) are refused without --force
    assert main(["phantom", str(out), "--cases", "1", "--seed", "5", "--anatomy", "cord", "--dicom"]) == 2


def pydicom_slope(path: Path) -> float:
    import pydicom

    return float(pydicom.dcmread(path, stop_before_pixels=True).RescaleSlope)


def test_bids_outputs_follow_the_write_policy(tmp_path: Path, tiny_model_flair_t2: Path, capsys) -> None:
    """A partial earlier result is refused (named, bytes kept) unless --force; evaluate --bids claims its files."""
    root = _dataset(tmp_path / "bids")
    out = root / "derivatives" / "lesionseg"
    partial = out / "sub-01" / "ses-1" / "anat" / "sub-01_ses-1_desc-lesion_mask.nii.gz"
    partial.parent.mkdir(parents=True)
    partial.write_bytes(b"earlier")
    argv = ["predict", "--model", str(tiny_model_flair_t2), "--bids", str(root), "--participant-label", "01", "--out",
            str(out), "--device", "cpu", "--no-progress"]  # fmt: skip
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert "earlier results in the way" in err and "sub-01_ses-1_desc-lesion_mask.nii.gz" in err
    assert partial.read_bytes() == b"earlier" and (out / "sub-01/ses-2/anat/sub-01_ses-2_desc-lesion_summary.json"
                                                   ).is_file()  # fmt: skip
    assert main([*argv, "--force"]) == 0 and partial.read_bytes() != b"earlier"
    manual = root / "derivatives" / "manual" / "sub-01" / "ses-2" / "anat"
    write_image(read_image(root / "sub-01/ses-2/anat/sub-01_ses-2_FLAIR.nii.gz").with_array(
        np.zeros((18, 24, 20), np.uint8)), manual / "sub-01_ses-2_label-lesion_mask.nii.gz")
    assert main(["evaluate", "--bids", str(root)]) == 0
    before = (out / "sub-01/ses-2/anat/sub-01_ses-2_desc-lesion_eval.json").read_bytes()
    capsys.readouterr()
    assert main(["evaluate", "--bids", str(root)]) == 2
    assert "earlier results in the way" in capsys.readouterr().err
    assert (out / "sub-01/ses-2/anat/sub-01_ses-2_desc-lesion_eval.json").read_bytes() == before
