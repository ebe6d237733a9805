"""Background jobs (`ui.jobs`) with real child processes: a result, a failure, a refusal.

The commands are tiny Python one-liners run through the real runner (`ui.job_runner`); the
jobs started through `legajo` itself are in tests/ui/test_adaptation.py.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.settings import StorageSettings, sqlite_url
from ui import jobs

WAIT_S = 60.0


def python(code: str) -> list[str]:
    return [sys.executable, "-c", code]


def wait_for(home: Path, job_id: str, timeout_s: float = WAIT_S) -> jobs.JobState:
    """Polls a job's record until it is no longer running."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = jobs.read_job(home, job_id)
        if state.status is not jobs.JobStatus.RUNNING:
            return state
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still runs after {timeout_s} s")


@pytest.fixture
def home(tmp_path: Path) -> Path:
    return tmp_path / "home"


@pytest.fixture
def sleepers(home: Path) -> Iterator[list[jobs.Job]]:
    """Jobs that sleep; whatever a test leaves running is stopped (by its runner's pid)."""
    started: list[jobs.Job] = []
    yield started
    for job in started:
        if jobs.read_job(home, job.id).status is jobs.JobStatus.RUNNING:
            os.kill(job.pid, signal.SIGTERM)
            wait_for(home, job.id)


def sleeper(
    home: Path, started: list[jobs.Job], collection: str, kind: str = jobs.ADAPT
) -> jobs.Job:
    code = (
        "import sys, time\n"
        "print('adapting: 45.3%, ETA 5m10s', file=sys.stderr, flush=True)\n"
        "time.sleep(60)\n"
    )
    job = jobs.launch(home, kind, collection, python(code), dict(os.environ))
    started.append(job)
    deadline = time.monotonic() + WAIT_S
    while jobs.read_job(home, job.id).progress is None:  # it runs, and has said so
        assert time.monotonic() < deadline, "the sleeper never reported progress"
        time.sleep(0.05)
    return job


def test_a_job_runs_in_the_background_and_leaves_its_result(home: Path) -> None:
    code = (
        "import sys, json, os\n"
        "print('adapting: 10.0%', file=sys.stderr)\n"
        "print('a warning', file=sys.stderr)\n"
        "print('adapting: 100.0% [done]', file=sys.stderr)\n"
        "print(json.dumps({'cer_before': 0.5, 'marker': os.environ['MARKER']}))\n"
    )
    job = jobs.launch(home, jobs.ADAPT, "cartas", python(code), dict(os.environ, MARKER="x"))
    assert (job.kind, job.collection) == (jobs.ADAPT, "cartas")
    state = wait_for(home, job.id)
    assert state.status is jobs.JobStatus.FINISHED
    assert state.exit_code == 0
    assert state.result == {"cer_before": 0.5, "marker": "x"}  # the environment went through
    assert state.progress == "adapting: 100.0% [done]"
    assert state.log_tail[-2:] == ("a warning", "adapting: 100.0% [done]")
    assert state.finished_at is not None and state.finished_at >= job.started_at
    folder = jobs.job_folder(home, job.id)
    assert folder.parent == home / jobs.JOBS_FOLDER
    record = json.loads((folder / jobs.RECORD_FILE).read_text())
    assert record["pid"] == job.pid and record["collection"] == "cartas"
    assert jobs.latest_job(home, "cartas", jobs.ADAPT) == state
    assert jobs.latest_job(home, "cartas", jobs.REREAD) is None
    assert jobs.latest_job(home, "otra", jobs.ADAPT) is None


def test_a_failed_job_keeps_its_last_messages(home: Path) -> None:
    code = "import sys; print('no verified lines in cartas', file=sys.stderr); sys.exit(1)"
    job = jobs.launch(home, jobs.ADAPT, "cartas", python(code), dict(os.environ))
    state = wait_for(home, job.id)
    assert state.status is jobs.JobStatus.FAILED
    assert state.exit_code == 1
    assert state.result is None
    assert state.log_tail == ("no verified lines in cartas",)


def test_reread_exit_code_3_with_an_outcome_is_finished(home: Path) -> None:
    code = "import sys, json; print(json.dumps({'failed': [{'path': 'x'}]})); sys.exit(3)"
    state = wait_for(home, jobs.launch(home, jobs.REREAD, "c", python(code), dict(os.environ)).id)
    assert (state.status, state.exit_code) == (jobs.JobStatus.FINISHED, 3)
    code = "import sys; sys.exit(3)"  # the same code from adapt is a failure
    state = wait_for(home, jobs.launch(home, jobs.ADAPT, "c", python(code), dict(os.environ)).id)
    assert (state.status, state.exit_code) == (jobs.JobStatus.FAILED, 3)


def test_a_second_job_for_a_collection_is_refused_while_one_runs(
    home: Path, sleepers: list[jobs.Job]
) -> None:
    first = sleeper(home, sleepers, "cartas")
    with pytest.raises(jobs.JobRunningError, match="already running") as refused:
        jobs.launch(home, jobs.REREAD, "cartas", python("pass"), dict(os.environ))
    assert refused.value.running == first
    other = sleeper(home, sleepers, "otra")  # another collection may run meanwhile
    running = jobs.running_job(home, "cartas")
    assert running is not None and running.job == first
    assert running.progress == "adapting: 45.3%, ETA 5m10s"
    assert [s.job for s in jobs.list_jobs(home)] == [other, first]  # newest first

    os.kill(first.pid, signal.SIGTERM)  # the runner passes it on and records the end
    stopped = wait_for(home, first.id)
    assert stopped.status is jobs.JobStatus.FAILED
    assert stopped.exit_code == -signal.SIGTERM
    assert jobs.running_job(home, "cartas") is None
    wait_for(home, jobs.launch(home, jobs.REREAD, "cartas", python("pass"), dict(os.environ)).id)


def test_a_job_started_by_an_earlier_server_is_still_seen_running(
    home: Path, sleepers: list[jobs.Job], monkeypatch: pytest.MonkeyPatch
) -> None:
    job = sleeper(home, sleepers, "cartas")
    monkeypatch.setattr(jobs, "_started", {})  # a restarted server knows only the files
    assert jobs.read_job(home, job.id).status is jobs.JobStatus.RUNNING
    with pytest.raises(jobs.JobRunningError):
        jobs.launch(home, jobs.ADAPT, "cartas", python("pass"), dict(os.environ))
    os.kill(job.pid, signal.SIGTERM)
    assert wait_for(home, job.id).status is jobs.JobStatus.FAILED


def test_a_job_whose_runner_vanished_is_failed(home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    job = jobs.launch(home, jobs.ADAPT, "cartas", python("pass"), dict(os.environ))
    wait_for(home, job.id)
    jobs._started.pop(job.pid).wait()  # the runner writes rc just before it exits
    (jobs.job_folder(home, job.id) / "rc").unlink()  # as if killed before it could write it
    monkeypatch.setattr(jobs, "_started", {})
    state = jobs.read_job(home, job.id)
    assert (state.status, state.exit_code) == (jobs.JobStatus.FAILED, None)


@pytest.mark.parametrize(
    "job_id",
    [
        "..",
        "../outside",
        "../../etc/passwd",
        "/etc/passwd",
        ".lock",
        "",
        "20240101T000000-adapt-0123abcd/../../x",
        "20240101T000000-adapt-0123abcd/",
        "20240101T000000-adapt-0123abcd\x00",
        "20240101T000000-ADAPT-0123abcd",
    ],
)
def test_a_job_id_cannot_leave_the_jobs_folder(home: Path, job_id: str) -> None:
    (home / "jobs").mkdir(parents=True)
    (home / "outside").mkdir()
    with pytest.raises(jobs.UnknownJobError):
        jobs.job_folder(home, job_id)
    with pytest.raises(jobs.UnknownJobError):
        jobs.read_job(home, job_id)


def test_an_unknown_job_and_an_unknown_kind(home: Path) -> None:
    with pytest.raises(jobs.UnknownJobError):
        jobs.read_job(home, "20240101T000000-adapt-0123abcd")
    with pytest.raises(ValueError, match="unknown job kind"):
        jobs.launch(home, "rm", "cartas", python("pass"), dict(os.environ))
    assert jobs.list_jobs(home) == []


def test_start_job_runs_legajo_with_the_workbench_storage(home: Path) -> None:
    storage = StorageSettings(home=home, database_url=sqlite_url(home / "legajo.db"))
    job = jobs.start_job(storage, jobs.REREAD, "-rara", ("--beams", "1"))
    assert job.command[:4] == (sys.executable, "-m", "legajo", "reread")
    assert job.command[4:] == (
        "--collection=-rara",
        f"--home={home.resolve()}",
        "--beams",
        "1",
        "--json",
    )
    assert not any(storage.database_url in part for part in job.command)  # via the environment
    state = wait_for(home, job.id)
    assert state.status is jobs.JobStatus.FAILED  # no such database, hence no such collection
    assert state.exit_code == 2, state.log_tail
