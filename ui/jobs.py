"""Background jobs of the workbench: `legajo adapt` and `legajo reread`, run as the CLI runs them.

A job is a child process, ``python -m legajo KIND --collection C --home H --json``, started
through `ui.job_runner` in a session of its own: a Streamlit rerun, a closed browser tab or a
restarted server leave it running. Everything about it lives in ``<home>/jobs/<job id>/``:

================  ==========================================================================
file              what
================  ==========================================================================
``job.json``      the job record: kind, collection, command, pid, started_at
``result.json``   the command's standard output (its ``--json`` outcome)
``log.txt``       its standard error: progress lines, messages
``rc``            its exit code, written when it ends
================  ==========================================================================

So any server, started before or after the job, can tell how a job stands from the files.
The database URL reaches the child in its environment (``LEGAJO_DB``), never on its command
line: a PostgreSQL URL may hold a password. At most one job runs per collection; a lock file
makes the check and the start one step.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import enum
import fcntl
import json
import logging
import os
import re
import secrets
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from htr.errors import LegajoError
from indexer.settings import DB_VARIABLE, HOME_VARIABLE, StorageSettings
from ui.job_runner import EXIT_CODE_FILE, LOG_FILE, RESULT_FILE

logger = logging.getLogger(__name__)

JOBS_FOLDER = "jobs"
"""The folder of a home that holds the jobs."""
RECORD_FILE = "job.json"
"""A job's record, written when it starts."""
ADAPT = "adapt"
REREAD = "reread"
JOB_KINDS = (ADAPT, REREAD)
"""The commands a job may run."""
PROGRESS_LABELS = {ADAPT: "adapting:", REREAD: "rereading:"}
"""How each command's progress lines begin (`legajo.cli.common.Progress`, off a terminal)."""
SUCCESS_CODES = {ADAPT: frozenset({0}), REREAD: frozenset({0, 3})}
"""Exit codes after which the outcome is printed: `legajo reread` exits 3 when some pages
failed, with its JSON outcome printed all the same."""
LOG_TAIL_LINES = 12
"""Lines of standard error kept in `JobState.log_tail`."""

_JOB_ID = re.compile(r"\d{8}T\d{6}-[a-z]+-[0-9a-f]{8}")
_LOCK_FILE = ".lock"
_TAIL_BYTES = 16_384
_started: dict[int, subprocess.Popen[bytes]] = {}
"""The job runners this server started, so their exit is noticed (and no zombie stays)."""


class JobError(LegajoError):
    """A background job cannot be started or found."""


class UnknownJobError(JobError, LookupError):
    """No job has that id (or the id is not one this module could have made)."""


class JobRunningError(JobError):
    """A job already runs for the collection; it must end before another starts.

    Attributes:
        running: The job that runs.
    """

    def __init__(self, running: Job) -> None:
        super().__init__(
            f"a {running.kind} job ({running.id}) is already running for collection "
            f"{running.collection!r}"
        )
        self.running = running


class JobStatus(enum.StrEnum):
    """How a job stands."""

    RUNNING = "running"
    FINISHED = "finished"
    """Ended with its outcome printed (`SUCCESS_CODES`)."""
    FAILED = "failed"
    """Ended otherwise, or vanished without an exit code (killed)."""


@dataclass(frozen=True, slots=True)
class Job:
    """A started job, as its record says.

    Attributes:
        id: Its id: the name of its folder.
        kind: ``adapt`` or ``reread``.
        collection: The collection it works on.
        command: The command it runs.
        pid: The process id of its runner (`ui.job_runner`).
        started_at: When it started (UTC).
    """

    id: str
    kind: str
    collection: str
    command: tuple[str, ...]
    pid: int
    started_at: dt.datetime


@dataclass(frozen=True, slots=True)
class JobState:
    """A job and how it stands now.

    Attributes:
        job: The job.
        status: Running, finished or failed.
        exit_code: Its exit code; None while it runs or when it vanished without one.
        result: The JSON outcome it printed; None while it runs or if it printed none.
        progress: Its last progress line; None before the first.
        log_tail: The last lines of its standard error.
        finished_at: When it ended (UTC); None while it runs or when unknown.
    """

    job: Job
    status: JobStatus
    exit_code: int | None
    result: Mapping[str, Any] | None
    progress: str | None
    log_tail: tuple[str, ...]
    finished_at: dt.datetime | None


def jobs_folder(home: Path) -> Path:
    """The folder of a home's jobs."""
    return home / JOBS_FOLDER


def job_folder(home: Path, job_id: str) -> Path:
    """The folder of a job; an id that is not one of ours never leaves `jobs_folder`.

    Raises:
        UnknownJobError: If `job_id` is not of the form this module gives its jobs.
    """
    if not _JOB_ID.fullmatch(job_id):
        raise UnknownJobError(f"not a job id: {job_id!r}")
    return jobs_folder(home) / job_id


def start_job(
    storage: StorageSettings,
    kind: str,
    collection: str,
    options: Sequence[str] = (),
    environ: Mapping[str, str] | None = None,
) -> Job:
    """Starts ``legajo KIND --collection COLLECTION ... --json`` in the background.

    Args:
        storage: The home and database the workbench uses; the job uses the same.
        kind: ``adapt`` or ``reread``.
        collection: The collection.
        options: More options of the command (``--minutes 20``).
        environ: The job's environment (default `os.environ`), plus the storage variables.

    Returns:
        The started job.

    Raises:
        ValueError: If `kind` is not one of `JOB_KINDS`.
        JobRunningError: If a job already runs for the collection.
    """
    home = Path(storage.home).resolve()
    command = [
        sys.executable,
        "-m",
        "legajo",
        kind,
        f"--collection={collection}",  # one token, whatever the name starts with
        f"--home={home}",
        *options,
        "--json",
    ]
    environment = dict(os.environ if environ is None else environ)
    environment[HOME_VARIABLE] = str(home)
    environment[DB_VARIABLE] = storage.database_url
    return launch(home, kind, collection, command, environment)


def launch(
    home: Path, kind: str, collection: str, command: Sequence[str], environ: Mapping[str, str]
) -> Job:
    """Starts `command` as a job of `kind` for `collection` (`start_job` builds the command).

    Raises:
        ValueError: If `kind` is not one of `JOB_KINDS`.
        JobRunningError: If a job already runs for the collection.
    """
    if kind not in JOB_KINDS:
        raise ValueError(f"unknown job kind {kind!r}: expected one of {', '.join(JOB_KINDS)}")
    with _jobs_lock(home):
        running = running_job(home, collection)
        if running is not None:
            raise JobRunningError(running.job)
        started_at = dt.datetime.now(dt.UTC)
        job_id = f"{started_at:%Y%m%dT%H%M%S}-{kind}-{secrets.token_hex(4)}"
        folder = job_folder(home, job_id)
        folder.mkdir()
        runner = subprocess.Popen(
            [sys.executable, "-m", "ui.job_runner", str(folder), *command],
            env=dict(environ),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,  # Ctrl-C or the end of the server does not reach it
        )
        _started[runner.pid] = runner
        job = Job(job_id, kind, collection, tuple(command), runner.pid, started_at)
        _write_record(folder, job)
    logger.info("started job %s (pid %d): %s", job_id, runner.pid, " ".join(command))
    return job


def read_job(home: Path, job_id: str) -> JobState:
    """How a job stands now.

    Raises:
        UnknownJobError: If there is no such job.
    """
    folder = job_folder(home, job_id)
    try:
        job = _read_record(folder)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise UnknownJobError(f"no job {job_id} in {jobs_folder(home)}") from error
    return _state(folder, job)


def list_jobs(home: Path, collection: str | None = None, kind: str | None = None) -> list[JobState]:
    """The jobs of a home, newest first; only those of `collection` and `kind` when given."""
    root = jobs_folder(home)
    if not root.is_dir():
        return []
    found: list[Job] = []
    for folder in root.iterdir():
        if not _JOB_ID.fullmatch(folder.name):
            continue
        try:
            job = _read_record(folder)
        except (OSError, ValueError, KeyError, TypeError):
            continue  # being started right now, or not a job
        if (collection is None or job.collection == collection) and (
            kind is None or job.kind == kind
        ):
            found.append(job)
    found.sort(key=lambda j: (j.started_at, j.id), reverse=True)
    return [_state(job_folder(home, j.id), j) for j in found]


def latest_job(home: Path, collection: str, kind: str) -> JobState | None:
    """The newest job of `kind` for `collection`, however it stands; None if there is none."""
    found = list_jobs(home, collection, kind)
    return found[0] if found else None


def running_job(home: Path, collection: str) -> JobState | None:
    """The job that runs for `collection` now, if any."""
    for state in list_jobs(home, collection):
        if state.status is JobStatus.RUNNING:
            return state
    return None


def _state(folder: Path, job: Job) -> JobState:
    tail = _log_tail(folder / LOG_FILE)
    label = PROGRESS_LABELS[job.kind]
    progress = next((line for line in reversed(tail) if line.startswith(label)), None)
    exit_code = _exit_code(folder)
    if exit_code is None:
        if _alive(job.pid, folder):
            return JobState(job, JobStatus.RUNNING, None, None, progress, tail, None)
        return JobState(job, JobStatus.FAILED, None, None, progress, tail, None)
    result = _result(folder / RESULT_FILE)
    finished = exit_code in SUCCESS_CODES[job.kind] and result is not None
    return JobState(
        job,
        JobStatus.FINISHED if finished else JobStatus.FAILED,
        exit_code,
        result,
        progress,
        tail,
        _modified(folder / EXIT_CODE_FILE),
    )


def _alive(pid: int, folder: Path) -> bool:
    """Whether the job's runner still runs (a runner this server started, or an older one)."""
    runner = _started.get(pid)
    if runner is not None:
        if runner.poll() is None:
            return True
        _started.pop(pid, None)  # another session's thread may have got here first
        return False
    proc = Path("/proc")
    if not proc.is_dir():  # no procfs: trust the pid
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            return True
        return True
    # started by an earlier server: the pid must still be that runner, not a reused one
    try:
        arguments = (proc / str(pid) / "cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return any(Path(os.fsdecode(a)).name == folder.name for a in arguments)


def _exit_code(folder: Path) -> int | None:
    try:
        return int((folder / EXIT_CODE_FILE).read_text(encoding="ascii").strip())
    except (OSError, ValueError):
        return None


def _result(path: Path) -> dict[str, Any] | None:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def _log_tail(path: Path) -> tuple[str, ...]:
    try:
        with path.open("rb") as log:
            log.seek(max(0, log.seek(0, os.SEEK_END) - _TAIL_BYTES))
            text = log.read().decode("utf-8", errors="replace")
    except OSError:
        return ()
    lines = [line.strip() for line in re.split(r"[\r\n]+", text) if line.strip()]
    return tuple(lines[-LOG_TAIL_LINES:])


def _modified(path: Path) -> dt.datetime | None:
    try:
        return dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
    except OSError:
        return None


def _write_record(folder: Path, job: Job) -> None:
    record = {
        "kind": job.kind,
        "collection": job.collection,
        "command": list(job.command),
        "pid": job.pid,
        "started_at": job.started_at.isoformat(),
    }
    partial = folder / f"{RECORD_FILE}.part"
    partial.write_text(json.dumps(record, ensure_ascii=False, indent=2), encoding="utf-8")
    os.replace(partial, folder / RECORD_FILE)


def _read_record(folder: Path) -> Job:
    record = json.loads((folder / RECORD_FILE).read_text(encoding="utf-8"))
    return Job(
        id=folder.name,
        kind=_known_kind(str(record["kind"])),
        collection=str(record["collection"]),
        command=tuple(str(part) for part in record["command"]),
        pid=int(record["pid"]),
        started_at=dt.datetime.fromisoformat(record["started_at"]),
    )


def _known_kind(kind: str) -> str:
    if kind not in JOB_KINDS:
        raise ValueError(f"unknown job kind {kind!r}")
    return kind


@contextlib.contextmanager
def _jobs_lock(home: Path) -> Iterator[None]:
    """Holds the home's job lock: two sessions pressing at once start one job, not two."""
    root = jobs_folder(home)
    root.mkdir(parents=True, exist_ok=True)
    with (root / _LOCK_FILE).open("a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
