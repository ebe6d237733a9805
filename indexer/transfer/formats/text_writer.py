"""Writing a page as plain text and as JSON.

Plain text is the page's main reading, one line of text per text line, in reading order: a
line's latest human correction where it has one, else the machine reading. Line breaks and
other vertical whitespace inside a reading become spaces, so that line n of the file is always
text line n; every line ends with a newline (a page without lines gives an empty string).

JSON is `Page.to_dict` (so `Page.from_dict` reads it back) plus ``"software"``, the legajo
version that wrote it, and ``"corrections"``: for each corrected line of the page, by line id,
``{"text", "editor", "when"}`` with ``when`` in ISO 8601 UTC. ``"text"`` of each line stays
the machine reading; the correction is the main reading.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from typing import Any

from htr import SOFTWARE
from htr.document import Page
from indexer.transfer.formats.words import LineCorrection, correction_of, utc

_LINE_BREAKS = re.compile(r"\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
"""What `str.splitlines` splits on: none of it may stay inside one exported line."""


def write_text(page: Page, corrections: Mapping[str, LineCorrection] | None = None) -> str:
    """Writes the page's main reading, one line per text line (see the module docstring).

    Args:
        page: The page.
        corrections: The latest human correction of each corrected line, by line id.

    Returns:
        The text, each line ending with a newline.
    """
    lines = []
    for line in page.lines:
        correction = correction_of(line, corrections)
        text = correction.text if correction is not None else line.text
        lines.append(_LINE_BREAKS.sub(" ", text) + "\n")
    return "".join(lines)


def write_json(page: Page, corrections: Mapping[str, LineCorrection] | None = None) -> str:
    """Writes the page and its corrections as JSON (see the module docstring).

    Non-finite confidences and probabilities, which JSON cannot hold, are written as 0.

    Args:
        page: The page.
        corrections: The latest human correction of each corrected line, by line id; lines
            of other pages are ignored.

    Returns:
        The JSON text (UTF-8 characters kept as they are, indented by 2).
    """
    data: dict[str, Any] = page.to_dict()
    data["software"] = SOFTWARE
    data["corrections"] = {}
    for line in page.lines:
        c = correction_of(line, corrections)
        if c is not None:
            when = utc(c.when).isoformat()
            data["corrections"][line.id] = {"text": c.text, "editor": c.editor, "when": when}
    return json.dumps(_finite(data), ensure_ascii=False, indent=2, allow_nan=False)


def _finite(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return 0.0
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


__all__ = ["write_json", "write_text"]
