"""The adaptation loop in a real headless Chromium, on `legajo ui`.

An editor opens the collections page, trains the collection's model on the lines people
verified ("Train on my corrections": a real `legajo adapt` in the background, the tiny model
through ``LEGAJO_MODEL`` in the server's environment), watches the page until the CER before
and after shows, reads the collection again ("Read again with the new model": a real
`legajo reread`) and waits for the summary of what changed. Screenshots go to
tests/e2e/screenshots/.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from indexer.store.model_registry import ModelRegistry
from tests.conftest import MEMORISED_TEXTS
from tests.e2e.conftest import FIRST_LOAD_TIMEOUT_MS, serve
from tests.e2e.test_workbench import shoot
from tests.ui.archive import COLLECTION, Archive

pytestmark = pytest.mark.slow

JOB_TIMEOUT_MS = 300_000
"""A job of the tiny model takes seconds; a busy two-core machine may make it minutes."""


def verify_lines(archive: Archive) -> None:
    """Confirms every line the memorised model read, and corrects the two "amen" lines."""
    repository = archive.repository()
    try:
        for page in repository.pages(COLLECTION):
            for stored in repository.lines(page.id):
                if stored.line.text == "amen":
                    repository.correct_line(stored.id, "amén", "Ana", stored.version)
                elif stored.line.text in MEMORISED_TEXTS:
                    repository.confirm_line(stored.id, "Ana", stored.version)
    finally:
        repository.database.close()


def open_models_tab(page: Any) -> None:
    page.get_by_role("tab", name="Models", exact=True).click()


def show(page: Any, element: Any) -> None:
    """Scrolls `element` into the app's view (screenshots see the view) and moves the mouse off."""
    element.scroll_into_view_if_needed()
    page.mouse.move(0, 0)


def test_train_on_my_corrections_then_read_again(
    archive: Archive,
    chromium: Path,
    page: Any,
    screenshots: Path,
    tmp_path: Path,
    tiny_checkpoint: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from playwright.sync_api import expect

    verify_lines(archive)
    monkeypatch.setenv("LEGAJO_MODEL", str(tiny_checkpoint))  # the server, hence its jobs
    with serve(archive, tmp_path / "adaptation.log") as server:
        page.goto(f"{server.url}/collections")
        expect(page.get_by_role("heading", name="Collections")).to_be_visible(
            timeout=FIRST_LOAD_TIMEOUT_MS
        )
        open_models_tab(page)
        expect(page.get_by_text("This collection is read by")).to_be_visible()
        minutes = page.get_by_role("spinbutton", name="Minutes of training")
        expect(minutes).to_have_value("20.0")
        minutes.fill("0.1")
        minutes.press("Tab")
        page.get_by_role("button", name="Train on my corrections").click()
        expect(page.get_by_text("Training started")).to_be_visible()
        shoot(page, screenshots, "11-training.png")

        # the page follows the job by itself (a fragment polls it), no reload needed
        result = page.get_by_text("CER on the held-back lines (")
        expect(result).to_be_visible(timeout=JOB_TIMEOUT_MS)
        expect(page.get_by_text("CER before (held back)")).to_be_visible()
        expect(page.get_by_text("CER after (held back)")).to_be_visible()
        show(page, result)
        shoot(page, screenshots, "12-trained.png")

        read_again = page.get_by_role("button", name="Read again with the new model")
        expect(read_again).to_be_enabled()
        read_again.click()
        expect(page.get_by_text("Reading again started")).to_be_visible()
        expect(page.get_by_text("Lines read", exact=True)).to_be_visible(timeout=JOB_TIMEOUT_MS)
        expect(page.get_by_text("Verified lines kept")).to_be_visible()
        summary = page.get_by_text("No page failed.")
        expect(summary).to_be_visible()
        show(page, summary)
        shoot(page, screenshots, "13-read-again.png")

        repository = archive.repository()
        line = next(
            s
            for p in repository.pages(COLLECTION)
            for s in repository.lines(p.id)
            if s.line.text == "amén"
        )
        repository.database.close()
        page.goto(f"{server.url}/correct?page_id={line.page_id}&line_id={line.id}")
        expect(page.get_by_role("heading", name="Machine readings")).to_be_visible(
            timeout=FIRST_LOAD_TIMEOUT_MS
        )
        expect(page.get_by_text("(revision ")).to_have_count(2)  # the old and the new reading
        expect(page.get_by_text("amén", exact=True).first).to_be_visible()  # the correction
        shoot(page, screenshots, "14-line-history.png")

    repository = archive.repository()
    try:
        (model,) = ModelRegistry(repository.database).models()
        assert model.collection == COLLECTION
        lines = [s for p in repository.pages(COLLECTION) for s in repository.lines(p.id)]
        assert all(len(repository.readings(s.id)) == 2 for s in lines)  # old and new
        assert sorted(s.line.text for s in lines if "am" in s.line.text) == ["amén", "amén"]
    finally:
        repository.database.close()
