"""Where study jobs run: in local processes (``--jobs N``) or on a Ray cluster (``--executor ray``).

An executor takes the job specs that are not done yet and calls ``on_done(spec, result)`` in the calling process as
each finishes (any order), or ``on_failed(spec, error)`` when a job raised (the other jobs go on). Jobs are
independent (:func:`LesionSegLogic.study.job.run_job`), so a failed or killed run leaves the finished jobs'
``done.json`` behind and the next run skips them.

* :class:`LocalExecutor`: ``jobs == 1`` runs the jobs one after the other in this process; ``jobs > 1`` uses a
  :class:`concurrent.futures.ProcessPoolExecutor` (spawned workers, each with ``threads`` torch threads).
* :class:`RayExecutor`: one Ray task per job (``ray`` is the optional extra ``lesionseg[ray]``); ``address=None``
  joins a running cluster or starts a local one; a task asks for one GPU when the cluster has GPUs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from LesionSegLogic.errors import ConfigError
from LesionSegLogic.study.job import JobSpec, run_job

OnDone = Callable[[JobSpec, dict[str, Any]], None]
OnFailed = Callable[[JobSpec, BaseException], None]
EXECUTORS = ("local", "ray")


class Executor(Protocol):
    """Runs job specs; calls ``on_done`` (or ``on_failed``) in this process as each one finishes."""

    def run(self, specs: Sequence[JobSpec], on_done: OnDone, on_failed: OnFailed) -> None: ...


@dataclass(frozen=True)
class LocalExecutor:
    jobs: int = 1

    def run(self, specs: Sequence[JobSpec], on_done: OnDone, on_failed: OnFailed) -> None:
        if self.jobs <= 1 or len(specs) <= 1:
            for spec in specs:
                try:
                    result = run_job(spec)
                except Exception as error:  # one job's failure does not stop the others
                    on_failed(spec, error)
                    continue
                on_done(spec, result)
            return
        from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
        from multiprocessing import get_context

        threads = max(1, (os.cpu_count() or 1) // self.jobs)
        with ProcessPoolExecutor(self.jobs, mp_context=get_context("spawn")) as pool:
            pending = {pool.submit(run_job, replace(s, threads=s.threads or threads)): s for s in specs}
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    spec = pending.pop(future)
                    problem = future.exception()
                    if problem is not None:
                        on_failed(spec, problem)
                    else:
                        on_done(spec, future.result())


@dataclass(frozen=True)
class RayExecutor:
    address: str | None = None
    num_cpus: int | None = None

    def run(self, specs: Sequence[JobSpec], on_done: OnDone, on_failed: OnFailed) -> None:
        try:
            import ray
        except ImportError:
            raise ConfigError("--executor ray needs the 'ray' package: pip install 'lesionseg[ray]'") from None
        if not ray.is_initialized():
            ray.init(address=self.address, num_cpus=self.num_cpus, include_dashboard=False,
                     log_to_driver=False, ignore_reinit_error=True)
        gpus = 1 if ray.cluster_resources().get("GPU", 0) >= 1 else 0
        task = ray.remote(num_cpus=1, num_gpus=gpus)(run_job)
        pending = {task.remote(replace(s, threads=s.threads or 1)): s for s in specs}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            for ref in ready:
                spec = pending.pop(ref)
                try:
                    result = ray.get(ref)
                except Exception as error:  # ray.exceptions.RayTaskError wraps the job's own error
                    on_failed(spec, error)
                    continue
                on_done(spec, result)


def make_executor(name: str, jobs: int = 1, address: str | None = None) -> Executor:
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")
    if name == "local":
        return LocalExecutor(jobs)
    if name == "ray":
        return RayExecutor(address, num_cpus=None)
    raise ConfigError(f"unknown executor {name!r}; choose one of {', '.join(EXECUTORS)}")
