"""The passages the semantic index embeds: every line, and short windows of lines.

A question asked in modern words rarely matches one line of a manuscript, where sentences
run over several lines; so besides each line, windows of `WINDOW_LINES` consecutive lines of
one page are embedded. Windows start every `WINDOW_STRIDE` lines, so consecutive windows
share a line and every pair of neighbouring lines sits together in some window. A window is
identified by ``-(id of its first line)``, a line by its own (positive) id; the semantic
index sees only these int64 ids.

Both `legajo reindex` (building the index from the database) and `indexer.search.service` (keeping
it fresh after corrections) take their passages from here, so both agree on them.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence

WINDOW_LINES = 3
"""Lines per window."""
WINDOW_STRIDE = 2
"""Lines from the start of one window to the start of the next."""


def window_id(first_line_id: int) -> int:
    """The passage id of the window that starts at a line."""
    return -first_line_id


def is_window(passage_id: int) -> bool:
    """True for a window's id, False for a line's."""
    return passage_id < 0


def first_line_of(passage_id: int) -> int:
    """The line a passage starts at: the line itself, or a window's first line."""
    return -passage_id if passage_id < 0 else passage_id


def page_passages(lines: Sequence[tuple[int, str]]) -> list[tuple[int, str]]:
    """The passages of one page.

    Args:
        lines: The page's lines in reading order: (line id, current text).

    Returns:
        (passage id, text) for every line with text, then every window of at least two
        lines with text (a window's lines joined by spaces).
    """
    passages = [(line_id, text.strip()) for line_id, text in lines if text.strip()]
    for start in range(0, max(0, len(lines) - 1), WINDOW_STRIDE):
        window = lines[start : start + WINDOW_LINES]
        texts = [text.strip() for _, text in window if text.strip()]
        if len(window) >= 2 and len(texts) >= 2:
            passages.append((window_id(window[0][0]), " ".join(texts)))
    return passages


def window_lines(first_line_id: int, lines: Sequence[tuple[int, str]]) -> list[int]:
    """The ids of the lines of the window starting at `first_line_id` (same input as above)."""
    ids = [line_id for line_id, _ in lines]
    if first_line_id not in ids:
        return []
    start = ids.index(first_line_id)
    return ids[start : start + WINDOW_LINES]


def collection_passages(rows: Iterable[tuple[int, int, int, str]]) -> Iterator[tuple[int, str]]:
    """The passages of every page, from `Repository.line_texts()` rows.

    Args:
        rows: (line id, page id, position, text), sorted by page and position.
    """
    page: list[tuple[int, str]] = []
    page_id: int | None = None
    for line_id, row_page, _position, text in rows:
        if row_page != page_id and page:
            yield from page_passages(page)
            page = []
        page_id = row_page
        page.append((line_id, text))
    if page:
        yield from page_passages(page)
