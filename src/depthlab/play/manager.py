"""The server's jobs: at most ``CAPS["jobs"]`` running at once, each stopped when no page watches it.

A page watches a job by holding its event stream open. When the last stream closes (the tab was closed or
reloaded) the job gets ``GRACE_S`` to be watched again, then it stops; a job nobody ever opens stops after
``CLAIM_S``. So a closed tab never leaves a CPU busy.
"""

from __future__ import annotations

import secrets
import threading
from collections import OrderedDict

from depthlab.errors import DepthlabError
from depthlab.play.job import Job
from depthlab.play.settings import CAPS, Setup

GRACE_S = 3.0
CLAIM_S = 20.0
KEEP_FINISHED = 16  # finished jobs kept for their exports


class CapacityError(DepthlabError):
    """Too many jobs at once (the HTTP answer is 429)."""


class JobManager:
    """Creates, finds and stops jobs; counts who watches each."""

    def __init__(self, grace_s: float = GRACE_S, claim_s: float = CLAIM_S):
        self.jobs: OrderedDict[str, Job] = OrderedDict()
        self.grace_s, self.claim_s = grace_s, claim_s
        self._lock = threading.Lock()

    def create(self, setup: Setup, paused: bool = False) -> Job:
        with self._lock:
            running = sum(job.active for job in self.jobs.values())
            if running >= CAPS["jobs"]:
                raise CapacityError(f"{running} jobs are running (the cap is {CAPS['jobs']}): stop one first")
            job = Job(secrets.token_hex(4), setup, paused)
            self.jobs[job.id] = job
            self._forget_old()
        job.start()
        self._later(self.claim_s, job)
        return job

    def get(self, job_id: str) -> Job:
        job = self.jobs.get(job_id)
        if job is None:
            raise KeyError(job_id)
        return job

    def watching(self, job: Job, delta: int) -> None:
        """A stream opened (+1) or closed (-1); the last one closing starts the grace period."""
        with self._lock:
            job.viewers += delta
            unwatched = job.viewers <= 0
        if unwatched:
            self._later(self.grace_s, job)

    def _later(self, delay: float, job: Job) -> None:
        timer = threading.Timer(delay, self._stop_if_unwatched, args=(job,))
        timer.daemon = True
        timer.start()

    def _stop_if_unwatched(self, job: Job) -> None:
        if job.viewers <= 0 and job.active:
            job.stop("no page is watching it (the tab was closed)")

    def _forget_old(self) -> None:
        finished = [k for k, job in self.jobs.items() if not job.active]
        for key in finished[: max(0, len(finished) - KEEP_FINISHED)]:
            del self.jobs[key]

    def stop_all(self, timeout: float = 10.0) -> None:
        """Stop every job and wait for their threads (Ctrl-C, server shutdown)."""
        for job in list(self.jobs.values()):
            job.stop("the server stopped")
        for job in list(self.jobs.values()):
            if job.thread.is_alive():
                job.thread.join(timeout)
