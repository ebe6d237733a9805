"""Semantic passages: lines and overlapping windows of three lines."""

from __future__ import annotations

from indexer.search.passages import (
    collection_passages,
    first_line_of,
    is_window,
    page_passages,
    window_lines,
)


def test_lines_then_windows_every_two_lines() -> None:
    lines = [(10, "a"), (11, "b"), (12, "c"), (13, "d"), (14, "e")]
    assert page_passages(lines) == [
        (10, "a"),
        (11, "b"),
        (12, "c"),
        (13, "d"),
        (14, "e"),
        (-10, "a b c"),
        (-12, "c d e"),
    ]


def test_short_pages_and_empty_lines() -> None:
    assert page_passages([(1, "solo")]) == [(1, "solo")]
    assert page_passages([(1, "a"), (2, " ")]) == [(1, "a")]
    assert page_passages([(1, "a"), (2, "b"), (3, "c"), (4, "d")]) == [
        (1, "a"),
        (2, "b"),
        (3, "c"),
        (4, "d"),
        (-1, "a b c"),
        (-3, "c d"),
    ]


def test_ids_and_window_members() -> None:
    lines = [(5, "a"), (6, "b"), (7, "c"), (8, "d")]
    assert is_window(-5) and not is_window(5)
    assert first_line_of(-7) == first_line_of(7) == 7
    assert window_lines(7, lines) == [7, 8]
    assert window_lines(5, lines) == [5, 6, 7]
    assert window_lines(99, lines) == []


def test_collection_passages_split_by_page() -> None:
    rows = [(1, 1, 0, "a"), (2, 1, 1, "b"), (3, 2, 0, "c"), (4, 2, 1, "d")]
    assert list(collection_passages(rows)) == [
        (1, "a"),
        (2, "b"),
        (-1, "a b"),
        (3, "c"),
        (4, "d"),
        (-3, "c d"),
    ]
