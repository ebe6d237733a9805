"""Query planning: a parsed query, normalised into terms of word keys (`plan_of`).

A query (syntax in `indexer.search.query`) becomes an AND of OR groups of terms, and excluded
terms; each term is a word (one key; a word may normalise to several, then it is read as a
phrase) or a phrase (several keys), normalised exactly as the word index is
(`indexer.store.word_index`).
"""

from __future__ import annotations

from dataclasses import dataclass

from indexer.search.query import Operand, Phrase, QuerySyntaxError, parse_query
from indexer.spelling.normalize import word_keys
from indexer.store.word_index import FORM_SETTINGS


@dataclass(frozen=True, slots=True)
class Term:
    """A query word (one key) or phrase (several), normalised."""

    keys: tuple[str, ...]
    prefix: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """A query as AND of OR groups of terms, and excluded terms."""

    groups: tuple[tuple[Term, ...], ...]
    excluded: tuple[Term, ...] = ()
    text: str = ""


def plan_of(text: str) -> Plan:
    """Parses and normalises a query.

    Args:
        text: The query (syntax in `indexer.search.query`).

    Returns:
        The query's OR groups and excluded terms, terms without any key left out.

    Raises:
        QuerySyntaxError: If the query is malformed or has no word to search for.
    """
    query = parse_query(text)
    groups = []
    for clause in query.groups:
        terms = tuple(t for t in (term_of(op) for op in clause.alternatives) if t.keys)
        if terms:
            groups.append(terms)
    if not groups:
        raise QuerySyntaxError(text, 0, "the query has no word to search for")
    excluded = tuple(t for t in (term_of(op) for op in query.excluded) if t.keys)
    return Plan(tuple(groups), excluded, " ".join(op.text for op in query.operands()))


def term_of(operand: Operand) -> Term:
    """The normalised keys of a query word or phrase (a word may normalise to several)."""
    if isinstance(operand, Phrase):
        keys = tuple(key for word in operand.words for key in word_keys(word, FORM_SETTINGS))
        return Term(keys)
    return Term(tuple(word_keys(operand.text, FORM_SETTINGS)), operand.prefix)
