"""``lesionseg study --preset tiny`` for real (phantom subjects, CLI, a process killed with SIGKILL after its first
finished job, then resumed). ``heavy``: generating the brain phantoms alone takes tens of seconds."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytestmark = pytest.mark.heavy
ROOT = Path(__file__).resolve().parents[1]


def _study(out: Path, log: Path) -> subprocess.Popen:
    """``lesionseg study --preset tiny`` with its progress lines in the file ``log`` (a pipe that nobody reads
    while the study runs could fill up and stall it)."""
    with log.open("wb") as sink:
        return subprocess.Popen([sys.executable, "-m", "LesionSegLogic", "study", "--preset", "tiny", "--out",
                                 str(out)], cwd=ROOT, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)


def _reported_done(text: str) -> set[str]:
    """The job keys of the ``done KEY: …`` progress lines."""
    return {line.split()[1].rstrip(":") for line in text.splitlines() if line.startswith("done ")}


@pytest.mark.timeout(1900)  # its own limits: 900 s until the first job is done, 900 s for the rerun
def test_tiny_preset_killed_after_its_first_job_resumes_the_rest(tmp_path):
    out, log = tmp_path / "study", tmp_path / "study.log"
    process = _study(out, log)
    deadline = time.monotonic() + 900
    while not list(out.glob("runs/*/*/done.json")):
        assert process.poll() is None, log.read_text()[-3000:]
        assert time.monotonic() < deadline
        time.sleep(0.2)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    finished = {p: p.stat().st_mtime_ns for p in out.glob("runs/*/*/done.json")}
    finished_keys = {p.parent.relative_to(out / "runs").as_posix() for p in finished}
    assert finished and not (out / "report.html").exists()
    progress = log.read_text()
    assert "4 jobs (" in progress and "0 already done, 4 to run" in progress, progress[-3000:]
    # a job is reported after its done.json is written (the kill may come before the line)
    assert _reported_done(progress) <= finished_keys, progress[-3000:]
    rerun = subprocess.run([sys.executable, "-m", "LesionSegLogic", "study", "--preset", "tiny", "--out", str(out)],
                           cwd=ROOT, capture_output=True, text=True, timeout=900)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{len(finished)} already done, {4 - len(finished)} to run" in rerun.stderr + rerun.stdout
    assert {p: p.stat().st_mtime_ns for p in finished} == finished  # finished jobs were not rerun
    assert len(list(out.glob("runs/*/*/done.json"))) == 4
    study = json.loads((out / "study.json").read_text())
    assert study["meta"]["ran"] == 4 - len(finished)
    assert _reported_done(rerun.stdout + rerun.stderr) == {job["key"] for job in study["jobs"]} - finished_keys
    # lesion-free phantoms reached the evaluation sets: patient-level specificity is defined in both bce runs
    row = study["analysis"]["table1"][0]
    assert row["cells"]["patient_specificity"]["n"] == 2


def test_two_local_worker_processes_give_the_inline_results(tmp_path):
    import torch
    from study_cases import make_study_data, tiny_config

    from LesionSegLogic.study import LocalExecutor, run_study

    torch.set_num_threads(1)
    data = make_study_data(tmp_path / "data")
    config = tiny_config(data, seeds=[0])
    pooled = run_study(config, tmp_path / "pool", LocalExecutor(2), progress=False)
    inline = run_study(config, tmp_path / "inline", LocalExecutor(1), progress=False)
    assert pooled.ran == inline.ran == 2
    jobs = {name: json.loads((tmp_path / name / "study.json").read_text())["jobs"] for name in ("pool", "inline")}
    for a, b in zip(jobs["pool"], jobs["inline"], strict=True):
        assert a["key"] == b["key"] and a["optimal_threshold"] == b["optimal_threshold"]
        for sa, sb in zip(a["sets"]["test"]["subjects"], b["sets"]["test"]["subjects"], strict=True):
            assert sa["curves"]["voxel_f1"] == pytest.approx(sb["curves"]["voxel_f1"], abs=1e-6, nan_ok=True)
