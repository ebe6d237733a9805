"""Sharing the machine: OpenMP's waiting policy, torch's threads, and what a query's time covers.

- The front doors set ``OMP_WAIT_POLICY=PASSIVE`` before torch loads (unless the user chose a
  policy), and torch gets one thread per available CPU unless ``OMP_NUM_THREADS`` says
  otherwise (`htr.runtime`). Checked in fresh processes, as torch reads both once.
- The first semantic query of a process loads the sentence model; that load is not counted
  against the query's time limit, while a search that is slow itself still times out.
  The model load is made slower than the limit here so that it would fail on its own.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from htr import runtime
from indexer.errors import SearchTimeoutError
from indexer.search import sentence_model
from indexer.search.semantic import SemanticIndex
from indexer.search.service import SearchService
from indexer.settings import sqlite_url
from indexer.store.db import open_database
from indexer.store.repository import Repository
from tests.conftest import REPO
from tests.integration.test_search import PAGE_A, PAGE_B, store

TIME_LIMIT_S = 1.5
"""The query's time limit in these tests: ample for a search over six lines."""
SLOWER_THAN_LIMIT_S = TIME_LIMIT_S + 1.0

PROBE = """
import json, os, sys
import legajo  # the front door, before torch
policy_at_import = os.environ.get("OMP_WAIT_POLICY")
import torch
from htr.runtime import apply_torch_threads, available_cpus
explicit = int(sys.argv[1]) if len(sys.argv) > 1 else None
first = apply_torch_threads(explicit)
again = apply_torch_threads()
print(json.dumps({"policy": policy_at_import, "threads": first, "again": again,
                  "cpus": available_cpus()}))
"""


def probe(*args: str, **variables: str) -> dict[str, Any]:
    """Runs `PROBE` in a fresh process with these environment variables (others removed)."""
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_WAIT_POLICY", "OMP_NUM_THREADS")}
    env.pop("MKL_NUM_THREADS", None)
    env.update(variables, PYTHONPATH=str(REPO))
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    return dict(json.loads(done.stdout.strip().splitlines()[-1]))


# -- the CPU runtime ---------------------------------------------------------------------------


def test_the_wait_policy_is_passive_unless_the_user_chose_one() -> None:
    unset: dict[str, str] = {}
    runtime.configure_cpu_runtime(unset)
    assert unset == {"OMP_WAIT_POLICY": "PASSIVE"}
    chosen = {"OMP_WAIT_POLICY": "ACTIVE"}
    runtime.configure_cpu_runtime(chosen)
    assert chosen == {"OMP_WAIT_POLICY": "ACTIVE"}


def test_user_thread_counts_are_read_from_the_openmp_and_mkl_variables() -> None:
    assert runtime.user_thread_count({}) is None
    assert runtime.user_thread_count({"OMP_NUM_THREADS": "3"}) == 3
    assert runtime.user_thread_count({"OMP_NUM_THREADS": "4,2"}) == 4
    assert runtime.user_thread_count({"OMP_NUM_THREADS": "", "MKL_NUM_THREADS": "2"}) == 2
    assert runtime.user_thread_count({"OMP_NUM_THREADS": "many"}) is None


def test_a_cgroup_cpu_quota_caps_the_available_cpus(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cpu_max = tmp_path / "cpu.max"
    monkeypatch.setattr(runtime, "CGROUP_V2_CPU_MAX", cpu_max)
    affinity = len(os.sched_getaffinity(0))
    cpu_max.write_text("max 100000\n")
    assert runtime.available_cpus() == affinity
    cpu_max.write_text("50000 100000\n")  # half a CPU still gets one thread
    assert runtime.available_cpus() == 1
    cpu_max.write_text("garbage\n")
    assert runtime.available_cpus() == affinity


def test_the_front_door_sets_passive_and_torch_uses_every_available_cpu() -> None:
    seen = probe()
    assert seen["policy"] == "PASSIVE"
    assert seen["threads"] == seen["again"] == seen["cpus"]


def test_the_users_policy_and_thread_count_are_kept() -> None:
    seen = probe(OMP_WAIT_POLICY="ACTIVE", OMP_NUM_THREADS="1")
    assert seen["policy"] == "ACTIVE"
    assert seen["threads"] == seen["again"] == 1


def test_an_explicit_thread_count_is_not_undone_by_a_later_model_load() -> None:
    seen = probe("1")
    assert seen["threads"] == seen["again"] == 1


# -- the first semantic query ------------------------------------------------------------------


@pytest.fixture(scope="module")
def indexed_home(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Repository, Path]]:
    """Six stored lines with their lexical and semantic index files (the model gets loaded)."""
    from indexer.search.index_files import LEXICAL, SEMANTIC, rebuild

    home = tmp_path_factory.mktemp("home")
    database = open_database(sqlite_url(home / "legajo.db"))
    repository = Repository(database)
    store(repository, "a", PAGE_A)
    store(repository, "b", PAGE_B)
    rebuild(repository, home, LEXICAL)
    rebuild(repository, home, SEMANTIC)
    yield repository, home
    database.close()


@pytest.fixture
def slow_model_load(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """As in a fresh process: no model loaded yet, and loading one takes longer than the limit.

    The model this process already holds is handed out after the wait, so the test does not
    pay for a real second load. Returns the list of load durations, one per load.
    """
    loaded = dict(sentence_model._MODELS)
    real_load = sentence_model._load_model
    loads: list[float] = []

    def load(source: sentence_model.ModelSource, device: str) -> Any:
        started = time.monotonic()
        time.sleep(SLOWER_THAN_LIMIT_S)
        model = loaded.get((source.model_id, device)) or real_load(source, device)
        loads.append(time.monotonic() - started)
        return model

    monkeypatch.setattr(sentence_model, "_MODELS", {})
    monkeypatch.setattr(sentence_model, "_load_model", load)
    return loads


def test_loading_the_model_does_not_count_against_the_first_querys_limit(
    indexed_home: tuple[Repository, Path], slow_model_load: list[float]
) -> None:
    repository, home = indexed_home
    service = SearchService(repository, home)
    result = service.search(
        "yglesia de santa maria", mode="semantic", limit=3, timeout_s=TIME_LIMIT_S
    )
    assert result.hits[0].text == "yglesia de santa maria"
    assert len(slow_model_load) == 1 and slow_model_load[0] > TIME_LIMIT_S
    again = service.search("en el lugar de toledo", mode="semantic", timeout_s=TIME_LIMIT_S)
    assert again.hits[0].text == "en el lugar de toledo"
    assert len(slow_model_load) == 1  # loaded once


def slowed(function: Callable[..., Any], seconds: float) -> Callable[..., Any]:
    def slow(*args: Any, **kwargs: Any) -> Any:
        time.sleep(seconds)
        return function(*args, **kwargs)

    return slow


def test_a_slow_semantic_search_still_runs_into_its_limit(
    indexed_home: tuple[Repository, Path],
    slow_model_load: list[float],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    repository, home = indexed_home
    service = SearchService(repository, home)
    search = SemanticIndex.search
    monkeypatch.setattr(SemanticIndex, "search", slowed(search, SLOWER_THAN_LIMIT_S))
    with pytest.raises(SearchTimeoutError):
        service.search("yglesia de santa maria", mode="semantic", timeout_s=TIME_LIMIT_S)
    assert len(slow_model_load) == 1  # the model was loaded before the search began
    monkeypatch.setattr(SemanticIndex, "search", search)
    # The service is usable afterwards, and the same query within its limit succeeds.
    result = service.search("yglesia de santa maria", mode="semantic", timeout_s=TIME_LIMIT_S)
    assert result.hits[0].text == "yglesia de santa maria"


def test_a_slow_query_embedding_counts_against_the_limit(
    indexed_home: tuple[Repository, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    repository, home = indexed_home
    service = SearchService(repository, home)
    service.search("dios", mode="semantic", timeout_s=TIME_LIMIT_S)  # model and index ready
    monkeypatch.setattr(SemanticIndex, "_embed", slowed(SemanticIndex._embed, SLOWER_THAN_LIMIT_S))
    with pytest.raises(SearchTimeoutError):
        service.search("yglesia de santa maria", mode="semantic", timeout_s=TIME_LIMIT_S)
