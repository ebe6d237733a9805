"""The adaptation loop through its command lines: import, index, adapt, models, reread.

A tiny real checkpoint (``$LEGAJO_MODEL``, so that the collection's "bundled" model is it)
reads rendered pages whose line places come from PAGE XML files; transcriptions of two other
pages are imported as verified text; ``legajo adapt`` fine-tunes for a few steps, registers
the model, ``legajo models`` lists and chooses it, and ``legajo reread`` reads the collection
again in place.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from htr.document import Line
from indexer.adaptation.adapt import hold_back
from indexer.settings import sqlite_url
from indexer.store.db import open_database
from indexer.store.records import VerifiedLine
from indexer.store.repository import Repository
from legajo.cli.main import main
from tests.integration.test_train_from_db import page_xml, synthetic_page

VERIFIED = {
    "p1.png": ("en el nonbre de dios", "sepan quantos"),
    "p2.png": ("esta carta vieren", "amen"),
}
OTHER = {"p3.png": ("en el nonbre", "de dios amen")}


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def write_pages(folder: Path, pages: dict[str, tuple[str, ...]], *, with_text: bool) -> None:
    folder.mkdir(parents=True)
    for name, texts in pages.items():
        image, boxes = synthetic_page(texts)
        image.save(folder / name)
        shown = texts if with_text else ("",) * len(texts)
        xml = page_xml(name, image.size, shown, boxes)
        (folder / name).with_suffix(".xml").write_text(xml, encoding="utf-8")


@pytest.fixture
def home(
    tmp_path: Path,
    tiny_checkpoint: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Path:
    monkeypatch.setenv("LEGAJO_MODEL", str(tiny_checkpoint))
    home = tmp_path / "home"
    write_pages(tmp_path / "verified", VERIFIED, with_text=True)
    write_pages(tmp_path / "other", OTHER, with_text=False)
    where = ("--collection", "c", "--home", str(home))
    code, _, err = cli(capsys, "import", str(tmp_path / "verified"), *where)
    assert code == 0, err
    fast = ("--beams", "1", "--n-best", "1", "--layout", "xml")
    code, _, err = cli(capsys, "index", str(tmp_path / "other"), *where, *fast)
    assert code == 0, err
    return home


def _counts(home: Path) -> tuple[int, int]:
    repository = Repository(open_database(sqlite_url(home / "legajo.db")))
    try:
        pages = repository.pages("c")
        return len(pages), sum(p.line_count for p in pages)
    finally:
        repository.database.close()


def test_adapt_registers_a_model_and_reread_uses_it_in_place(
    home: Path, tmp_path: Path, tiny_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ("--collection", "c", "--home", str(home))
    counts = _counts(home)

    code, out, err = cli(capsys, "adapt", *where, "--steps", "2", "--activate", "--json")

    assert code == 0, err
    adapted = json.loads(out)
    assert adapted["model"]["name"] == "c-1" and adapted["activated"] is True
    assert adapted["base"] == str(tiny_checkpoint)  # $LEGAJO_MODEL: the collection's model
    assert (adapted["train_pages"], adapted["held_back_pages"]) == (1, 1)
    assert adapted["train_lines"] + adapted["held_back_lines"] == 4
    assert adapted["cer_before"] >= 0 and adapted["cer_after"] >= 0
    model_dir = home / "models" / "c-1"
    assert (model_dir / "config.json").is_file() and (model_dir / "README.md").is_file()

    code, out, _ = cli(capsys, "models", "list", "--home", str(home), "--json")
    assert code == 0
    listed = {m["name"]: m for m in json.loads(out)}
    assert listed["c-1"]["reads"] == ["c"] and listed["legajo-default"]["reads"] == []
    assert listed["c-1"]["parent"] == adapted["model"]["parent"]
    assert (
        listed["c-1"]["training"]["held_back_pages"]
        == adapted["model"]["training"]["held_back_pages"]
    )
    code, out, _ = cli(capsys, "models", "show", "c-1", "--home", str(home))
    assert code == 0 and json.loads(out)["cer_after"] == adapted["cer_after"]

    code, out, err = cli(capsys, "reread", *where, "--beams", "1", "--n-best", "1", "--json")
    assert code == 0, err
    reread = json.loads(out)
    assert (reread["reread"], reread["imported"], reread["lines_read"]) == (1, 2, 2)
    assert reread["model"] == str(model_dir.resolve())
    assert _counts(home) == counts

    # Indexing the same page again stores no second copy, with either model.
    code, out, _ = cli(capsys, "index", str(tmp_path / "other"), *where, "--layout", "xml")
    assert code == 0 and "skipped 1 already indexed" in out
    code, out, _ = cli(
        capsys,
        "index",
        str(tmp_path / "other"),
        *where,
        "--layout",
        "xml",
        "--model",
        "legajo-default",
    )
    assert code == 0 and "read by another model" in out
    assert _counts(home) == counts

    code, out, _ = cli(capsys, "models", "activate", "legajo-default", *where)
    assert code == 0 and "legajo-default now reads collection c" in out
    code, out, _ = cli(capsys, "models", "list", "--home", str(home))
    assert code == 0 and "c-1" in out


def test_adapt_and_models_refuse_what_is_not_there(
    home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    where = ("--home", str(home))
    code, _, err = cli(capsys, "adapt", "--collection", "nope", "--steps", "1", *where)
    assert code == 2 and "nope" in err
    code, _, err = cli(capsys, "models", "show", "nope", *where)
    assert code == 2 and "no model named 'nope'" in err
    code, _, err = cli(capsys, "models", "activate", "nope", "--collection", "c", *where)
    assert code == 2 and "nope" in err
    code, _, err = cli(capsys, "reread", "--collection", "nope", *where)
    assert code == 2
    code, _, err = cli(capsys, "models", "list", "--home", str(home.parent / "missing"))
    assert code == 2 and "no legajo home folder" in err
    code, _, err = cli(capsys, "adapt", "--collection", "c", "--minutes", "-1", *where)
    assert code == 2 and "minutes" in err


def test_adapt_without_verified_lines_says_what_to_do(
    tmp_path: Path, tiny_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "pages"
    write_pages(folder, OTHER, with_text=False)
    where = ("--collection", "c", "--home", str(tmp_path / "home"))
    model = ("--model", str(tiny_checkpoint), "--beams", "1", "--n-best", "1", "--layout", "xml")
    assert cli(capsys, "index", str(folder), *where, *model)[0] == 0
    code, _, err = cli(capsys, "adapt", *where, "--steps", "1", "--from", str(tiny_checkpoint))
    assert code == 1
    assert "0 verified lines" in err and "legajo import" in err
    assert not (tmp_path / "home" / "models" / "c-1").exists()


def _verified(path: str, count: int) -> list[VerifiedLine]:
    return [
        VerifiedLine(path, 0, "0" * 64, (), Line(id=f"l{i}", bbox=(0, 0, 1, 1), polygon=()), True)
        for i in range(count)
    ]


def test_hold_back_keeps_whole_pages_apart() -> None:
    one = _verified("a.png", 12)
    held, trained, held_pages = hold_back(one, 0.2, seed=0)
    assert {line_id for _, _, line_id in held} == {"l4", "l9"} and held_pages == []
    assert trained == ["a.png [0]"]

    pages = [line for i in range(10) for line in _verified(f"p{i}.png", 3)]
    held, trained, held_pages = hold_back(pages, 0.2, seed=0)
    assert len(held_pages) == 2 and len(trained) == 8 and len(held) == 6
    assert {path for path, _, _ in held} == {p.split(" [")[0] for p in held_pages}
    assert hold_back(pages, 0.2, seed=0) == (held, trained, held_pages)

    two = _verified("a.png", 1) + _verified("b.png", 1)
    assert len(hold_back(two, 0.9, seed=0)[1]) == 1  # never every page
    with pytest.raises(Exception, match="at least two"):
        hold_back(_verified("a.png", 1), 0.2, seed=0)


def test_train_from_a_missing_database_creates_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "nowhere"
    args = ("train", "--from-db", "--home", str(missing), "--out", str(tmp_path / "m"))
    code, _, err = cli(capsys, *args, "--steps", "1")
    assert code == 2 and "no legajo home folder" in err
    assert not missing.exists()
