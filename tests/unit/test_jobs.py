import threading
import time

import pytest

from ganmc.app.jobs import DONE, FAILED, STOPPED, JobRegistry
from ganmc.core.errors import BusyError, DataError


def wait(job, timeout=10):
    end = time.time() + timeout
    while job.running and time.time() < end:
        time.sleep(0.01)
    return job.snapshot()


def test_job_reports_progress_and_result():
    reg = JobRegistry()

    def work(job):
        for i in range(3):
            job.report(i, keep=True)
        return "model"

    snap = wait(reg.start("train", work, owner="a", params={"epochs": 3}))
    assert snap["status"] == DONE and snap["result"] == "model"
    assert snap["events"] == [0, 1, 2] and snap["progress"] == 2
    assert snap["params"] == {"epochs": 3} and snap["finished"] >= snap["started"]


def test_exclusive_kind_runs_once_across_owners():
    reg, gate = JobRegistry(), threading.Event()
    first = reg.start("train", lambda job: gate.wait(5), owner="a", exclusive=True)
    with pytest.raises(BusyError, match="already running"):
        reg.start("train", lambda job: None, owner="b", exclusive=True)
    other = reg.start("simulate", lambda job: 1, owner="b")  # another kind is not blocked
    gate.set()
    wait(first), wait(other)
    assert reg.start("train", lambda job: None, owner="b", exclusive=True)  # free again


def test_stop_and_failures():
    reg = JobRegistry()

    def loop(job):
        while not job.stop_event.is_set():
            time.sleep(0.01)

    job = reg.start("train", loop)
    job.stop()
    assert wait(job)["status"] == STOPPED

    def bad_input(job):
        raise DataError("no digits here")

    snap = wait(reg.start("train", bad_input))
    assert snap["status"] == FAILED and snap["error"] == "no digits here"

    def bug(job):
        raise ZeroDivisionError("boom")

    snap = wait(reg.start("train", bug))
    assert snap["status"] == FAILED and "ZeroDivisionError" in snap["error"]


def test_latest_finds_a_job_again_by_owner():
    reg = JobRegistry()
    a = reg.start("simulate", lambda job: 1, owner="a")
    b = reg.start("simulate", lambda job: 2, owner="b")
    wait(a), wait(b)
    assert reg.latest("simulate", owner="a") is a and reg.latest("simulate", owner="b") is b
    assert reg.get(a.id) is a and reg.get("nope") is None and reg.get(None) is None


def test_finished_jobs_are_forgotten_beyond_the_limit():
    registry = JobRegistry(keep_finished=3)
    done = [registry.start("simulate", lambda job: None) for _ in range(6)]
    deadline = time.time() + 10
    while any(j.running for j in done) and time.time() < deadline:
        time.sleep(0.01)
    registry.start("simulate", lambda job: None)  # starting a job forgets the oldest ones
    kept = [j for j in done if registry.get(j.id) is not None]
    assert kept == done[-3:]


def test_stop_and_wait_returns_once_the_job_has_ended():
    """A Stop button waits for the job to end, so the page after it shows the ended job: the
    work a stop still does (calibrating, saving) is over before it returns. Told by the order
    of events, not by the clock: the work after the stop is held until another thread, which
    sees it still running, lets it go."""
    reg = JobRegistry()
    log = []
    stopping, release = threading.Event(), threading.Event()

    def work(job):
        while not job.stop_event.wait(0.01):
            pass
        log.append("work saw the stop")
        stopping.set()
        assert release.wait(10)  # the work a stop still does
        log.append("work ended")
        return "saved"

    def releaser():
        assert stopping.wait(10)
        log.append(f"still running: {job.running}")
        release.set()

    job = reg.start("train", work)
    assert not job.wait(0.1) and job.running  # still running: wait times out
    helper = threading.Thread(target=releaser)
    helper.start()
    assert job.stop_and_wait(10.0)
    log.append("stop_and_wait returned")
    helper.join(10)
    assert log == ["work saw the stop", "still running: True", "work ended",
                   "stop_and_wait returned"]
    snap = job.snapshot()
    assert not job.running and snap["status"] == STOPPED and snap["result"] == "saved"

    gate = threading.Event()
    slow = reg.start("train", lambda job: gate.wait(10))  # ignores the stop until let go
    assert not slow.stop_and_wait(0.1)  # a job slower than the wait is left running
    assert slow.running
    gate.set()
    assert slow.wait(10.0) and not slow.running
