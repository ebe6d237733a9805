"""`legajo train --from-db`: training on the lines people verified in a real SQLite database.

Rendered pages are indexed with the tiny real checkpoint (random readings; line places from
PAGE XML files without text), some lines are
corrected through `Repository.correct_line`, and a PAGE XML transcription is imported: only
the corrected and the imported lines are read back, cut from their page images, and trained
on (a few steps of a tiny model). A page whose image was deleted is skipped and named.
"""

from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

import pytest
from PIL import Image

from htr.training.config import LineModelShape, TrainConfig
from htr.training.trainer import train
from indexer.store.db import open_database
from indexer.store.repository import Repository
from indexer.transfer.training_lines import DatabaseLineSource, read_verified_lines
from legajo.cli.main import build_parser, main
from legajo.cli.training import database_readers
from tests.conftest import render_line

TINY = LineModelShape(
    image_height=16, hidden_size=32, encoder_layers=1, decoder_layers=1, heads=2, max_length=64
)
PAGES = {
    "ms1/p1.png": ("en el nonbre de dios", "sepan quantos esta carta", "amen"),
    "ms1/p2.png": ("sepan quantos", "amen"),
    "ms2/p3.png": ("en el nonbre de dios",),
}
CORRECTIONS = {  # (page, line position) -> the texts a person typed, in order (latest wins)
    ("ms1/p1.png", 0): ("en el nonbre", "en el nonbre de dios"),
    ("ms1/p1.png", 2): ("amen",),
    ("ms1/p2.png", 0): ("sepan quantos",),
    ("ms2/p3.png", 0): ("en el nonbre de dios",),
}
IMPORTED = ("carta de venta", "fecha en toledo")
"""The lines of ms3/imported.xml, imported with `legajo import`."""


def synthetic_page(texts: tuple[str, ...]) -> tuple[Image.Image, list[tuple[int, int, int, int]]]:
    """A white page with one rendered line per text, and the lines' boxes."""
    lines = [render_line(text) for text in texts]
    image = Image.new("RGB", (640, 40 + sum(line.height + 40 for line in lines)), "white")
    boxes = []
    y = 30
    for line in lines:
        image.paste(line, (30, y))
        boxes.append((30, y, 30 + line.width - 1, y + line.height - 1))
        y += line.height + 40
    return image, boxes


def page_xml(
    image: str,
    size: tuple[int, int],
    texts: tuple[str, ...],
    boxes: list[tuple[int, int, int, int]],
) -> str:
    """A PAGE XML file of a `synthetic_page`: the lines' boxes, and their texts where given."""
    lines = "".join(
        f'<TextLine id="l{i}"><Coords points="{x0},{y0} {x1},{y0} {x1},{y1} {x0},{y1}"/>'
        + (f"<TextEquiv><Unicode>{text}</Unicode></TextEquiv>" if text else "")
        + "</TextLine>"
        for i, (text, (x0, y0, x1, y1)) in enumerate(zip(texts, boxes, strict=True))
    )
    width, height = size
    return (
        '<PcGts xmlns="http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15">'
        "<Metadata><Creator>transkribus</Creator><Created>2024-01-01T00:00:00</Created>"
        "<LastChange>2024-01-01T00:00:00</LastChange></Metadata>"
        f'<Page imageFilename="{image}" imageWidth="{width}" imageHeight="{height}">'
        f'<TextRegion id="r1"><Coords points="0,0 {width - 1},0 {width - 1},{height - 1} '
        f'0,{height - 1}"/>{lines}</TextRegion></Page></PcGts>'
    )


def cli(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def archive(
    tmp_path: Path, tiny_checkpoint: Path, capsys: pytest.CaptureFixture[str]
) -> tuple[Path, str]:
    """Indexed pages (collection ``actas``) with the lines of `CORRECTIONS` corrected, an
    imported transcription, and a corrected page of another collection; (folder, db URL)."""
    folder = tmp_path / "archive"
    url = f"sqlite:///{tmp_path / 'legajo.db'}"
    for name, texts in {**PAGES, "other/p9.png": ("otra mano",)}.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        image, boxes = synthetic_page(texts)
        image.save(path)
        # The lines' places without their text: `legajo index` reads them (no segmentation).
        layout = page_xml(path.name, image.size, ("",) * len(texts), boxes)
        path.with_suffix(".xml").write_text(layout, encoding="utf-8")
    (folder / "ms3").mkdir()
    image, boxes = synthetic_page(IMPORTED)
    image.save(folder / "ms3" / "imported.png")
    (folder / "ms3" / "imported.xml").write_text(
        page_xml("imported.png", image.size, IMPORTED, boxes), encoding="utf-8"
    )

    model = ["--model", str(tiny_checkpoint), "--beams", "1", "--n-best", "1", "--db", url]
    model += ["--layout", "xml"]
    code, _, err = cli(
        capsys, "index", str(folder / "ms1"), str(folder / "ms2"), "--collection", "actas", *model
    )
    assert code == 0, err
    code, _, err = cli(capsys, "index", str(folder / "other"), "--collection", "otra", *model)
    assert code == 0, err
    code, _, err = cli(capsys, "import", str(folder / "ms3"), "--collection", "actas", "--db", url)
    assert code == 0, err

    repository = Repository(open_database(url))
    pages = {Path(p.source_path).relative_to(folder).as_posix(): p.id for p in repository.pages()}
    for (name, position), texts in CORRECTIONS.items():
        for text in texts:
            line = repository.lines(pages[name])[position]
            repository.correct_line(line.id, text, "archivist", line.version)
    other = repository.lines(pages["other/p9.png"])[0]
    repository.correct_line(other.id, "otra mano", "archivist", other.version)
    repository.database.close()
    return folder, url


def expected_texts(*pages: str) -> Counter[str]:
    """The verified texts of `pages` (latest corrections; imported lines for ms3)."""
    texts = Counter(t[-1] for (name, _), t in CORRECTIONS.items() if name in pages)
    if "ms3/imported.png" in pages:
        texts.update(IMPORTED)
    return texts


def test_verified_lines_are_the_corrected_and_imported_ones(
    archive: tuple[Path, str], caplog: pytest.LogCaptureFixture
) -> None:
    folder, url = archive
    repository = Repository(open_database(url))

    line_set = read_verified_lines(repository, "actas", height=16)

    everything = ("ms1/p1.png", "ms1/p2.png", "ms2/p3.png", "ms3/imported.png")
    assert Counter(s.text for s in line_set.lines) == expected_texts(*everything)
    assert {s.source for s in line_set.lines} == {
        str((folder / ms).resolve()) for ms in ("ms1", "ms2", "ms3")
    }
    assert all(s.image.shape[0] == 16 and s.image.shape[1] > 16 for s in line_set.lines)
    assert line_set.description == (
        f"4 corrected lines and 2 lines of imported transcriptions from database {url}, "
        "collection actas"
    )
    every_collection = read_verified_lines(repository, None, height=16)
    assert "otra mano" in {s.text for s in every_collection.lines}

    (folder / "ms1" / "p2.png").unlink()
    with caplog.at_level(logging.WARNING, logger="indexer.transfer.training_lines"):
        line_set = read_verified_lines(repository, "actas", height=16)

    assert Counter(s.text for s in line_set.lines) == expected_texts(
        "ms1/p1.png", "ms2/p3.png", "ms3/imported.png"
    )
    assert "(1 page skipped: image missing, unreadable or changed)" in line_set.description
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and str(folder / "ms1" / "p2.png") in warnings[0]
    repository.database.close()


def test_a_changed_image_is_skipped(
    archive: tuple[Path, str], caplog: pytest.LogCaptureFixture
) -> None:
    folder, url = archive
    synthetic_page(("otro texto",))[0].save(folder / "ms2" / "p3.png")
    repository = Repository(open_database(url))

    with caplog.at_level(logging.WARNING, logger="indexer.transfer.training_lines"):
        line_set = read_verified_lines(repository, "actas", height=16)

    assert {s.source for s in line_set.lines} == {
        str((folder / ms).resolve()) for ms in ("ms1", "ms3")
    }
    assert any(
        str(folder / "ms2" / "p3.png") in r.getMessage() and "changed" in r.getMessage()
        for r in caplog.records
    )
    repository.database.close()


def test_tiny_training_on_database_lines(archive: tuple[Path, str]) -> None:
    from transformers import AutoProcessor

    import htr.line_model  # noqa: F401  (registers the line encoder)
    from htr.recognizer import RecognizerSettings, load_recognizer

    folder, url = archive
    config = TrainConfig(
        out=folder.parent / "model",
        val=(folder / "ms2",),
        extra_lines=(DatabaseLineSource(Repository(open_database(url)), "actas"),),
        steps=4,
        batch_size=2,
        warmup_steps=1,
        augment=False,
        curriculum=0.0,
        shape=TINY,
        cache_dir=None,
        threads=1,
    )

    out = train(config)

    # The tokenizer of a new model is the alphabet of its training lines: the corrected and
    # imported texts outside the validation folder, none of the machine readings.
    trained = expected_texts("ms1/p1.png", "ms1/p2.png", "ms3/imported.png")
    vocabulary = AutoProcessor.from_pretrained(out).tokenizer.get_vocab()
    assert {t for t in vocabulary if len(t) == 1} == set("".join(trained)) | {" "}
    card = (out / "README.md").read_text(encoding="utf-8")
    assert (
        f"- 4 corrected lines and 2 lines of imported transcriptions from database {url}, "
        "collection actas: 5 trained on, 1 held out for validation." in card
    )
    assert "5 ground-truth lines (0 from PAGE/ALTO folders, 5 from other line sources)" in card
    assert "Validation CER (NFC, all 1 lines" in card
    recognizer = load_recognizer(out, RecognizerSettings(beams=1, n_best=1, device="cpu"))
    readings = recognizer.recognize([render_line("amen")])
    assert len(readings) == 1 and isinstance(readings[0].text, str)


def test_from_db_usage_and_empty_database(
    archive: tuple[Path, str], capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    _, url = archive
    out = ("--out", str(tmp_path / "model"), "--steps", "1")

    args = build_parser().parse_args(
        ["train", *out, "--from-db", "--db", url, "--collection", "actas"]
    )
    (reader,) = database_readers(args)
    assert repr(reader) == f"DatabaseLineSource({url!r}, collection='actas')"

    code, _, err = cli(capsys, "train", *out, "--collection", "actas", "--db", url)
    assert code == 2 and "--collection, --db: only with --from-db" in err
    code, _, err = cli(capsys, "train", *out, "--from-db", "--db", url, "--collection", "nope")
    assert code == 2 and "no collection named 'nope'" in err

    # Exit 2 for a database that is not there (none is created), exit 1 for one that holds
    # no line a person verified.
    empty = f"sqlite:///{tmp_path / 'empty.db'}"
    code, _, err = cli(capsys, "train", *out, "--from-db", "--db", empty)
    assert code == 2 and not (tmp_path / "empty.db").exists()
    open_database(empty).close()
    code, _, err = cli(capsys, "train", *out, "--from-db", "--db", empty)
    assert code == 1
    assert f"no verified lines in database {empty}, every collection" in err
