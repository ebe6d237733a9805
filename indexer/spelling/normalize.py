"""Search keys for diplomatic transcriptions: one normal form for indexed text and for queries.

The ground truth and the recognizer write what the scribe wrote: abbreviation signs (`q̃`,
`ꝑ`, `⁊`), combining tildes and superscript letters, the scribe's spelling (`vn`, `yglesia`,
`fazer`) and the scribe's word spacing. A searcher types `que`, `un`, `iglesia`, `hacer`.
`normalize` maps both sides onto one key, in this order:

1. `tokenize` (`indexer.spelling.tokens`): the words of the line, split on whitespace and
   punctuation; combining marks and abbreviation signs stay with their word; editorial
   brackets (``⟦⟧``, ``[]``) and invisible format characters are dropped without splitting
   the word.
2. Unicode NFKD and case folding.
3. `expand_abbreviations` (`indexer.spelling.abbreviations`; rules in its docstring and in
   ``docs/normalisation.md``).
4. Diacritics removed; ``ç`` and ``ñ`` are kept as letters, and other Latin letters with a
   stroke or hook become their base letter (``ł`` -> ``l``). What is not a letter or a digit
   is dropped. This is the key with ``variants=None``.
5. If enabled, the spelling-variant table (`DEFAULT_VARIANTS`, `indexer.spelling.variants`),
   applied until nothing changes; its rules also fold ``ç`` and ``ñ``.

Each step is applied until the key no longer changes, so `normalize` is idempotent, and
``apply_variants(normalize(x, variants=None), table) == normalize(x, variants=table)``: the
index may store the variant-free key and fold it later.

The names callers use from the steps' modules (`tokenize`, `expand_abbreviations`, the
variant tables, `load_variant_table`) are re-exported here, so ``indexer.spelling.normalize`` stays
the one module to import from.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from indexer.spelling.abbreviations import expand_abbreviations, expand_word
from indexer.spelling.tokens import tokenize
from indexer.spelling.variant_files import load_variant_table, variant_table_from_mapping
from indexer.spelling.variants import (
    DEFAULT_VARIANTS,
    NO_VARIANTS,
    VariantRule,
    VariantTable,
    VariantTableError,
)

logger = logging.getLogger(__name__)

__all__ = [
    "DEFAULT_SETTINGS",
    "DEFAULT_VARIANTS",
    "NO_VARIANTS",
    "NormalizationSettings",
    "VariantRule",
    "VariantTable",
    "VariantTableError",
    "apply_variants",
    "expand_abbreviations",
    "load_variant_table",
    "normalize",
    "tokenize",
    "variant_table_from_mapping",
    "word_keys",
]

_MAX_ROUNDS = 8
"""Passes of a step before it is taken as converged; the default rules settle in 2 or 3."""


@dataclass(frozen=True, slots=True)
class NormalizationSettings:
    """How text becomes search keys; the same settings must serve the index and its queries.

    Attributes:
        variants: The spelling-variant table; None switches variant folding off.
        abbreviations: Expand abbreviation signs (`expand_abbreviations`); off, the signs
            are treated as their base letters.
    """

    variants: VariantTable | None = DEFAULT_VARIANTS
    abbreviations: bool = True


DEFAULT_SETTINGS = NormalizationSettings()
"""Abbreviations expanded, `DEFAULT_VARIANTS` on."""


_KEEP_COMPOSED = {"c\u0327": "ç", "n\u0303": "ñ"}
_LETTER_NAME = re.compile(
    r"^LATIN (?:SMALL|CAPITAL) LETTER (?:(?:INSULAR|DOTLESS|LONG|BROKEN|SCRIPT) )?"
    r"([A-Z])(?: WITH .*| ROTUNDA)?$"
)
_LETTER_FOLDS = {"æ": "ae", "œ": "oe", "ø": "o", "þ": "th", "ð": "d", "ß": "ss", "ĸ": "q"}


@lru_cache(maxsize=8192)
def _fold_letter(char: str) -> str:
    """Maps a letter with a stroke, bar or hook (no decomposition in Unicode) to its base."""
    if char.isascii() or char in "çñ":
        return char if char.isalnum() else ""
    if char in _LETTER_FOLDS:
        return _LETTER_FOLDS[char]
    if not char.isalnum():
        return ""
    match = _LETTER_NAME.match(unicodedata.name(char, ""))
    return match.group(1).lower() if match else char


def _prepare(word: str) -> str:
    """NFKD + case folding until stable (case folding can undo NFKD for a few characters)."""
    for _ in range(3):
        folded = unicodedata.normalize("NFKD", word).casefold()
        if folded == word:
            break
        word = folded
    return word


def _base_key_once(word: str, abbreviations: bool) -> str:
    word = _prepare(word)
    if abbreviations:
        word = unicodedata.normalize("NFD", expand_word(word))
    for decomposed, composed in _KEEP_COMPOSED.items():
        word = word.replace(decomposed, composed)
    return "".join(_fold_letter(char) for char in word if not unicodedata.combining(char))


def _until_stable(step: Callable[[str], str], word: str) -> str:
    for _ in range(_MAX_ROUNDS):
        nxt = step(word)
        if nxt == word:
            return word
        word = nxt
    logger.warning("normalisation of %r did not settle after %d rounds", word, _MAX_ROUNDS)
    return word


def _base_key(word: str, abbreviations: bool) -> str:
    return _until_stable(lambda w: _base_key_once(w, abbreviations), word)


def apply_variants(key: str, table: VariantTable, *, abbreviations: bool = True) -> str:
    """Folds a variant-free key (``normalize(w, NormalizationSettings(variants=None))``).

    ``apply_variants(normalize(w, NormalizationSettings(None)), table)`` equals
    ``normalize(w, NormalizationSettings(table))``, so an index can store the variant-free
    key and fold it per collection.

    Args:
        key: One word key made without variants.
        table: The variant table.
        abbreviations: As in the settings the key was made with.

    Returns:
        The folded key.
    """
    return _until_stable(lambda w: _base_key(table.apply_once(w), abbreviations), key)


@lru_cache(maxsize=32)
def _word_normalizer(settings: NormalizationSettings) -> Callable[[str], str]:
    """A cached word -> key function for one settings value (keys repeat a lot in a corpus)."""

    @lru_cache(maxsize=1 << 16)
    def normalize_word(word: str) -> str:
        key = _base_key(word, settings.abbreviations)
        if settings.variants is not None and key:
            key = apply_variants(key, settings.variants, abbreviations=settings.abbreviations)
        return key

    return normalize_word


def word_keys(text: str, settings: NormalizationSettings = DEFAULT_SETTINGS) -> list[str]:
    """Returns the search key of each word of `text`, in order, leaving out empty keys.

    Equal to ``[normalize(w, settings) for w in tokenize(text)]`` without the empty ones.

    Args:
        text: A line of transcription or a query.
        settings: The collection's normalisation settings.

    Returns:
        The keys; words made only of marks or symbols give none.
    """
    normalize_word = _word_normalizer(settings)
    return [key for key in map(normalize_word, tokenize(text)) if key]


def normalize(text: str, settings: NormalizationSettings = DEFAULT_SETTINGS) -> str:
    """Returns the search key of `text`: its word keys joined by single spaces.

    Steps, per word: NFKD and case folding, abbreviations expanded, diacritics removed
    (``ç`` and ``ñ`` kept for the variant table), punctuation removed, then the variant
    table (if any). Used identically for indexed text and for queries; idempotent.

    Args:
        text: Any text.
        settings: The collection's normalisation settings.

    Returns:
        The key ('' when `text` has no letters or digits).
    """
    return " ".join(word_keys(text, settings))
