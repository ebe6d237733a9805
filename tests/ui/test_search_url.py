"""A search view survives a trip through the address; bad values are reported, not fatal."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from hypothesis import given
from hypothesis import strategies as st

from ui.search_url import (
    BAND,
    HIT,
    MIN_CONFIDENCE,
    MODE,
    QUERY,
    RESULTS_PAGE,
    SORT,
    UrlProblem,
    parse_view,
    search_link,
    search_params,
    view_params,
)
from ui.state import DOCUMENT_ORDER, SearchFacets, SearchRequest, SearchView

MODES = ("auto", "exact", "prob", "fuzzy", "semantic")


def as_lists(params: dict[str, str | list[str]]) -> dict[str, list[str]]:
    return {k: v if isinstance(v, list) else [v] for k, v in params.items()}


def test_defaults_are_left_out_of_the_address() -> None:
    assert view_params(SearchView(SearchRequest("rey"))) == {QUERY: "rey"}


def test_a_full_view_round_trips() -> None:
    view = SearchView(
        SearchRequest('"dios amen" -rey', "exact", "cartas", 0.5),
        results_page=3,
        sort=DOCUMENT_ORDER,
        facets=SearchFacets(("cartas",), ("/a/b", "/a/c"), ("high", "low")),
        selected=1873,
    )
    parsed = parse_view(as_lists(view_params(view)), MODES)
    assert parsed.view == view
    assert parsed.problems == ()
    assert parsed.results_page_given


@given(
    query=st.text(min_size=1, max_size=40).filter(lambda q: q.strip() == q and q),
    mode=st.sampled_from(MODES),
    page=st.integers(1, 10_000),
    folders=st.lists(st.text(min_size=1, max_size=10), max_size=3, unique=True),
)
def test_any_view_round_trips_through_a_link(
    query: str, mode: str, page: int, folders: list[str]
) -> None:
    view = SearchView(
        SearchRequest(query, mode), results_page=page, facets=SearchFacets(folders=tuple(folders))
    )
    link = search_link("http://host:8501", "search", view_params(view))
    address = urlsplit(link)
    assert address.path == "/search"
    params = parse_qs(address.query, keep_blank_values=True)
    assert parse_view(params, MODES).view == view


def test_bad_values_are_reported_and_replaced_by_defaults() -> None:
    parsed = parse_view(
        {
            QUERY: ["rey"],
            MODE: ["<script>"],
            MIN_CONFIDENCE: ["nan"],
            SORT: ["random"],
            RESULTS_PAGE: ["-2"],
            HIT: ["9" * 5000],
            BAND: ["high", "purple"],
        },
        MODES,
    )
    assert parsed.view == SearchView(SearchRequest("rey"), facets=SearchFacets(bands=("high",)))
    assert parsed.problems == (
        UrlProblem(MODE, "<script>"),
        UrlProblem(MIN_CONFIDENCE, "nan"),
        UrlProblem(SORT, "random"),
        UrlProblem(RESULTS_PAGE, "-2"),
        UrlProblem(HIT, "9" * 5000),
        UrlProblem(BAND, "purple"),
    )
    assert parsed.results_page_given  # named, if badly: a picked-out hit does not move it


def test_out_of_range_confidence_and_repeated_values() -> None:
    parsed = parse_view({QUERY: ["rey", "dios"], MIN_CONFIDENCE: ["1.5"]}, MODES)
    assert parsed.view == SearchView(SearchRequest("rey"))
    assert parsed.problems == (UrlProblem(QUERY, "dios"), UrlProblem(MIN_CONFIDENCE, "1.5"))


def test_an_address_without_a_query_has_no_view() -> None:
    assert parse_view({MODE: ["exact"]}, MODES).view is None
    assert parse_view({QUERY: ["   "]}, MODES).view is None


def test_other_parameters_are_ignored() -> None:
    assert search_params({"page_id": ["4"], QUERY: ["rey"], BAND: []}) == {QUERY: ["rey"]}


def test_a_relative_link_without_the_app_address() -> None:
    assert search_link(None, "search", {QUERY: "a b&c"}) == "/search?q=a+b%26c"
