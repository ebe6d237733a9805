"""The history's diff between two versions of a line (`ui.diffs`)."""

from __future__ import annotations

import itertools

import pytest

from ui.diffs import VISIBLE_SPACE, Change, DiffPiece, diff_markdown, text_diff

Q_TILDE = "q\u0303"


def test_a_changed_letter_is_removed_then_added() -> None:
    assert text_diff("en el nonbre", "en el nombre") == [
        DiffPiece(Change.SAME, "en el no"),
        DiffPiece(Change.REMOVED, "n"),
        DiffPiece(Change.ADDED, "m"),
        DiffPiece(Change.SAME, "bre"),
    ]


def test_a_combining_mark_changes_its_whole_character() -> None:
    assert text_diff("que", f"{Q_TILDE}e") == [
        DiffPiece(Change.REMOVED, "qu"),
        DiffPiece(Change.ADDED, Q_TILDE),
        DiffPiece(Change.SAME, "e"),
    ]


@pytest.mark.parametrize(
    ("old", "new"),
    [
        ("", "amen"),
        ("amen", ""),
        ("same", "same"),
        ("sepan quantos esta carta", "sepan q\u0303tos esta carta \u204a"),
        ("e\u0303 a\u0304", "e\u0304 a\u0303"),
    ],
)
def test_pieces_rebuild_both_versions(old: str, new: str) -> None:
    pieces = text_diff(old, new)
    assert "".join(p.text for p in pieces if p.change is not Change.ADDED) == old
    assert "".join(p.text for p in pieces if p.change is not Change.REMOVED) == new
    assert all(p.text for p in pieces)
    assert all(a.change is not b.change for a, b in itertools.pairwise(pieces))


def test_markdown_marks_changes_and_escapes_the_text() -> None:
    markdown = diff_markdown(text_diff("a <b>", "a *b* c"))
    assert ":red-background[~~" in markdown and ":green-background[" in markdown
    assert "<b>" not in markdown and "\\<" in markdown and "\\*" in markdown
    assert VISIBLE_SPACE in markdown  # the added space before "c" shows
    assert diff_markdown(text_diff("amen", "amen")) == "amen"
