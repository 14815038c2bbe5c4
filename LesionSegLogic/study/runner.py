"""Run a study end to end: validate, prepare the subjects and splits, run the jobs that are not done, analyse,
write the report. Re-running the same command on the same ``DIR`` resumes: jobs whose ``done.json`` matches are
read, not rerun (:mod:`LesionSegLogic.study.job`); a different configuration in the same ``DIR`` is refused."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from LesionSegLogic.errors import ConfigError, LesionSegError
from LesionSegLogic.study.config import StudyConfig, resolved_rule, validate
from LesionSegLogic.study.executors import Executor, LocalExecutor
from LesionSegLogic.study.job import JobSpec, is_done, job_folder, read_result
from LesionSegLogic.training.data import Splits

CONFIG_FILE = "config.json"


class StudyJobsFailed(LesionSegError):
    """Some jobs raised; the others finished (and are kept for the next run)."""


@dataclass(frozen=True)
class StudyOutcome:
    """What a run of :func:`run_study` did."""

    report: Path
    jobs: int
    ran: int
    reused: int
    wall_seconds: float
    analysis: dict[str, Any]


def _fingerprint(data: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


def job_key(loss: str, seed: int, fold: int) -> str:
    return f"{loss}/seed{seed}-fold{fold}"


def job_keys(config: StudyConfig) -> list[str]:
    """The study's jobs in run order: per seed, per fold, every loss (the first jobs cover every loss)."""
    return [job_key(loss.key, seed, fold) for seed in config.seeds for fold in range(config.splits.folds)
            for loss in config.losses]


def job_specs(config: StudyConfig, out: Path, folds: list[Splits]) -> list[JobSpec]:
    """One spec per job of :func:`job_keys`, in that order."""
    data_root = config.data.folder or str(out / "data")
    anatomy = config.data.phantom.anatomy if config.data.phantom is not None else "brain"
    grid = tuple(config.thresholds.grid())
    rule = resolved_rule(config)
    specs = []
    for seed in config.seeds:
        for fold, splits in enumerate(folds):
            for loss in config.losses:
                train = {**config.training, "data": data_root, "contrasts": list(config.data.contrasts),
                         "mask_name": config.data.mask_name, "loss": loss.name, "loss_params": dict(loss.params),
                         "seed": seed, "progress": False, "command": f"lesionseg study ({config.name})"}
                if loss.optimiser:
                    train["optimiser"] = loss.optimiser
                settings = {"train": train, "splits": splits.names(), "grid": grid, "objective": config.objective,
                            "rule": rule, "inference": [config.inference.overlap, config.inference.fusion]}
                specs.append(JobSpec(
                    key=job_key(loss.key, seed, fold), loss=loss.key, seed=seed, fold=fold,
                    folder=str(job_folder(out, loss.key, seed, fold)), train=train, splits=splits, thresholds=grid,
                    objective=config.objective, rule=rule, overlap=config.inference.overlap,
                    fusion=config.inference.fusion, anatomy=anatomy, fingerprint=_fingerprint(settings),
                ))
    assert [s.key for s in specs] == job_keys(config)
    return specs


def _claim(out: Path, config: StudyConfig) -> None:
    """Write ``DIR/config.json``, or check that the study already in ``DIR`` is this one."""
    from LesionSegLogic.io.write import write_json

    path = out / CONFIG_FILE
    wanted = config.to_dict()
    if path.is_file():
        try:
            found = json.loads(path.read_text())
        except (OSError, ValueError):
            found = None
        if found != wanted:
            raise ConfigError(f"{out}: holds a study with another configuration ({path}); choose another --out")
        return
    write_json(path, wanted)


def run_study(
    config: StudyConfig,
    out: str | Path,
    executor: Executor | None = None,
    *,
    progress: bool = True,
    on_job_done: Callable[[JobSpec, dict[str, Any]], None] | None = None,
) -> StudyOutcome:
    """Run (or resume) the study ``config`` into ``out``; returns what was done and the analysis."""
    from tqdm import tqdm

    from LesionSegLogic.study.analysis import analyse
    from LesionSegLogic.study.data import prepare_folds
    from LesionSegLogic.study.report import write_report

    started = time.perf_counter()
    validate(config)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    _claim(out, config)

    def say(line: str) -> None:
        if progress:
            tqdm.write(line)

    folds = prepare_folds(config, out, say)
    specs = job_specs(config, out, folds)
    pending = [s for s in specs if not is_done(s)]
    say(f"{len(specs)} jobs ({len(config.losses)} losses × {len(config.seeds)} seeds × {len(folds)} folds): "
        f"{len(specs) - len(pending)} already done, {len(pending)} to run")
    bar = tqdm(total=len(specs), initial=len(specs) - len(pending), desc="study", unit="job", disable=not progress)

    def done(spec: JobSpec, result: dict[str, Any]) -> None:
        bar.update(1)
        say(f"done {spec.key}: {result['seconds']:.0f} s, optimal threshold {result['optimal_threshold']:.2f} "
            f"(median {config.objective} {result['optimal_objective'] or float('nan'):.3f})")
        if on_job_done is not None:
            on_job_done(spec, result)

    failed: list[str] = []

    def fail(spec: JobSpec, error: BaseException) -> None:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[-1]
        failed.append(f"{spec.key} ({type(error).__name__}: {reason})")
        say(f"FAILED {spec.key}: {type(error).__name__}: {reason}")

    try:
        (executor or LocalExecutor()).run(pending, done, fail)
    finally:
        bar.close()
    if failed:
        raise StudyJobsFailed(f"{out}: {len(failed)} of {len(specs)} job(s) failed: {'; '.join(failed)}; "
                              "the finished jobs are kept, rerun the command to retry the others")
    results = [read_result(s) for s in specs]
    analysis = analyse(results, config.loss_keys(), config.significance)
    meta = {"rule": resolved_rule(config), "n_jobs": len(specs), "ran": len(pending),
            "wall_seconds": time.perf_counter() - started, "folds": [f.names() for f in folds]}
    report = write_report(out, config.to_dict(), analysis, results, meta)
    say(f"report: {report}")
    seconds = float(meta["wall_seconds"])  # type: ignore[arg-type]  # set to a float just above
    return StudyOutcome(report, len(specs), len(pending), len(specs) - len(pending), seconds, analysis)
