"""The collections page's overview: four Altair charts of one collection.

A histogram of word confidences, the pages by mean confidence (a click on a bar opens the
page), the review's progress over time, and the failed files by reason. Figures come from
`indexer.store.overview.Overview`; the charts are drawn by the Vega-Lite that Streamlit
bundles, so nothing is fetched from the network.
"""

from __future__ import annotations

import itertools
from collections import Counter

import altair as alt
import pandas as pd
import streamlit as st

from indexer.store.overview import ConfidenceBin, Overview, ReviewDay
from ui import components, services
from ui.config import UiSettings
from ui.i18n import Translator
from ui.navigation import PAGE, line_link

PAGE_CHART_KEY = "collections.overview.pages"
"""The pages chart's widget key (its selection: the bar clicked)."""
OPEN_PAGE = "collections.overview.open_page"
"""Session key: the page id a click on the pages chart asked to open."""
_CHART_HEIGHT = 260


def overview(config: UiSettings) -> Overview:
    """The aggregates of the app's database."""
    return Overview(services.repository(config).database)


@st.cache_data(show_spinner=False, max_entries=16, ttl=600)
def _character_counts(_config: UiSettings, database_url: str, collection: str) -> Counter[str]:
    return overview(_config).characters(collection)


def character_counts(config: UiSettings, collection: str) -> Counter[str]:
    """The characters of a collection's texts (cached; `forget_characters` after a save)."""
    return _character_counts(config, config.storage.database_url, collection)


def forget_characters() -> None:
    """Drops the cached character counts, so that the next run counts a save's characters."""
    _character_counts.clear()


def overview_tab(config: UiSettings, collection: str, lines: int, t: Translator) -> None:
    """Draws the four charts of a collection.

    Args:
        config: The app's settings.
        collection: The collection.
        lines: How many lines it has (the review's goal).
        t: The translator.
    """
    figures = overview(config)
    histogram_column, pages_column = st.columns(2)
    with histogram_column:
        st.markdown(f"**{t('overview.histogram')}**")
        bins = figures.confidence_histogram(collection)
        if sum(b.words for b in bins) == 0:
            st.caption(t("overview.no_words"))
        else:
            st.altair_chart(histogram_chart(bins, t), key="collections.overview.histogram")
    with pages_column:
        st.markdown(f"**{t('overview.pages_by_confidence')}**")
        pages = [p for p in figures.page_confidences(collection) if p.mean_confidence is not None]
        if not pages:
            st.caption(t("overview.no_words"))
        else:
            frame = pd.DataFrame(
                {
                    "page_id": [p.page_id for p in pages],
                    "page": [components.page_title(p.source_path, p.frame, t) for p in pages],
                    "confidence": [p.mean_confidence for p in pages],
                    "words": [p.words for p in pages],
                }
            )
            st.altair_chart(
                pages_chart(frame, t),
                key=PAGE_CHART_KEY,
                on_select=_remember_page,
                selection_mode="page",
            )
    progress_column, failures_column = st.columns(2)
    with progress_column:
        st.markdown(f"**{t('overview.review_progress')}**")
        days = figures.review_days(collection)
        verified = sum(d.lines_verified for d in days)
        st.caption(t("overview.review_caption", verified=verified, lines=lines))
        if not days:
            st.caption(t("overview.no_reviews"))
        else:
            st.altair_chart(progress_chart(days, t), key="collections.overview.progress")
    with failures_column:
        st.markdown(f"**{t('overview.failures')}**")
        failures = figures.failure_counts(collection)
        if not failures:
            st.caption(t("collections.no_failures"))
        else:
            frame = pd.DataFrame(
                {"kind": [f.kind for f in failures], "files": [f.files for f in failures]}
            )
            st.altair_chart(failures_chart(frame, t), key="collections.overview.failures")


def open_chosen_page() -> None:
    """Opens the page whose bar was clicked in the last run, if one was (call it early)."""
    page_id = st.session_state.pop(OPEN_PAGE, None)
    if page_id is not None:
        st.switch_page(PAGE, query_params=line_link(int(page_id)))


def _remember_page() -> None:
    selection = st.session_state.get(PAGE_CHART_KEY, {}).get("selection", {})
    points = selection.get("page", [])
    if isinstance(points, list) and points and "page_id" in points[0]:
        st.session_state[OPEN_PAGE] = points[0]["page_id"]


def histogram_chart(bins: list[ConfidenceBin], t: Translator) -> alt.Chart:
    """Words per confidence bin (`indexer.store.overview.ConfidenceBin`)."""
    frame = pd.DataFrame(
        {
            "lower": [b.lower for b in bins],
            "upper": [b.upper for b in bins],
            "words": [b.words for b in bins],
        }
    )
    return (
        alt.Chart(frame, height=_CHART_HEIGHT)
        .mark_bar()
        .encode(
            x=alt.X(
                "lower:Q",
                bin="binned",
                title=t("overview.confidence"),
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%"),
            ),
            x2="upper:Q",
            y=alt.Y("words:Q", title=t("overview.words")),
            tooltip=[
                alt.Tooltip("lower:Q", format=".0%", title=t("overview.from")),
                alt.Tooltip("upper:Q", format=".0%", title=t("overview.to")),
                alt.Tooltip("words:Q", title=t("overview.words")),
            ],
        )
    )


def pages_chart(frame: pd.DataFrame, t: Translator) -> alt.Chart:
    """One bar per page, lowest mean confidence first; a click selects the page."""
    chosen = alt.selection_point(name="page", fields=["page_id"], on="click")
    return (
        alt.Chart(frame, height=_CHART_HEIGHT)
        .mark_bar(cursor="pointer")
        .encode(
            x=alt.X(
                "page_id:N",
                sort="y",
                axis=alt.Axis(labels=False, ticks=False),
                title=t("overview.pages_axis"),
            ),
            y=alt.Y(
                "confidence:Q",
                title=t("overview.mean_confidence"),
                scale=alt.Scale(domain=[0, 1]),
                axis=alt.Axis(format="%"),
            ),
            opacity=alt.condition(chosen, alt.value(1.0), alt.value(0.5)),
            tooltip=[
                alt.Tooltip("page:N", title=t("overview.page")),
                alt.Tooltip("confidence:Q", format=".0%", title=t("overview.mean_confidence")),
                alt.Tooltip("words:Q", title=t("overview.words")),
            ],
        )
        .add_params(chosen)
    )


def progress_chart(days: list[ReviewDay], t: Translator) -> alt.LayerChart:
    """Lines verified so far (a line) and saves per day (bars), day by day."""
    frame = pd.DataFrame(
        {
            "day": pd.to_datetime([d.day for d in days]),
            "verified": list(itertools.accumulate(d.lines_verified for d in days)),
            "saves": [d.corrections for d in days],
        }
    )
    base = alt.Chart(frame, height=_CHART_HEIGHT).encode(
        x=alt.X("day:T", title=t("overview.day"), axis=alt.Axis(format="%Y-%m-%d")),
        tooltip=[
            alt.Tooltip("day:T", format="%Y-%m-%d", title=t("overview.day")),
            alt.Tooltip("verified:Q", title=t("overview.lines_verified")),
            alt.Tooltip("saves:Q", title=t("overview.saves")),
        ],
    )
    saves = base.mark_bar(opacity=0.35, size=12).encode(
        y=alt.Y("saves:Q", title=t("overview.saves"))
    )
    verified = base.mark_line(point=True).encode(
        y=alt.Y("verified:Q", title=t("overview.lines_verified"))
    )
    return alt.layer(saves, verified).resolve_scale(y="independent")


def failures_chart(frame: pd.DataFrame, t: Translator) -> alt.Chart:
    """Failed files per kind of failure, the most frequent first."""
    return (
        alt.Chart(frame, height=_CHART_HEIGHT)
        .mark_bar()
        .encode(
            y=alt.Y("kind:N", sort="-x", title=t("overview.reason")),
            x=alt.X("files:Q", title=t("overview.files"), axis=alt.Axis(tickMinStep=1)),
            tooltip=[
                alt.Tooltip("kind:N", title=t("overview.reason")),
                alt.Tooltip("files:Q", title=t("overview.files")),
            ],
        )
    )
