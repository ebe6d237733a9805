"""`legajo`'s Python API: transcribe, then open an archive, index, search, correct and export.

The flow runs on the memorised model (it reads three rendered lines by heart, so the text is
known); one test reads a real sample page with the bundled model, as the README shows.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import legajo
from htr.reading import RecognizerSettings
from indexer.errors import StaleLineError
from indexer.transfer.importer import import_paths
from tests.conftest import MEMORISED_TEXTS, SAMPLES, render_line
from tests.integration.test_adapt_cli import OTHER, VERIFIED, write_pages

pytestmark = pytest.mark.slow  # recognition with real models


@pytest.fixture
def pages_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "pages"
    folder.mkdir()
    for number, text in enumerate(MEMORISED_TEXTS):
        render_line(text).save(folder / f"{number}.png")
    return folder


def test_transcribe_a_file_and_an_image_in_memory(
    pages_folder: Path, memorised_checkpoint: Path
) -> None:
    [page] = legajo.transcribe(pages_folder / "1.png", memorised_checkpoint, lines=True)
    assert page.text == MEMORISED_TEXTS[1]
    assert page.lines[0].words and page.lines[0].alternatives
    [in_memory] = legajo.transcribe(
        render_line(MEMORISED_TEXTS[2]), memorised_checkpoint, lines=True
    )
    assert in_memory.text == MEMORISED_TEXTS[2]


def test_index_search_correct_export(
    pages_folder: Path, memorised_checkpoint: Path, tmp_path: Path
) -> None:
    settings = RecognizerSettings(beams=3, n_best=3)
    with legajo.open(home=tmp_path / "home") as archive:
        report = archive.index(
            [pages_folder], "letters", memorised_checkpoint, lines=True, settings=settings
        )
        assert (report.indexed, report.failed) == (3, 0)
        again = archive.index(
            [pages_folder], "letters", memorised_checkpoint, lines=True, settings=settings
        )
        assert (again.indexed, again.skipped) == (0, 3)

        [hit] = archive.search("quantos")
        assert Path(hit.page).name == "1.png" and hit.text == MEMORISED_TEXTS[1]

        corrected = archive.correct(hit.line_id, "sepan quantos esta carta vieren", "ana")
        assert corrected.line.text == "sepan quantos esta carta vieren"
        assert [h.line_id for h in archive.search("vieren", mode="exact")] == [hit.line_id]
        with pytest.raises(StaleLineError):
            archive.correct(hit.line_id, "otra", "luis", expected_version=corrected.version - 1)
        assert archive.line(hit.line_id).line.text == "sepan quantos esta carta vieren"

        export = archive.export("json", tmp_path / "out", collection="letters")
    assert len(export.files) == 3
    texts = [json.loads((export.out_dir / p).read_text(encoding="utf-8")) for p in export.files]
    assert any("vieren" in json.dumps(page, ensure_ascii=False) for page in texts)


def test_open_uses_the_database_url(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'elsewhere.db'}"
    with legajo.open(home=tmp_path / "home", db=url) as archive:
        assert archive.repository.database.url.endswith("elsewhere.db")
        assert archive.search("nada") == []
    assert (tmp_path / "elsewhere.db").is_file()


def test_transcribe_a_sample_page_with_the_bundled_model() -> None:
    sample = SAMPLES / "foral_de_estremoz_1_1258_11.jpg"
    [page] = legajo.transcribe(sample, settings=RecognizerSettings(beams=1, n_best=1))
    assert len(page.lines) > 5
    assert sum(len(line.text) for line in page.lines) > 100
    assert all(0.0 <= word.confidence <= 1.0 for line in page.lines for word in line.words)


def test_the_api_prints_no_progress_bar(tmp_path: Path) -> None:
    """A library prints nothing: transformers' "Loading weights" bar stays off stderr."""
    import subprocess
    import sys

    render_line(MEMORISED_TEXTS[0]).save(tmp_path / "line.png")
    code = (
        "import sys, legajo; from htr.reading import RecognizerSettings; "
        "from transformers.utils import logging; "
        "pages = legajo.transcribe(sys.argv[1], lines=True, settings=RecognizerSettings(1, 1)); "
        "assert logging.is_progress_bar_enabled(); print(len(pages))"
    )
    run = subprocess.run(
        [sys.executable, "-c", code, str(tmp_path / "line.png")],
        capture_output=True,
        text=True,
        check=True,
        cwd=tmp_path,
    )
    assert run.stdout.strip() == "1"
    assert "Loading weights" not in run.stderr and "%|" not in run.stderr, run.stderr


def test_adapt_and_reread_through_the_api(tmp_path: Path, tiny_checkpoint: Path) -> None:
    write_pages(tmp_path / "verified", VERIFIED, with_text=True)
    write_pages(tmp_path / "other", OTHER, with_text=False)
    fast = RecognizerSettings(beams=1, n_best=1)
    with legajo.open(home=tmp_path / "home") as archive:
        archive.index([tmp_path / "other"], "c", tiny_checkpoint, layout="xml", settings=fast)
        import_paths([tmp_path / "verified"], archive.repository, "c")
        adapted = archive.adapt("c", None, steps=1, base=str(tiny_checkpoint), activate=True)
        assert adapted.activated and adapted.model.name == "c-1"
        assert (tmp_path / "home" / "models" / "c-1" / "config.json").is_file()
        reread = archive.reread("c", settings=fast)  # the collection's model: c-1 now
        assert (reread.reread, reread.lines_read) == (1, 2)
        assert reread.model.model_id == adapted.model.path
        again = archive.index([tmp_path / "other"], "c", settings=fast)
        assert (again.indexed, again.skipped) == (0, 1)
