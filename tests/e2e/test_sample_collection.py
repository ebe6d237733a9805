"""The workbench on the sample collection, read by the bundled model, in a real Chromium.

``data/samples`` is indexed as the README's demo does it (`legajo index`, the bundled default
model), then served by `legajo ui`. The test times what a reader waits for (the search page's
first view, a first and a later search, a page opened from a hit) and writes the times to
tests/e2e/screenshots/timings.json; they are reported, not asserted, since a busy machine
says nothing about the code. It also takes the screenshots the README shows (search, page,
collections), into the same folder.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest

from indexer.settings import resolve_storage
from tests.conftest import REPO, SAMPLES
from tests.e2e.conftest import FIRST_LOAD_TIMEOUT_MS, Server, serve
from tests.e2e.test_search_url import open_view, record_timings
from tests.e2e.test_workbench import settle, submit_search
from tests.ui.archive import Archive

pytestmark = pytest.mark.slow

QUERY = "rey"
VIEWER_FRAME = 'iframe[title="ui.viewer.component.page_viewer"]'
INDEX_TIMEOUT_S = 900


@pytest.fixture(scope="module")
def samples(chromium: Path, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """`legajo ui` on a home where `legajo index` has read data/samples."""
    home = tmp_path_factory.mktemp("samples") / "home"
    command = [sys.executable, "-m", "legajo", "index", str(SAMPLES), "--collection", "samples"]
    done = subprocess.run(
        [*command, "--home", str(home)],
        cwd=REPO,
        env=dict(os.environ, OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1"),
        capture_output=True,
        text=True,
        timeout=INDEX_TIMEOUT_S,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    storage = resolve_storage(home=home)
    archive = Archive(storage, tuple(sorted(SAMPLES.glob("*.jpg"))))
    with serve(archive, tmp_path_factory.mktemp("log") / "samples-ui.log") as running:
        yield running


def test_the_sample_collection_in_the_browser(
    samples: Server, page: Any, screenshots: Path
) -> None:
    from playwright.sync_api import expect

    first_view_s = open_view(page, samples.url)
    settle(page)  # a reader takes longer to type a query than the page takes to warm up
    first_search_s = submit_search(page, QUERY, FIRST_LOAD_TIMEOUT_MS)  # loads the indexes
    settle(page)
    open_view(page, samples.url)
    later_search_s = submit_search(page, QUERY)
    settle(page)
    # the app scrolls inside its own frame: a taller window shows the hits below the form
    page.set_viewport_size({"width": 1400, "height": 1900})
    settle(page)
    page.screenshot(path=str(screenshots / "40-samples-search.png"))
    page.set_viewport_size({"width": 1400, "height": 1000})

    repository = samples.archive.repository()
    try:
        (hit_page,) = [p for p in repository.pages("samples") if "linaje_ayala" in p.source_path]
        lines = repository.lines(hit_page.id)
    finally:
        repository.database.close()
    # the longest line with the word (the model may write "Rey"): the screenshot shows its
    # neighbours' hits around it
    with_word = [s for s in lines if QUERY in s.line.text.lower().split()]
    chosen = max(with_word, key=lambda s: len(s.line.text))
    query = urlencode({"page_id": hit_page.id, "line_id": chosen.id, "q": QUERY})
    started = time.perf_counter()
    page.goto(f"{samples.url}/page?{query}")
    frame = page.frame_locator(VIEWER_FRAME)
    expect(frame.locator('body[data-ready="true"]')).to_be_attached(timeout=FIRST_LOAD_TIMEOUT_MS)
    page_s = time.perf_counter() - started
    expect(frame.locator("polygon.line")).to_have_count(len(lines))
    assert frame.locator("rect.hit").count() >= 1
    settle(page)
    page.wait_for_timeout(1500)  # the viewer's zoom into the chosen line
    page.screenshot(path=str(screenshots / "41-samples-page.png"))

    page.goto(f"{samples.url}/collections")
    charts = page.locator('[data-testid="stVegaLiteChart"]')
    expect(charts.first).to_be_visible(timeout=FIRST_LOAD_TIMEOUT_MS)
    settle(page)
    page.screenshot(path=str(screenshots / "42-samples-collections.png"))

    timings = {
        "samples_first_view_s": first_view_s,
        "samples_first_search_s": first_search_s,
        "samples_later_search_s": later_search_s,
        "samples_page_viewer_s": page_s,
    }
    record_timings(screenshots, timings)
