"""`legajo index`, `stats` and `errors` end to end, on SQLite and on PostgreSQL.

Real sample pages (data/samples) and a folder mixing good pages (PNG, a multi-page TIFF, a PDF)
with bad files: exact counts of pages and lines, the bad files named, reruns and --force.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest
from PIL import Image

from htr.document import Alternative, ProcessingStep
from htr.errors import RecognitionError
from htr.images import PageImage, load_page_images
from htr.pipeline import PipelineSettings, find_lines
from htr.recognizer import LineReading
from indexer.settings import sqlite_url
from indexer.store.db import open_database
from indexer.store.repository import Repository
from indexer.transfer.ingest import EventKind, IndexSettings, OnError, ProgressEvent, index_paths
from legajo.cli.main import main
from tests.conftest import MEMORISED_TEXTS, SAMPLES, render_line
from tests.integration import test_postgres as backends

# The database backends (SQLite, a throwaway PostgreSQL server), as fixtures of this module.
postgres_server = backends.postgres_server
postgres_url = backends.postgres_url
database_url = backends.database_url

FAST = ("--beams", "1", "--n-best", "1")
BAD_FILES = ("b_empty.jpg", "c_truncated.jpg", "d_notes.jpg")


def synthetic_page(texts: Sequence[str], width: int = 640) -> Image.Image:
    """A white page with one rendered line per text, well apart."""
    lines = [render_line(text) for text in texts]
    image = Image.new("RGB", (width, 40 + sum(line.height + 40 for line in lines)), "white")
    y = 30
    for line in lines:
        image.paste(line, (30, y))
        y += line.height + 40
    return image


def expected_lines(path: Path) -> list[int]:
    """Lines per frame that the pipeline finds (layout file or own segmentation)."""
    return [len(find_lines(page, PipelineSettings())[0]) for page in load_page_images(path)]


def open_repository(url: str) -> Repository:
    return Repository(open_database(url))


def index(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["index", *args])
    out, err = capsys.readouterr()
    return code, out, err


def check_consistent(repository: Repository, expected: dict[str, list[int]]) -> None:
    """Every expected frame is indexed once, with exactly its lines; nothing else is."""
    pages = [p for p in repository.pages() if p.status == "indexed"]
    found = sorted((Path(p.source_path).name, p.frame, p.line_count) for p in pages)
    wanted = sorted(
        (name, frame, count)
        for name, counts in expected.items()
        for frame, count in enumerate(counts)
    )
    assert found == wanted
    counts = repository.table_counts()
    assert counts["lines"] == sum(sum(c) for c in expected.values())
    words = sum(len(line.line.words) for p in pages for line in repository.lines(p.id))
    assert counts["words"] == words


@pytest.fixture
def samples(tmp_path: Path) -> Path:
    folder = tmp_path / "samples"
    shutil.copytree(SAMPLES, folder, ignore=shutil.ignore_patterns("*.md"))
    return folder


@pytest.fixture
def mixed(tmp_path: Path) -> Path:
    """Good pages (PNG, 3-frame TIFF, 2-page PDF) mixed with three bad files."""
    folder = tmp_path / "mixed"
    (folder / "sub").mkdir(parents=True)
    synthetic_page(MEMORISED_TEXTS[:2]).save(folder / "a_page.png")
    (folder / "b_empty.jpg").write_bytes(b"")
    synthetic_page(MEMORISED_TEXTS).save(folder / "full.jpg", quality=90)
    data = (folder / "full.jpg").read_bytes()
    (folder / "full.jpg").unlink()
    (folder / "c_truncated.jpg").write_bytes(data[: len(data) // 2])
    (folder / "d_notes.jpg").write_text("not an image\n", encoding="utf-8")
    frames = [synthetic_page(MEMORISED_TEXTS[i:]) for i in range(3)]
    frames[0].save(folder / "sub" / "e_multi.tif", save_all=True, append_images=frames[1:])
    pdf_pages = [synthetic_page(["amen"]), synthetic_page(MEMORISED_TEXTS[1:])]
    pdf_pages[0].save(
        folder / "sub" / "f_doc.pdf", save_all=True, append_images=pdf_pages[1:], resolution=300
    )
    (folder / "readme.txt").write_text("ignored: not a page suffix", encoding="utf-8")
    return folder


@pytest.mark.slow
def test_sample_pages_index_rerun_and_force(
    capsys: pytest.CaptureFixture[str], tiny_checkpoint: Path, samples: Path, database_url: str
) -> None:
    model = ("--model", str(tiny_checkpoint), *FAST)
    expected = {p.name: expected_lines(p) for p in sorted(samples.glob("*.jpg"))}
    with_xml = [p for p in samples.glob("*.jpg") if p.with_suffix(".xml").exists()]
    assert len(with_xml) == 2  # the XML layouts give the line counts of those two pages

    code, out, err = index(capsys, str(samples), "--db", database_url, *model)
    assert code == 0, err
    assert "indexed 3 pages, skipped 0 already indexed, 0 failed" in out
    repository = open_repository(database_url)
    check_consistent(repository, expected)
    first_ids = {p.id for p in repository.pages()}
    page = repository.load_page(min(first_ids))
    assert [s.kind for s in page.steps][-1] == "recognition"
    assert page.steps[-1].model_id == str(tiny_checkpoint)

    code, out, err = index(capsys, str(samples), "--db", database_url, *model)
    assert code == 0, err
    assert "indexed 0 pages, skipped 3 already indexed, 0 failed" in out

    code, out, err = index(capsys, str(samples), "--db", database_url, *model, "--force")
    assert code == 0, err
    assert "indexed 3 pages (3 replaced), skipped 0 already indexed, 0 failed" in out
    check_consistent(repository, expected)
    assert {p.id for p in repository.pages()} == first_ids  # pages kept, lines replaced
    runs = repository.runs()
    assert [r.status for r in runs] == ["finished"] * 3
    assert runs[0].model.model_id == str(tiny_checkpoint)
    assert runs[0].settings["recognizer"]["beams"] == 1

    assert main(["stats", "--db", database_url]) == 0
    out = capsys.readouterr().out
    total_lines = sum(sum(c) for c in expected.values())
    assert out.splitlines()[1].split()[:3] == ["default", "3", str(total_lines)]
    repository.database.close()


@pytest.mark.slow
def test_mixed_folder_names_the_bad_files(
    capsys: pytest.CaptureFixture[str], tiny_checkpoint: Path, mixed: Path, database_url: str
) -> None:
    model = ("--model", str(tiny_checkpoint), *FAST)
    expected = {
        "a_page.png": expected_lines(mixed / "a_page.png"),
        "e_multi.tif": expected_lines(mixed / "sub" / "e_multi.tif"),
        "f_doc.pdf": expected_lines(mixed / "sub" / "f_doc.pdf"),
    }
    assert [len(v) for v in expected.values()] == [1, 3, 2]

    args = (str(mixed), "--db", database_url, "--collection", "mixed", *model)
    code, out, err = index(capsys, *args)
    assert code == 3
    assert "indexed 6 pages, skipped 0 already indexed, 3 failed, 6 files" in out
    for name in BAD_FILES:
        assert name in err
    assert "c_truncated.jpg [frame 0]" in err

    repository = open_repository(database_url)
    check_consistent(repository, expected)
    failures = repository.failures("mixed")
    assert sorted(Path(f.source_path).name for f in failures) == sorted(BAD_FILES)
    assert {f.kind for f in failures} == {"ImageLoadError"}
    failed_pages = [p for p in repository.pages() if p.status == "failed"]
    assert [Path(p.source_path).name for p in failed_pages] == ["c_truncated.jpg"]
    assert failed_pages[0].line_count == 0 and failed_pages[0].error

    assert main(["errors", "--db", database_url, "--collection", "mixed"]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 3
    for name, line in zip(sorted(BAD_FILES), listed, strict=True):
        assert name in line and "ImageLoadError" in line
    assert main(["stats", "--db", database_url, "--collection", "mixed"]) == 0
    row = capsys.readouterr().out.splitlines()[1].split()
    assert row[:3] == ["mixed", "6", str(sum(sum(c) for c in expected.values()))]
    assert row[-1] == "3"

    # A rerun skips every good page, retries the bad files and records them once.
    code, out, err = index(capsys, *args)
    assert code == 3
    assert "indexed 0 pages, skipped 6 already indexed, 3 failed" in out
    assert len(repository.failures("mixed")) == 3
    check_consistent(repository, expected)

    code, out, err = index(capsys, *args, "--force")
    assert code == 3
    assert "indexed 6 pages (6 replaced), skipped 0 already indexed, 3 failed" in out
    check_consistent(repository, expected)
    assert len(repository.failures()) == 3

    # Once a bad file is fixed, the next run indexes it and forgets its failure.
    synthetic_page(["amen"]).save(mixed / "b_empty.jpg", format="JPEG")
    code, out, err = index(capsys, *args)
    assert code == 3
    assert "indexed 1 pages, skipped 6 already indexed, 2 failed" in out
    assert sorted(Path(f.source_path).name for f in repository.failures()) == sorted(BAD_FILES[1:])
    repository.database.close()


def test_abort_stops_at_the_first_bad_file(
    capsys: pytest.CaptureFixture[str], tiny_checkpoint: Path, mixed: Path, database_url: str
) -> None:
    model = ("--model", str(tiny_checkpoint), *FAST)
    code, out, err = index(capsys, str(mixed), "--db", database_url, *model, "--on-error", "abort")
    assert code == 3
    assert "indexed 1 pages, skipped 0 already indexed, 1 failed" in out
    assert "stopped at the first failure" in out
    assert "b_empty.jpg" in err and "c_truncated.jpg" not in err
    repository = open_repository(database_url)
    check_consistent(repository, {"a_page.png": expected_lines(mixed / "a_page.png")})
    assert [Path(f.source_path).name for f in repository.failures()] == ["b_empty.jpg"]
    assert [r.status for r in repository.runs()] == ["aborted"]
    repository.database.close()


class FixedRecognizer:
    """Reads every line as "amen" at once (for plumbing tests)."""

    model_id = "fixed"

    def recognize(self, images: Sequence[Image.Image]) -> list[LineReading]:
        return [LineReading("amen", 0.5, (), (Alternative("amen", 1.0),)) for _ in images]

    def processing_step(self) -> ProcessingStep:
        return ProcessingStep("recognition", "test", model_id="fixed", model_revision="1")


def test_index_paths_reports_progress_events(tmp_path: Path) -> None:
    folder = tmp_path / "pages"
    folder.mkdir()
    for i in range(3):
        render_line(MEMORISED_TEXTS[i]).save(folder / f"{i}.png")
    (folder / "3.png").write_bytes(b"")
    repository = Repository(open_database(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    events: list[ProgressEvent] = []
    settings = IndexSettings(collection="c", pipeline=PipelineSettings(whole_image=True))
    assert not repository.database.has_statistics()
    report = index_paths([folder], repository, FixedRecognizer(), settings, events.append)
    assert (report.files, report.indexed, report.skipped, report.failed) == (4, 3, 0, 1)
    assert repository.database.has_statistics()  # the planner's, for collection filters
    assert [e.kind for e in events] == [
        *[EventKind.FILE_COUNTED] * 4,  # every file's pages counted first...
        EventKind.PAGES_COUNTED,  # ...so the total is known before the first page
        *[EventKind.FILE_STARTED, EventKind.PAGE_INDEXED] * 3,
        EventKind.FAILED,
    ]
    assert events[4].frames == 4  # three pages, and one for the file that cannot be counted
    assert events[-1].path.name == "3.png" and events[-1].reason
    stored = repository.load_page(repository.pages()[0].id)
    assert stored.text == "amen" and stored.lines[0].alternatives == (Alternative("amen", 1.0),)

    again = index_paths([folder], repository, FixedRecognizer(), settings, None)
    assert (again.indexed, again.skipped, again.failed) == (0, 3, 1)
    other_model = IndexSettings(collection="c", pipeline=settings.pipeline, on_error=OnError.ABORT)
    aborted = index_paths([folder / "3.png", folder], repository, FixedRecognizer(), other_model)
    assert aborted.aborted and aborted.failed == 1 and aborted.skipped == 0
    repository.database.close()


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    assert main(["index", str(tmp_path / "missing"), "--home", str(tmp_path)]) == 2
    assert "missing" in capsys.readouterr().err
    assert main(["index", str(tmp_path), "--home", str(tmp_path)]) == 2
    assert "no page images in" in capsys.readouterr().err
    render_line("amen").save(tmp_path / "page.png")
    assert main(["index", str(tmp_path), "--db", "not a url"]) == 2
    assert "not a url" in capsys.readouterr().err
    assert main(["stats", "--home", str(tmp_path), "--collection", "nope"]) == 2
    with pytest.raises(SystemExit) as exit_info:
        main(["index", str(tmp_path), "--on-error", "explode"])
    assert exit_info.value.code == 2


def test_home_and_environment_choose_the_database(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEGAJO_HOME", str(tmp_path / "env-home"))
    monkeypatch.delenv("LEGAJO_DB", raising=False)
    # Commands that only read create nothing: each names the home or database it looked for.
    assert main(["stats"]) == 2
    assert f"no legajo home folder at {tmp_path / 'env-home'}" in capsys.readouterr().err
    assert main(["errors", "--home", str(tmp_path / "flag-home")]) == 2
    assert f"no legajo home folder at {tmp_path / 'flag-home'}" in capsys.readouterr().err
    monkeypatch.setenv("LEGAJO_DB", f"sqlite:///{tmp_path / 'env.db'}")
    assert main(["stats", "--home", str(tmp_path / "ignored")]) == 2
    assert f"no database at {tmp_path / 'env.db'}" in capsys.readouterr().err
    # Once they exist, they are the ones used.
    for path in (tmp_path / "env-home" / "legajo.db", tmp_path / "flag-home" / "legajo.db"):
        open_database(sqlite_url(path)).close()
    monkeypatch.delenv("LEGAJO_DB")
    assert main(["stats"]) == 0
    assert main(["errors", "--home", str(tmp_path / "flag-home")]) == 0
    open_database(sqlite_url(tmp_path / "env.db")).close()
    monkeypatch.setenv("LEGAJO_DB", f"sqlite:///{tmp_path / 'env.db'}")
    assert main(["stats", "--home", str(tmp_path / "ignored")]) == 0
    assert not (tmp_path / "ignored").exists()
    capsys.readouterr()


def test_transcribe_still_works_from_the_legajo_entry_point(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, tiny_checkpoint: Path
) -> None:
    image = tmp_path / "line.png"
    render_line("amen").save(image)
    code = main(["transcribe", str(image), "--lines", "--model", str(tiny_checkpoint), *FAST])
    assert code == 0
    assert "line.png" in capsys.readouterr().out


def test_page_images_helper_matches_the_loader(tmp_path: Path) -> None:
    synthetic_page(["amen"]).save(tmp_path / "p.png")
    (page,) = load_page_images(tmp_path / "p.png")
    assert isinstance(page, PageImage) and expected_lines(tmp_path / "p.png") == [1]


class FailingOnSecondCall(FixedRecognizer):
    """Like FixedRecognizer, but the second page fails as a whole."""

    def __init__(self) -> None:
        self.calls = 0

    def recognize(self, images: Sequence[Image.Image]) -> list[LineReading]:
        self.calls += 1
        if self.calls == 2:
            raise RecognitionError("out of memory on this page")
        return super().recognize(images)


def test_a_failing_frame_does_not_stop_the_next_ones(tmp_path: Path) -> None:
    frames = [render_line(text) for text in MEMORISED_TEXTS]
    tiff = tmp_path / "pages" / "legajo.tif"
    tiff.parent.mkdir()
    frames[0].save(tiff, save_all=True, append_images=frames[1:])
    repository = Repository(open_database(f"sqlite:///{tmp_path / 'db.sqlite'}"))
    settings = IndexSettings(pipeline=PipelineSettings(whole_image=True))
    report = index_paths([tiff.parent], repository, FailingOnSecondCall(), settings)
    assert (report.indexed, report.failed) == (2, 1)
    assert (report.failures[0].frame, report.failures[0].kind) == (1, "RecognitionError")
    assert [(p.frame, p.status) for p in repository.pages()] == [
        (0, "indexed"),
        (1, "failed"),
        (2, "indexed"),
    ]
    rerun = index_paths([tiff.parent], repository, FixedRecognizer(), settings)
    assert (rerun.indexed, rerun.skipped, rerun.failed) == (1, 2, 0)
    assert repository.failures() == []
    assert {p.status for p in repository.pages()} == {"indexed"}
    repository.database.close()
