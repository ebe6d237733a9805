"""Issue 11 (hardening), points 4, 5 and 7, for real: progress lines when stderr is not a
terminal, totals counted before the first page, nothing dropped silently (dangling links,
empty folders, a home that does not exist), interrupted runs told apart from running ones,
and one exit-code table (``transcribe`` exits 3 when some inputs fail).

The commands run in subprocesses with stderr to a pipe (as under ``nohup``, cron or CI) or
in-process through `legajo.cli.main.main`; pages are rendered lines read with ``--lines`` by
the memorised test model, so that recognition is fast.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image

from htr.pipeline import PipelineSettings
from indexer.errors import UnreadableEntryError
from indexer.settings import sqlite_url
from indexer.store.db import head_revision, open_database, schema_revision
from indexer.store.orm import utc_now
from indexer.store.repository import Repository
from indexer.store.runs import SILENCE_LIMIT, RunOwner, RunState, interruption_reason
from indexer.transfer.ingest import EventKind, IndexSettings, ProgressEvent, index_paths
from indexer.transfer.inputs import walk_inputs
from legajo.cli import common
from legajo.cli.common import EXIT_SOME_FAILED, EXIT_USAGE, Progress
from legajo.cli.main import main
from tests.conftest import MEMORISED_TEXTS, REPO, render_line
from tests.integration import test_postgres as backends
from tests.integration.test_ingest import FixedRecognizer
from tests.integration.test_migrations import _migrate

postgres_server = backends.postgres_server

FAST = ("--lines", "--beams", "1", "--n-best", "1")
PROGRESS_LINE = re.compile(
    r"^indexing: (\d+)/(\d+) pages \(\d+\.\d%\)(, [\d.]+ pages/s)?(, ETA \w+)?( \[.*\])?$"
)


def write_pages(folder: Path, count: int, start: int = 0) -> Path:
    """`count` one-line page images (distinct content), read with ``--lines``."""
    folder.mkdir(parents=True, exist_ok=True)
    for i in range(start, start + count):
        render_line(MEMORISED_TEXTS[i % len(MEMORISED_TEXTS)], height=40 + i).save(
            folder / f"page_{i:03d}.png"
        )
    return folder


def write_tiff(path: Path, frames: int) -> Path:
    """A multi-page TIFF of `frames` one-line pages."""
    images = [render_line(MEMORISED_TEXTS[i % len(MEMORISED_TEXTS)]) for i in range(frames)]
    images[0].save(path, save_all=True, append_images=images[1:])
    return path


def legajo_process(*args: str) -> subprocess.Popen[str]:
    """`legajo ARGS` in a subprocess, stdout and stderr to pipes (not terminals)."""
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    for name in ("LEGAJO_HOME", "LEGAJO_DB", "LEGAJO_MODEL"):
        env.pop(name, None)
    return subprocess.Popen(
        [sys.executable, "-m", "legajo", *args],
        cwd=REPO,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def run_legajo(*args: str, timeout: float = 300) -> tuple[int, str, str]:
    process = legajo_process(*args)
    out, err = process.communicate(timeout=timeout)
    return process.returncode, out, err


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    try:
        code = main(list(args))
    except SystemExit as stop:
        code = int(stop.code or 0)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


# --- point 4: progress ---------------------------------------------------------------------


def test_index_prints_plain_progress_lines_with_the_total_from_the_start(
    tmp_path: Path, memorised_checkpoint: Path
) -> None:
    folder = write_pages(tmp_path / "pages", 3)
    write_tiff(folder / "bundle.tif", 2)  # 4 files, 5 pages
    code, out, err = run_legajo(
        "index",
        str(folder),
        "--home",
        str(tmp_path / "home"),
        "--model",
        str(memorised_checkpoint),
        *FAST,
    )
    assert code == 0, err
    assert "indexed 5 pages, skipped 0 already indexed, 0 failed, 4 files" in out
    assert "\r" not in err  # no tqdm bar redrawn in a log file
    lines = [line for line in err.splitlines() if line.startswith("indexing:")]
    assert len(lines) >= 2, err
    for line in lines:
        match = PROGRESS_LINE.match(line)
        assert match, line
        assert match[2] == "5"  # the total is right in every line, the first one included
    assert lines[0].startswith("indexing: 0/5 pages (0.0%)")  # before the first page
    assert lines[-1].startswith("indexing: 5/5 pages (100.0%)")
    assert lines[-1].endswith("[indexed 5]")
    assert "pages/s" in lines[-1]


def test_the_total_is_counted_before_the_first_page(tmp_path: Path) -> None:
    folder = write_pages(tmp_path / "pages", 2)
    write_tiff(folder / "bundle.tif", 3)
    (folder / "z_empty.png").write_bytes(b"")  # cannot be counted: one page, failed
    repository = Repository(open_database(sqlite_url(tmp_path / "db.sqlite")))
    events: list[ProgressEvent] = []
    settings = IndexSettings(collection="c", pipeline=PipelineSettings(whole_image=True))
    report = index_paths([folder], repository, FixedRecognizer(), settings, events.append)
    kinds = [event.kind for event in events]
    assert kinds[:4] == [EventKind.FILE_COUNTED] * 4
    assert kinds[4] is EventKind.PAGES_COUNTED and events[4].frames == 2 + 3 + 1
    assert EventKind.PAGES_COUNTED not in kinds[5:]
    assert [e.frames for e in events[:4]] == [3, 1, 1, 1]  # bundle.tif, page_000, page_001, z
    assert all(e.total == 4 for e in events[:4])
    used = sum(
        max(1, e.pages_left) if e.kind is EventKind.FAILED else 1
        for e in events
        if e.kind in (EventKind.PAGE_INDEXED, EventKind.PAGE_SKIPPED, EventKind.FAILED)
    )
    assert used == events[4].frames  # the work the total announced, no more, no less
    assert (report.indexed, report.failed, report.files) == (5, 1, 4)
    repository.database.close()


def test_plain_progress_lines_come_at_most_every_interval(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = [1000.0]
    monkeypatch.setattr(common.time, "monotonic", lambda: clock[0])
    with Progress("indexing", "page") as progress:
        progress.set_total(340)
        for _ in range(12):
            clock[0] += 2.5  # a page every 2.5 s: a line every fourth page
            progress.count("indexed")
            progress.advance()
    lines = capsys.readouterr().err.splitlines()
    assert lines == [
        "indexing: 0/340 pages (0.0%)",
        "indexing: 4/340 pages (1.2%), 0.40 pages/s, ETA 14m00s [indexed 4]",
        "indexing: 8/340 pages (2.4%), 0.40 pages/s, ETA 13m50s [indexed 8]",
        "indexing: 12/340 pages (3.5%), 0.40 pages/s, ETA 13m40s [indexed 12]",
    ]
    with Progress("counting pages", "file", delay_s=2.0) as quick:
        quick.move_to(1, 3)
        quick.move_to(3, 3)  # done within the delay: nothing shown
    with Progress("training", "‰", total=1000, fractional=True) as training:
        training.move_to(250, eta_s=95)
        training.describe("step 40", loss="0.5000")
    assert capsys.readouterr().err.splitlines() == [
        "training: 25.0%, ETA 1m35s",
        "training: 25.0%, ETA 1m35s [step 40, loss 0.5000]",
    ]


# --- point 5: nothing silent ---------------------------------------------------------------


def test_a_dangling_link_is_reported_counted_and_listed(
    tmp_path: Path, memorised_checkpoint: Path
) -> None:
    folder = write_pages(tmp_path / "pages", 2)
    (folder / "gone.png").symlink_to(tmp_path / "moved" / "gone.png")
    (folder / "notes").symlink_to(tmp_path / "moved" / "notes.txt")  # not a page: left out
    home = str(tmp_path / "home")
    code, out, err = run_legajo(
        "index", str(folder), "--home", home, "--model", str(memorised_checkpoint), *FAST
    )
    assert code == EXIT_SOME_FAILED, err
    assert "indexed 2 pages, skipped 0 already indexed, 1 failed, 3 files" in out
    assert f"failed: {folder / 'gone.png'}: " in err and "symbolic link" in err
    assert "notes" not in err
    assert "indexing: 3/3 pages (100.0%)" in err and "failed 1" in err
    code, out, _ = run_legajo("errors", "--home", home)
    assert code == 0
    (listed,) = out.splitlines()
    collection, path, reason = listed.split("\t")
    assert (collection, path) == ("default", str(folder / "gone.png"))
    assert reason.startswith("UnreadableEntryError: ") and "does not exist" in reason


def test_a_dangling_link_is_a_failed_import(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "xml"
    folder.mkdir()
    (folder / "page_1.xml").symlink_to(tmp_path / "moved" / "page_1.xml")
    code, out, err = cli(capsys, "import", str(folder), "--home", str(tmp_path / "home"))
    assert code == EXIT_SOME_FAILED
    assert "imported 0 pages, skipped 0 unchanged, 1 failed, 1 files" in out
    assert f"failed: {folder / 'page_1.xml'}: " in err and "symbolic link" in err


def test_unreadable_folders_are_inputs_that_fail(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_pages(tmp_path / "pages" / "open", 1)
    (tmp_path / "pages" / "locked").mkdir()
    real_scandir = os.scandir

    def scandir(path: object) -> Iterator[os.DirEntry[str]]:
        if Path(str(path)).name == "locked":  # as for a folder without read permission
            raise PermissionError(13, "Permission denied")
        return real_scandir(path)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "scandir", scandir)
    entries = walk_inputs([tmp_path / "pages"], lambda p: p.suffix == ".png", what="pages")
    assert [(e.path.name, type(e.error)) for e in entries] == [
        ("locked", UnreadableEntryError),
        ("page_000.png", type(None)),
    ]
    assert "cannot list the folder" in str(entries[0].error)
    assert "Permission denied" in str(entries[0].error)


def test_a_run_that_finds_no_input_fails_with_a_message(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "empty"
    (empty / "sub").mkdir(parents=True)
    (empty / "notes.txt").write_text("no pages here")
    home = tmp_path / "home"
    for command, what in (("index", "page images"), ("import", "XML files")):
        code, out, err = cli(capsys, command, str(empty), "--home", str(home))
        assert code == EXIT_USAGE, (command, err)
        assert f"legajo: error: no {what} in {empty}" in err and not out
    code, _, err = cli(capsys, "transcribe", str(empty), "--model", "unused")
    assert code == EXIT_USAGE and f"no page images in {empty}" in err
    assert not home.exists()  # refused before the database was opened


READING_COMMANDS = (
    ("search", "rey"),
    ("stats",),
    ("errors",),
    ("export", "--format", "txt", "--out", "<TMP>/out"),
    ("check",),
    ("reindex", "--only", "lexical"),
    ("ui", "--read-only"),
)


@pytest.mark.parametrize("command", READING_COMMANDS, ids=lambda c: c[0])
def test_reading_commands_refuse_a_home_that_does_not_exist(
    command: tuple[str, ...], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = [arg.replace("<TMP>", str(tmp_path)) for arg in command]
    missing = tmp_path / "typo"
    code, out, err = cli(capsys, *argv, "--home", str(missing))
    assert code == EXIT_USAGE, err
    assert "legajo: error: " in err and str(missing) in err and not out
    assert not missing.exists() and not (tmp_path / "out").exists()
    # A home that exists but holds no database, and a --db file that does not exist.
    home = tmp_path / "home"
    home.mkdir()
    code, _, err = cli(capsys, *argv, "--home", str(home))
    assert code == EXIT_USAGE and "no database" in err, err
    code, _, err = cli(capsys, *argv, "--db", sqlite_url(tmp_path / "nothing.db"))
    assert code == EXIT_USAGE and "nothing.db" in err, err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["home"]
    assert not any(home.iterdir())


def test_reading_commands_refuse_a_missing_home_in_a_subprocess(tmp_path: Path) -> None:
    code, out, err = run_legajo("search", "rey", "--home", str(tmp_path / "typo"))
    assert code == EXIT_USAGE and not out
    assert err.strip() == f"legajo: error: there is no legajo home folder at {tmp_path / 'typo'}"
    assert not (tmp_path / "typo").exists()


def test_reading_commands_refuse_a_postgres_database_without_legajo(
    postgres_server: backends.PostgresServer, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    empty = postgres_server.create_database()
    absent = postgres_server.url("legajo_no_such_database")
    for url in (empty, absent):
        code, _, err = cli(capsys, "stats", "--db", url, "--home", str(tmp_path))
        assert code == EXIT_USAGE, err
        code, _, err = cli(capsys, "search", "rey", "--db", url, "--home", str(tmp_path))
        assert code == EXIT_USAGE, err
    database = open_database(empty, migrate=False)
    assert schema_revision(database) is None  # no schema was created
    database.close()


# --- point 5: interrupted runs -------------------------------------------------------------


def _wait_for_run(repository: Repository, pid: int, process: subprocess.Popen[str]) -> int:
    deadline = time.monotonic() + 180
    while True:
        runs = [run for run in repository.runs() if run.pid == pid]
        if runs:
            return runs[0].id
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the run did not start"
        time.sleep(0.05)


def _stop_outside_a_write(process: subprocess.Popen[str], database: Path) -> None:
    """SIGSTOPs a process at a moment when it holds no SQLite write lock."""
    for _ in range(200):
        os.kill(process.pid, signal.SIGSTOP)
        connection = sqlite3.connect(database, timeout=0.2, isolation_level=None)
        try:
            connection.execute("BEGIN IMMEDIATE")
            connection.execute("ROLLBACK")
            return
        except sqlite3.OperationalError:  # stopped inside a transaction: let it finish
            os.kill(process.pid, signal.SIGCONT)
            time.sleep(0.05)
        finally:
            connection.close()
    pytest.fail("could not stop the process outside a write transaction")


@pytest.mark.slow
def test_a_killed_run_is_marked_interrupted_by_the_next_one_a_live_one_is_not(
    tmp_path: Path, memorised_checkpoint: Path
) -> None:
    home = tmp_path / "home"
    model = ("--model", str(memorised_checkpoint), *FAST)
    repository = Repository(open_database(sqlite_url(home / "legajo.db")))
    # A live run: indexing, then paused (SIGSTOP) so that it is still running throughout.
    alive = legajo_process(
        "index",
        str(write_pages(tmp_path / "b", 40)),
        "--home",
        str(home),
        "--collection",
        "b",
        *model,
    )
    killed = None
    try:
        alive_id = _wait_for_run(repository, alive.pid, alive)
        _stop_outside_a_write(alive, home / "legajo.db")
        # A run killed with SIGKILL mid-batch stays "running"...
        killed = legajo_process(
            "index",
            str(write_pages(tmp_path / "a", 40)),
            "--home",
            str(home),
            "--collection",
            "a",
            *model,
        )
        killed_id = _wait_for_run(repository, killed.pid, killed)
        os.kill(killed.pid, signal.SIGKILL)
        killed.communicate()
        runs = {run.id: run for run in repository.runs()}
        assert runs[killed_id].status == "running" and runs[killed_id].finished_at is None
        assert (runs[killed_id].host, runs[killed_id].pid) == (socket.gethostname(), killed.pid)
        # ...until the next run starts: it marks the killed one, and leaves the live one be.
        code, out, err = run_legajo(
            "index",
            str(write_pages(tmp_path / "c", 1)),
            "--home",
            str(home),
            "--collection",
            "c",
            *model,
        )
        assert code == 0, err
        assert f"run {killed_id} was interrupted: its process {killed.pid} on host" in err
        runs = {run.id: run for run in repository.runs()}
        assert runs[killed_id].status == "interrupted"
        assert runs[alive_id].status == "running"
        assert [run.status for run in runs.values() if run.collection == "c"] == ["finished"]
    finally:
        os.kill(alive.pid, signal.SIGCONT)
        if killed is not None and killed.poll() is None:
            killed.kill()
    out, err = alive.communicate(timeout=300)
    assert alive.returncode == 0, err
    assert "indexed 40 pages" in out
    assert {run.id: run.status for run in repository.runs()}[alive_id] == "finished"
    repository.database.close()


def test_runs_of_other_hosts_and_older_runs_are_judged_by_their_silence() -> None:
    here = RunOwner("this-host", os.getpid())
    now = utc_now()
    long_ago = now - SILENCE_LIMIT - dt.timedelta(minutes=5)
    recent = now - dt.timedelta(minutes=5)
    other = RunState(1, "other-host", 1, long_ago, recent)
    assert interruption_reason(other, here, now, None) is None  # it beat 5 minutes ago
    silent = RunState(1, "other-host", 1, long_ago, long_ago)
    assert "no sign of life" in (interruption_reason(silent, here, now, None) or "")
    legacy = RunState(1, None, None, long_ago, None)  # recorded before revision 0005
    assert "an unrecorded host" in (interruption_reason(legacy, here, now, None) or "")
    assert interruption_reason(RunState(1, None, None, recent, None), here, now, None) is None
    # This host: a run of this very process is alive; one from before the last boot is not.
    mine = RunState(1, "this-host", os.getpid(), now, now)
    assert interruption_reason(mine, here, now, None) is None
    before_boot = RunState(1, "this-host", os.getpid(), recent, recent)
    assert "booted" in (interruption_reason(before_boot, here, now, now) or "")


def test_revision_0005_keeps_older_runs_and_marks_them_by_age(tmp_path: Path) -> None:
    database = open_database(sqlite_url(tmp_path / "legajo.db"))
    repository = Repository(database)
    collection = repository.ensure_collection("c")
    _migrate(database, "0004", down=True)
    old = utc_now() - SILENCE_LIMIT - dt.timedelta(hours=1)
    with database.engine.begin() as connection:
        for started in (old, utc_now()):
            connection.exec_driver_sql(
                "INSERT INTO processing_runs (collection_id, kind, model_id, model_revision, "
                "software, settings, status, started_at) VALUES (?, 'index', 'm', 'r', "
                "'legajo', '{}', 'running', ?)",
                (collection, started.replace(tzinfo=None).isoformat(sep=" ")),
            )
    _migrate(database, "head")
    assert schema_revision(database) == head_revision() == "0007"
    assert [(r.status, r.host, r.pid) for r in repository.runs()] == [("running", None, None)] * 2
    started = repository.start_run(collection, "index", FixedRecognizer().processing_step(), {})
    assert [r.status for r in repository.runs()] == ["interrupted", "running", "running"]
    (mine,) = [r for r in repository.runs() if r.id == started]
    assert (mine.host, mine.pid) == (socket.gethostname(), os.getpid())
    assert mine.heartbeat_at is not None
    database.close()


# --- point 7: one exit-code table ----------------------------------------------------------


def test_transcribe_exits_3_when_some_inputs_fail(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], memorised_checkpoint: Path
) -> None:
    good = tmp_path / "good.png"
    render_line("amen").save(good)
    (tmp_path / "empty.png").write_bytes(b"")
    (tmp_path / "gone.png").symlink_to(tmp_path / "moved.png")
    model = ("--model", str(memorised_checkpoint), *FAST)
    code, out, err = cli(capsys, "transcribe", str(tmp_path), *model)
    assert code == EXIT_SOME_FAILED, err
    assert out.splitlines() == [f"== {good} ==", "amen"]
    assert "empty.png" in err and "gone.png" in err
    assert "legajo: 2 of 3 inputs failed" in err
    progress = [line for line in err.splitlines() if line.startswith("transcribing:")]
    assert progress[0] == "transcribing: 0/3 pages (0.0%)"
    assert progress[-1].startswith("transcribing: 3/3 pages (100.0%)")
    assert progress[-1].endswith("[failed 2]")
    # A path that does not exist is a usage error, named before the model is loaded.
    code, _, err = cli(capsys, "transcribe", str(good), str(tmp_path / "typo.png"), *model)
    assert code == EXIT_USAGE and "no such file or folder" in err and "typo.png" in err


def test_transcribe_exits_3_in_a_subprocess_too(tmp_path: Path, memorised_checkpoint: Path) -> None:
    tiff = write_tiff(tmp_path / "two.tif", 2)
    (tmp_path / "notes.jpg").write_text("not an image")
    code, out, err = run_legajo(
        "transcribe",
        str(tiff),
        str(tmp_path / "notes.jpg"),
        "--model",
        str(memorised_checkpoint),
        *FAST,
    )
    assert code == EXIT_SOME_FAILED, err
    assert out.count("== ") == 2 and "notes.jpg" in err
    assert "transcribing: 0/3 pages (0.0%)" in err.splitlines()
    assert Image.open(tiff).n_frames == 2
