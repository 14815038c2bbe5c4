"""The Ray executor runs study jobs on a local cluster (``ray.init(num_cpus=1)``) with the results of a local run.
Skipped when the optional extra ``ray`` is not installed; ``heavy`` (starting a Ray cluster takes tens of seconds)."""

from __future__ import annotations

import json

import pytest
from study_cases import make_study_data, tiny_config

from LesionSegLogic.study import LocalExecutor, RayExecutor, make_executor, run_study

pytestmark = pytest.mark.heavy


def test_ray_executor_runs_the_jobs_of_a_local_run(tmp_path):
    ray = pytest.importorskip("ray")  # here, not at module level: the default suite collects this module too
    data = make_study_data(tmp_path / "data")
    config = tiny_config(data, seeds=[0], losses=[{"name": "bce"}, {"name": "dice"}])
    assert isinstance(make_executor("ray"), RayExecutor)
    ray.init(num_cpus=1, include_dashboard=False, log_to_driver=False)
    try:
        on_ray = run_study(config, tmp_path / "ray", RayExecutor(), progress=False)
        assert ray.is_initialized()
    finally:
        ray.shutdown()
    local = run_study(config, tmp_path / "local", LocalExecutor(1), progress=False)
    assert on_ray.ran == local.ran == 2
    jobs = {name: json.loads((tmp_path / name / "study.json").read_text())["jobs"] for name in ("ray", "local")}
    for a, b in zip(jobs["ray"], jobs["local"], strict=True):
        assert a["key"] == b["key"] and a["splits"] == b["splits"]
        assert a["optimal_threshold"] == b["optimal_threshold"]
        for split in ("threshold", "test"):
            for sa, sb in zip(a["sets"][split]["subjects"], b["sets"][split]["subjects"], strict=True):
                assert sa["curves"]["voxel_f1"] == pytest.approx(sb["curves"]["voxel_f1"], abs=1e-6, nan_ok=True)
