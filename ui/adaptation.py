"""The collections page's Models tab: which model reads a collection, and teaching it the hand.

An editor trains the collection's model on its verified lines (`legajo adapt`) and reads the
collection again with the model that reads it (`legajo reread`), both as background jobs
(`ui.jobs`). While one runs, a fragment redraws its progress every `POLL_S` seconds; when it
ends, the whole page is drawn again with the outcome. Read-only servers show the models and
offer neither action; the callbacks refuse them on the server as well.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import streamlit as st

from indexer.store.model_registry import ModelRegistry
from indexer.store.records import ModelRecord
from indexer.store.repository import Repository
from ui import components, jobs, services
from ui.config import UiSettings
from ui.i18n import Translator
from ui.text import escape_markdown

logger = logging.getLogger(__name__)

POLL_S = 2.0
"""Seconds between two redraws of a running job's progress."""
MINUTES_KEY = "models.minutes"
"""Session key of the training budget (minutes)."""
DEFAULT_MINUTES = 20.0
MIN_MINUTES = 0.1

_PERCENT = re.compile(r"(\d+(?:\.\d+)?)%")


def models_tab(config: UiSettings, repository: Repository, collection: str, t: Translator) -> None:
    """The active model, the registered models, and for editors the adaptation loop."""
    registry = ModelRegistry(repository.database)
    active = registry.active(collection)
    active_name = active.name if active is not None else t("models.bundled")
    st.markdown(t("models.active", name=escape_markdown(active_name)))
    models_table(registry.models(), active, t)
    if config.read_only:
        return
    home = config.storage.home
    running = jobs.running_job(home, collection)
    actions(collection, active_name, t, busy=running is not None)
    st.fragment(job_panels, run_every=POLL_S if running else None)(
        home, collection, t, running is not None
    )


def models_table(records: list[ModelRecord], active: ModelRecord | None, t: Translator) -> None:
    """The models trained in this home, with their CER on the held-back lines."""
    if not records:
        st.caption(t("models.none"))
        return
    st.dataframe(
        [
            {
                t("models.name"): r.name,
                t("models.trained_on"): r.collection or "–",
                t("models.reads"): "✓" if active is not None and r.name == active.name else "",
                t("models.cer_before"): cer(r.cer_before),
                t("models.cer_after"): cer(r.cer_after),
                t("models.minutes_column"): f"{r.minutes:.1f}",
                t("models.created"): components.when(r.created_at),
            }
            for r in reversed(records)
        ],
        hide_index=True,
        width="stretch",
    )


def actions(collection: str, active_name: str, t: Translator, *, busy: bool) -> None:
    """The training form and the button that reads the collection again."""
    with st.form("models.train"):
        st.number_input(
            t("models.minutes"),
            min_value=MIN_MINUTES,
            value=DEFAULT_MINUTES,
            step=1.0,
            format="%.1f",
            key=MINUTES_KEY,
            help=t("models.minutes_help"),
        )
        st.form_submit_button(
            t("models.train"),
            type="primary",
            icon=":material/model_training:",
            help=t("models.train_help"),
            disabled=busy,
            on_click=start_training,
            args=(collection,),
        )
    st.button(
        t("models.reread"),
        icon=":material/autorenew:",
        help=t("models.reread_help", name=escape_markdown(active_name)),
        disabled=busy,
        key="models.reread",
        on_click=start_reading,
        args=(collection,),
    )


def start_training(collection: str) -> None:
    """Starts `legajo adapt` for a collection (a widget callback)."""
    minutes = max(MIN_MINUTES, float(st.session_state.get(MINUTES_KEY) or DEFAULT_MINUTES))
    _start(jobs.ADAPT, collection, ("--minutes", str(minutes)))


def start_reading(collection: str) -> None:
    """Starts `legajo reread` for a collection (a widget callback)."""
    _start(jobs.REREAD, collection, ())


def _start(kind: str, collection: str, options: tuple[str, ...]) -> None:
    t = components.translator()
    # afresh: a server restarted read-only, or a viewer's session, refuses an old form
    config = services.settings()
    if config.read_only:
        viewer = config.accounts_required and not config.server_read_only
        components.set_flash(
            t("models.refused_role" if viewer else "models.refused_read_only"), "error"
        )
        return
    try:
        jobs.start_job(config.storage, kind, collection, options)
    except jobs.JobRunningError as error:
        running = error.running
        components.set_flash(
            t(
                "models.busy",
                kind=t(f"models.kind.{running.kind}"),
                when=components.when(running.started_at),
            ),
            "error",
        )
        return
    except OSError as error:
        logger.exception("cannot start a %s job for %s", kind, collection)
        components.set_flash(t("models.cannot_start", error=escape_markdown(str(error))), "error")
        return
    components.set_flash(t(f"models.started.{kind}"), "info")


def job_panels(home: Path, collection: str, t: Translator, polling: bool) -> None:
    """The latest training and the latest reading of the collection, however they stand.

    Args:
        home: The home folder.
        collection: The collection.
        t: The translator.
        polling: Whether this is drawn in a fragment that reruns while a job runs.
    """
    training = jobs.latest_job(home, collection, jobs.ADAPT)
    reading = jobs.latest_job(home, collection, jobs.REREAD)
    states = [s for s in (training, reading) if s is not None]
    if polling and all(s.status is not jobs.JobStatus.RUNNING for s in states):
        st.rerun()  # it ended: draw the page again (models, buttons) and stop polling
    if training is not None:
        st.subheader(t("models.training"))
        job_panel(training, t, training_outcome)
    if reading is not None:
        st.subheader(t("models.rereading"))
        job_panel(reading, t, reading_outcome)


def job_panel(
    state: jobs.JobState,
    t: Translator,
    outcome: Callable[[Mapping[str, Any], Translator], None],
) -> None:
    """A job's progress while it runs, its outcome when done, its last messages if it failed."""
    st.caption(t("models.started_at", when=components.when(state.job.started_at)))
    if state.status is jobs.JobStatus.RUNNING:
        line = state.progress or t("models.waiting")
        st.progress(progress_fraction(state.progress), text=escape_markdown(line))
    elif state.status is jobs.JobStatus.FINISHED and state.result is not None:
        outcome(state.result, t)
    else:
        if state.exit_code is None:
            st.error(t("models.job_vanished"), icon=":material/error:")
        else:
            st.error(t("models.job_failed", code=state.exit_code), icon=":material/error:")
        if state.log_tail:
            st.code("\n".join(state.log_tail), language=None, wrap_lines=True)


def training_outcome(result: Mapping[str, Any], t: Translator) -> None:
    """What `legajo adapt --json` reported: both CERs, and whether the new model took over."""
    model = result.get("model") or {}
    name = escape_markdown(str(model.get("name", "?")))
    before_column, after_column = st.columns(2)
    before, after = _number(result.get("cer_before")), _number(result.get("cer_after"))
    before_column.metric(t("models.cer_before_held"), cer(before))
    after_column.metric(
        t("models.cer_after_held"),
        cer(after),
        delta=None if before is None or after is None else f"{100 * (after - before):+.1f} pts",
        delta_color="inverse",
    )
    held = result.get("held_back_lines", 0)
    st.markdown(t("models.cer_summary", lines=held, before=cer(before), after=cer(after)))
    if result.get("activated"):
        st.success(t("models.activated", name=name), icon=":material/check_circle:")
    else:
        base = escape_markdown(components.model_name(str(result.get("base", "?"))))
        st.info(t("models.not_activated", name=name, base=base), icon=":material/info:")
    st.caption(
        t(
            "models.trained_caption",
            train_lines=result.get("train_lines", 0),
            train_pages=result.get("train_pages", 0),
            held_lines=held,
            held_pages=result.get("held_back_pages", 0),
            minutes=f"{_number(result.get('minutes')) or 0.0:.1f}",
        )
    )


def reading_outcome(result: Mapping[str, Any], t: Translator) -> None:
    """What `legajo reread --json` reported: lines read and changed, confidence, failures."""
    read, changed, kept, confidence = st.columns(4)
    read.metric(t("models.lines_read"), int(result.get("lines_read", 0)))
    changed.metric(t("models.lines_changed"), int(result.get("lines_changed", 0)))
    kept.metric(t("models.verified_kept"), int(result.get("verified_kept", 0)))
    confidence.metric(
        t("models.confidence"),
        t(
            "models.confidence_change",
            before=components.percent(_number(result.get("confidence_before"))),
            after=components.percent(_number(result.get("confidence_after"))),
        ),
    )
    st.caption(
        t(
            "models.reread_caption",
            model=escape_markdown(components.model_name(str(result.get("model", "?")))),
            reread=result.get("reread", 0),
            already=result.get("already", 0),
            seconds=f"{_number(result.get('seconds')) or 0.0:.1f}",
        )
    )
    failed = [f for f in result.get("failed") or [] if isinstance(f, Mapping)]
    if not failed:
        st.caption(t("models.no_failed_pages"))
        return
    st.warning(t("models.failed_pages", count=len(failed)), icon=":material/warning:")
    st.dataframe(
        [
            {
                t("collections.file"): str(f.get("path", "")),
                t("collections.frame"): _frame(f.get("frame")),
                t("collections.reason"): str(f.get("reason", "")),
            }
            for f in failed
        ],
        hide_index=True,
        width="stretch",
    )


def cer(value: float | None) -> str:
    """A character error rate as a percentage with one decimal, or a dash."""
    return "–" if value is None else f"{100 * value:.1f} %"


def progress_fraction(line: str | None) -> float:
    """The share done that a progress line states (``adapting: 45.3%, ...``); 0 if none."""
    found = _PERCENT.search(line or "")
    return 0.0 if found is None else min(1.0, max(0.0, float(found.group(1)) / 100))


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _frame(value: Any) -> int | str:
    return value + 1 if isinstance(value, int) else ""
