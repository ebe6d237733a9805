"""The adaptation loop in the workbench (AppTest): the Models tab of the collections page.

Editors see the training form and the reread button, read-only servers only the models; a
running job shows its progress line and blocks a second one. The whole loop runs for real:
"Train on my corrections" starts `legajo adapt` as a child process (the tiny model through
``LEGAJO_MODEL``), the page then shows the CER before and after on the held-back lines;
"Read again with the new model" starts `legajo reread`, and the page shows what changed, and
the line's history both machine readings.
"""

from __future__ import annotations

import os
import signal
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from indexer.store.model_registry import ModelRegistry
from indexer.store.records import ModelKey
from indexer.store.repository import Repository
from tests.conftest import MEMORISED_TEXTS
from tests.ui.archive import COLLECTION, Archive
from tests.ui.test_pages import button, line_reading, open_line
from ui import jobs, state
from ui.adaptation import MINUTES_KEY, cer
from ui.config import READ_ONLY_VARIABLE
from ui.navigation import COLLECTIONS, CORRECT
from ui.text import escape_markdown

TRAIN = "Train on my corrections"
REREAD = "Read again with the new model"
PROGRESS_LINE = "adapting: 45.3%, ETA 5m10s [step 120, held_back_cer 0.1034]"
JOB_TIMEOUT_S = 300.0
"""A job of the tiny model takes seconds; a busy two-core machine may make it minutes."""


@pytest.fixture
def repository(archive: Archive) -> Iterator[Repository]:
    repository = archive.repository()
    yield repository
    repository.database.close()


def wait_for_job(home: Path, kind: str) -> jobs.JobState:
    """Polls the newest job of `kind` until it has ended."""
    deadline = time.monotonic() + JOB_TIMEOUT_S
    while time.monotonic() < deadline:
        state = jobs.latest_job(home, COLLECTION, kind)
        assert state is not None, f"no {kind} job was started"
        if state.status is not jobs.JobStatus.RUNNING:
            return state
        time.sleep(0.25)
    raise AssertionError(f"the {kind} job still runs after {JOB_TIMEOUT_S:.0f} s")


def labels(app: AppTest) -> list[str]:
    return [b.label for b in app.button]


def verify_lines(repository: Repository) -> None:
    """Corrects or confirms lines on every page, so some can be trained on and some held back."""
    for page in repository.pages(COLLECTION):
        for stored in repository.lines(page.id):
            if stored.line.text == "amen":
                repository.correct_line(stored.id, "amén", "Ana", stored.version)
            elif stored.line.text in MEMORISED_TEXTS:
                repository.confirm_line(stored.id, "Ana", stored.version)


def test_the_models_tab_offers_training_to_editors_only(
    app: AppTest, repository: Repository, monkeypatch: pytest.MonkeyPatch
) -> None:
    registry = ModelRegistry(repository.database)
    registry.register(
        "cartas-1",
        "/models/cartas-1",
        ModelKey("/models/cartas-1", "abc"),
        parent=None,
        collection=COLLECTION,
        minutes=1.5,
        training={},
        cer_before=0.5,
        cer_after=0.25,
    )
    app.switch_page(COLLECTIONS).run()
    assert not app.exception, app.exception
    assert "This collection is read by **the bundled model \\(legajo\\-default\\)**." in [
        m.value for m in app.markdown
    ]
    assert TRAIN in labels(app) and REREAD in labels(app)
    assert app.number_input(key=MINUTES_KEY).value == 20.0
    models = app.dataframe[-1].value
    assert list(models.iloc[0])[:6] == ["cartas-1", COLLECTION, "", "50.0 %", "25.0 %", "1.5"]

    registry.activate(COLLECTION, "cartas-1")
    monkeypatch.setenv(READ_ONLY_VARIABLE, "1")
    app.run()
    assert not app.exception, app.exception
    assert "This collection is read by **cartas\\-1**." in [m.value for m in app.markdown]
    assert TRAIN not in labels(app) and REREAD not in labels(app)
    assert not app.number_input
    models = app.dataframe[-1].value
    assert list(models.iloc[0])[:3] == ["cartas-1", COLLECTION, "✓"]  # the table stays


def test_a_running_job_shows_its_progress_and_blocks_a_second(
    app: AppTest, archive: Archive
) -> None:
    home = archive.storage.home
    code = (
        f"import sys, time; print({PROGRESS_LINE!r}, file=sys.stderr, flush=True); time.sleep(60)"
    )
    app.switch_page(COLLECTIONS).run()  # drawn before the job starts: its buttons are live
    job = jobs.launch(home, jobs.ADAPT, COLLECTION, [sys.executable, "-c", code], dict(os.environ))
    try:
        deadline = time.monotonic() + 60
        while jobs.read_job(home, job.id).progress is None:
            assert time.monotonic() < deadline
            time.sleep(0.05)
        button(app, REREAD).click().run()  # from the stale page: refused on the server
        assert not app.exception, app.exception
        assert any("a training is already running" in e.value for e in app.error)
        assert len(jobs.list_jobs(home)) == 1
        (bar,) = app.get("progress")
        assert bar.proto.text == escape_markdown(PROGRESS_LINE)  # shown as text
        assert bar.proto.value == 45
        assert button(app, TRAIN).disabled and button(app, REREAD).disabled
    finally:
        os.kill(job.pid, signal.SIGTERM)
    assert wait_for_job(home, jobs.ADAPT).exit_code == -signal.SIGTERM
    app.run()
    assert any("exit code -15" in e.value for e in app.error)
    assert not button(app, TRAIN).disabled


def test_the_models_tab_speaks_spanish(app: AppTest) -> None:
    app.sidebar.segmented_control[0].set_value("es").run()
    app.switch_page(COLLECTIONS).run()
    assert not app.exception, app.exception
    assert "Entrenar con mis correcciones" in labels(app)
    assert "Volver a leer con el modelo nuevo" in labels(app)
    assert app.number_input(key=MINUTES_KEY).label == "Minutos de entrenamiento"


def test_training_without_verified_lines_fails_and_says_why(
    app: AppTest, archive: Archive, tiny_checkpoint: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LEGAJO_MODEL", str(tiny_checkpoint))
    app.switch_page(COLLECTIONS).run()
    button(app, TRAIN).click().run()
    failed = wait_for_job(archive.storage.home, jobs.ADAPT)
    assert (failed.status, failed.exit_code) == (jobs.JobStatus.FAILED, 1)
    app.run()
    assert not app.exception, app.exception
    assert any("exit code 1" in e.value for e in app.error)
    assert any("0 verified lines" in c.value for c in app.code)  # the command's own words
    assert not button(app, TRAIN).disabled  # nothing runs: try again after correcting


@pytest.mark.slow
def test_train_on_my_corrections_then_read_again(
    app: AppTest,
    archive: Archive,
    repository: Repository,
    tiny_checkpoint: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LEGAJO_MODEL", str(tiny_checkpoint))  # the jobs inherit it
    monkeypatch.setenv("OMP_NUM_THREADS", "1")
    home = archive.storage.home
    verify_lines(repository)
    app.switch_page(COLLECTIONS).run()
    app.number_input(key=MINUTES_KEY).set_value(0.1)
    button(app, TRAIN).click().run()
    assert not app.exception, app.exception
    assert any("Training started" in i.value for i in app.info)

    trained = wait_for_job(home, jobs.ADAPT)
    assert trained.status is jobs.JobStatus.FINISHED, trained.log_tail
    assert trained.job.command[-3:] == ("--minutes", "0.1", "--json")
    result = trained.result
    assert result is not None
    app.run()
    assert not app.exception, app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["CER before (held back)"] == cer(result["cer_before"])
    assert metrics["CER after (held back)"] == cer(result["cer_after"])
    held = result["held_back_lines"]
    assert held >= 1
    assert f"CER on the held-back lines ({held}): " in " ".join(m.value for m in app.markdown)
    name = result["model"]["name"]
    verdict = "it now reads this collection" if result["activated"] else "keeps reading"
    assert any(verdict in m.value for m in [*app.success, *app.info])
    assert name in list(app.dataframe[-1].value.iloc[:, 0])  # the models table has it

    button(app, REREAD).click().run()
    assert any("Reading again started" in i.value for i in app.info)
    reread = wait_for_job(home, jobs.REREAD)
    assert reread.status is jobs.JobStatus.FINISHED, reread.log_tail
    summary = reread.result
    assert summary is not None
    assert (summary["reread"], summary["lines_read"], summary["failed"]) == (3, 6, [])
    app.run()
    assert not app.exception, app.exception
    metrics = {m.label: m.value for m in app.metric}
    assert metrics["Lines read"] == "6"
    assert metrics["Lines read differently"] == str(summary["lines_changed"])
    assert metrics["Verified lines kept"] == "6"
    assert " → " in metrics["Mean confidence"]
    assert any("No page failed" in c.value for c in app.caption)

    stored = line_reading(repository, "amén")
    open_line(app, CORRECT, stored)
    assert not app.exception, app.exception
    assert "Machine readings" in [s.value for s in app.subheader]
    readings = repository.readings(stored.id)
    assert len(readings) == 2
    old, new = readings
    assert old.text == "amen" and new.model != old.model
    # history: the correction, version 1 as it was corrected; then both machine readings
    assert [c.value for c in app.code] == ["amén", "amen", new.text or " ", "amen"]
    captions = [c.value for c in app.caption if "(revision " in c.value]
    assert len(captions) == 2 and captions[0].endswith("**current**")
    app.sidebar.text_input(key=state.EDITOR).input("Bea")
    app.button(key=f"correct.use_reading.{stored.id}.0").click().run()  # adopt the new reading
    assert not app.exception, app.exception
    assert [(c.new_text, c.editor) for c in repository.corrections(stored.id)][-1] == (
        new.text,
        "Bea",
    )
