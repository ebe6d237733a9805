"""Transcripts as Markdown that shows them literally, with doubtful words marked.

A transcript may hold anything a recogniser or an editor produced, ``<script>`` included, so
it never reaches Streamlit as HTML. In Markdown every ASCII punctuation character is
backslash-escaped (CommonMark then shows it as itself: no tag, link, emphasis, entity,
heading, LaTeX or colour directive can start), and line breaks become spaces. The only
Markdown in the result is the marking that this module adds around whole words.
"""

from __future__ import annotations

import re
import string
from collections.abc import Sequence

from htr.confidence import word_spans
from htr.document import Word

DOUBTFUL_BELOW = 0.5
"""Words read with a confidence below this are marked as doubtful."""

_PUNCTUATION = re.compile("([" + re.escape(string.punctuation) + "])")
_LINE_BREAKS = re.compile(r"[\r\n\v\f\x1c-\x1e\x85\u2028\u2029]+")


def escape_markdown(text: str) -> str:
    """Returns Markdown that Streamlit renders as exactly `text` (on one line)."""
    return _PUNCTUATION.sub(r"\\\1", _LINE_BREAKS.sub(" ", text))


def is_doubtful(word: Word, threshold: float = DOUBTFUL_BELOW) -> bool:
    """True when a word was read with a confidence below `threshold`."""
    return word.confidence < threshold


def marked_transcript(text: str, words: Sequence[Word], threshold: float = DOUBTFUL_BELOW) -> str:
    """Escaped Markdown of a line's text with its doubtful words on an orange background.

    Args:
        text: The line's current text.
        words: Its words in order (one per whitespace-separated word of `text`); when they
            do not match the text, nothing is marked.
        threshold: See `is_doubtful`.
    """
    spans = word_spans(text)
    if not spans:
        return ""
    if len(spans) != len(words):
        return escape_markdown(text)
    parts = []
    for (start, end), word in zip(spans, words, strict=True):
        escaped = escape_markdown(text[start:end])
        parts.append(f":orange-background[{escaped}]" if is_doubtful(word, threshold) else escaped)
    return " ".join(parts)
