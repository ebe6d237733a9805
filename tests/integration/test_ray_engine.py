"""`legajo index --engine ray` on a real Ray cluster and a real PostgreSQL, one worker SIGKILLed.

A Ray head is started on 127.0.0.1 with ``ray start --head`` (its own temp folder, stopped
with ``ray stop`` at the end, no Ray process left behind), PostgreSQL as in `test_postgres`.
A folder of pages (read by the memorised model) and three bad files is indexed through
``legajo index DIR --engine ray --address 127.0.0.1:PORT --db postgresql://...``; one Ray
worker is killed with SIGKILL mid-batch and Ray restarts it and retries its file. Afterwards
the database holds what a local-engine run of the same folder holds: the same pages with the
same lines, each page once, and every bad file named among the failures.

Without Ray installed the test is skipped, except in CI (``CI`` set), where it fails.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from indexer.store.db import open_database
from indexer.store.repository import Repository
from tests.conftest import MEMORISED_TEXTS, REPO
from tests.integration import test_postgres as backends
from tests.legajo_serve import free_port
from tests.ui.archive import write_page

postgres_server = backends.postgres_server

pytestmark = pytest.mark.slow

PAGES = 12
BAD_FILES = ("roto.png", "truncado.png", "vacio.jpg")
WORKER_TITLE = b"ray::MapWorker"
"""How Ray names the processes of Ray Data's actor pool (their process title)."""


def _unavailable(reason: str) -> None:
    if os.environ.get("CI"):
        pytest.fail(f"the Ray engine test cannot run in CI: {reason}")
    pytest.skip(reason)


def _environment(temp_dir: Path) -> dict[str, str]:
    return {
        **os.environ,
        "HF_HUB_OFFLINE": "1",
        "PYTHONPATH": str(REPO),
        "OMP_NUM_THREADS": "1",
        "RAY_TMPDIR": str(temp_dir),
        "RAY_AUTH_MODE": "disabled",  # a throwaway cluster on the loopback interface
    }


def _ray_processes(temp_dir: Path) -> list[int]:
    """The processes whose command line or environment names this cluster's temp folder."""
    found = []
    marker = str(temp_dir).encode()
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            if (
                marker in (entry / "cmdline").read_bytes()
                or marker in (entry / "environ").read_bytes()
            ):
                found.append(int(entry.name))
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return found


def _worker_pids(temp_dir: Path) -> list[int]:
    """This cluster's running Ray Data actors (processes named ``ray::MapWorker(...)``)."""
    pids = []
    for pid in _ray_processes(temp_dir):
        try:
            if Path(f"/proc/{pid}/cmdline").read_bytes().startswith(WORKER_TITLE):
                pids.append(pid)
        except OSError:
            continue
    return pids


@pytest.fixture(scope="module")
def ray_head() -> Iterator[tuple[str, Path]]:
    """A Ray head on 127.0.0.1 (two workers' worth of CPUs): its address and temp folder."""
    try:
        import ray  # noqa: F401
    except ImportError:
        _unavailable("Ray is not installed (pip install 'legajo[ray]')")
    ray_cli = Path(sys.executable).parent / "ray"
    if not ray_cli.exists():
        _unavailable(f"{ray_cli} is not installed")
    temp_dir = Path(tempfile.mkdtemp(prefix="ray-", dir="/tmp"))  # short: Unix socket paths
    port = free_port()
    env = _environment(temp_dir)
    start = [str(ray_cli), "start", "--head", "--node-ip-address=127.0.0.1", f"--port={port}"]
    start += ["--num-cpus=3", "--num-gpus=0", "--include-dashboard=false"]
    start += [f"--temp-dir={temp_dir}", "--disable-usage-stats"]
    try:
        started = subprocess.run(start, env=env, capture_output=True, text=True, timeout=120)
        assert started.returncode == 0, started.stdout + started.stderr
        yield f"127.0.0.1:{port}", temp_dir
    finally:
        subprocess.run([str(ray_cli), "stop", "--force"], env=env, capture_output=True, timeout=120)
        deadline = time.monotonic() + 30
        while _ray_processes(temp_dir) and time.monotonic() < deadline:
            time.sleep(0.5)
        left = _ray_processes(temp_dir)
        for pid in left:  # only processes of this cluster: its temp folder names them
            os.kill(pid, signal.SIGKILL)
        shutil.rmtree(temp_dir, ignore_errors=True)
        assert not left, f"ray stop left processes behind: {left}"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """PAGES distinct pages of one to three memorised lines, and three bad files."""
    scans = tmp_path_factory.mktemp("ray_scans")
    for number in range(PAGES):
        texts = MEMORISED_TEXTS[: 1 + number % 3]
        write_page(texts, scans / f"folio_{number:02d}.png", width=600 + 4 * number)
    (scans / "roto.png").write_bytes(b"not an image")
    (scans / "vacio.jpg").write_bytes(b"")
    whole = (scans / "folio_00.png").read_bytes()
    (scans / "truncado.png").write_bytes(whole[: len(whole) // 3])  # counts, fails to decode
    return scans


def _index(folder: Path, url: str, model: Path) -> list[str]:
    command = [sys.executable, "-m", "legajo", "index", str(folder), "--db", url]
    command += ["--model", str(model), "--beams", "2", "--n-best", "2"]
    return command


def _indexed(repository: Repository) -> int:
    return sum(1 for page in repository.pages() if page.status == "indexed")


def _contents(repository: Repository) -> tuple[list[tuple[str, int, int, str]], dict[str, int]]:
    """Each indexed page (file name, frame, lines, text), sorted; and the table counts."""
    pages = [p for p in repository.pages() if p.status == "indexed"]
    found = sorted(
        (Path(p.source_path).name, p.frame, p.line_count, repository.load_page(p.id).text)
        for p in pages
    )
    return found, repository.table_counts()


def test_ray_engine_with_a_killed_worker_stores_what_the_local_engine_stores(
    ray_head: tuple[str, Path],
    folder: Path,
    memorised_checkpoint: Path,
    postgres_server: backends.PostgresServer,
) -> None:
    address, temp_dir = ray_head
    env = _environment(temp_dir)
    ray_url, local_url = postgres_server.create_database(), postgres_server.create_database()
    ray_db = Repository(open_database(ray_url))

    command = _index(folder, ray_url, memorised_checkpoint)
    command += ["--engine", "ray", "--address", address, "--workers", "2"]
    process = subprocess.Popen(
        command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    try:
        deadline = time.monotonic() + 150
        while _indexed(ray_db) < 2 or not _worker_pids(temp_dir):
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline, "the Ray workers did not start indexing"
            time.sleep(0.05)
        victim = max(_worker_pids(temp_dir))
        os.kill(victim, signal.SIGKILL)
        stored_at_kill = _indexed(ray_db)
        out, err = process.communicate(timeout=180)
    finally:
        if process.poll() is None:
            process.kill()
    print(f"killed worker {victim} after {stored_at_kill} of {PAGES} pages")
    assert stored_at_kill < PAGES, "the batch ended before the kill: make pages slower"
    assert process.returncode == 3, out + err  # some files failed, the others indexed
    assert "failed" in out and "legajo: error" not in err, out + err

    local = subprocess.run(
        _index(folder, local_url, memorised_checkpoint),
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert local.returncode == 3, local.stdout + local.stderr
    local_db = Repository(open_database(local_url))
    try:
        ray_pages, ray_counts = _contents(ray_db)
        local_pages, local_counts = _contents(local_db)
        assert len(ray_pages) == PAGES
        assert ray_pages == local_pages  # same pages, same lines, same text
        for table in ("pages", "lines", "words", "alternatives"):
            assert ray_counts[table] == local_counts[table], table
        keys = Counter((p.source_path, p.frame) for p in ray_db.pages())
        assert all(count == 1 for count in keys.values()), keys  # no page stored twice
        ray_failures = sorted((Path(f.source_path).name, f.frame) for f in ray_db.failures())
        local_failures = sorted((Path(f.source_path).name, f.frame) for f in local_db.failures())
        assert ray_failures == local_failures
        assert sorted({name for name, _frame in ray_failures}) == sorted(BAD_FILES)
        for name in BAD_FILES:
            assert name in err, err
        (run,) = ray_db.runs()
        assert run.status == "finished"
    finally:
        ray_db.database.close()
        local_db.database.close()
