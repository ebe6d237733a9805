"""Latency of search over HTTP (`legajo serve`) against the search service called in process.

    .venv/bin/python bench/api_latency.py                        # 100,000 lines
    .venv/bin/python bench/api_latency.py --lines 1000000        # the size of search_latency.py
    .venv/bin/python bench/api_latency.py --workdir W            # keep the collection in W
    .venv/bin/python bench/api_latency.py --workdir W --reuse    # measure it again

**Collection.** The synthetic collection of `bench/search_latency.py` (same generator, same
database layout, same query sets "typical" and "frequent"), written by its
`write_collection`, with the lexical index file built as ``legajo reindex`` does. The default
is 100,000 lines (3,334 pages) rather than a million, so a run takes minutes on two cores.
A workdir kept by ``search_latency.py --workdir`` can be measured with ``--reuse``.

**Measured.** p50/p95 of each query set (limit 20), one query at a time, after one warm-up
query per mode (which loads the indexes) and per path:

- ``service``: `SearchService.search` in this process, the floor;
- ``GET /api/search``: `legajo serve` in a child process on 127.0.0.1, one keep-alive
  connection (httpx), with an API token (``Authorization: Bearer``), JSON decoded: the
  service plus the version lookup of the hits, JSON encoding, HTTP and authentication;
- ``GET /api/search`` Basic: the same with HTTP Basic, on the "frequent" set only (one
  argon2 verification, then the pair is remembered for a minute: `legajo.server.passwords`);
- ``GET /iiif/search/{collection}``: the IIIF Content Search 2 endpoint, when the server has
  it (answered 404 otherwise: the row then says so).

The account and the token are added to the collection's database (``bench`` / editor).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from search_latency import (  # noqa: E402  (bench/ is not a package)
    TextGenerator,
    load_collection,
    query_sets,
    save_collection,
    write_collection,
)

LIMIT = 20
COLLECTION = "synthetic"
PASSWORD = "bench-password-1"
START_TIMEOUT_S = 300.0


@dataclass(frozen=True, slots=True)
class Row:
    """The latencies of one path, mode and query set."""

    path: str
    mode: str
    query_set: str
    seconds: list[float]
    hits: list[int]
    note: str = ""


def percentile(values: list[float], fraction: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


def timed(queries: list[str], run: Callable[[str], int]) -> tuple[list[float], list[int]]:
    seconds, hits = [], []
    for query in queries:
        started = time.perf_counter()
        hits.append(run(query))
        seconds.append(time.perf_counter() - started)
    return seconds, hits


def free_port() -> int:
    with contextlib.closing(socket.socket(socket.AF_INET, socket.SOCK_STREAM)) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextlib.contextmanager
def serving(home: Path, log: Path) -> Iterator[str]:
    """`legajo serve` on `home` until the block ends; yields its URL."""
    import httpx

    port = free_port()
    env = dict(os.environ, HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "legajo", "serve", "--home", str(home), "--port", str(port)],
            cwd=REPO,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        started = time.monotonic()
        while True:
            if process.poll() is not None:
                raise SystemExit(f"legajo serve exited:\n{log.read_text(errors='replace')}")
            with contextlib.suppress(httpx.TransportError):
                if httpx.get(f"{url}/api/health", timeout=5).status_code == 200:
                    break
            if time.monotonic() - started > START_TIMEOUT_S:
                raise SystemExit(f"legajo serve did not start:\n{log.read_text(errors='replace')}")
            time.sleep(0.2)
        yield url
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)


def prepare(home: Path) -> str:
    """Builds the lexical index file, adds the bench account; returns its API token."""
    from indexer.accounts import AccountStore
    from indexer.search.index_files import LEXICAL, rebuild
    from indexer.settings import sqlite_url
    from indexer.store.db import open_database
    from indexer.store.repository import Repository

    repository = Repository(open_database(sqlite_url(home / "legajo.db")))
    try:
        print("building the lexical index", file=sys.stderr)
        rebuild(repository, home, LEXICAL)
        accounts = AccountStore(repository.database)
        if accounts.get("bench") is None:
            accounts.add("bench", PASSWORD, "editor")
        return accounts.new_token("bench", "api_latency")
    finally:
        repository.database.close()


def measure_service(
    home: Path, modes: list[str], queries: dict[str, list[str]], rows: list[Row]
) -> None:
    from indexer.search.service import SearchService
    from indexer.settings import sqlite_url
    from indexer.store.db import open_existing_database
    from indexer.store.repository import Repository

    repository = Repository(open_existing_database(sqlite_url(home / "legajo.db")))
    service = SearchService(repository, home)
    try:
        for mode in modes:
            service.search(queries["typical"][0], mode=mode, limit=LIMIT)  # loads the indexes
            for set_name, words in queries.items():
                seconds, hits = timed(
                    words, lambda w, m=mode: len(service.search(w, mode=m, limit=LIMIT).hits)
                )
                rows.append(Row("service (in process)", mode, set_name, seconds, hits))
                print(f"  service {mode} {set_name}", file=sys.stderr)
    finally:
        repository.database.close()


def measure_http(
    url: str, token: str, modes: list[str], queries: dict[str, list[str]], rows: list[Row]
) -> None:
    import httpx

    def json_search(client: httpx.Client, mode: str) -> Callable[[str], int]:
        def run(word: str) -> int:
            answer = client.get("/api/search", params={"q": word, "mode": mode, "limit": LIMIT})
            answer.raise_for_status()
            return len(answer.json()["hits"])

        return run

    bearer = {"Authorization": f"Bearer {token}"}
    with httpx.Client(base_url=url, headers=bearer, timeout=120) as client:
        for mode in modes:
            json_search(client, mode)(queries["typical"][0])  # loads the server's indexes
            for set_name, words in queries.items():
                seconds, hits = timed(words, json_search(client, mode))
                rows.append(Row("GET /api/search (token)", mode, set_name, seconds, hits))
                print(f"  http {mode} {set_name}", file=sys.stderr)
    with httpx.Client(base_url=url, auth=("bench", PASSWORD), timeout=120) as client:
        seconds, hits = timed(queries["frequent"], json_search(client, modes[0]))
        rows.append(
            Row(
                "GET /api/search (Basic)",
                modes[0],
                "frequent",
                seconds,
                hits,
                "password checked once, then remembered",
            )
        )
    with httpx.Client(base_url=url, headers=bearer, timeout=120) as client:
        probe = client.get(f"/iiif/search/{COLLECTION}", params={"q": queries["typical"][0]})
        if probe.status_code == 404:
            rows.append(Row("GET /iiif/search/{collection}", "-", "-", [], [], "not served"))
            return

        def content_search(word: str) -> int:
            answer = client.get(f"/iiif/search/{COLLECTION}", params={"q": word})
            answer.raise_for_status()
            body: dict[str, Any] = answer.json()
            return len(body.get("items", []))

        for set_name, words in queries.items():
            seconds, hits = timed(words, content_search)
            rows.append(
                Row("GET /iiif/search/{collection}", "auto", set_name, seconds, hits, "IIIF")
            )
            print(f"  iiif {set_name}", file=sys.stderr)


def print_table(rows: list[Row], lines: int, pages: int, header: str) -> None:
    print(f"\n{header}")
    print(f"collection: {lines:,} lines on {pages:,} pages; limit {LIMIT}; one query at a time\n")
    print(
        f"| {'path':<30} | {'mode':<5} | {'queries':<8} | {'n':>4} | {'p50 ms':>7} "
        f"| {'p95 ms':>7} | {'hits':>5} | note"
    )
    print(f"|{'-' * 32}|{'-' * 7}|{'-' * 10}|{'-' * 6}|{'-' * 9}|{'-' * 9}|{'-' * 7}|------")
    for row in rows:
        mean_hits = sum(row.hits) / len(row.hits) if row.hits else 0.0
        p50 = f"{percentile(row.seconds, 0.5) * 1000:7.1f}" if row.seconds else f"{'-':>7}"
        p95 = f"{percentile(row.seconds, 0.95) * 1000:7.1f}" if row.seconds else f"{'-':>7}"
        print(
            f"| {row.path:<30} | {row.mode:<5} | {row.query_set:<8} | {len(row.seconds):>4} "
            f"| {p50} | {p95} | {mean_hits:5.1f} | {row.note}"
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--lines", type=int, default=100_000, help="lines (default 100,000)")
    parser.add_argument("--queries", type=int, default=100, help="typical query words")
    parser.add_argument(
        "--modes", default="auto,exact", help="search modes, comma-separated (default auto,exact)"
    )
    parser.add_argument("--workdir", type=Path, help="keep the collection here (default: temp)")
    parser.add_argument(
        "--reuse", action="store_true", help="measure the collection kept in --workdir again"
    )
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.reuse and args.workdir is None:
        parser.error("--reuse needs --workdir")
    modes = [m.strip() for m in args.modes.split(",") if m.strip()]

    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="legajo-api-latency-"))
    home = workdir / "home"
    try:
        if args.reuse:
            collection = load_collection(home, args.seed)
        else:
            if (home / "legajo.db").exists():
                raise SystemExit(
                    f"{home / 'legajo.db'} exists: give an empty --workdir, or --reuse"
                )
            home.mkdir(parents=True)
            print(f"writing {args.lines:,} lines to {home}", file=sys.stderr)
            collection = write_collection(home, args.lines, TextGenerator(args.seed))
            save_collection(collection)
        sets = query_sets(collection.truth_counts, args.queries, args.seed + 1)
        queries = {name: sets[name] for name in ("typical", "frequent")}
        token = prepare(home)
        rows: list[Row] = []
        measure_service(home, modes, queries, rows)
        with serving(home, workdir / "serve.log") as url:
            measure_http(url, token, modes, queries, rows)
        print_table(
            rows,
            collection.lines,
            collection.pages,
            f"(--lines {collection.lines}, --queries {args.queries}, --modes {args.modes}"
            f"{', --reuse' if args.reuse else ''})",
        )
    finally:
        if args.workdir is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
