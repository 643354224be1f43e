"""Executors for sweeps: run many jobs through the same function (:func:`execute_job`).

* ``local`` (default): in this process when ``workers == 1``, else a process pool (spawn start method, one
  torch thread per run).
* ``ray``: Ray tasks (``pip install ray``); connects to a running Ray instance if one is initialised in this
  process, else starts a local one with ``num_cpus = workers``.

Each executor yields ``(job, result, error)`` as jobs finish; ``error`` is a one-line string or None.
"""
from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Iterable, Iterator

from nmsim.errors import UserError

EXECUTORS = ("local", "ray")


def execute_job(job: dict) -> dict:
    """Run one training job: ``{"config": RunConfig dict, "out": folder, "device": "cpu"}`` -> final row."""
    from nmsim.train.loop import RunConfig, train_run

    return train_run(RunConfig.from_dict(job["config"]), job["out"], resume=True,
                     device=job.get("device", "cpu"), progress=False)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def run_local(jobs: list[dict], workers: int = 1) -> Iterator[tuple[dict, dict | None, str | None]]:
    if workers <= 1:
        for job in jobs:
            try:
                yield job, execute_job(job), None
            except Exception as exc:  # noqa: BLE001 - a failed run must not stop the sweep
                yield job, None, _one_line(exc)
        return
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        futures = {pool.submit(execute_job, job): job for job in jobs}
        for fut in as_completed(futures):
            job = futures[fut]
            try:
                yield job, fut.result(), None
            except Exception as exc:  # noqa: BLE001
                yield job, None, _one_line(exc)


def run_ray(jobs: list[dict], workers: int = 1) -> Iterator[tuple[dict, dict | None, str | None]]:
    try:
        import ray
    except ImportError:
        raise UserError("the ray executor needs Ray (pip install 'nmsim[ray]')", "--executor") from None
    if not ray.is_initialized():
        ray.init(num_cpus=max(1, workers), include_dashboard=False, log_to_driver=False)
    remote = ray.remote(num_cpus=1)(execute_job)
    pending = {remote.remote(job): job for job in jobs}
    while pending:
        done, _ = ray.wait(list(pending), num_returns=1)
        for ref in done:
            job = pending.pop(ref)
            try:
                yield job, ray.get(ref), None
            except Exception as exc:  # noqa: BLE001
                cause = getattr(exc, "cause", None) or exc
                yield job, None, _one_line(cause)


def run_jobs(jobs: Iterable[dict], executor: str = "local", workers: int = 1):
    jobs = list(jobs)
    if executor == "local":
        return run_local(jobs, workers)
    if executor == "ray":
        return run_ray(jobs, workers)
    raise UserError(f"unknown executor {executor!r} (one of {', '.join(EXECUTORS)})", "--executor")
