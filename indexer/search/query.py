"""The search query language: words, "quoted phrases", OR, -excluded terms, trailing ``*``.

Grammar (whitespace separates items; an item is a word or a phrase)::

    query   := item+                        all clauses must match (AND)
    item    := clause | "-" operand          "-" excludes lines that match the operand
    clause  := operand ("OR" operand)*      any one operand matches (OR binds tighter)
    operand := word | word "*" | '"' words '"'

- ``OR`` is an operator only in upper case and between two operands; ``or`` is a word.
- ``*`` is a prefix wildcard, only at the end of a word (``castill*``); a lone ``*``, a
  leading ``*`` or one inside a word or a phrase is an error.
- A bare word that punctuation splits into several words (``d'aquel``) is a phrase.
  Items made only of punctuation (``,``) are ignored.
- Limits: at most `MAX_QUERY_CHARS` characters and `MAX_OPERANDS` operands, no control
  characters.

The parser keeps words as typed; callers normalise them (`indexer.spelling.normalize`) with the
collection's settings. Anything malformed raises `QuerySyntaxError` with the character
position of the problem.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Literal

from indexer.errors import IndexerError
from indexer.spelling.normalize import NormalizationSettings, normalize, tokenize

__all__ = [
    "MAX_OPERANDS",
    "MAX_QUERY_CHARS",
    "Clause",
    "Operand",
    "Phrase",
    "Query",
    "QuerySyntaxError",
    "Term",
    "describe",
    "parse_query",
]

MAX_QUERY_CHARS = 500
"""Longest query accepted, in characters."""

MAX_OPERANDS = 32
"""Most terms and phrases (excluded ones included) in one query."""

_CONTENT_CHECK = NormalizationSettings(variants=None)
_WHITESPACE_CONTROLS = frozenset("\t\n\r")


class QuerySyntaxError(IndexerError):
    """A search query is malformed.

    Attributes:
        query: The query as given.
        position: 0-based index of the character where the problem is.
        reason: What is wrong, without the position.
    """

    def __init__(self, query: str, position: int, reason: str) -> None:
        super().__init__(f"{reason} (at character {position + 1})")
        self.query = query
        self.position = position
        self.reason = reason

    def pointer(self) -> str:
        """Returns the query and, under it, a caret at the problem (for a terminal)."""
        line = self.query.replace("\t", " ").replace("\n", " ").replace("\r", " ")
        return f"{line}\n{' ' * self.position}^"


@dataclass(frozen=True, slots=True)
class Term:
    """One word as typed (marks and abbreviation signs kept, punctuation stripped).

    Attributes:
        text: The word; for a prefix, the part before ``*``.
        prefix: True for ``word*``: any word that starts with `text`.
    """

    text: str
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Phrase:
    """Consecutive words as typed, matched in this order.

    Attributes:
        words: The words (at least one).
    """

    words: tuple[str, ...]

    @property
    def text(self) -> str:
        """The words joined by single spaces."""
        return " ".join(self.words)


Operand = Term | Phrase


@dataclass(frozen=True, slots=True)
class Clause:
    """Alternatives joined by OR; a line matches the clause if it matches any of them.

    Attributes:
        alternatives: The operands (at least one).
    """

    alternatives: tuple[Operand, ...]


@dataclass(frozen=True, slots=True)
class Query:
    """A parsed query: every clause must match, and no excluded operand may.

    Attributes:
        groups: The clauses, ANDed, in the order typed (at least one).
        excluded: Operands whose matches are removed, in the order typed.
    """

    groups: tuple[Clause, ...]
    excluded: tuple[Operand, ...] = ()

    def operands(self) -> Iterator[Operand]:
        """Yields every operand that must or may match (not the excluded ones)."""
        for clause in self.groups:
            yield from clause.alternatives


@dataclass(frozen=True, slots=True)
class _Lexeme:
    kind: Literal["or", "word", "phrase"]
    text: str
    position: int  # of the first character of `text`
    start: int  # of the item, including a leading "-"
    negated: bool = False


def parse_query(text: str) -> Query:
    """Parses a search query.

    Args:
        text: The query as typed.

    Returns:
        The query.

    Raises:
        QuerySyntaxError: The query is empty, too long, has too many operands, control
            characters, only exclusions, an unclosed quote, a dangling ``OR`` or ``-``, or a
            misplaced ``*``. The message says what and where.
    """
    _check_characters(text)
    groups: list[list[Operand]] = []
    excluded: list[Operand] = []
    previous: Literal["none", "positive", "negative", "or"] = "none"
    or_position = -1
    count = 0
    for lexeme in _lex(text):
        if lexeme.kind == "or":
            if previous == "or":
                raise QuerySyntaxError(text, lexeme.position, "OR follows another OR")
            if previous != "positive":
                raise QuerySyntaxError(
                    text, lexeme.position, "OR needs a term or phrase before it (not excluded)"
                )
            previous, or_position = "or", lexeme.position
            continue
        operand = _operand(text, lexeme)
        if operand is None:
            continue
        count += 1
        if count > MAX_OPERANDS:
            raise QuerySyntaxError(
                text, lexeme.start, f"too many terms (at most {MAX_OPERANDS} terms and phrases)"
            )
        if lexeme.negated:
            if previous == "or":
                raise QuerySyntaxError(
                    text, lexeme.start, "an excluded term cannot be an alternative of OR"
                )
            excluded.append(operand)
            previous = "negative"
        elif previous == "or":
            groups[-1].append(operand)
            previous = "positive"
        else:
            groups.append([operand])
            previous = "positive"
    if previous == "or":
        raise QuerySyntaxError(text, or_position, "OR needs a term or phrase after it")
    if not groups:
        if excluded:
            raise QuerySyntaxError(
                text, 0, "a query needs at least one term that is not excluded with -"
            )
        raise QuerySyntaxError(text, 0, "the query is empty: type a word or a phrase")
    return Query(
        tuple(Clause(tuple(alternatives)) for alternatives in groups),
        tuple(excluded),
    )


def describe(query: Query) -> str:
    """Returns a one-line rendering of `query` for logs; it parses back to the same query."""
    parts = [" OR ".join(_render(op) for op in clause.alternatives) for clause in query.groups]
    parts.extend("-" + _render(op) for op in query.excluded)
    return " ".join(parts)


def _render(operand: Operand) -> str:
    if isinstance(operand, Phrase):
        return f'"{operand.text}"'
    if operand.text == "OR" and not operand.prefix:
        return "OR."  # the word, typed as OR, or "OR,": bare OR would read as the operator
    return operand.text + ("*" if operand.prefix else "")


def _check_characters(text: str) -> None:
    if len(text) > MAX_QUERY_CHARS:
        raise QuerySyntaxError(
            text,
            MAX_QUERY_CHARS,
            f"the query is too long ({len(text)} characters, at most {MAX_QUERY_CHARS})",
        )
    for position, char in enumerate(text):
        category = unicodedata.category(char)
        if (category == "Cc" and char not in _WHITESPACE_CONTROLS) or category == "Cs":
            raise QuerySyntaxError(
                text, position, f"control character U+{ord(char):04X} is not allowed"
            )


def _lex(text: str) -> Iterator[_Lexeme]:
    position, end = 0, len(text)
    while position < end:
        if text[position].isspace():
            position += 1
            continue
        start, negated = position, False
        if text[position] == "-":
            if position + 1 == end or text[position + 1].isspace():
                raise QuerySyntaxError(
                    text, position, "- must be followed by a word or phrase to exclude"
                )
            negated = True
            position += 1
        if text[position] == '"':
            close = text.find('"', position + 1)
            if close < 0:
                raise QuerySyntaxError(
                    text, position, 'unbalanced quote: this " opens a phrase that is not closed'
                )
            yield _Lexeme("phrase", text[position + 1 : close], position + 1, start, negated)
            position = close + 1
            continue
        stop = position
        while stop < end and not text[stop].isspace() and text[stop] != '"':
            stop += 1
        word = text[position:stop]
        if word == "OR" and not negated:
            yield _Lexeme("or", word, position, start)
        else:
            yield _Lexeme("word", word, position, start, negated)
        position = stop


def _has_content(word: str) -> bool:
    return bool(normalize(word, _CONTENT_CHECK))


def _operand(text: str, lexeme: _Lexeme) -> Operand | None:
    """The operand a word or phrase lexeme stands for; None for bare punctuation."""
    raw = lexeme.text
    star = raw.find("*")
    if lexeme.kind == "phrase":
        if star >= 0:
            raise QuerySyntaxError(
                text, lexeme.position + star, "* is not allowed inside a quoted phrase"
            )
        phrase = tuple(word for word in tokenize(raw) if _has_content(word))
        if not phrase:
            raise QuerySyntaxError(text, lexeme.start, "the quoted phrase has no words")
        return Phrase(phrase)
    prefix = False
    if star >= 0:
        if raw.strip("*") == "":
            raise QuerySyntaxError(
                text,
                lexeme.position,
                "a lone * would match everything; put it after the start of a word (castill*)",
            )
        if star == 0:
            raise QuerySyntaxError(
                text, lexeme.position, "* only works at the end of a word (castill*), not first"
            )
        if star != len(raw) - 1:
            raise QuerySyntaxError(
                text, lexeme.position + star, "* only works once, at the end of a word (castill*)"
            )
        prefix, raw = True, raw[:-1]
    words = [word for word in tokenize(raw) if _has_content(word)]
    if not words:
        if prefix:
            raise QuerySyntaxError(text, lexeme.position, "* must follow letters or digits")
        if lexeme.negated:
            raise QuerySyntaxError(text, lexeme.start, "- is followed by nothing to exclude")
        return None
    if len(words) > 1:
        if prefix:
            raise QuerySyntaxError(
                text,
                lexeme.position,
                f"* applies to one word, but {lexeme.text!r} has {len(words)}; quote or split them",
            )
        return Phrase(tuple(words))
    return Term(words[0], prefix)
