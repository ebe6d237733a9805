"""Page images named by PAGE and ALTO files stay inside the folders being imported.

Real files and the real `legajo import` (`legajo.cli.main.main`) on a temporary SQLite
database: an XML file that names an absolute path elsewhere, a ``../..`` that climbs out, or an
image that is a symlink leading out is refused and named (exit 3), and nothing of it is
stored; ``--images-root`` allows a folder outside. Pages already stored with an image outside
the folder their import allowed (written by an older legajo, or a file swapped for a symlink
since) are refused where stored images are opened: the workbench (`ui.images`) and
``train --from-db`` (`indexer.transfer.training_lines`). `legajo export` never opens images.

Every outside file here is a readable image of the page's size, so without the checks it
would be imported, shown and trained on.
"""

from __future__ import annotations

import logging
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from PIL import Image, ImageDraw

from htr import SOFTWARE
from htr.document import Line, Page, ProcessingStep
from htr.training.config import TrainingError
from indexer.errors import ImagePathRefusedError
from indexer.store.db import open_database
from indexer.store.repository import Repository
from indexer.transfer.image_paths import check_inside_roots, import_image_roots
from indexer.transfer.importer import (
    IMAGE_ROOT_SETTING,
    IMPORT_MODEL,
    IMPORT_STEP,
    find_image,
    stored_image_path,
)
from indexer.transfer.ingest import hash_file
from indexer.transfer.training_lines import read_verified_lines
from legajo.cli.main import main
from ui.images import PageImageUnavailableError, load_page_image

SIZE = (240, 80)
TEXT = "carta de venta"
PAGE_NS = "http://schema.primaresearch.org/PAGE/gts/pagecontent/2019-07-15"
ALTO_NS = "http://www.loc.gov/standards/alto/ns-v4#"


def page_xml(image_name: str) -> str:
    """A PAGE XML file with one line of text, naming `image_name` as its image."""
    width, height = SIZE
    return (
        f'<PcGts xmlns="{PAGE_NS}"><Metadata><Creator>transkribus</Creator>'
        "<Created>2024-01-01T00:00:00</Created><LastChange>2024-01-01T00:00:00</LastChange>"
        f'</Metadata><Page imageFilename="{image_name}" imageWidth="{width}" '
        f'imageHeight="{height}"><TextRegion id="r1"><Coords points="0,0 {width - 1},0 '
        f'{width - 1},{height - 1} 0,{height - 1}"/><TextLine id="l1">'
        '<Coords points="10,20 200,20 200,60 10,60"/>'
        f"<TextEquiv><Unicode>{TEXT}</Unicode></TextEquiv></TextLine></TextRegion></Page>"
        "</PcGts>"
    )


def alto_xml(image_name: str) -> str:
    """An ALTO v4 file with one line of text, naming `image_name` as its image."""
    width, height = SIZE
    words = "".join(
        f'<String CONTENT="{word}" HPOS="{10 + 60 * i}" VPOS="20" WIDTH="50" HEIGHT="40"/>'
        for i, word in enumerate(TEXT.split())
    )
    return (
        f'<alto xmlns="{ALTO_NS}"><Description><MeasurementUnit>pixel</MeasurementUnit>'
        f"<sourceImageInformation><fileName>{image_name}</fileName></sourceImageInformation>"
        f'</Description><Layout><Page ID="p1" PHYSICAL_IMG_NR="1" WIDTH="{width}" '
        f'HEIGHT="{height}"><PrintSpace><TextBlock ID="b1"><TextLine ID="l1" HPOS="10" '
        f'VPOS="20" WIDTH="190" HEIGHT="40">{words}</TextLine></TextBlock></PrintSpace>'
        "</Page></Layout></alto>"
    )


LAYOUTS = {"page": page_xml, "alto": alto_xml}


def write_image(path: Path, shade: int = 0) -> Path:
    """A page image of `SIZE` with a dark bar where the line is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    image = Image.new("RGB", SIZE, "white")
    ImageDraw.Draw(image).rectangle((12, 25, 190, 55), fill=(shade, shade, shade))
    image.save(path)
    return path


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def tmp_path(tmp_path: Path) -> Path:
    """The test's folder, resolved, so that the paths legajo resolves compare equal."""
    return tmp_path.resolve()


@pytest.fixture
def db_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'legajo.db'}"


@pytest.fixture
def secret(tmp_path: Path) -> Path:
    """A readable image outside every folder imported in these tests."""
    return write_image(tmp_path / "secret" / "secret.png", shade=90)


@pytest.fixture
def repository(db_url: str) -> Iterator[Repository]:
    repo = Repository(open_database(db_url))
    yield repo
    repo.database.close()


def assert_refused(code: int, out: str, err: str, xml: Path, image: Path) -> None:
    """The import failed for `xml`, naming the refused `image`, and stored nothing."""
    assert code == 3, err
    assert "imported 0 pages, skipped 0 unchanged, 1 failed, 1 files" in out
    (failed,) = [line for line in err.splitlines() if line.startswith("failed: ")]
    assert failed.startswith(f"failed: {xml}: refused image {image}")
    assert "outside the folders being imported" in failed and "--images-root" in failed


# --- legajo import --------------------------------------------------------------------------


@pytest.mark.parametrize("kind", ["page", "alto"])
def test_an_absolute_path_outside_is_refused_and_named(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    secret: Path,
    db_url: str,
    repository: Repository,
    kind: str,
) -> None:
    xml = tmp_path / "archive" / "folio.xml"
    xml.parent.mkdir()
    xml.write_text(LAYOUTS[kind](str(secret)), encoding="utf-8")
    # The place named decides: a same-named image beside the XML does not hide the refusal.
    write_image(xml.parent / "secret.png")

    code, out, err = run(capsys, "import", str(xml.parent), "--db", db_url)
    assert_refused(code, out, err, xml, secret)
    assert repository.pages() == []


@pytest.mark.parametrize("kind", ["page", "alto"])
def test_a_dotdot_escape_is_refused(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    secret: Path,
    db_url: str,
    repository: Repository,
    kind: str,
) -> None:
    # page/ lets images one folder up in (archive/), but not two folders up.
    xml = tmp_path / "archive" / "page" / "folio.xml"
    xml.parent.mkdir(parents=True)
    xml.write_text(LAYOUTS[kind]("../../secret/secret.png"), encoding="utf-8")

    code, out, err = run(capsys, "import", str(xml), "--db", db_url)
    named = xml.parent / "../../secret/secret.png"
    assert_refused(code, out, err, xml, named)
    assert f"(it leads to {secret})" in err
    assert repository.pages() == []


@pytest.mark.parametrize("kind", ["page", "alto"])
def test_a_symlink_leading_outside_is_refused(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    secret: Path,
    db_url: str,
    repository: Repository,
    kind: str,
) -> None:
    folder = tmp_path / "archive"
    folder.mkdir()
    link = folder / "folio.png"
    link.symlink_to(secret)
    xml = folder / "folio.xml"
    xml.write_text(LAYOUTS[kind]("folio.png"), encoding="utf-8")
    # Found by the XML file's name (no image named), through a symlink: refused as well.
    other_link = folder / "other.png"
    other_link.symlink_to(secret)
    other = folder / "other.xml"
    other.write_text(LAYOUTS[kind]("").replace("<fileName></fileName>", ""), encoding="utf-8")

    code, out, err = run(capsys, "import", str(folder), "--db", db_url)
    assert code == 3, err
    assert "imported 0 pages, skipped 0 unchanged, 2 failed, 2 files" in out
    failed = sorted(line for line in err.splitlines() if line.startswith("failed: "))
    assert failed[0].startswith(f"failed: {xml}: refused image {link} (it leads to {secret})")
    assert failed[1].startswith(f"failed: {other}: refused image {other_link} (it leads to")
    assert repository.pages() == []


@pytest.mark.parametrize("kind", ["page", "alto"])
def test_images_root_allows_a_folder_outside(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    secret: Path,
    db_url: str,
    repository: Repository,
    kind: str,
) -> None:
    xml = tmp_path / "archive" / "folio.xml"
    xml.parent.mkdir()
    xml.write_text(LAYOUTS[kind](str(secret)), encoding="utf-8")

    code, out, err = run(
        capsys, "import", str(xml.parent), "--images-root", str(secret.parent), "--db", db_url
    )
    assert code == 0, err
    assert "imported 1 pages, skipped 0 unchanged, 0 failed" in out
    (summary,) = repository.pages()
    assert summary.source_path == str(secret)
    (step,) = repository.load_page(summary.id).steps
    assert step.settings[IMAGE_ROOT_SETTING] == str(secret.parent)
    assert load_page_image(repository, summary.id).size == SIZE  # and the workbench shows it

    # Without the option, the same file is refused: never "unchanged".
    code, out, err = run(capsys, "import", str(xml.parent), "--db", db_url)
    assert_refused(code, out, err, xml, secret)


def test_images_inside_the_imported_folder_are_allowed(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db_url: str, repository: Repository
) -> None:
    archive = tmp_path / "archive"
    # ../images/ stays inside the folder given; page/ takes the image one folder up; a
    # symlink within the archive is fine.
    image = write_image(archive / "images" / "f1.png")
    (archive / "xml").mkdir()
    (archive / "xml" / "f1.xml").write_text(page_xml("../images/f1.png"), encoding="utf-8")
    write_image(archive / "f2.png", shade=20)
    (archive / "page").mkdir()
    (archive / "page" / "f2.xml").write_text(alto_xml("f2.png"), encoding="utf-8")
    linked = write_image(archive / "images" / "f3-scan.png", shade=40)
    (archive / "xml" / "f3.png").symlink_to(linked)
    (archive / "xml" / "f3.xml").write_text(alto_xml("f3.png"), encoding="utf-8")

    code, out, err = run(capsys, "import", str(archive), "--db", db_url)
    assert code == 0, err
    assert "imported 3 pages, skipped 0 unchanged, 0 failed" in out and "no image" not in err
    paths = sorted(p.source_path for p in repository.pages())
    assert paths == sorted([str(image), str(archive / "f2.png"), str(linked)])

    # Importing the page/ folder alone still finds the image one folder up.
    code, out, err = run(capsys, "import", str(archive / "page"), "--db", db_url)
    assert code == 0 and "skipped 1 unchanged" in out, err


def test_a_missing_image_outside_is_imported_but_never_opened(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db_url: str, repository: Repository
) -> None:
    # The named file does not exist (yet): the text is imported and the page listed, as for
    # any missing image; a file put there later is still refused.
    absent = tmp_path / "elsewhere" / "folio.png"
    xml = tmp_path / "archive" / "folio.xml"
    xml.parent.mkdir()
    xml.write_text(page_xml(str(absent)), encoding="utf-8")
    code, out, err = run(capsys, "import", str(xml.parent), "--db", db_url)
    assert code == 0, err
    assert "1 pages imported without their image" in out
    assert f"no image: {xml}: expected {absent}" in err
    (summary,) = repository.pages()
    assert repository.load_page(summary.id).steps[0].settings[IMAGE_ROOT_SETTING] == ""
    write_image(absent)
    with pytest.raises(PageImageUnavailableError, match="refused"):
        load_page_image(repository, summary.id)


def test_images_root_must_be_a_folder(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db_url: str
) -> None:
    write_image(tmp_path / "archive" / "folio.png")
    (tmp_path / "archive" / "folio.xml").write_text(page_xml("folio.png"), encoding="utf-8")
    for wrong in (tmp_path / "nowhere", tmp_path / "archive" / "folio.png"):
        code, out, err = run(
            capsys, "import", str(tmp_path / "archive"), "--images-root", str(wrong), "--db", db_url
        )
        assert code == 2 and f"--images-root is not a folder: {wrong}" in err and not out


# --- stored paths: the workbench and train --from-db -----------------------------------------


def store_legacy_import(repository: Repository, xml: Path, image: Path) -> int:
    """Stores a page as an older legajo imported it: the image path as the XML named it (here
    outside the XML's folder), and an import step without ``image_root``."""
    page = Page(
        image=str(image),
        frame=0,
        width=SIZE[0],
        height=SIZE[1],
        lines=(
            Line(
                id="l1",
                bbox=(10, 20, 200, 60),
                polygon=((10, 20), (200, 20), (200, 60), (10, 60)),
                text=TEXT,
                confidence=1.0,
            ),
        ),
        steps=(
            ProcessingStep(
                IMPORT_STEP,
                SOFTWARE,
                settings={
                    "imported_from": str(xml),
                    "format": "PAGE 2019-07-15",
                    "sha256": hash_file(xml).sha256,
                    "image": "found",
                },
            ),
        ),
    )
    collection_id = repository.ensure_collection("actas")
    repository.store_page(collection_id, None, hash_file(image), page, IMPORT_MODEL)
    (summary,) = repository.pages("actas")
    return summary.id


def test_a_stored_outside_image_is_refused_by_the_workbench_and_training(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    secret: Path,
    db_url: str,
    repository: Repository,
    caplog: pytest.LogCaptureFixture,
) -> None:
    xml = tmp_path / "archive" / "folio.xml"
    xml.parent.mkdir()
    xml.write_text(page_xml(str(secret)), encoding="utf-8")
    page_id = store_legacy_import(repository, xml, secret)

    with caplog.at_level(logging.WARNING), pytest.raises(PageImageUnavailableError) as refused:
        load_page_image(repository, page_id)
    # The browser is told that it was refused, not the folders of the server.
    assert "refused" in str(refused.value) and str(xml.parent) not in str(refused.value)
    assert f"refused image {secret}" in caplog.text  # the operator's log says what and where

    caplog.clear()
    with caplog.at_level(logging.WARNING), pytest.raises(TrainingError, match="could be cut"):
        read_verified_lines(repository, "actas")
    assert f"skipped the verified lines of {secret} [frame 0]" in caplog.text
    assert "refused image" in caplog.text

    # Imported again with the folder allowed, the page records its root and is used.
    code, out, err = run(
        capsys, "import", str(xml), "--collection", "actas", "--images-root", str(secret.parent),
        "--db", db_url,
    )  # fmt: skip
    assert code == 0 and "imported 1 pages (1 replaced)" in out, err
    assert [p.id for p in repository.pages("actas")] == [page_id]
    assert load_page_image(repository, page_id).size == SIZE
    lines = read_verified_lines(repository, "actas")
    assert [line.text for line in lines.lines] == [TEXT]


def test_an_older_import_inside_its_folder_stays_unchanged(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db_url: str, repository: Repository
) -> None:
    # Pages an older legajo imported from the XML file's own folder open as before, and
    # importing the same file again is still "unchanged" (their corrections are safe).
    image = write_image(tmp_path / "archive" / "folio.png")
    xml = tmp_path / "archive" / "folio.xml"
    xml.write_text(page_xml("folio.png"), encoding="utf-8")
    page_id = store_legacy_import(repository, xml, image)
    assert load_page_image(repository, page_id).size == SIZE
    code, out, err = run(capsys, "import", str(xml), "--collection", "actas", "--db", db_url)
    assert code == 0 and "imported 0 pages, skipped 1 unchanged" in out, err


def test_an_image_swapped_for_a_symlink_leading_outside_is_refused(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    db_url: str,
    repository: Repository,
) -> None:
    folder = tmp_path / "archive"
    image = write_image(folder / "folio.png")
    (folder / "folio.xml").write_text(alto_xml("folio.png"), encoding="utf-8")
    code, _, err = run(capsys, "import", str(folder), "--collection", "actas", "--db", db_url)
    assert code == 0, err
    (summary,) = repository.pages("actas")
    assert load_page_image(repository, summary.id).size == SIZE
    assert len(read_verified_lines(repository, "actas").lines) == 1

    # The same bytes moved out of the archive and linked back: same size, same SHA-256.
    moved = tmp_path / "outside" / "folio.png"
    moved.parent.mkdir()
    shutil.move(image, moved)
    image.symlink_to(moved)
    with pytest.raises(PageImageUnavailableError, match="refused"):
        load_page_image(repository, summary.id)
    with pytest.raises(TrainingError, match="could be cut"):
        read_verified_lines(repository, "actas")


def test_an_archive_moved_and_linked_back_keeps_its_images(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, db_url: str, repository: Repository
) -> None:
    # Roots are resolved when checked: /data -> /mnt/disk2/data keeps working.
    folder = tmp_path / "data" / "archive"
    write_image(folder / "folio.png")
    (folder / "folio.xml").write_text(page_xml("folio.png"), encoding="utf-8")
    assert run(capsys, "import", str(folder), "--db", db_url)[0] == 0
    (summary,) = repository.pages()
    shutil.move(tmp_path / "data", tmp_path / "disk2")
    (tmp_path / "data").symlink_to(tmp_path / "disk2")
    assert load_page_image(repository, summary.id).size == SIZE


# --- the rule itself ------------------------------------------------------------------------


def test_check_inside_roots(tmp_path: Path, secret: Path) -> None:
    root = tmp_path / "archive"
    inside = write_image(root / "a" / "b.png")
    assert check_inside_roots(root / "a" / ".." / "a" / "b.png", [root], named_by="x") == inside
    for outside in (secret, root / ".." / "secret" / "secret.png", Path("/etc/passwd")):
        with pytest.raises(ImagePathRefusedError, match=r"^x: refused image"):
            check_inside_roots(outside, [root], named_by="x")
    # A sibling folder whose name starts like the root's is outside it.
    sibling = write_image(tmp_path / "archive-2" / "c.png")
    with pytest.raises(ImagePathRefusedError):
        check_inside_roots(sibling, [root], named_by="x")
    loop = root / "loop.png"
    loop.symlink_to(loop)
    with pytest.raises(ImagePathRefusedError):
        check_inside_roots(loop, [root], named_by="x")
    with pytest.raises(ImagePathRefusedError, match="not inside"):
        check_inside_roots(inside, [], named_by="x")


def test_import_image_roots(tmp_path: Path) -> None:
    page = tmp_path / "a" / "page"
    page.mkdir(parents=True)
    xml = page / "f.xml"
    xml.write_text("<x/>", encoding="utf-8")
    other = tmp_path / "b"
    other.mkdir()
    assert import_image_roots([xml, page, other]) == (page, tmp_path / "a", other)
    assert import_image_roots([other], [tmp_path / "a"]) == (other, tmp_path / "a")


def test_find_image_defaults_to_the_files_own_folders(tmp_path: Path, secret: Path) -> None:
    xml = tmp_path / "archive" / "alto" / "f.xml"
    xml.parent.mkdir(parents=True)
    up = write_image(tmp_path / "archive" / "f.png")
    assert find_image(xml, "f.png") == (up, xml.parent / "f.png")
    for name in (str(secret), f"file://{secret}", "../../secret/secret.png"):
        with pytest.raises(ImagePathRefusedError):
            find_image(xml, name)
    assert find_image(xml, str(secret), [secret.parent])[0] == secret


def test_indexed_pages_keep_their_path_as_stored() -> None:
    recognition = ProcessingStep("recognition", SOFTWARE, model_id="m")
    assert stored_image_path("scans/f.png", [recognition]) == Path("scans/f.png")
    legacy_without_origin = ProcessingStep(IMPORT_STEP, SOFTWARE, settings={"image": "found"})
    with pytest.raises(ImagePathRefusedError):
        stored_image_path("/anywhere/f.png", [legacy_without_origin])
