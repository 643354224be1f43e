"""Executors for sweeps: run many jobs through the same function (:func:`execute_job`).

* ``local`` (default): in this process when ``workers == 1``, else a process pool (spawn start method, one
  torch thread per run).
* ``ray``: Ray tasks (``pip install ray``); connects to a running Ray instance if one is initialised in this
  process, else starts a local one with ``num_cpus = workers``.

Each executor yields ``(job, result, error)`` as jobs finish; ``error`` is a one-line string or None.
"""
from __future__ import annotations

import multiprocessing
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from typing import Iterable, Iterator

from nmsim.errors import UserError

EXECUTORS = ("local", "ray")


BUSY = "busy"   # a job result: another process holds the run folder's lock (the sweep retries it last)


def execute_job(job: dict) -> dict:
    """Run one training job: ``{"config": RunConfig dict, "out": folder, "device": "cpu", "wait": False}`` ->
    final row, or ``{"busy": True}`` when another process is training that folder and ``wait`` is false."""
    from nmsim.train.lock import RunBusy
    from nmsim.train.loop import RunConfig, train_run

    try:
        return train_run(RunConfig.from_dict(job["config"]), job["out"], resume=True,
                         device=job.get("device", "cpu"), progress=job.get("progress", False),
                         wait=job.get("wait", False))
    except RunBusy:
        return {BUSY: True}


def _ignore_sigint() -> None:
    """Pool workers leave Ctrl-C to the parent (which stops them): no traceback from every worker."""
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)


def _with_retries(run_batch, jobs: list[dict], workers: int):
    """Run ``jobs``; those busy in another process are run again at the end, waiting for their lock (then
    they are found finished, or resumed if the other process stopped)."""
    busy = []
    for job, result, error in run_batch(jobs, workers):
        if result is not None and result.get(BUSY):
            busy.append({**job, "wait": True})
            continue
        yield job, result, error
    if busy:
        yield from run_batch(busy, workers)


def _one_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"


def run_local(jobs: list[dict], workers: int = 1) -> Iterator[tuple[dict, dict | None, str | None]]:
    return _with_retries(_run_local, jobs, workers)


def _run_local(jobs: list[dict], workers: int = 1) -> Iterator[tuple[dict, dict | None, str | None]]:
    if workers <= 1:
        for job in jobs:
            try:
                yield job, execute_job(job), None
            except Exception as exc:  # noqa: BLE001 - a failed run must not stop the sweep
                yield job, None, _one_line(exc)
        return
    ctx = multiprocessing.get_context("spawn")
    # Ctrl-C terminates the workers; the resource tracker (its own process, started with this interpreter's -W
    # options) would then warn about their semaphores, which is expected: keep the interrupt to one line.
    quiet = "ignore::UserWarning:multiprocessing.resource_tracker"
    if quiet not in sys.warnoptions:
        sys.warnoptions.append(quiet)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_ignore_sigint)
    try:
        futures = {pool.submit(execute_job, job): job for job in jobs}
        for fut in as_completed(futures):
            job = futures[fut]
            try:
                yield job, fut.result(), None
            except Exception as exc:  # noqa: BLE001
                yield job, None, _one_line(exc)
    except BaseException:   # Ctrl-C or the consumer stopped: stop the workers now (runs resume from checkpoints)
        procs = list((getattr(pool, "_processes", None) or {}).values())
        for proc in procs:
            proc.terminate()
        for proc in procs:
            proc.join(10)
        pool.shutdown(wait=True, cancel_futures=True)   # lets the pool release its queues (no leaked semaphores)
        raise
    pool.shutdown(wait=True)


def run_ray(jobs: list[dict], workers: int = 1) -> Iterator[tuple[dict, dict | None, str | None]]:
    return _with_retries(_run_ray, jobs, workers)


def _run_ray(jobs: list[dict], workers: int = 1) -> Iterator[tuple[dict, dict | None, str | None]]:
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
