"""Background jobs for interactive front ends: run work in a thread, poll its progress.

A job runs a function in a worker thread that never touches any UI; the front end polls
:meth:`Job.snapshot` (e.g. from a Streamlit fragment that reruns every second). Jobs live in
a process-wide :class:`JobRegistry`, so a browser reload finds its job again, and an
*exclusive* kind (training) runs at most once at a time across all users.
"""

from __future__ import annotations

import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ganmc.core.errors import BusyError, GanmcError

RUNNING, DONE, FAILED, STOPPED = "running", "done", "failed", "stopped"
#: Finished jobs kept (newest first) for their owners to read; older ones are forgotten.
KEEP_FINISHED = 32
#: How long a Stop button waits for its job to end before the page goes on showing it as
#: stopping: a stopped training job calibrates its fast scores and saves (~1.3 s for a
#: one-digit model on the 2-core CPU), a stopped simulation finishes its batch.
STOP_WAIT_S = 4.0


@dataclass
class Job:
    """One piece of background work and what it reported.

    Attributes:
        kind: What it does (``"train"``, ``"simulate"``, ...).
        owner: Who started it (a session id), to find it again.
        params: The settings it was started with, for display.
        status: running, done, failed or stopped.
        progress: The latest progress report.
        events: Every report worth keeping (e.g. epoch ends, for loss curves).
        result: What the function returned.
        error: The user-facing message of a failure.
    """

    kind: str
    owner: str
    params: dict[str, Any]
    id: str = field(default_factory=lambda: uuid.uuid4().hex[:12])
    status: str = RUNNING
    started: float = field(default_factory=time.time)
    finished: float | None = None
    progress: Any = None
    events: list[Any] = field(default_factory=list)
    result: Any = None
    error: str | None = None
    stop_event: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _ended: threading.Event = field(default_factory=threading.Event, repr=False)

    def report(self, progress: Any, keep: bool = False) -> None:
        """Called by the worker: record the latest progress (and keep it if asked)."""
        with self._lock:
            self.progress = progress
            if keep:
                self.events.append(progress)

    def stop(self) -> None:
        """Ask the worker to stop at its next check."""
        self.stop_event.set()

    def wait(self, timeout: float) -> bool:
        """Block until the job has ended (done, stopped or failed), at most ``timeout``
        seconds; whether it has."""
        return self._ended.wait(timeout)

    def stop_and_wait(self, timeout: float = STOP_WAIT_S) -> bool:
        """Ask the worker to stop and wait for it to end (a front end's Stop button: the page
        that follows shows the ended job instead of "stopping" until its next poll)."""
        self.stop()
        return self.wait(timeout)

    @property
    def running(self) -> bool:
        return self.status == RUNNING

    def snapshot(self) -> dict[str, Any]:
        """A consistent copy of the job's state for display."""
        with self._lock:
            return {"id": self.id, "kind": self.kind, "owner": self.owner,
                    "params": dict(self.params), "status": self.status,
                    "started": self.started, "finished": self.finished,
                    "progress": self.progress, "events": list(self.events),
                    "result": self.result, "error": self.error,
                    "stop_requested": self.stop_event.is_set()}


class JobRegistry:
    """Process-wide jobs, by id; at most one running job per exclusive kind."""

    def __init__(self, keep_finished: int = KEEP_FINISHED) -> None:
        self._lock = threading.Lock()
        self._jobs: dict[str, Job] = {}
        self._keep = keep_finished

    def start(self, kind: str, work: Callable[[Job], Any], *, owner: str = "",
              params: dict[str, Any] | None = None, exclusive: bool = False) -> Job:
        """Start ``work(job)`` in a daemon thread.

        Raises:
            BusyError: If ``exclusive`` and a job of this kind is running.
        """
        with self._lock:
            self._forget_finished()
            if exclusive:
                busy = self._running(kind)
                if busy is not None:
                    raise BusyError(f"a {kind} job is already running (started "
                                    f"{time.strftime('%H:%M:%S', time.localtime(busy.started))}"
                                    f"); wait for it or stop it first")
            job = Job(kind, owner, params or {})
            self._jobs[job.id] = job
        threading.Thread(target=self._run, args=(job, work), name=f"ganmc-{kind}-{job.id}",
                         daemon=True).start()
        return job

    @staticmethod
    def _run(job: Job, work: Callable[[Job], Any]) -> None:
        try:
            JobRegistry._work(job, work)
        finally:  # even a worker killed by SystemExit ends a Stop button's wait
            job._ended.set()

    @staticmethod
    def _work(job: Job, work: Callable[[Job], Any]) -> None:
        try:
            result = work(job)
            status, error = (STOPPED if job.stop_event.is_set() else DONE), None
        except GanmcError as exc:
            result, status, error = None, FAILED, str(exc)
        except Exception as exc:  # a bug: keep the details for the log, show one line
            result, status = None, FAILED
            error = f"unexpected {type(exc).__name__}: {exc}"
            traceback.print_exc()
        with job._lock:
            job.result, job.status, job.error = result, status, error
            job.finished = time.time()

    def get(self, job_id: str | None) -> Job | None:
        with self._lock:
            return self._jobs.get(job_id) if job_id else None

    def running(self, kind: str) -> Job | None:
        """The running job of a kind, if any (the newest)."""
        with self._lock:
            return self._running(kind)

    def _running(self, kind: str) -> Job | None:  # the caller holds the lock
        jobs = [j for j in self._jobs.values() if j.kind == kind and j.running]
        return max(jobs, key=lambda j: j.started) if jobs else None

    def _forget_finished(self) -> None:  # the caller holds the lock
        finished = sorted((j for j in self._jobs.values() if not j.running),
                          key=lambda j: j.started, reverse=True)
        for job in finished[self._keep:]:
            del self._jobs[job.id]

    def latest(self, kind: str, owner: str | None = None) -> Job | None:
        """The newest job of a kind (of an owner, if given), running or not."""
        with self._lock:
            jobs = [j for j in self._jobs.values()
                    if j.kind == kind and (owner is None or j.owner == owner)]
        return max(jobs, key=lambda j: j.started) if jobs else None
