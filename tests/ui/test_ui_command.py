"""`legajo ui`: finds the app without Streamlit, passes the settings, checks the database."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from indexer.errors import DatabaseOpenError
from indexer.settings import resolve_storage
from legajo.cli.main import build_parser, run_command_line
from legajo.cli.ui import check_database, find_app_script, streamlit_command
from tests.ui.archive import Archive
from ui.config import LANGUAGE_VARIABLE, READ_ONLY_VARIABLE, ui_environment

REPO = Path(__file__).resolve().parents[2]


def test_the_app_script_is_found_without_importing_streamlit() -> None:
    code = (
        "import sys; from legajo.cli.main import build_parser; from legajo.cli.ui import "
        "find_app_script; build_parser(); print(find_app_script()); "
        "print([m for m in sys.modules if m.split('.')[0] == 'streamlit'])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout.splitlines()
    assert Path(out[0]) == REPO / "ui" / "streamlit_app.py" == find_app_script()
    assert out[1] == "[]"


def test_settings_travel_in_the_environment(tmp_path: Path) -> None:
    storage = resolve_storage(tmp_path, "sqlite:///x.db", environ={})
    env = ui_environment(storage, read_only=True, language="es", base={"PATH": "/bin"})
    assert env == {
        "PATH": "/bin",
        "LEGAJO_HOME": str(tmp_path),
        "LEGAJO_DB": "sqlite:///x.db",
        READ_ONLY_VARIABLE: "1",
        LANGUAGE_VARIABLE: "es",
    }
    command = streamlit_command(Path("app.py"), host="127.0.0.1", port=8600, browser=False)
    assert command[:5] == [sys.executable, "-m", "streamlit", "run", "app.py"]
    options = dict(zip(command[5::2], command[6::2], strict=True))
    assert options["--server.address"] == "127.0.0.1"
    assert options["--server.port"] == "8600"
    assert options["--server.headless"] == "true"
    assert options["--browser.gatherUsageStats"] == "false"


def test_options_parse() -> None:
    parser = build_parser()
    args = parser.parse_args(["ui", "--home", "h", "--port", "9000", "--read-only"])
    assert (args.home, args.port, args.read_only, args.language, args.host) == (
        Path("h"),
        9000,
        True,
        "en",
        "127.0.0.1",
    )
    with pytest.raises(SystemExit):
        parser.parse_args(["ui", "--language", "fr"])


def test_read_only_needs_an_existing_current_database(tmp_path: Path, archive: Archive) -> None:
    missing = resolve_storage(tmp_path / "nothing", None, environ={})
    with pytest.raises(DatabaseOpenError, match="no database"):
        check_database(missing, read_only=True)
    assert not (tmp_path / "nothing" / "legajo.db").exists()
    check_database(archive.storage, read_only=True)
    check_database(missing, read_only=False)  # a writable start creates it
    assert (tmp_path / "nothing" / "legajo.db").is_file()


def test_a_bad_database_stops_the_command(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    parser = build_parser()
    code = run_command_line(parser, ["ui", "--home", str(tmp_path), "--read-only"])
    assert code == 2  # a database that does not exist, given to a command that only reads
    assert "no database" in capsys.readouterr().err
