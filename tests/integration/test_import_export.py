"""`legajo import` and `legajo export` end to end, on the real sample pages and a SQLite database.

Round trips (export, then import the export) keep the text in PAGE XML and ALTO; exports
validate against the official XSDs; a corrected line is every format's main reading; a
batch with broken files names them and imports the rest; files named after their source.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from lxml import etree
from PIL import Image

from htr.document import Alternative, Line, Page, ProcessingStep, Word
from htr.layout.files import read_layout_file
from indexer.store.db import open_database
from indexer.store.repository import ModelKey, PageSummary, Repository
from indexer.transfer.exporter import ExportFormat, export_names
from indexer.transfer.formats import ALTO_V4_NAMESPACE, PAGE_2019_NAMESPACE
from indexer.transfer.importer import IMPORT_MODEL, IMPORT_STEP
from indexer.transfer.ingest import hash_file
from legajo.cli.main import main
from tests.conftest import SAMPLES

XSD = Path(__file__).resolve().parents[1] / "data" / "xsd"
P = {"p": PAGE_2019_NAMESPACE}
A = {"a": ALTO_V4_NAMESPACE}
PAGE_XML = "foral_de_estremoz_1_1258_11"
ALTO_XML = "bnf-esp-285_linaje_ayala_v2"


@pytest.fixture(scope="module")
def schemas() -> dict[str, etree.XMLSchema]:
    return {
        "page": etree.XMLSchema(etree.parse(str(XSD / "pagecontent-2019-07-15.xsd"))),
        "alto": etree.XMLSchema(etree.parse(str(XSD / "alto-4-4.local.xsd"))),
    }


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    """The sample pages with their PAGE and ALTO transcriptions (writable copies)."""
    folder = tmp_path / "samples"
    shutil.copytree(SAMPLES, folder, ignore=shutil.ignore_patterns("*.md"))
    for path in folder.iterdir():
        path.chmod(0o644)
    return folder


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'legajo.db'}"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def export(
    capsys: pytest.CaptureFixture[str], fmt: str, out_dir: Path, *args: str
) -> tuple[int, str, str]:
    return run(capsys, "export", "--format", fmt, "--out", str(out_dir), *args)


def open_repository(url: str) -> Repository:
    return Repository(open_database(url))


def texts_by_image(repository: Repository, collection: str) -> dict[str, list[str]]:
    """The current text of every line, per page image file name."""
    return {
        Path(p.source_path).name: [line.line.text for line in repository.lines(p.id)]
        for p in repository.pages(collection)
    }


def validate(path: Path, schemas: dict[str, etree.XMLSchema]) -> etree._Element:
    root = etree.parse(str(path)).getroot()
    schema = schemas["page" if root.tag.startswith(f"{{{PAGE_2019_NAMESPACE}}}") else "alto"]
    if not schema.validate(root):
        raise AssertionError(f"{path.name}: {schema.error_log}")
    return root


# --- import ---------------------------------------------------------------------------------


def test_samples_import_as_verified_text_once(
    capsys: pytest.CaptureFixture[str], samples: Path, db_url: str
) -> None:
    code, out, err = run(capsys, "import", str(samples), "--db", db_url)
    assert code == 0, err
    assert "imported 2 pages, skipped 0 unchanged, 0 failed, 2 files" in out
    assert "no image" not in err  # found by the XML's stem: imageFilename names another file

    repository = open_repository(db_url)
    pages = repository.pages()
    assert sorted(Path(p.source_path).name for p in pages) == [
        f"{ALTO_XML}.jpg",
        f"{PAGE_XML}.jpg",
    ]
    for summary in pages:
        xml = samples / f"{Path(summary.source_path).stem}.xml"
        layout = read_layout_file(xml)
        assert summary.model == IMPORT_MODEL and summary.frame == 0
        page = repository.load_page(summary.id)
        assert [line.text for line in page.lines] == [line.text for line in layout.lines]
        assert [line.id for line in page.lines] == [line.id for line in layout.lines]
        assert all(line.confidence == 1.0 and not line.alternatives for line in page.lines)
        assert all(word.confidence == 1.0 for line in page.lines for word in line.words)
        (step,) = page.steps
        assert step.kind == IMPORT_STEP
        assert step.settings["imported_from"] == str(xml)
        assert step.settings["image"] == "found"
    ayala = next(p for p in pages if ALTO_XML in p.source_path)
    assert sum(len(line.words) for line in repository.load_page(ayala.id).lines) == 16
    counts = repository.table_counts()

    code, out, err = run(capsys, "import", str(samples), "--db", db_url)
    assert code == 0, err
    assert "imported 0 pages, skipped 2 unchanged, 0 failed" in out
    assert repository.table_counts()["pages"] == counts["pages"]
    assert repository.table_counts()["lines"] == counts["lines"]

    code, out, err = run(capsys, "stats", "--db", db_url)
    assert out.splitlines()[1].split() == ["default", "2", "61", "16", "1.000", "0"]
    repository.database.close()


def test_a_newer_transcription_replaces_the_older_import(
    capsys: pytest.CaptureFixture[str], samples: Path, db_url: str
) -> None:
    xml = samples / f"{PAGE_XML}.xml"
    assert run(capsys, "import", str(xml), "--db", db_url)[0] == 0
    repository = open_repository(db_url)
    (first,) = repository.pages()
    xml.write_text(
        xml.read_text(encoding="utf-8").replace("ffoy custume", "foy custume"), encoding="utf-8"
    )
    code, out, err = run(capsys, "import", str(xml), "--db", db_url)
    assert code == 0, err
    assert "imported 1 pages (1 replaced), skipped 0 unchanged" in out
    (second,) = repository.pages()
    assert second.id == first.id
    assert repository.lines(second.id)[0].line.text.startswith("foy custume")

    # A page corrected in legajo is never overwritten by an import: the file is reported.
    line = repository.lines(second.id)[0]
    repository.correct_line(line.id, "foy custume de meu padre", "ana", line.version)
    xml.write_text(xml.read_text(encoding="utf-8").replace("foy", "ffoy"), encoding="utf-8")
    code, out, err = run(capsys, "import", str(xml), "--db", db_url)
    assert code == 3
    assert f"failed: {xml}: not imported" in err and "corrected in legajo" in err
    assert repository.lines(second.id)[0].line.text == "foy custume de meu padre"
    repository.database.close()


def test_missing_image_is_imported_listed_and_kept_when_it_turns_up(
    capsys: pytest.CaptureFixture[str], samples: Path, tmp_path: Path, db_url: str
) -> None:
    folder = tmp_path / "export" / "page"
    folder.mkdir(parents=True)
    xml = shutil.copy(samples / f"{PAGE_XML}.xml", folder / "folio.xml")
    code, out, err = run(capsys, "import", str(folder), "--db", db_url)
    assert code == 0, err
    assert "1 pages imported without their image" in out
    expected = folder / "11.jpg"  # the file's imageFilename, next to it
    assert f"no image: {xml}: expected {expected}" in err
    repository = open_repository(db_url)
    (page,) = repository.pages()
    assert page.source_path == str(expected)
    assert repository.load_page(page.id).steps[0].settings["image"] == "missing"
    assert run(capsys, "import", str(folder), "--db", db_url)[1].startswith("imported 0 pages")

    # The image arrives, one folder up (the Transkribus layout): the same page gets it.
    shutil.copy(samples / f"{PAGE_XML}.jpg", folder.parent / "11.jpg")
    code, out, err = run(capsys, "import", str(folder), "--db", db_url)
    assert code == 0, err
    assert "imported 1 pages (1 replaced)" in out and "no image" not in err
    (again,) = repository.pages()
    assert again.id == page.id and again.source_path == str(folder.parent / "11.jpg")
    assert repository.load_page(again.id).steps[0].settings["image"] == "found"
    repository.database.close()


def test_broken_files_are_named_and_the_rest_imported(
    capsys: pytest.CaptureFixture[str], samples: Path, tmp_path: Path, db_url: str
) -> None:
    folder = tmp_path / "batch"
    (folder / "sub").mkdir(parents=True)
    for name in (PAGE_XML, ALTO_XML):
        for suffix in (".xml", ".jpg"):
            shutil.copy(samples / f"{name}{suffix}", folder / f"{name}{suffix}")
    page_xml = (samples / f"{PAGE_XML}.xml").read_bytes()
    (folder / "a_truncated.xml").write_bytes(page_xml[: len(page_xml) // 2])
    (folder / "b_notes.xml").write_text("not XML at all\n", encoding="utf-8")
    (folder / "sub" / "c_empty.xml").write_bytes(b"")
    root = etree.fromstring(page_xml)
    for equiv in root.findall(".//p:TextEquiv", namespaces=P):
        equiv.getparent().remove(equiv)
    (folder / "d_layout_only.xml").write_bytes(etree.tostring(root))
    mets = '<mets xmlns="http://www.loc.gov/METS/"><fileSec/></mets>'
    (folder / "mets.xml").write_text(mets, encoding="utf-8")

    code, out, err = run(capsys, "import", str(folder), "--db", db_url, "--collection", "c")
    assert code == 3
    assert "imported 2 pages, skipped 0 unchanged, 4 failed, 7 files, 1 other XML files" in out
    failed = [line for line in err.splitlines() if line.startswith("failed: ")]
    assert [Path(line.split(": ")[1]).name for line in failed] == [
        "a_truncated.xml",
        "b_notes.xml",
        "d_layout_only.xml",
        "c_empty.xml",
    ]
    assert "not well-formed" in failed[0] and "no text" in failed[2]
    assert "mets.xml" not in err
    repository = open_repository(db_url)
    assert len(repository.pages("c")) == 2
    assert repository.failures() == []  # import failures are reported, not stored

    # Named on the command line, a file of another kind is a failure, not ignored.
    code, out, err = run(capsys, "import", str(folder / "mets.xml"), "--db", db_url)
    assert code == 3 and "neither PAGE XML" in err
    repository.database.close()


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'db.sqlite'}"
    code, _, err = export(capsys, "page", tmp_path / "out", "--db", db)
    assert code == 2 and "no database at" in err  # export only reads: it creates nothing
    assert not (tmp_path / "db.sqlite").exists() and not (tmp_path / "out").exists()
    open_database(db).close()
    assert run(capsys, "import", str(tmp_path / "missing"), "--db", db)[0] == 2
    assert run(capsys, "import", str(tmp_path), "--db", "not a url")[0] == 2
    code, _, err = export(capsys, "page", tmp_path, "--db", db, "--collection", "nope")
    assert code == 2 and "nope" in err
    (tmp_path / "file").write_text("x", encoding="utf-8")
    code, _, err = export(capsys, "txt", tmp_path / "file", "--db", db)
    assert code == 2 and "not a folder" in err
    with pytest.raises(SystemExit) as exit_info:
        main(["export", "--format", "docx", "--out", str(tmp_path)])
    assert exit_info.value.code == 2
    code, _, err = run(capsys, "import", str(tmp_path), "--db", db)
    assert code == 2 and "no XML files in" in err  # nothing to import


# --- export ---------------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["page", "alto"])
def test_export_then_import_gives_the_same_text(
    capsys: pytest.CaptureFixture[str],
    samples: Path,
    db_url: str,
    fmt: str,
    schemas: dict[str, etree.XMLSchema],
) -> None:
    assert run(capsys, "import", str(samples), "--db", db_url)[0] == 0
    out_dir = samples / fmt  # where Transkribus puts them: import finds the images one up
    code, out, err = export(capsys, fmt, out_dir, "--collection", "default", "--db", db_url)
    assert code == 0, err
    assert out.startswith(f"exported 2 pages to {out_dir}")
    files = sorted(p.name for p in out_dir.iterdir())
    assert files == [f"{ALTO_XML}.{fmt}.xml", f"{PAGE_XML}.{fmt}.xml"]
    for name in files:
        validate(out_dir / name, schemas)

    code, out, err = run(capsys, "import", str(out_dir), "--db", db_url, "--collection", "back")
    assert code == 0, err
    assert "imported 2 pages" in out and "no image" not in err
    repository = open_repository(db_url)
    assert texts_by_image(repository, "back") == texts_by_image(repository, "default")
    original = {p.source_path: p for p in repository.pages("default")}
    for page in repository.pages("back"):  # the same images, so the same page keys
        assert (page.sha256, page.line_count) == (
            original[page.source_path].sha256,
            original[page.source_path].line_count,
        )
    repository.database.close()


def test_corrected_line_is_the_main_reading_in_every_format(
    capsys: pytest.CaptureFixture[str],
    samples: Path,
    tmp_path: Path,
    db_url: str,
    schemas: dict[str, etree.XMLSchema],
) -> None:
    assert run(capsys, "import", str(samples / f"{PAGE_XML}.xml"), "--db", db_url)[0] == 0
    repository = open_repository(db_url)
    (page,) = repository.pages()
    line = repository.lines(page.id)[1]
    machine = line.line.text
    fixed = "corrected text of the second line"
    repository.correct_line(line.id, fixed, "ana.garcia", line.version)

    outputs = {}
    for fmt in ("page", "alto", "txt", "json"):
        out_dir = tmp_path / fmt
        code, _, err = export(capsys, fmt, out_dir, "--db", db_url, "--collection", "default")
        assert code == 0, err
        (outputs[fmt],) = out_dir.iterdir()

    root = validate(outputs["page"], schemas)
    element = root.find(f".//p:TextLine[@id='{line.line.id}']", namespaces=P)
    equivs = element.findall("p:TextEquiv", namespaces=P)
    assert [(e.get("index"), e.findtext("p:Unicode", namespaces=P)) for e in equivs] == [
        ("1", fixed),
        ("2", machine),
    ]
    assert "ana.garcia" in equivs[0].get("comments")
    steps = root.findall("p:Metadata/p:MetadataItem", namespaces=P)
    assert [s.get("name") for s in steps] == [IMPORT_STEP, "manual-correction"]

    root = validate(outputs["alto"], schemas)
    element = root.find(f".//a:TextLine[@ID='{line.line.id}']", namespaces=A)
    strings = element.findall("a:String", namespaces=A)
    assert " ".join(s.get("CONTENT") for s in strings) == fixed
    assert element.get("CS") == "true"
    assert all(s.get("WC") is None for s in strings)

    assert outputs["txt"].read_text(encoding="utf-8").splitlines()[1] == fixed
    data = json.loads(outputs["json"].read_text(encoding="utf-8"))
    assert data["corrections"][line.line.id]["text"] == fixed
    assert data["lines"][1]["text"] == machine

    for fmt in ("page", "alto"):
        collection = f"back-{fmt}"
        code, _, err = run(
            capsys, "import", str(outputs[fmt]), "--db", db_url, "--collection", collection
        )
        assert code == 0, err
        (back,) = repository.pages(collection)
        assert repository.lines(back.id)[1].line.text == fixed
    repository.database.close()


def _machine_page(source: str, frame: int, text: str) -> Page:
    words = tuple(
        Word(word, 0.25 + 0.5 * (i % 2), (20 + 60 * i, 20, 70 + 60 * i, 50))
        for i, word in enumerate(text.split())
    )
    line = Line(
        id="l1",
        bbox=(20, 20, 400, 50),
        polygon=((20, 20), (399, 20), (399, 49), (20, 49)),
        baseline=((20, 45), (399, 45)),
        text=text,
        confidence=0.5,
        words=words,
        alternatives=(Alternative(text, 0.75), Alternative(text.upper(), 0.25)),
        zone="MainZone",
    )
    step = ProcessingStep("recognition", "legajo test", "some/model", "abc", {"beams": 4})
    return Page(source, frame, 600, 100, (line,), (step,))


def test_multi_page_and_same_named_files_get_their_own_names_and_frames(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    db_url: str,
    schemas: dict[str, etree.XMLSchema],
) -> None:
    archive = tmp_path / "archive"
    (archive / "leg1").mkdir(parents=True)
    (archive / "leg2").mkdir()
    frames = [Image.new("RGB", (600, 100), "white") for _ in range(2)]
    frames[0].save(archive / "leg1" / "scan.tif", save_all=True, append_images=frames[1:])
    for folder in ("leg1", "leg2"):
        colour = "white" if folder == "leg1" else "grey"  # two files, two contents
        Image.new("RGB", (600, 100), colour).save(archive / folder / "folio.png")
    repository = open_repository(db_url)
    collection = repository.ensure_collection("c")
    model = ModelKey("some/model", "abc")
    stored = [
        (archive / "leg1" / "scan.tif", 0, "en el nonbre de dios"),
        (archive / "leg1" / "scan.tif", 1, "sepan quantos esta carta"),
        (archive / "leg1" / "folio.png", 0, "amen dixo el rey"),
        (archive / "leg2" / "folio.png", 0, "otra carta"),
    ]
    for path, frame, text in stored:
        source = hash_file(path)
        repository.store_page(
            collection, None, source, _machine_page(str(path), frame, text), model
        )

    code, out, err = export(capsys, "alto", tmp_path / "out", "--db", db_url)
    assert code == 0, err
    written = sorted(str(p.relative_to(tmp_path / "out")) for p in (tmp_path / "out").rglob("*"))
    assert written == [
        "c",
        "c/leg1",
        "c/leg1/folio.alto.xml",
        "c/leg1/scan_p001.alto.xml",
        "c/leg1/scan_p002.alto.xml",
        "c/leg2",
        "c/leg2/folio.alto.xml",
    ]
    root = validate(tmp_path / "out" / "c" / "leg1" / "scan_p002.alto.xml", schemas)
    (page_element,) = root.findall(".//a:Page", namespaces=A)
    assert page_element.get("PHYSICAL_IMG_NR") == "2"
    strings = root.findall(".//a:String", namespaces=A)
    assert [s.get("WC") for s in strings] == ["0.25", "0.75", "0.25", "0.75"]
    alternatives = root.findall(".//a:ALTERNATIVE", namespaces=A)
    assert [a.text for a in alternatives] == ["SEPAN", "QUANTOS", "ESTA", "CARTA"]
    assert root.findtext(".//a:processingStepDescription", namespaces=A) == "recognition"

    code, out, err = export(capsys, "page", tmp_path / "page", "--db", db_url, "--collection", "c")
    assert code == 0, err
    second = tmp_path / "page" / "leg1" / "scan_p002.page.xml"
    root = validate(second, schemas)
    assert root.find("p:Page", namespaces=P).get("custom") == "frame {index:1;}"
    assert [e.get("index") for e in root.findall(".//p:TextLine/p:TextEquiv", namespaces=P)] == [
        "1",
        "2",
    ]

    # Each frame comes back as its own page of the TIFF (found next to the export's folder).
    for name in ("scan_p001.page.xml", "scan_p002.page.xml"):
        shutil.copy(tmp_path / "page" / "leg1" / name, archive / "leg1" / name)
    code, out, err = run(
        capsys, "import", str(archive / "leg1"), "--db", db_url, "--collection", "back"
    )
    assert code == 0, err
    assert "imported 2 pages" in out and "no image" not in err
    back = repository.pages("back")
    assert [(Path(p.source_path).name, p.frame) for p in back] == [("scan.tif", 0), ("scan.tif", 1)]
    assert [repository.lines(p.id)[0].line.text for p in back] == [t for _, _, t in stored[:2]]
    repository.database.close()


def test_names_that_still_clash_are_numbered() -> None:
    def summary(page_id: int, path: str, frame: int = 0, model: str = "m") -> PageSummary:
        return PageSummary(page_id, "c", path, frame, "0" * 64, "indexed", None, ModelKey(model), 1)

    pages = [
        summary(1, "/a/Folio.jpg"),
        summary(2, "/a/folio.jpg"),
        summary(3, "/a/folio.jpg", model="other"),
        summary(4, "/a/folio.png"),
    ]
    names, renamed = export_names(pages, ExportFormat.TEXT, by_collection=False)
    assert {k: str(v) for k, v in names.items()} == {
        1: "Folio.txt",
        2: "folio_2.txt",
        3: "folio_3.txt",
        4: "folio_4.txt",
    }
    assert [r.source_path for r in renamed] == ["/a/folio.jpg", "/a/folio.jpg", "/a/folio.png"]
