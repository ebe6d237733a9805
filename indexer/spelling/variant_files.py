"""Loading spelling-variant tables from TOML or JSON files (format in `load_variant_table`)."""

from __future__ import annotations

import json
import logging
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from indexer.spelling.variants import (
    DEFAULT_VARIANTS,
    NO_VARIANTS,
    VariantRule,
    VariantTable,
    VariantTableError,
)

logger = logging.getLogger(__name__)

__all__ = ["load_variant_table", "variant_table_from_mapping"]


_RULE_KEYS = frozenset({"name", "pattern", "replacement", "doc", "examples"})
_TABLE_KEYS = frozenset({"extends", "disable", "rule"})


def load_variant_table(path: str | Path) -> VariantTable:
    """Loads a spelling-variant table from a TOML or JSON file.

    The file holds ``extends`` (``"default"``: start from `DEFAULT_VARIANTS`; ``"none"``, the
    default: start empty), ``disable`` (names of inherited rules to leave out) and ``rule``,
    a list of rules with ``name``, ``pattern``, ``replacement`` and optional ``doc`` and
    ``examples`` (pairs); new rules run after the inherited ones. In TOML::

        extends = "default"
        disable = ["initial_f_h"]

        [[rule]]
        name = "seseo"
        pattern = "s(?=[ei])"
        replacement = "c"
        doc = "Andalusian seseo: ueses/veces."

    Args:
        path: A ``.toml`` or ``.json`` file.

    Returns:
        The table.

    Raises:
        VariantTableError: The file is unreadable, malformed, has unknown keys or bad rules.
    """
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise VariantTableError(f"cannot read variant table {path}: {exc}") from exc
    try:
        if path.suffix.lower() == ".json":
            data: Any = json.loads(raw.decode("utf-8"))
        elif path.suffix.lower() == ".toml":
            data = tomllib.loads(raw.decode("utf-8"))
        else:
            raise VariantTableError(f"variant table {path}: expected a .toml or .json file")
    except (UnicodeDecodeError, json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise VariantTableError(f"variant table {path} is not valid: {exc}") from exc
    try:
        table = variant_table_from_mapping(data)
    except VariantTableError as exc:
        raise VariantTableError(f"variant table {path}: {exc}") from exc
    logger.info("loaded variant table %s: %d rules", path, len(table.rules))
    return table


def variant_table_from_mapping(data: Mapping[str, Any]) -> VariantTable:
    """Builds a table from the parsed contents of a table file (see `load_variant_table`).

    Raises:
        VariantTableError: The mapping is malformed or has unknown keys.
    """
    if not isinstance(data, Mapping):
        raise VariantTableError("expected a table (object) at the top level")
    unknown = sorted(set(data) - _TABLE_KEYS)
    if unknown:
        raise VariantTableError(
            f"unknown key(s) {', '.join(unknown)}; expected {', '.join(sorted(_TABLE_KEYS))}"
        )
    extends = data.get("extends", "none")
    if extends == "default":
        base = DEFAULT_VARIANTS
    elif extends == "none":
        base = NO_VARIANTS
    else:
        raise VariantTableError(f'extends must be "default" or "none", not {extends!r}')
    disable = data.get("disable", [])
    if not isinstance(disable, list) or not all(isinstance(n, str) for n in disable):
        raise VariantTableError("disable must be a list of rule names")
    base = base.without(*disable)
    entries = data.get("rule", [])
    if not isinstance(entries, list):
        raise VariantTableError("rule must be a list of rules")
    rules = [_rule_from_mapping(entry, i) for i, entry in enumerate(entries)]
    return VariantTable((*base.rules, *rules))


def _rule_from_mapping(entry: Any, index: int) -> VariantRule:
    if not isinstance(entry, Mapping):
        raise VariantTableError(f"rule {index + 1} is not a table")
    unknown = sorted(set(entry) - _RULE_KEYS)
    if unknown:
        raise VariantTableError(f"rule {index + 1}: unknown key(s) {', '.join(unknown)}")
    for key in ("name", "pattern", "replacement"):
        if not isinstance(entry.get(key), str):
            raise VariantTableError(f"rule {index + 1}: {key} must be given as a string")
    doc = entry.get("doc", "")
    if not isinstance(doc, str):
        raise VariantTableError(f"rule {index + 1}: doc must be a string")
    examples = entry.get("examples", [])
    if not isinstance(examples, list) or not all(
        isinstance(pair, list | tuple) and len(pair) == 2 and all(isinstance(s, str) for s in pair)
        for pair in examples
    ):
        raise VariantTableError(f"rule {index + 1}: examples must be [before, after] pairs")
    return VariantRule(
        entry["name"],
        entry["pattern"],
        entry["replacement"],
        doc,
        tuple((before, after) for before, after in examples),
    )
