"""`legajo ui --host`: beyond this computer only with accounts, or with a loud --no-auth."""

from __future__ import annotations

from pathlib import Path

import pytest

from indexer.accounts import AccountStore
from indexer.settings import sqlite_url
from indexer.store.db import open_database
from legajo.cli import ui as ui_command
from legajo.cli.main import build_parser, run_command_line


@pytest.fixture
def started(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """The Streamlit command lines `legajo ui` would have run (nothing is started)."""
    commands: list[list[str]] = []

    def run(command: list[str], environment: object) -> int:
        commands.append(command)
        return 0

    monkeypatch.setattr(ui_command, "run_streamlit", run)
    return commands


def ui(home: Path, *options: str) -> int:
    return run_command_line(build_parser(), ["ui", "--home", str(home), *options])


def test_without_accounts_only_loopback_unless_no_auth(
    tmp_path: Path, started: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    assert ui(home, "--host", "0.0.0.0") == 2
    err = capsys.readouterr().err
    assert err.startswith("legajo: error: refusing to listen on 0.0.0.0") and "--no-auth" in err
    assert started == []

    assert ui(home) == 0
    assert ui(home, "--host", "localhost") == 0
    assert "WARNING" not in capsys.readouterr().err

    assert ui(home, "--host", "0.0.0.0", "--no-auth") == 0
    err = capsys.readouterr().err
    assert "WARNING" in err and "anyone on the network can edit" in err
    hosts = [command[command.index("--server.address") + 1] for command in started]
    assert hosts == ["127.0.0.1", "localhost", "0.0.0.0"]


def test_with_accounts_any_host(
    tmp_path: Path, started: list[list[str]], capsys: pytest.CaptureFixture[str]
) -> None:
    home = tmp_path / "home"
    database = open_database(sqlite_url(home / "legajo.db"))
    AccountStore(database).add("ana", "una clave larga", "admin")
    database.close()
    assert ui(home, "--host", "0.0.0.0") == 0
    assert ui(home, "--host", "0.0.0.0", "--read-only") == 0
    assert "WARNING" not in capsys.readouterr().err
    assert ui(home, "--host", "0.0.0.0", "--no-auth") == 0
    assert "changes nothing" in capsys.readouterr().err
    assert len(started) == 3
