"""Crash safety for real: `legajo index` killed with SIGKILL mid-batch, then run again; and two
`legajo index` processes on the same folder at once. On SQLite and on PostgreSQL."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from indexer.store.db import open_database
from indexer.store.repository import Repository
from tests.conftest import MEMORISED_TEXTS, REPO, render_line
from tests.integration import test_postgres as backends
from tests.integration.test_ingest import check_consistent

postgres_server = backends.postgres_server
postgres_url = backends.postgres_url
database_url = backends.database_url

PAGES = 20
SUMMARY = re.compile(r"indexed (\d+) pages, skipped (\d+) already indexed, (\d+) failed")

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, list[int]]]:
    """PAGES distinct small one-line pages (read with --lines), and their lines per frame."""
    folder = tmp_path_factory.mktemp("batch")
    for i in range(PAGES):
        text = MEMORISED_TEXTS[i % len(MEMORISED_TEXTS)]
        render_line(text, height=40 + i).save(folder / f"page_{i:02d}.png")
    return folder, {p.name: [1] for p in sorted(folder.glob("*.png"))}


def start_index(folder: Path, url: str, model: Path) -> subprocess.Popen[str]:
    command = [sys.executable, "-m", "legajo", "index", str(folder), "--db", url]
    command += ["--model", str(model), "--beams", "1", "--n-best", "1", "--lines"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    return subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def indexed_pages(repository: Repository) -> int:
    return sum(1 for p in repository.pages() if p.status == "indexed")


def test_kill_9_mid_batch_then_rerun_indexes_every_page_once(
    batch: tuple[Path, dict[str, list[int]]], memorised_checkpoint: Path, database_url: str
) -> None:
    folder, expected = batch
    repository = Repository(open_database(database_url))
    process = start_index(folder, database_url, memorised_checkpoint)
    deadline = time.monotonic() + 180
    while indexed_pages(repository) < 3:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "indexing did not start"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()
    assert process.returncode == -signal.SIGKILL

    stored = [p for p in repository.pages() if p.status == "indexed"]
    print(f"killed after {len(stored)} of {PAGES} pages")
    assert 3 <= len(stored) < PAGES, "the batch ended before the kill: make pages slower"
    for page in stored:  # no half-stored page
        assert page.line_count == expected[Path(page.source_path).name][page.frame]
    assert repository.table_counts()["lines"] == sum(p.line_count for p in stored)
    (killed_run,) = repository.runs()
    assert killed_run.status == "running" and killed_run.finished_at is None

    rerun = start_index(folder, database_url, memorised_checkpoint)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    match = SUMMARY.search(out)
    assert match, out
    assert (int(match[1]), int(match[2]), int(match[3])) == (
        PAGES - len(stored),
        len(stored),
        0,
    )
    check_consistent(repository, expected)
    texts = [repository.load_page(p.id).text for p in repository.pages()]
    assert sorted(set(texts)) == sorted(MEMORISED_TEXTS)  # the memorised model reads them
    # The rerun found the killed run's process gone and marked it.
    assert [r.status for r in repository.runs()] == ["interrupted", "finished"]
    repository.database.close()


def test_two_processes_on_the_same_folder_store_each_page_once(
    batch: tuple[Path, dict[str, list[int]]], memorised_checkpoint: Path, database_url: str
) -> None:
    folder, expected = batch
    first = start_index(folder, database_url, memorised_checkpoint)
    second = start_index(folder, database_url, memorised_checkpoint)
    indexed = 0
    for process in (first, second):
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        match = SUMMARY.search(out)
        assert match, out
        assert int(match[1]) + int(match[2]) == PAGES and match[3] == "0"
        indexed += int(match[1])
    assert indexed == PAGES  # each page stored by exactly one of them
    repository = Repository(open_database(database_url))
    check_consistent(repository, expected)
    assert [r.status for r in repository.runs()] == ["finished", "finished"]
    repository.database.close()


def test_kill_9_mid_reread_then_rerun_reads_every_page_once(
    batch: tuple[Path, dict[str, list[int]]],
    tiny_checkpoint: Path,
    memorised_checkpoint: Path,
    database_url: str,
) -> None:
    folder, expected = batch
    first = start_index(folder, database_url, tiny_checkpoint)
    assert first.communicate(timeout=300)[0] and first.returncode == 0
    repository = Repository(open_database(database_url))
    lines_before = [(p.id, [s.id for s in repository.lines(p.id)]) for p in repository.pages()]
    memorised = str(memorised_checkpoint)

    def reread_pages() -> int:
        return sum(1 for p in repository.pages() if p.model.model_id == memorised)

    command = [sys.executable, "-m", "legajo", "reread", "--collection", "default"]
    command += ["--db", database_url, "--model", memorised, "--beams", "1", "--n-best", "1"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    deadline = time.monotonic() + 180
    while reread_pages() < 3:
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "the reread did not start"
        time.sleep(0.05)
    os.kill(process.pid, signal.SIGKILL)
    process.communicate()
    done = reread_pages()
    print(f"killed after {done} of {PAGES} pages")
    assert 3 <= done < PAGES, "the reread ended before the kill: make pages slower"

    rerun = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert f"{PAGES - done} read again, {done} already read by this model, 0 failed" in out
    after = [(p.id, [s.id for s in repository.lines(p.id)]) for p in repository.pages()]
    assert after == lines_before  # same pages, same lines: read in place, none twice
    check_consistent(repository, expected)
    for _, line_ids in after:
        for line_id in line_ids:  # the tiny model's reading, then the memorised one's: once each
            models = [r.model.model_id for r in repository.readings(line_id)]
            assert models == [str(tiny_checkpoint), memorised]
    texts = {repository.load_page(p.id).text for p in repository.pages()}
    assert texts == set(MEMORISED_TEXTS)
    repository.database.close()
