"""Transcripts as Markdown: escaped so they show as themselves, doubtful words marked."""

from __future__ import annotations

import re
import string

import pytest

from htr.document import Word
from ui.text import escape_markdown, marked_transcript

HOSTILE = (
    "<script>alert(1)</script>",
    '<img src=x onerror="alert(1)">',
    "[pulse](javascript:alert(1))",
    "**negrita** _cursiva_ `código` ~~tachado~~",
    "# título",
    "$x^2$ y \\(a\\)",
    ":red[rojo] :material/home: :smile:",
    "&lt;b&gt; &amp; &#60;",
    "> cita\n- lista\n1. uno",
    "linea\u2028otra\r\nmas",
)


@pytest.mark.parametrize("text", HOSTILE)
def test_escaped_text_has_no_markup_left(text: str) -> None:
    escaped = escape_markdown(text)
    assert "\n" not in escaped and "\u2028" not in escaped
    # read left to right: every ASCII punctuation character is one a backslash escapes
    position = 0
    while position < len(escaped):
        char = escaped[position]
        if char == "\\":
            assert escaped[position + 1] in string.punctuation, escaped
            position += 2
            continue
        assert char not in string.punctuation, (text, escaped, position)
        position += 1


def test_unescaping_gives_the_text_back() -> None:
    for text in HOSTILE:
        escaped = escape_markdown(text)
        assert re.sub(r"\\(.)", r"\1", escaped) == re.sub(r"[\r\n\u2028]+", " ", text)


def test_doubtful_words_are_marked_and_still_escaped() -> None:
    words = (
        Word("en", 0.9, (0, 0, 10, 10)),
        Word("<b>", 0.2, (12, 0, 30, 10)),
        Word("dios", 0.95, (32, 0, 60, 10)),
    )
    assert marked_transcript("en <b> dios", words) == r"en :orange-background[\<b\>] dios"


def test_words_that_do_not_match_the_text_mark_nothing() -> None:
    words = (Word("en", 0.1, (0, 0, 10, 10)),)
    assert marked_transcript("en el", words) == "en el"
    assert marked_transcript("   ", words) == ""
