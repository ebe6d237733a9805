"""Golden tests of the `legajo` command line: every `--help` text and the exit codes of
usage and input errors, recorded before the code moved into `legajo/cli` and unchanged since.

Run with ``LEGAJO_UPDATE_GOLDEN=1`` to rewrite ``tests/data/cli_golden.json`` after a change
to the command line that is meant.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image

from legajo.cli.main import build_parser, main

GOLDEN = Path(__file__).resolve().parent.parent / "data" / "cli_golden.json"
UPDATE = os.environ.get("LEGAJO_UPDATE_GOLDEN") == "1"

# (name, argv) whose exit code and stderr are recorded; <TMP> is an empty temporary folder.
ERROR_CASES: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("no command", ()),
    ("unknown command", ("nonexistent",)),
    ("index missing path", ("index", "<TMP>/missing", "--home", "<TMP>/home")),
    ("import missing path", ("import", "<TMP>/missing", "--home", "<TMP>/home")),
    ("stats empty home", ("stats", "--home", "<TMP>/home")),
    ("errors unknown collection", ("errors", "--collection", "nope", "--home", "<TMP>/home")),
    (
        "export unknown collection",
        (
            "export",
            "--format",
            "txt",
            "--out",
            "<TMP>/out",
            "--collection",
            "nope",
            "--home",
            "<TMP>/home",
        ),
    ),
    ("search bad url", ("search", "rey", "--db", "nota://url")),
    ("search empty query", ("search", "   ", "--home", "<TMP>/home")),
    ("search bad mode", ("search", "rey", "--mode", "nope")),
    ("search limit zero", ("search", "rey", "--limit", "0")),
    ("transcribe missing model", ("transcribe", "<TMP>/missing.jpg", "--model", "<TMP>/nomodel")),
    ("train zero steps", ("train", "--out", "<TMP>/run", "--steps", "0")),
    ("check empty home", ("check", "--home", "<TMP>/home")),
    ("ui bad port", ("ui", "--port", "x")),
    (
        "errors unknown collection in a home",
        ("errors", "--collection", "nope", "--home", "<TMP>/made"),
    ),
    (
        "export unknown collection in a home",
        (
            "export",
            "--format",
            "txt",
            "--out",
            "<TMP>/out",
            "--collection",
            "nope",
            "--home",
            "<TMP>/made",
        ),
    ),
    ("check fresh home", ("check", "--home", "<TMP>/made")),
    (
        "transcribe page, missing model",
        ("transcribe", "<TMP>/page.png", "--model", "<TMP>/nomodel"),
    ),
)
"""<TMP>/made is a home with an empty database; <TMP>/page.png a blank page image."""


def _commands() -> list[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "==SUPPRESS==" and a.choices)
    return sorted(action.choices)


def _help(argv: Sequence[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit) as stop:
        main([*argv, "--help"])
    assert stop.value.code == 0
    return capsys.readouterr().out


def _run(argv: Sequence[str], tmp: Path, capsys: pytest.CaptureFixture[str]) -> dict[str, object]:
    args = [a.replace("<TMP>", str(tmp)) for a in argv]
    try:
        code = main(args)
    except SystemExit as stop:  # argparse's usage errors
        code = int(stop.code or 0)
    captured = capsys.readouterr()
    return {"code": code, "stderr": captured.err.replace(str(tmp), "<TMP>").splitlines()}


@pytest.fixture
def golden() -> dict[str, object]:
    if UPDATE:
        return {}
    return json.loads(GOLDEN.read_text(encoding="utf-8"))


@pytest.fixture(autouse=True)
def _fixed_width(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    for name in ("LEGAJO_HOME", "LEGAJO_DB", "LEGAJO_MODEL"):
        monkeypatch.delenv(name, raising=False)


def test_every_help_text_is_unchanged(
    golden: dict[str, object], capsys: pytest.CaptureFixture[str]
) -> None:
    texts = {"legajo": _help((), capsys)}
    for command in _commands():
        texts[f"legajo {command}"] = _help((command,), capsys)
    if UPDATE:
        _update("help", texts)
        return
    assert sorted(texts) == sorted(golden["help"])  # type: ignore[arg-type]
    for name, text in texts.items():
        assert text == golden["help"][name], name  # type: ignore[index]


def test_exit_codes_and_messages_are_unchanged(
    golden: dict[str, object],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.chdir(tmp_path)
    _make_home(tmp_path / "made")
    Image.new("RGB", (40, 20), "white").save(tmp_path / "page.png")
    outcomes = {name: _run(argv, tmp_path, capsys) for name, argv in ERROR_CASES}
    if UPDATE:
        _update("errors", outcomes)
        return
    assert outcomes == golden["errors"]


def _make_home(home: Path) -> None:
    from indexer.store.db import open_database

    home.mkdir()
    open_database(f"sqlite:///{home / 'legajo.db'}").close()


def _update(key: str, value: object) -> None:
    data = json.loads(GOLDEN.read_text(encoding="utf-8")) if GOLDEN.exists() else {}
    data[key] = value
    GOLDEN.write_text(json.dumps(data, ensure_ascii=False, indent=1) + "\n", encoding="utf-8")
