"""Collections: counts and confidence, charts, failed files, models and settings used, exports.

The Overview tab charts the chosen collection (`ui.overviews`): word confidences, pages by
mean confidence (a click opens the page), the review's progress, failed files by reason.

The Models tab shows the models trained in this home and, for editors, the adaptation loop:
train on the verified lines, read again, see what changed (`ui.adaptation`).
"""

from __future__ import annotations

import json
from functools import partial

import streamlit as st

from indexer.store.orm import PAGE_INDEXED
from indexer.transfer.exporter import ExportFormat
from ui import components, services
from ui.adaptation import models_tab
from ui.exports import MIME_TYPES, export_collection, export_file_name, export_page
from ui.overviews import open_chosen_page, overview_tab

config = services.settings()
t = components.translator()
repository = services.repository(config)
open_chosen_page()

st.title(t("collections.title"))
stats = repository.stats()
if not stats:
    st.info(t("common.no_collections"))
    st.stop()
st.dataframe(
    [
        {
            t("common.collection"): s.collection,
            t("collections.pages"): s.pages,
            t("collections.lines"): s.lines,
            t("collections.words"): s.words,
            t("collections.mean_confidence"): components.percent(s.mean_confidence),
            t("collections.failed"): s.errors,
        }
        for s in stats
    ],
    hide_index=True,
    width="stretch",
)

collection = st.selectbox(
    t("common.collection"), [s.collection for s in stats], key="collections.collection"
)
overview_section, pages_tab, failures_tab, runs_tab, models_section, export_tab = st.tabs(
    [
        t("collections.overview"),
        t("collections.pages"),
        t("collections.failures"),
        t("collections.runs"),
        t("collections.models"),
        t("collections.export"),
    ]
)
pages = repository.pages(collection)
with overview_section:
    overview_tab(config, collection, next(s.lines for s in stats if s.collection == collection), t)
with pages_tab:
    st.dataframe(
        [
            {
                t("collections.file"): p.source_path,
                t("collections.frame"): p.frame + 1,
                t("collections.status"): p.status,
                t("collections.lines"): p.line_count,
                t("collections.model"): p.model.model_id,
                t("collections.error"): p.error or "",
            }
            for p in pages
        ],
        hide_index=True,
        width="stretch",
    )
with failures_tab:
    failures = repository.failures(collection)
    if not failures:
        st.caption(t("collections.no_failures"))
    else:
        st.dataframe(
            [
                {
                    t("collections.file"): f.source_path,
                    t("collections.frame"): "" if f.frame is None else f.frame + 1,
                    t("collections.kind"): f.kind,
                    t("collections.reason"): f.reason,
                    t("collections.when"): components.when(f.created_at),
                }
                for f in failures
            ],
            hide_index=True,
            width="stretch",
        )
with runs_tab:
    st.dataframe(
        [
            {
                t("collections.run"): r.id,
                t("collections.model"): r.model.model_id,
                t("collections.revision"): r.model.revision,
                t("collections.software"): r.software,
                t("collections.status"): r.status,
                t("collections.started"): components.when(r.started_at),
                t("collections.finished"): components.when(r.finished_at),
                t("collections.settings"): json.dumps(dict(r.settings), ensure_ascii=False),
            }
            for r in repository.runs(collection)
        ],
        hide_index=True,
        width="stretch",
    )
with models_section:
    models_tab(config, repository, collection, t)
with export_tab:
    indexed = [p for p in pages if p.status == PAGE_INDEXED]
    if not indexed:
        st.caption(t("common.no_pages"))
    else:
        page = st.selectbox(
            t("common.page"),
            indexed,
            format_func=lambda p: components.page_title(p.source_path, p.frame, t),
            key="collections.export_page",
        )
        columns = st.columns(len(ExportFormat))
        for column, fmt in zip(columns, ExportFormat, strict=True):
            column.download_button(
                t(f"collections.format.{fmt.value}"),
                partial(export_page, repository, page.id, fmt),
                file_name=export_file_name(page, fmt),
                mime=MIME_TYPES[fmt],
                icon=":material/download:",
                key=f"collections.export.{fmt.value}",
                on_click="ignore",
                width="stretch",
            )
        st.divider()
        st.caption(t("collections.export_all", pages=len(indexed)))
        columns = st.columns(len(ExportFormat))
        for column, fmt in zip(columns, ExportFormat, strict=True):
            column.download_button(
                t(f"collections.format.{fmt.value}") + " (ZIP)",
                partial(export_collection, repository, collection, fmt),
                file_name=f"{collection}-{fmt.value}.zip",
                mime="application/zip",
                icon=":material/folder_zip:",
                key=f"collections.export_all.{fmt.value}",
                on_click="ignore",
                width="stretch",
            )
