"""Query parsing: the syntax, its errors with positions, and a fuzz of the parser."""

from __future__ import annotations

import re
import unicodedata

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from htr.errors import LegajoError
from indexer.errors import IndexerError
from indexer.search.query import (
    MAX_OPERANDS,
    MAX_QUERY_CHARS,
    Clause,
    Phrase,
    Query,
    QuerySyntaxError,
    Term,
    describe,
    parse_query,
)


def terms(*words: str) -> tuple[Clause, ...]:
    return tuple(Clause((Term(word),)) for word in words)


def test_words_are_anded_in_order() -> None:
    assert parse_query("rey  castilla") == Query(terms("rey", "castilla"))


def test_phrase() -> None:
    assert parse_query('"rey de castilla" moros') == Query(
        (Clause((Phrase(("rey", "de", "castilla")),)), Clause((Term("moros"),)))
    )


def test_or_binds_tighter_than_and() -> None:
    query = parse_query('fazer OR hacer "nr̃o señor" OR dios rey')
    assert query.groups == (
        Clause((Term("fazer"), Term("hacer"))),
        Clause((Phrase(("nr̃o", "señor")), Term("dios"))),
        Clause((Term("rey"),)),
    )
    assert list(query.operands())[:2] == [Term("fazer"), Term("hacer")]


def test_lower_case_or_is_a_word() -> None:
    assert parse_query("oro or plata") == Query(terms("oro", "or", "plata"))


def test_excluded_terms_and_phrases() -> None:
    query = parse_query('castilla -leon -"rey moro" -mor*')
    assert query.groups == terms("castilla")
    assert query.excluded == (Term("leon"), Phrase(("rey", "moro")), Term("mor", prefix=True))


def test_hyphen_inside_a_word_is_not_exclusion() -> None:
    assert parse_query("medio-dia").groups == (Clause((Phrase(("medio", "dia")),)),)


def test_prefix_wildcard() -> None:
    assert parse_query("castill*").groups == (Clause((Term("castill", prefix=True),)),)
    assert parse_query("(castill*").groups == (Clause((Term("castill", prefix=True),)),)


def test_abbreviations_and_marks_are_kept_as_typed() -> None:
    word = unicodedata.normalize("NFD", "q̃")
    assert parse_query(f"{word} ꝑo ⁊").groups == terms(word, "ꝑo", "⁊")


def test_punctuation_only_items_are_ignored() -> None:
    assert parse_query("rey , castilla ¶") == Query(terms("rey", "castilla"))


def test_punctuated_word_becomes_a_phrase() -> None:
    assert parse_query("d'aquel").groups == (Clause((Phrase(("d", "aquel")),)),)


def test_tabs_and_newlines_are_whitespace() -> None:
    assert parse_query("rey\tcastilla\n") == Query(terms("rey", "castilla"))


@pytest.mark.parametrize(
    ("text", "position", "message"),
    [
        ("", 0, "empty"),
        ("   ", 0, "empty"),
        (", ;", 0, "empty"),
        ("-rey", 0, "not excluded"),
        ("-rey -moro", 0, "not excluded"),
        ('rey "de castilla', 4, "unbalanced quote"),
        ('"', 0, "unbalanced quote"),
        ('rey ""', 4, "no words"),
        ("OR rey", 0, "OR needs a term"),
        ("rey OR", 4, "after it"),
        ("rey OR OR moro", 7, "OR follows another OR"),
        ("rey -moro OR leon", 10, "OR needs a term"),
        ("rey OR -moro", 7, "cannot be an alternative"),
        ("*", 0, "lone *"),
        ("rey ***", 4, "lone *"),
        ("*rey", 0, "end of a word"),
        ("re*y", 2, "end of a word"),
        ("rey**", 3, "once"),
        ('"castill* rey"', 8, "inside a quoted phrase"),
        ("rey - moro", 4, "followed by a word"),
        ("rey -", 4, "followed by a word"),
        ("rey -,", 4, "nothing to exclude"),
        (",*", 0, "must follow letters"),
        ("d'aque*", 0, "one word"),
        ("rey\x00moro", 3, "control character U+0000"),
        ("rey\x1b", 3, "control character U+001B"),
    ],
)
def test_malformed_queries(text: str, position: int, message: str) -> None:
    with pytest.raises(QuerySyntaxError, match=re.escape(message)) as caught:
        parse_query(text)
    error = caught.value
    assert error.position == position
    assert f"at character {position + 1}" in str(error)
    assert error.pointer().splitlines()[1] == " " * position + "^"


def test_too_long() -> None:
    with pytest.raises(QuerySyntaxError, match="too long") as caught:
        parse_query("a" * (MAX_QUERY_CHARS + 1))
    assert caught.value.position == MAX_QUERY_CHARS
    parse_query("a" * MAX_QUERY_CHARS)


def test_too_many_terms() -> None:
    words = [f"w{i}" for i in range(MAX_OPERANDS + 1)]
    parse_query(" ".join(words[:-1]))
    with pytest.raises(QuerySyntaxError, match="too many terms") as caught:
        parse_query(" ".join(words))
    assert caught.value.position == len(" ".join(words[:-1])) + 1
    with pytest.raises(QuerySyntaxError, match="too many terms"):
        parse_query("rey " + " ".join(f"-x{i}" for i in range(MAX_OPERANDS)))


def test_error_hierarchy() -> None:
    assert issubclass(QuerySyntaxError, IndexerError)
    assert issubclass(QuerySyntaxError, LegajoError)


def test_describe() -> None:
    query = parse_query('fazer OR hacer* "rey de castilla" -moro -"tierra de moros"')
    assert describe(query) == 'fazer OR hacer* "rey de castilla" -moro -"tierra de moros"'
    assert parse_query(describe(query)) == query


def test_describe_keeps_the_word_or_a_word() -> None:
    query = parse_query("oro OR, plata")
    assert query.groups == terms("oro", "OR", "plata")
    assert parse_query(describe(query)) == query


_QUERYISH = st.lists(
    st.sampled_from(
        [*"abcOR-*\" ,.'\t\n", "OR ", " OR ", "ꝑ", "⁊", "\u0303", "ñ", "\x00", "\u200b"]
    ),
    max_size=40,
).map("".join)


@settings(max_examples=400, deadline=None)
@given(st.one_of(st.text(max_size=80), _QUERYISH))
def test_parser_returns_a_query_or_raises_the_documented_error(text: str) -> None:
    try:
        query = parse_query(text)
    except QuerySyntaxError as error:
        assert 0 <= error.position <= len(text)
        assert error.reason
        return
    assert query.groups
    assert all(clause.alternatives for clause in query.groups)
    operands = [*query.operands(), *query.excluded]
    assert len(operands) <= MAX_OPERANDS
    for operand in operands:
        if isinstance(operand, Term):
            assert operand.text
        else:
            assert operand.words and all(operand.words)
    rendered = describe(query)
    if len(rendered) <= MAX_QUERY_CHARS:
        assert parse_query(rendered) == query
