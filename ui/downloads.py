"""Search hits as CSV and JSON downloads.

JSON is exactly `legajo search --json`'s list (`Hit.to_json`). CSV has one row per hit; a
text cell that a spreadsheet would run as a formula (starting with ``=``, ``+``, ``-``,
``@``, tab or carriage return) is written with a leading apostrophe, as OWASP advises.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Protocol

CSV_COLUMNS = ("page", "frame", "page_id", "line_id", "score", "text", "matched_words", "bbox")
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


class JsonHit(Protocol):
    """What the downloads need of a search hit."""

    def to_json(self) -> Mapping[str, Any]:
        """The hit as `legajo search --json` prints it."""
        ...


def hits_json(hits: Sequence[JsonHit]) -> bytes:
    """The hits as a JSON list, best first (UTF-8)."""
    data = [dict(hit.to_json()) for hit in hits]
    return json.dumps(data, ensure_ascii=False, indent=2).encode("utf-8")


def hits_csv(hits: Sequence[JsonHit]) -> bytes:
    """The hits as CSV with a header row (UTF-8 with a byte-order mark, for spreadsheets)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(CSV_COLUMNS)
    for hit in hits:
        data = hit.to_json()
        words = " ".join(str(w.get("text", "")) for w in data.get("words") or ())
        writer.writerow(
            [
                _cell(data.get("page", "")),
                data.get("frame", 0),
                data.get("page_id", ""),
                data.get("line_id", ""),
                f"{float(data.get('score', 0.0)):.6g}",
                _cell(data.get("text", "")),
                _cell(words),
                " ".join(str(v) for v in _numbers(data.get("bbox") or ())),
            ]
        )
    return ("\ufeff" + buffer.getvalue()).encode("utf-8")


def _cell(value: object) -> str:
    text = str(value)
    return "'" + text if text.startswith(_FORMULA_STARTS) else text


def _numbers(values: Iterable[Any]) -> list[int]:
    return [int(v) for v in values]
