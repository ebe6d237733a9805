"""`legajo users` through `python -m legajo`, with passwords piped on stdin as scripts do."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from indexer.accounts import ROLES, AccountStore
from indexer.settings import sqlite_url
from indexer.store.db import open_database
from legajo.cli.users import ROLE_CHOICES

REPO = Path(__file__).resolve().parents[2]


def legajo(home: Path, *args: str, stdin: str = "") -> subprocess.CompletedProcess[str]:
    environment = {**os.environ, "OMP_NUM_THREADS": "1"}
    environment.pop("LEGAJO_DB", None)
    return subprocess.run(
        [sys.executable, "-m", "legajo", "users", *args, "--home", str(home)],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        env=environment,
        timeout=120,
        check=False,
    )


def accounts(home: Path) -> AccountStore:
    return AccountStore(open_database(sqlite_url(home / "legajo.db")))


def test_role_choices_are_the_roles() -> None:
    assert tuple(role.value for role in ROLES) == ROLE_CHOICES


def test_the_account_life_cycle(tmp_path: Path) -> None:
    home = tmp_path / "home"
    added = legajo(home, "add", "ana", "--role", "editor", stdin="  secret one \n")
    assert added.returncode == 0, added.stderr
    assert "added account ana (editor)" in added.stdout
    store = accounts(home)
    assert store.authenticate("ana", "  secret one ") is not None  # only the newline is cut

    listed = legajo(home, "list", "--json")
    assert listed.returncode == 0, listed.stderr
    [entry] = json.loads(listed.stdout)
    assert (entry["name"], entry["role"], entry["tokens"]) == ("ana", "editor", 0)

    token = legajo(home, "token", "ana", "--label", "script")
    assert token.returncode == 0, token.stderr
    assert token.stdout.startswith("lgj_") and token.stdout.count("\n") == 1
    assert "not shown again" in token.stderr
    assert store.authenticate_token(token.stdout.strip()) == store.get("ana")
    table = legajo(home, "list")
    assert table.returncode == 0 and "ana" in table.stdout and "editor" in table.stdout

    assert legajo(home, "passwd", "ana", stdin="secret two\n").returncode == 0
    assert store.authenticate("ana", "secret two") is not None
    assert store.authenticate("ana", "  secret one ") is None

    role = legajo(home, "role", "ana", "admin")
    assert role.returncode == 0 and "ana is now admin" in role.stdout

    revoked = legajo(home, "revoke", "ana")
    assert revoked.returncode == 0 and "revoked 1 API token of ana" in revoked.stdout
    assert store.authenticate_token(token.stdout.strip()) is None

    removed = legajo(home, "remove", "ana")
    assert removed.returncode == 0 and store.get("ana") is None
    assert "no accounts" in legajo(home, "list").stdout


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("add", "ana", "--role", "editor"), "short\n", "at least 8 characters"),
        (("add", "ana", "--role", "editor"), "", "no password on stdin"),
        (("add", "a b", "--role", "editor"), "long enough\n", "invalid account name"),
        (("add", "bea", "--role", "editor"), "long enough\n", "an account named 'bea' exists"),
        (("passwd", "nadie"), "long enough\n", "no account named 'nadie'"),
        (("role", "nadie", "viewer"), "", "no account named 'nadie'"),
        (("remove", "nadie"), "", "no account named 'nadie'"),
        (("token", "nadie"), "", "no account named 'nadie'"),
        (("revoke", "nadie"), "", "no account named 'nadie'"),
    ],
)
def test_mistakes_are_usage_errors(
    tmp_path: Path, args: tuple[str, ...], stdin: str, message: str
) -> None:
    home = tmp_path / "home"
    accounts(home).add("bea", "long enough", "viewer")
    done = legajo(home, *args, stdin=stdin)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("legajo: error: ") and message in done.stderr
    assert done.stdout == ""
    assert [a.name for a in accounts(home).accounts()] == ["bea"]


def test_an_unknown_role_is_refused_by_the_parser(tmp_path: Path) -> None:
    done = legajo(tmp_path / "home", "add", "ana", "--role", "owner", stdin="long enough\n")
    assert done.returncode == 2 and "invalid choice: 'owner'" in done.stderr


def test_reading_actions_refuse_a_missing_home(tmp_path: Path) -> None:
    done = legajo(tmp_path / "nowhere", "list")
    assert done.returncode == 2 and "no legajo home folder" in done.stderr
    assert not (tmp_path / "nowhere").exists()
