"""A search page's view as query parameters, so that a link reproduces it.

``/?q=rey&mode=exact&collection=cartas&min_confidence=0.5&sort=document&results_page=2``
``&facet_folder=scans&band=high&hit=1873``: every parameter but ``q`` may be left out, and
values equal to their defaults are not written. ``facet_collection``, ``facet_folder`` and
``band`` may repeat. Reading is forgiving: a value that cannot be used is reported as a
`UrlProblem` and replaced by its default, so a mangled link still opens a page.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

from ui.hit_groups import BANDS
from ui.state import SORTS, SearchFacets, SearchRequest, SearchView

QUERY = "q"
MODE = "mode"
COLLECTION = "collection"
MIN_CONFIDENCE = "min_confidence"
SORT = "sort"
RESULTS_PAGE = "results_page"
FACET_COLLECTION = "facet_collection"
FACET_FOLDER = "facet_folder"
BAND = "band"
HIT = "hit"
PARAMETERS = (
    QUERY,
    MODE,
    COLLECTION,
    MIN_CONFIDENCE,
    SORT,
    RESULTS_PAGE,
    FACET_COLLECTION,
    FACET_FOLDER,
    BAND,
    HIT,
)
"""The query parameters of a search view; any others in an address are ignored."""
REQUEST_PARAMETERS = (QUERY, MODE, COLLECTION, MIN_CONFIDENCE)
"""The parameters of the search itself: what a link to a page carries to box its hits."""
MAX_QUERY_CHARS = 500
"""Longer queries in a link are cut (and reported)."""

Params = Mapping[str, Sequence[str]]
"""Query parameters as ``st.query_params`` holds them: each name with its values."""


@dataclass(frozen=True, slots=True)
class UrlProblem:
    """A query parameter whose value was not used.

    Attributes:
        name: The parameter.
        value: The value as given (maybe hostile: escape it before showing it).
    """

    name: str
    value: str


@dataclass(frozen=True, slots=True)
class ParsedView:
    """What an address asked for.

    Attributes:
        view: The view, defaults in place of what could not be used; None when the address
            holds no query.
        problems: The values that were not used.
        results_page_given: Whether the address named the page of results (else a selected
            hit's page may be shown).
    """

    view: SearchView | None
    problems: tuple[UrlProblem, ...] = field(default=())
    results_page_given: bool = False


def view_params(view: SearchView, default_mode: str = "auto") -> dict[str, str | list[str]]:
    """The query parameters of a view, defaults left out (see the module docstring)."""
    request = view.request
    params: dict[str, str | list[str]] = {QUERY: request.query}
    if request.mode != default_mode:
        params[MODE] = request.mode
    if request.collection:
        params[COLLECTION] = request.collection
    if request.min_confidence:
        params[MIN_CONFIDENCE] = f"{request.min_confidence:g}"
    if view.sort != SORTS[0]:
        params[SORT] = view.sort
    if view.results_page > 1:
        params[RESULTS_PAGE] = str(view.results_page)
    for name, values in (
        (FACET_COLLECTION, view.facets.collections),
        (FACET_FOLDER, view.facets.folders),
        (BAND, view.facets.bands),
    ):
        if values:
            params[name] = list(values)
    if view.selected is not None:
        params[HIT] = str(view.selected)
    return params


def request_params(request: SearchRequest, default_mode: str = "auto") -> dict[str, str]:
    """The query parameters of a search alone (`REQUEST_PARAMETERS`), defaults left out."""
    params = view_params(SearchView(request), default_mode)
    return {k: v for k, v in params.items() if k in REQUEST_PARAMETERS and isinstance(v, str)}


def parse_request(params: Params, modes: Sequence[str]) -> SearchRequest | None:
    """Reads a search from an address, as `request_params` writes it; None without a query.

    Values that cannot be used are replaced by their defaults (see `parse_view`).
    """
    view = parse_view({k: params[k] for k in REQUEST_PARAMETERS if k in params}, modes).view
    return view.request if view is not None else None


def search_params(params: Params) -> dict[str, list[str]]:
    """Only the search view's parameters of an address, each with its values as a list."""
    return {name: list(params[name]) for name in PARAMETERS if params.get(name)}


def parse_view(params: Params, modes: Sequence[str]) -> ParsedView:
    """Reads a view from an address's query parameters (module docstring).

    Args:
        params: The query parameters; those not in `PARAMETERS` are ignored.
        modes: The valid search modes, the default first.

    Returns:
        The view (None without a non-blank ``q``) and the values that were not used.
    """
    problems: list[UrlProblem] = []

    def single(name: str) -> str | None:
        values = params.get(name) or ()
        if len(values) > 1:
            problems.append(UrlProblem(name, " · ".join(values[1:])))
        return values[0] if values else None

    query = (single(QUERY) or "").strip()
    if len(query) > MAX_QUERY_CHARS:
        problems.append(UrlProblem(QUERY, query[MAX_QUERY_CHARS:]))
        query = query[:MAX_QUERY_CHARS]
    mode = _choice(single(MODE), modes, MODE, problems)
    collection = single(COLLECTION) or None
    min_confidence = _confidence(single(MIN_CONFIDENCE), problems)
    sort = _choice(single(SORT), SORTS, SORT, problems)
    page_text = single(RESULTS_PAGE)
    results_page = _positive(page_text, RESULTS_PAGE, problems) or 1
    selected = _positive(single(HIT), HIT, problems)
    bands = []
    for band in params.get(BAND) or ():
        if band in BANDS:
            bands.append(band)
        else:
            problems.append(UrlProblem(BAND, band))
    facets = SearchFacets(
        collections=_distinct(params.get(FACET_COLLECTION) or ()),
        folders=_distinct(params.get(FACET_FOLDER) or ()),
        bands=_distinct(bands),
    )
    if not query:
        return ParsedView(None, tuple(problems))
    request = SearchRequest(query, mode, collection, min_confidence)
    view = SearchView(request, results_page, sort, facets, selected)
    return ParsedView(view, tuple(problems), results_page_given=page_text is not None)


def search_link(base_url: str | None, page_path: str, params: Mapping[str, object]) -> str:
    """The address of a view: absolute when the app's own address is known, else relative.

    Args:
        base_url: The app's address without page or query (``st.context.url``), or None.
        page_path: The search page's path: empty for the app's default page, which Streamlit
            serves at the root only.
        params: The view's query parameters (`view_params`).
    """
    query = urlencode(params, doseq=True)
    base = (base_url or "").rstrip("/")
    return f"{base}/{page_path}?{query}"


def _choice(
    value: str | None, choices: Sequence[str], name: str, problems: list[UrlProblem]
) -> str:
    if value is None:
        return choices[0]
    if value not in choices:
        problems.append(UrlProblem(name, value))
        return choices[0]
    return value


def _confidence(value: str | None, problems: list[UrlProblem]) -> float | None:
    if value is None:
        return None
    try:
        number = float(value)
    except ValueError:
        number = math.nan
    if not 0.0 <= number <= 1.0:  # NaN fails too
        problems.append(UrlProblem(MIN_CONFIDENCE, value))
        return None
    return number or None


def _positive(value: str | None, name: str, problems: list[UrlProblem]) -> int | None:
    if value is None:
        return None
    if len(value) > 12 or not value.isascii() or not value.isdigit() or int(value) < 1:
        problems.append(UrlProblem(name, value))
        return None
    return int(value)


def _distinct(values: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(v for v in values if v))
