"""`legajo serve` as scripts meet it: a real server on 127.0.0.1, over HTTP.

One server runs for the module, on an archive read by the memorised model (`tests.ui.archive`)
with three accounts (viewer, editor, admin). A second, short-lived one serves a copy of the
archive made before the accounts were added, to check the local-only rules of a server without
accounts. Every error is checked for the API's one JSON shape.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from indexer.accounts import AccountStore
from tests.conftest import MEMORISED_TEXTS
from tests.legajo_serve import free_port, running_server
from tests.ui.archive import COLLECTION, Archive, build_archive

pytestmark = pytest.mark.slow  # recognition with a real model, server processes

REPO = Path(__file__).resolve().parents[2]
START_TIMEOUT_S = 120.0
PASSWORD = "correct horse battery"
ACCOUNTS = {"vera": "viewer", "edna": "editor", "ada": "admin"}


def serve_command(home: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "legajo", "serve", "--home", str(home), *extra]


def server_environment() -> dict[str, str]:
    return dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", PYTHONUNBUFFERED="1")


def copy_home(archive: Archive, target: Path) -> Path:
    """A copy of the archive's home (database and indexes; the page images stay shared)."""
    shutil.copytree(archive.storage.home, target, ignore=shutil.ignore_patterns("scans"))
    return target


@pytest.fixture(scope="module")
def archive(tmp_path_factory: pytest.TempPathFactory, memorised_checkpoint: Path) -> Archive:
    return build_archive(tmp_path_factory.mktemp("served") / "home", memorised_checkpoint)


@pytest.fixture(scope="module")
def open_home(archive: Archive, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the archive without accounts (made before they are added)."""
    return copy_home(archive, tmp_path_factory.mktemp("open") / "home")


@pytest.fixture(scope="module")
def token(archive: Archive, open_home: Path) -> str:
    """Adds the accounts (after `open_home` was copied); returns an API token of the editor."""
    repository = archive.repository()
    try:
        store = AccountStore(repository.database)
        for name, role in ACCOUNTS.items():
            store.add(name, PASSWORD, role)
        return store.new_token("edna", "tests")
    finally:
        repository.database.close()


@pytest.fixture(scope="module")
def http(
    archive: Archive, token: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[httpx.Client]:
    log = tmp_path_factory.mktemp("log") / "serve.log"
    with (
        running_server(archive.storage.home, log) as url,
        httpx.Client(base_url=url, timeout=30) as client,
    ):
        yield client


def basic(name: str) -> httpx.BasicAuth:
    return httpx.BasicAuth(name, PASSWORD)


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def error_of(answer: httpx.Response, status: int, code: str) -> dict[str, Any]:
    """The error body of an answer, checked for the one shape; returns its ``error``."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/json")
    body = answer.json()
    assert set(body) == {"error"}
    error = body["error"]
    assert set(error) == {"status", "code", "message", "details"}
    assert error["status"] == status and error["code"] == code
    assert isinstance(error["message"], str) and error["message"]
    return dict(error)


def search(http: httpx.Client, query: str, **params: Any) -> dict[str, Any]:
    answer = http.get("/api/search", params={"q": query, **params}, auth=basic("vera"))
    assert answer.status_code == 200, answer.text
    return dict(answer.json())


# --- reading ----------------------------------------------------------------------------------


def test_search_answers_the_documented_shape(http: httpx.Client) -> None:
    body = search(http, "quantos")
    assert {"hits", "total", "offset", "limit", "elapsed_s", "mode", "query"} <= set(body)
    assert body["total"] == 2 and body["mode"] == "auto"
    hit = body["hits"][0]
    assert {
        "line_id",
        "version",
        "text",
        "page_id",
        "page",
        "frame",
        "score",
        "bbox",
        "words",
    } <= set(hit)
    assert hit["text"] == MEMORISED_TEXTS[1] and hit["version"] == 1
    assert len(hit["bbox"]) == 4 and 0 < hit["score"] <= 1
    assert [w["text"] for w in hit["words"]] == ["quantos"]
    assert {"text", "bbox", "confidence"} <= set(hit["words"][0])
    # Paging within one mode: the two hits read alike, and modes may rank them either way.
    both = search(http, "quantos", limit=2, mode="exact", collection=COLLECTION)
    assert len({h["line_id"] for h in both["hits"]}) == 2
    paged = search(http, "quantos", limit=1, offset=1, mode="exact", collection=COLLECTION)
    assert [h["line_id"] for h in paged["hits"]] == [both["hits"][1]["line_id"]]


def test_pages_lines_collections_and_stats(http: httpx.Client) -> None:
    auth = basic("vera")
    [collection] = http.get("/api/collections", auth=auth).json()
    assert collection["name"] == COLLECTION and collection["pages"] == 3
    listing = http.get(f"/api/collections/{COLLECTION}/pages", params={"limit": 2}, auth=auth)
    assert listing.status_code == 200 and len(listing.json()["pages"]) == 2
    assert listing.json()["total"] == 3
    page_id = listing.json()["pages"][0]["id"]
    page = http.get(f"/api/pages/{page_id}", auth=auth).json()
    assert [line["text"] for line in page["lines"]] == list(MEMORISED_TEXTS)
    first = page["lines"][0]
    assert first["words"] and first["alternatives"] and first["version"] >= 1
    line = http.get(f"/api/lines/{first['id']}", auth=auth).json()
    assert line["history"][0]["version"] == 1 and line["readings"] == []
    stats = http.get("/api/stats", auth=auth).json()
    assert stats["totals"]["pages"] == 3 and stats["totals"]["errors"] == 1


def test_exports(http: httpx.Client) -> None:
    auth = basic("vera")
    page_id = search(http, "amen")["hits"][0]["page_id"]
    alto = http.get(f"/api/pages/{page_id}/export", params={"format": "alto"}, auth=auth)
    assert alto.status_code == 200
    assert alto.headers["content-type"].startswith("application/xml")
    assert b"<alto" in alto.content and "attachment" in alto.headers["content-disposition"]
    text = http.get(f"/api/pages/{page_id}/export", params={"format": "txt"}, auth=auth)
    assert text.headers["content-type"].startswith("text/plain") and "amen" in text.text
    archive = http.get(
        f"/api/collections/{COLLECTION}/export", params={"format": "json"}, auth=auth
    )
    assert archive.status_code == 200 and archive.headers["content-type"] == "application/zip"
    assert archive.content[:2] == b"PK"
    error_of(http.get("/api/pages/999999/export", auth=auth), 404, "not_found")


def test_docs_and_openapi(http: httpx.Client) -> None:
    page = http.get("/docs")
    assert page.status_code == 200
    # Swagger UI comes from the server itself, never from a CDN
    sources = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert sources and all(s.startswith("/") for s in sources), sources
    for source in sources:
        answer = http.get(source)
        assert answer.status_code == 200 and len(answer.content) > 100, source
    schema = http.get("/openapi.json").json()
    assert "/api/search" in schema["paths"] and "/api/lines/{line_id}" in schema["paths"]
    assert {"basic", "token"} <= set(schema["components"]["securitySchemes"])


# --- who may do what --------------------------------------------------------------------------


def test_anonymous_gets_401_with_a_basic_challenge(http: httpx.Client) -> None:
    answer = http.get("/api/search", params={"q": "amen"})
    error_of(answer, 401, "unauthorized")
    assert answer.headers["www-authenticate"] == 'Basic realm="legajo"'
    error_of(http.put("/api/lines/1", json={"text": "x", "version": 1}), 401, "unauthorized")
    wrong = http.get("/api/me", auth=httpx.BasicAuth("vera", "not the password"))
    error_of(wrong, 401, "unauthorized")
    error_of(http.get("/api/me", headers=bearer("lgj_forged")), 401, "unauthorized")


def test_viewer_may_not_correct(http: httpx.Client) -> None:
    hit = search(http, "nonbre")["hits"][0]
    answer = http.put(
        f"/api/lines/{hit['line_id']}",
        json={"text": "en el nombre de dios", "version": hit["version"]},
        auth=basic("vera"),
    )
    assert error_of(answer, 403, "forbidden")["details"] == {"role": "viewer", "needed": "editor"}
    assert search(http, "nonbre")["hits"][0]["version"] == hit["version"]
    error_of(http.get("/api/accounts", auth=basic("edna")), 403, "forbidden")
    admins = http.get("/api/accounts", auth=basic("ada"))
    assert admins.status_code == 200 and [a["name"] for a in admins.json()] == sorted(ACCOUNTS)


def test_editor_corrects_and_the_next_search_finds_it(http: httpx.Client) -> None:
    hit = next(h for h in search(http, "quantos")["hits"] if h["version"] == 1)
    corrected = "sepan quantos esta carta vieren"
    answer = http.put(
        f"/api/lines/{hit['line_id']}",
        json={"text": corrected, "version": hit["version"], "editor": "someone else"},
        auth=basic("edna"),
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["text"] == corrected and answer.json()["version"] == hit["version"] + 1
    [found] = search(http, "vieren")["hits"]
    assert found["line_id"] == hit["line_id"] and found["version"] == hit["version"] + 1
    line = http.get(f"/api/lines/{hit['line_id']}", auth=basic("vera")).json()
    assert line["history"][-1]["editor"] == "edna"  # the account, not the typed name
    assert line["history"][-1]["text"] == corrected


def test_stale_version_gets_409_and_nothing_is_lost(http: httpx.Client) -> None:
    hit = search(http, "amen")["hits"][0]
    line_id, version = hit["line_id"], hit["version"]
    first = http.put(
        f"/api/lines/{line_id}", json={"text": "amen.", "version": version}, auth=basic("edna")
    )
    assert first.status_code == 200
    late = http.put(
        f"/api/lines/{line_id}", json={"text": "amen amen", "version": version}, auth=basic("ada")
    )
    details = error_of(late, 409, "stale_version")["details"]
    assert details["expected_version"] == version and details["current_version"] == version + 1
    assert details["current_text"] == "amen." and details["sent_text"] == "amen amen"
    line = http.get(f"/api/lines/{line_id}", auth=basic("vera")).json()
    assert line["text"] == "amen." and line["version"] == version + 1
    assert [v["text"] for v in line["history"]] == ["amen", "amen."]


def test_bearer_token_and_confirm(http: httpx.Client, token: str) -> None:
    me = http.get("/api/me", headers=bearer(token)).json()
    assert me == {"name": "edna", "role": "editor", "accounts": True, "read_only": False}
    hit = search(http, "dios")["hits"][0]
    answer = http.post(
        f"/api/lines/{hit['line_id']}/confirm",
        json={"version": hit["version"]},
        headers=bearer(token),
    )
    assert answer.status_code == 200 and answer.json()["corrected"] is True
    line = http.get(f"/api/lines/{hit['line_id']}", headers=bearer(token)).json()
    assert line["history"][-1]["confirmed"] is True and line["history"][-1]["editor"] == "edna"


# --- errors -----------------------------------------------------------------------------------


def test_errors_have_one_shape(http: httpx.Client) -> None:
    auth = basic("vera")
    bad = error_of(http.get("/api/search", params={"q": '"dios'}, auth=auth), 400, "bad_query")
    assert bad["details"]["position"] == 0
    too_many = http.get("/api/search", params={"q": "dios", "limit": 101}, auth=auth)
    problems = error_of(too_many, 422, "invalid_request")["details"]["errors"]
    assert problems[0]["location"] == ["query", "limit"]
    too_long = http.get("/api/search", params={"q": "a" * 501}, auth=auth)
    error_of(too_long, 422, "invalid_request")
    error_of(http.get("/api/lines/999999", auth=auth), 404, "not_found")
    error_of(http.get("/api/collections/nowhere/pages", auth=auth), 404, "not_found")
    error_of(http.get("/api/nothing-here", auth=auth), 404, "not_found")
    broken = http.put("/api/lines/1", json={"text": "two\nlines", "version": 1}, auth=basic("edna"))
    error_of(broken, 422, "invalid_request")


# --- a server without accounts ----------------------------------------------------------------


def test_without_accounts_only_this_machine(open_home: Path, tmp_path: Path) -> None:
    refused = subprocess.run(
        serve_command(open_home, "--host", "0.0.0.0", "--port", str(free_port())),
        cwd=REPO,
        env=server_environment(),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert refused.returncode == 2
    assert "no accounts" in refused.stderr and "--no-auth" in refused.stderr

    with running_server(open_home, tmp_path / "open.log") as url:
        me = httpx.get(f"{url}/api/me").json()
        assert me["name"] is None and me["role"] == "editor" and me["accounts"] is False
        hit = httpx.get(f"{url}/api/search", params={"q": "amen"}).json()["hits"][0]
        answer = httpx.put(
            f"{url}/api/lines/{hit['line_id']}",
            json={"text": "amen", "version": hit["version"], "editor": "maria"},
        )
        assert answer.status_code == 200, answer.text
        line = httpx.get(f"{url}/api/lines/{hit['line_id']}").json()
        assert line["history"][-1]["editor"] == "maria"


def test_no_auth_on_another_host_warns_loudly(open_home: Path, tmp_path: Path) -> None:
    log = tmp_path / "no-auth.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            serve_command(open_home, "--host", "0.0.0.0", "--port", str(free_port()), "--no-auth"),
            cwd=REPO,
            env=server_environment(),
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        started = time.monotonic()
        while "WARNING" not in log.read_text(errors="replace"):
            assert process.poll() is None, log.read_text(errors="replace")
            assert time.monotonic() - started < START_TIMEOUT_S
            time.sleep(0.1)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    text = log.read_text(errors="replace")
    assert "0.0.0.0" in text and "anyone on the network" in text and "!!!!" in text
