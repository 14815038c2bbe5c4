"""A tiny study end to end: outputs, numbers traceable to the saved maps, model folders, resume after a kill."""

from __future__ import annotations

import json

import numpy as np
import pytest
from study_cases import make_study_data, tiny_config

from LesionSegLogic.io import read_image
from LesionSegLogic.study import LocalExecutor, run_study
from LesionSegLogic.study.job import DONE_FILE
from LesionSegLogic.threshold import ThresholdEngine
from LesionSegLogic.zoo.card import ModelCard


@pytest.fixture(scope="module")
def study(tmp_path_factory):
    root = tmp_path_factory.mktemp("study")
    data = make_study_data(root / "data")
    config = tiny_config(data)
    outcome = run_study(config, root / "out", LocalExecutor(1), progress=False)
    return config, root / "out", outcome


def test_study_writes_report_tables_figures_json_and_models(study):
    config, out, outcome = study
    assert outcome.jobs == outcome.ran == 4 and outcome.reused == 0
    html = (out / "report.html").read_text()
    for title in ("Table 1", "Table 2", "Fig. 2", "Seed bands", "Holm", "Stability index"):
        assert title in html
    assert "http://" not in html and "https://" not in html and "<script" not in html  # offline, no CDN
    assert html.count("data:image/png;base64,") == 4
    for name in ("fig2_threshold", "fig2_test", "seed_bands", "stability"):
        assert (out / "figures" / f"{name}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    for name in ("table1", "table2", "pairwise", "stability", "runs", "seed_bands", "fig2_vf1"):
        assert (out / "tables" / f"{name}.csv").stat().st_size > 0
    study_json = json.loads((out / "study.json").read_text())
    analysis = study_json["analysis"]
    assert [(r["loss"], r["set"]) for r in analysis["table1"]] == [
        (loss, s) for loss in ("bce", "dice") for s in ("threshold", "test")
    ]
    assert {r["metric"] for r in analysis["pairwise"]["rows"]} >= {"voxel_f1", "lesion_f1"}
    assert "Holm" in analysis["pairwise"]["correction"]
    # one normal model folder per run, its card's threshold = the run's optimal threshold
    for job in study_json["jobs"]:
        folder = out / "runs" / job["loss"] / f"seed{job['seed']}-fold{job['fold']}"
        card = ModelCard.from_json(folder / "model" / "card.json")
        assert card.recommended_threshold == job["optimal_threshold"]
        assert card.loss == job["loss"] and card.inputs == ("flair", "t2")


def test_table_numbers_come_from_the_saved_maps(study):
    config, out, _ = study
    study_json = json.loads((out / "study.json").read_text())
    jobs = [j for j in study_json["jobs"] if j["loss"] == "dice"]
    assert 0.5 in jobs[0]["thresholds"]
    recomputed = []
    free = []
    for job in jobs:
        folder = out / "runs" / "dice" / f"seed{job['seed']}-fold{job['fold']}" / "maps"
        for name in job["splits"]["test"]:
            prob = read_image(folder / f"{name}.nii.gz")
            ref = read_image(config.data.folder + f"/{name}/lesions.nii.gz", role="mask")
            assert prob.same_grid(ref)  # maps lie on the input grid
            metrics = ThresholdEngine(prob, reference=ref, rule=job["rule"]).at(0.5).metrics
            if ref.array.any():
                recomputed.append(metrics["voxel"]["dice"])
            else:
                free.append(metrics["lesion"]["n_predicted"] == 0)
    row = next(r for r in study_json["analysis"]["table1"] if r["loss"] == "dice" and r["set"] == "test")
    kept = [v for v in recomputed if v is not None]
    assert row["cells"]["voxel_f1"]["median"] == pytest.approx(float(np.median(kept)))
    assert row["cells"]["voxel_f1"]["n"] == len(kept)
    assert row["cells"]["patient_specificity"]["mean"] == pytest.approx(np.mean(free))


def test_same_seed_same_initial_weights_and_splits_for_every_loss(study):
    _, out, _ = study
    runs = out / "runs"
    for seed in (0, 1):
        splits = {(runs / loss / f"seed{seed}-fold0" / "train" / "splits.json").read_text() for loss in ("bce", "dice")}
        assert len(splits) == 1
        configs = [json.loads((runs / loss / f"seed{seed}-fold0" / "train" / "config.json").read_text())
                   for loss in ("bce", "dice")]
        assert configs[0]["seed"] == configs[1]["seed"] == seed
        assert configs[0]["loss"] != configs[1]["loss"]


class Interrupted(Exception):
    pass


def test_killed_study_resumes_only_the_unfinished_jobs(tmp_path):
    data = make_study_data(tmp_path / "data")
    config = tiny_config(data, seeds=[0], losses=[{"name": "bce"}, {"name": "dice"}, {"name": "tversky"}])
    out = tmp_path / "out"
    finished = []

    def kill_after_first(spec, result):
        finished.append(spec.key)
        raise Interrupted  # the process dies right after the first job wrote its marker

    with pytest.raises(Interrupted):
        run_study(config, out, LocalExecutor(1), progress=False, on_job_done=kill_after_first)
    first = out / "runs" / "bce" / "seed0-fold0"
    marker = (first / DONE_FILE).read_bytes()
    mtime = (first / DONE_FILE).stat().st_mtime_ns
    # a half-written job: its folder exists, the marker does not
    half = out / "runs" / "dice" / "seed0-fold0"
    (half / "train").mkdir(parents=True)
    (half / "train" / "log.csv").write_text("epoch\n1\n")
    ran = []
    outcome = run_study(config, out, LocalExecutor(1), progress=False, on_job_done=lambda s, r: ran.append(s.key))
    assert finished == ["bce/seed0-fold0"]
    assert ran == ["dice/seed0-fold0", "tversky/seed0-fold0"]
    assert (outcome.ran, outcome.reused) == (2, 1)
    assert (first / DONE_FILE).read_bytes() == marker and (first / DONE_FILE).stat().st_mtime_ns == mtime
    assert (half / DONE_FILE).is_file() and (half / "model" / "card.json").is_file()
    assert len(json.loads((out / "study.json").read_text())["jobs"]) == 3
    # a different study in the same folder is refused
    from LesionSegLogic.errors import ConfigError

    with pytest.raises(ConfigError, match="another configuration"):
        run_study(tiny_config(data, seeds=[1]), out, progress=False)


def test_a_failing_job_does_not_stop_the_others_and_is_retried(tmp_path, monkeypatch):
    import LesionSegLogic.study.executors as executors
    from LesionSegLogic.study.runner import StudyJobsFailed

    data = make_study_data(tmp_path / "data")
    config = tiny_config(data, seeds=[0], losses=[{"name": "dice"}, {"name": "bce"}])
    real = executors.run_job

    def diverging(spec):
        if spec.loss == "dice":
            raise FloatingPointError("non-finite loss at epoch 1; lower the learning rate")
        return real(spec)

    monkeypatch.setattr(executors, "run_job", diverging)
    with pytest.raises(StudyJobsFailed, match=r"1 of 2 job\(s\) failed: dice/seed0-fold0 \(FloatingPointError"):
        run_study(config, tmp_path / "out", LocalExecutor(1), progress=False)
    assert (tmp_path / "out" / "runs" / "bce" / "seed0-fold0" / DONE_FILE).is_file()
    assert not (tmp_path / "out" / "report.html").exists()
    monkeypatch.setattr(executors, "run_job", real)
    outcome = run_study(config, tmp_path / "out", LocalExecutor(1), progress=False)
    assert (outcome.ran, outcome.reused) == (1, 1) and outcome.report.is_file()
