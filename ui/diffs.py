"""What changed between two versions of a line, character by character, as escaped Markdown.

Characters are compared with their combining marks (``q̃`` is one character, not ``q`` and a
tilde), so a changed mark shows as the whole character replaced. The Markdown is built like
`ui.text.marked_transcript`: every piece of text escaped, only this module's colour marks
around them.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass
from difflib import SequenceMatcher
from enum import StrEnum

from ui.text import escape_markdown

VISIBLE_SPACE = "␣"
"""Stands for an added or removed space, which would not show on a colour background."""


class Change(StrEnum):
    """How a piece of text differs between the older and the newer version."""

    SAME = "same"
    ADDED = "added"
    REMOVED = "removed"


@dataclass(frozen=True, slots=True)
class DiffPiece:
    """A run of text that is the same in both versions, only in the newer or only in the older."""

    change: Change
    text: str


def text_diff(old: str, new: str) -> list[DiffPiece]:
    """The pieces that turn `old` into `new`: unchanged, removed and added, in reading order.

    A replacement is its removal followed by its addition. Joining the pieces that are not
    `Change.ADDED` gives `old`; joining those not `Change.REMOVED` gives `new`.
    """
    old_units, new_units = _units(old), _units(new)
    matcher = SequenceMatcher(a=old_units, b=new_units, autojunk=False)
    pieces: list[DiffPiece] = []
    for tag, a0, a1, b0, b1 in matcher.get_opcodes():
        if tag == "equal":
            _append(pieces, Change.SAME, "".join(old_units[a0:a1]))
            continue
        _append(pieces, Change.REMOVED, "".join(old_units[a0:a1]))
        _append(pieces, Change.ADDED, "".join(new_units[b0:b1]))
    return pieces


def diff_markdown(pieces: list[DiffPiece]) -> str:
    """Markdown of a diff: removed text struck through on red, added text on green."""
    parts = []
    for piece in pieces:
        if piece.change is Change.SAME:
            parts.append(escape_markdown(piece.text))
            continue
        shown = escape_markdown(piece.text.replace(" ", VISIBLE_SPACE))
        if piece.change is Change.ADDED:
            parts.append(f":green-background[{shown}]")
        else:
            parts.append(f":red-background[~~{shown}~~]")
    return "".join(parts)


def _units(text: str) -> list[str]:
    """The text's characters, each with the combining marks that follow it, spaces included."""
    units: list[str] = []
    for character in text:
        if unicodedata.combining(character) and units and not units[-1].isspace():
            units[-1] += character
        else:
            units.append(character)
    return units


def _append(pieces: list[DiffPiece], change: Change, text: str) -> None:
    if not text:
        return
    if pieces and pieces[-1].change is change:
        pieces[-1] = DiffPiece(change, pieces[-1].text + text)
    else:
        pieces.append(DiffPiece(change, text))
