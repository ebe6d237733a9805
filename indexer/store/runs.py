"""Processing runs: which process runs them, and which ones ended without saying so.

A run row is written when a batch starts (``running``) and updated when it ends
(``finished`` or ``aborted``). A process killed from outside (``kill -9``, a power cut, an
out-of-memory kill) never writes that end, so each run also records who runs it: the host
name and process id (migration 0005), and a heartbeat, renewed at most every
`HEARTBEAT_INTERVAL_S` while the batch works. When the next run starts, every run still
``running`` whose process is gone is marked ``interrupted`` (`mark_interrupted_runs`):

- a run of this host is gone when its process id is not alive here, when it started before
  this host last booted, or when its process id is this very process's but the run started
  before this process did (the id was reused);
- a run of another host (a shared PostgreSQL server), or a run recorded before revision
  0005 (no host), is gone when it has shown no sign of life (heartbeat, else start) for
  `SILENCE_LIMIT`, since its process cannot be looked at from here.

So two batches running at once on one database never mark each other: the other one is
alive. A run marked by mistake (a process stopped for longer than `SILENCE_LIMIT`, then
continued) records its real end when it finishes.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
import socket
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from htr.document import ProcessingStep
from indexer.store.orm import RUN_INTERRUPTED, RUN_RUNNING, ProcessingRunRow, utc_now
from indexer.store.records import ModelKey

logger = logging.getLogger(__name__)

HEARTBEAT_INTERVAL_S = 60.0
"""How often, at most, a working batch renews its run's heartbeat."""

SILENCE_LIMIT = dt.timedelta(hours=6)
"""How long a run of another host may show no sign of life before it counts as interrupted."""

_PROCESS_STARTED = dt.datetime.now(dt.UTC)
"""A moment before this process recorded any run (this module is imported first)."""


@dataclass(frozen=True, slots=True)
class RunOwner:
    """The process that runs a batch.

    Attributes:
        host: The machine's host name.
        pid: The process id on that machine.
    """

    host: str
    pid: int


@dataclass(frozen=True, slots=True)
class RunState:
    """What a still-running run row says about its process.

    Attributes:
        run_id: The run.
        host: Its host name, None for runs recorded before revision 0005.
        pid: Its process id, None likewise.
        started_at: When it started (UTC).
        heartbeat_at: When its process last showed it was alive, None if never.
    """

    run_id: int
    host: str | None
    pid: int | None
    started_at: dt.datetime
    heartbeat_at: dt.datetime | None


def current_owner() -> RunOwner:
    """This process, as the owner of the runs it starts."""
    return RunOwner(socket.gethostname(), os.getpid())


def interruption_reason(
    run: RunState, here: RunOwner, now: dt.datetime, booted_at: dt.datetime | None
) -> str | None:
    """Why a run still marked ``running`` has ended, or None while it may be alive.

    Args:
        run: The run row's owner and times.
        here: This process.
        now: The current time (UTC).
        booted_at: When this host last booted, None when unknown.

    Returns:
        The reason, in words, or None.
    """
    started = as_utc(run.started_at)
    if run.host == here.host and run.pid is not None:
        if booted_at is not None and started < booted_at:
            return f"it started on host {run.host} before the host last booted"
        if run.pid == here.pid:
            if started < _PROCESS_STARTED:
                return f"its process {run.pid} on host {run.host} is gone (the id was reused)"
            return None
        if not process_is_alive(run.pid):
            return f"its process {run.pid} on host {run.host} is gone"
        return None
    last_sign = as_utc(run.heartbeat_at) if run.heartbeat_at is not None else started
    if now - last_sign > SILENCE_LIMIT:
        where = f"host {run.host}" if run.host else "an unrecorded host"
        return f"no sign of life from its process on {where} since {last_sign:%Y-%m-%d %H:%M} UTC"
    return None


def mark_interrupted_runs(session: Session, here: RunOwner) -> list[tuple[int, str]]:
    """Marks ``interrupted`` every running run whose process is gone (module docstring).

    Args:
        session: A write transaction.
        here: This process.

    Returns:
        The runs marked, with the reason of each.
    """
    rows = session.execute(
        select(
            ProcessingRunRow.id,
            ProcessingRunRow.host,
            ProcessingRunRow.pid,
            ProcessingRunRow.started_at,
            ProcessingRunRow.heartbeat_at,
        ).where(ProcessingRunRow.status == RUN_RUNNING)
    ).all()
    now = utc_now()
    booted_at = host_boot_time()
    marked: list[tuple[int, str]] = []
    for row in rows:
        reason = interruption_reason(RunState(*row), here, now, booted_at)
        if reason is None:
            continue
        session.execute(
            update(ProcessingRunRow)
            .where(ProcessingRunRow.id == row.id, ProcessingRunRow.status == RUN_RUNNING)
            .values(status=RUN_INTERRUPTED)
        )
        logger.warning("run %d was interrupted: %s", row.id, reason)
        marked.append((row.id, reason))
    return marked


def process_is_alive(pid: int) -> bool:
    """Whether a process of this host with that id exists (zombies count as gone).

    Where it cannot be told (Windows), the process counts as alive.
    """
    if os.name != "posix" or pid <= 0:
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except OSError:  # PermissionError: another user's process, alive
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """True for a process that has ended but was not yet waited for (Linux only)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text(encoding="ascii", errors="replace")
    except OSError:
        return False
    # "pid (command name, which may hold spaces and parentheses) state ..."
    fields = stat.rpartition(")")[2].split()
    return bool(fields) and fields[0] in ("Z", "X")


def host_boot_time() -> dt.datetime | None:
    """When this host last booted (UTC), None where the system does not say."""
    clock = getattr(time, "CLOCK_BOOTTIME", None)
    if clock is None:
        return None
    try:
        uptime = time.clock_gettime(clock)
    except OSError:
        return None
    # A minute of slack for the time between reading the clocks and for clock adjustments.
    return utc_now() - dt.timedelta(seconds=uptime) - dt.timedelta(minutes=1)


def as_utc(value: dt.datetime) -> dt.datetime:
    """A stored time as timezone-aware UTC (SQLite returns naive UTC times)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def insert_run(
    session: Session,
    collection_id: int,
    kind: str,
    step: ProcessingStep,
    settings: Mapping[str, Any],
    owner: RunOwner,
) -> int:
    """Writes the row of a run that starts now, owned by `owner`; returns its id.

    Args:
        session: The write transaction.
        collection_id: The collection it works on.
        kind: What it does, e.g. ``"index"``.
        step: The recognizer's provenance record (model id, revision, its settings).
        settings: Further settings of the run, JSON-compatible.
        owner: The process that runs it (`current_owner`).
    """
    now = utc_now()
    model = ModelKey.of(step)
    row = ProcessingRunRow(
        collection_id=collection_id,
        kind=kind,
        model_id=model.model_id,
        model_revision=model.revision,
        software=step.software,
        settings={"recognizer": dict(step.settings), **dict(settings)},
        status=RUN_RUNNING,
        started_at=now,
        host=owner.host,
        pid=owner.pid,
        heartbeat_at=now,
    )
    session.add(row)
    session.flush()
    return row.id


def touch_run(session: Session, run_id: int, status: str | None = None) -> None:
    """Renews a run's heartbeat and, with `status`, records its end now."""
    now = utc_now()
    values: dict[str, Any] = {"heartbeat_at": now}
    if status is not None:
        values |= {"status": status, "finished_at": now}
    session.execute(update(ProcessingRunRow).where(ProcessingRunRow.id == run_id).values(values))
