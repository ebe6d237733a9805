"""Tokenisation of diplomatic transcriptions: the words of a line, as the scribe wrote them.

Words are split on whitespace, punctuation and symbols; combining marks, abbreviation signs
and digits stay in their word; editorial brackets and invisible format characters are
dropped without splitting the word. Used by `indexer.spelling.normalize` and, word by word, by
`indexer.spelling.abbreviations`.
"""

from __future__ import annotations

import unicodedata
from functools import lru_cache

__all__ = ["is_word_char", "tokenize"]

_WORD_SIGNS = frozenset("⁊&")
"""Signs that Unicode files as punctuation but that are words (both mean "and")."""

_IGNORABLE = frozenset("⟦⟧[]⸢⸣⸤⸥")
"""Editorial brackets: deleted (``⟦de⟧``) or supplied (``ca[n]``) letters are still read."""


@lru_cache(maxsize=4096)
def _char_class(char: str) -> int:
    """0: separator, 1: word character, 2: ignorable (dropped, does not split)."""
    if char in _WORD_SIGNS:
        return 1
    if char in _IGNORABLE:
        return 2
    category = unicodedata.category(char)
    if category[0] in "LMN" or category == "Co":  # Co: MUFI private-use letters
        return 1
    if category == "Cf":  # soft hyphen, zero-width joiners
        return 2
    return 0


def tokenize(text: str) -> list[str]:
    """Returns the words of a line as written, in order.

    Words are split on whitespace, punctuation and symbols; combining marks, abbreviation
    signs (``⁊``, ``ꝑ``, ``q̃``) and digits stay in their word. Editorial brackets and
    invisible format characters are removed without splitting (``erra⟦⟧da`` -> ``errada``).
    The scribe's spacing is kept: ``ningunamanera`` is one word.

    Args:
        text: A line of transcription or a query.

    Returns:
        The words, unnormalised.
    """
    words: list[str] = []
    current: list[str] = []
    for char in text:
        kind = _char_class(char)
        if kind == 1:
            current.append(char)
        elif kind == 0 and current:
            words.append("".join(current))
            current = []
    if current:
        words.append("".join(current))
    return words


def is_word_char(char: str) -> bool:
    """Whether `char` belongs to a word (a letter, mark, digit or word sign such as ``⁊``)."""
    return _char_class(char) == 1
