"""Where runs execute: in this process, in a local pool of worker processes, or as Ray tasks.

Each backend takes ``(key, spec)`` jobs and yields ``(key, result)`` as runs finish; the driver (the runner)
writes every result to the store, so workers never touch the database. At most ``workers`` runs are in flight
at once, which keeps the "current runs" display honest and bounds the work a crash can interrupt.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from typing import Any

from depthlab.errors import DepthlabError, unknown
from depthlab.study.worker import RunFn, pool_initializer, pool_run, ray_run, safe_run, set_threads

BACKENDS = ("local", "ray")
Job = tuple[str, dict[str, Any]]
OnStart = Callable[[str], None]


# Every run trains on one intra-op thread, whatever the worker count: a reduction split over several threads
# sums in another order, and a stored number (and so a verdict) must not depend on how many workers ran the
# suite. The default is one worker per core, so this costs nothing there.
RUN_THREADS = 1


def check_options(backend: str, workers: int) -> None:
    """Raise DepthlabError for an unknown backend or fewer than one worker."""
    if backend not in BACKENDS:
        raise unknown("backend", backend, BACKENDS)
    if workers < 1:
        raise DepthlabError(f"workers={workers}: must be >= 1")


def run_jobs(
    jobs: Sequence[Job],
    run_fn: RunFn,
    *,
    workers: int = 1,
    backend: str = "local",
    address: str | None = None,
    on_start: OnStart = lambda key: None,
) -> Iterator[tuple[str, dict]]:
    """Run every job on ``backend`` with ``workers`` parallel workers, yielding results as they finish."""
    check_options(backend, workers)
    if backend == "ray":
        return _ray(jobs, run_fn, workers, address, on_start)
    if workers == 1:
        return _inline(jobs, run_fn, on_start)
    return _pool(jobs, run_fn, workers, on_start)


def _inline(jobs: Sequence[Job], run_fn: RunFn, on_start: OnStart) -> Iterator[tuple[str, dict]]:
    # One worker: no process to spawn; runs get RUN_THREADS like a pool's, and this process its own back.
    import torch

    before = torch.get_num_threads()
    try:
        set_threads(RUN_THREADS)
        for key, spec in jobs:
            on_start(key)
            yield key, safe_run(run_fn, spec)
    finally:
        set_threads(before)


def _pool(jobs: Sequence[Job], run_fn: RunFn, workers: int, on_start: OnStart) -> Iterator[tuple[str, dict]]:
    # spawn, not fork: a forked child inherits the parent's torch thread pool and locks in an undefined state.
    context = multiprocessing.get_context("spawn")
    pending = iter(jobs)
    with ProcessPoolExecutor(
        workers, mp_context=context, initializer=pool_initializer, initargs=(RUN_THREADS,)
    ) as pool:
        in_flight = set()

        def submit_next() -> None:
            for key, spec in pending:
                on_start(key)
                in_flight.add(pool.submit(pool_run, run_fn, key, spec))
                return

        for _ in range(workers):
            submit_next()
        while in_flight:
            done, _ = wait(in_flight, return_when=FIRST_COMPLETED)
            for future in done:
                in_flight.discard(future)
                yield future.result()
                submit_next()


def import_ray():
    """Import Ray lazily (it is an optional, large dependency: ``pip install depthlab[ray]``)."""
    try:
        import ray
    except ImportError:
        raise DepthlabError(
            "backend 'ray' needs Ray: pip install 'depthlab[ray]' (or pass --backend local)"
        ) from None
    return ray


RAY_RETRIES = 3  # a run whose worker dies (OOM kill, lost node) is redone this many times (Ray's default)


def _ray(
    jobs: Sequence[Job], run_fn: RunFn, workers: int, address: str | None, on_start: OnStart
) -> Iterator[tuple[str, dict]]:
    ray = import_ray()
    if not ray.is_initialized():
        # address=None starts a local instance unless RAY_ADDRESS names a cluster; "auto" joins a running one.
        ray.init(address=address, include_dashboard=False, log_to_driver=False)
    gpus = gpu_share(ray, jobs, workers)
    task = ray.remote(num_cpus=1, num_gpus=gpus, max_retries=RAY_RETRIES)(ray_run)
    threads = RUN_THREADS
    pending, in_flight = iter(jobs), {}

    def submit_next() -> None:
        for key, spec in pending:
            on_start(key)
            in_flight[task.remote(run_fn, key, spec, threads)] = (key, spec)
            return

    for _ in range(workers):
        submit_next()
    try:
        while in_flight:
            done, _ = ray.wait(list(in_flight), num_returns=1)
            for ref in done:
                _, spec = in_flight.pop(ref)
                yield _ray_result(ray, ref, spec)
                submit_next()
    finally:  # the study stopped (an error, or the caller closed the generator): so do its runs in flight
        for ref in in_flight:
            ray.cancel(ref, force=True)


def _ray_result(ray, ref, spec: dict) -> tuple[str, dict]:
    """The (key, result) of a finished Ray task; a run whose worker died on every try is one clear error
    (the runs finished so far are already stored, so rerunning the study picks up where it stopped)."""
    from depthlab.study.progress import describe

    try:
        return ray.get(ref)
    except ray.exceptions.RayError as err:
        raise DepthlabError(
            f"run {describe(spec)} lost its Ray worker {RAY_RETRIES + 1} times ({type(err).__name__});"
            " the finished runs are stored: rerun the command to continue"
        ) from None


def gpu_share(ray, jobs: Sequence[Job], workers: int) -> float:
    """GPUs each Ray task asks for: none unless a run trains on CUDA (Ray hides the GPUs from tasks that ask
    for none); then an equal share, so ``workers`` runs fit on the cluster's GPUs at once."""
    if not any((spec.get("train") or {}).get("device") == "cuda" for _, spec in jobs):
        return 0
    available = ray.cluster_resources().get("GPU", 0)
    if not available:
        raise DepthlabError("device=cuda but the Ray cluster has no GPU (valid here: --device cpu or auto)")
    return min(1.0, available / workers)
