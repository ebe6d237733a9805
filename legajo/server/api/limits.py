"""The limits of the JSON API: page sizes, query length, the time a search may take."""

from __future__ import annotations

MAX_LIMIT = 100
"""Most items one answer lists (``limit`` of search and of page listings)."""
DEFAULT_LIMIT = 20
"""Items an answer lists when ``limit`` is not given."""
MAX_OFFSET = 10_000
"""Furthest a listing may page (``offset``): deeper pages cost in proportion, so narrow the
query instead."""
MAX_QUERY_CHARS = 500
"""Longest search query."""
MAX_NAME_CHARS = 200
"""Longest collection name in a request."""
MAX_LINE_CHARS = 2_000
"""Longest corrected line text."""
MAX_EDITOR_CHARS = 64
"""Longest editor name typed in a correction (servers without accounts)."""
SEARCH_TIMEOUT_S = 5.0
"""Time limit of one search, its statements interrupted when they run past it (503)."""
