"""A palette of the characters no keyboard has (``q̃``, ``⁊``, ``ꝑ``, ``ſ``, combining marks).

The palette offers the unusual characters of a collection's transcriptions, most used first,
then the combining marks they carry on their own, then a few common abbreviation signs. Texts
are NFD, so an entry is a base character with its combining marks (``q`` + U+0303) or a
lone mark, inserted as is.

Streamlit's text inputs have no cursor API, so a click is handled in the browser: a small
script, in the iframe `st.iframe` draws, finds the correction field in the
page around it by its label and inserts the entry at the field's selection, then sends an
``input`` event so that Streamlit takes the new text like typed text. Nothing is fetched from
the network. Entries reach the script as JSON and the buttons by ``textContent``, never as
HTML.
"""

from __future__ import annotations

import json
import unicodedata
from collections.abc import Mapping, Sequence

import streamlit as st

PALETTE_SIZE = 32
"""Most entries the palette shows."""
COMMON_SIGNS = (
    "q\u0303",
    "\u204a",
    "\ua751",
    "\ua753",
    "\u017f",
    "e\u0303",
    "\u0303",
    "\u0304",
)
"""q̃ ⁊ ꝑ ꝓ ſ ẽ, combining tilde and combining macron: offered even before a text uses them."""
KEYBOARD_CHARACTERS = frozenset(
    unicodedata.normalize("NFD", character) for character in "ñÑçÇáéíóúÁÉÍÓÚüÜïÏ¿¡ºª€·«»"
)
"""Characters beyond ASCII that a Spanish keyboard types (as NFD): no palette entry needed."""
_DOTTED_CIRCLE = "\u25cc"


def is_unusual(character: str) -> bool:
    """True for a character (base + marks, or a lone mark) that a keyboard does not offer."""
    return not character.isascii() and character not in KEYBOARD_CHARACTERS


def palette_entries(counts: Mapping[str, int], size: int = PALETTE_SIZE) -> list[str]:
    """The palette's entries for characters counted in a collection's texts.

    Args:
        counts: Occurrences of each character (`indexer.store.overview.Overview.characters`).
        size: Most entries returned.

    Returns:
        The unusual characters found, most frequent first (ties in code point order); then
        each combining mark they use, alone; then `COMMON_SIGNS` not listed yet.
    """
    found = sorted((c for c in counts if is_unusual(c)), key=lambda c: (-counts[c], c))
    marks = sorted({m for c in found for m in c if unicodedata.combining(m)})
    entries: list[str] = []
    for entry in (*found, *marks, *COMMON_SIGNS):
        if entry not in entries:
            entries.append(entry)
    return entries[:size]


def entry_label(entry: str) -> str:
    """How an entry shows on its button: a lone combining mark sits on a dotted circle."""
    return _DOTTED_CIRCLE + entry if unicodedata.combining(entry[0]) else entry


def entry_name(entry: str) -> str:
    """The Unicode names of an entry's code points, for the button's tooltip."""
    return " + ".join(unicodedata.name(c, f"U+{ord(c):04X}") for c in entry)


def palette_html(entries: Sequence[str], field_labels: Sequence[str], insert_title: str) -> str:
    """The palette's document: one button per entry and the script that inserts it.

    Args:
        entries: What each button inserts.
        field_labels: The labels of the fields to insert into; the first one found in the
            page wins.
        insert_title: The buttons' tooltip, a template with ``{name}``.
    """
    buttons = [
        {"insert": e, "label": entry_label(e), "title": insert_title.format(name=entry_name(e))}
        for e in entries
    ]
    # "<" only occurs inside JSON strings: escaped, no text can close or comment the script
    data = json.dumps({"buttons": buttons, "labels": list(field_labels)}).replace("<", "\\u003c")
    return _TEMPLATE.replace("__DATA__", data)


def palette(entries: Sequence[str], field_labels: Sequence[str], insert_title: str) -> None:
    """Draws the palette (see `palette_html`), as tall as its rows of buttons."""
    st.iframe(palette_html(entries, field_labels, insert_title), height="content")


_TEMPLATE = """<!doctype html>
<html><head><meta charset="utf-8"><style>
body { margin: 0; font-family: "Source Sans Pro", "DejaVu Sans", sans-serif; }
#palette { display: flex; flex-wrap: wrap; gap: 4px; }
button { min-width: 36px; height: 36px; font-size: 20px; border-radius: 6px; cursor: pointer;
  border: 1px solid rgba(49, 51, 63, 0.2); background: white; color: rgb(49, 51, 63); }
button:hover { border-color: rgb(255, 75, 75); color: rgb(255, 75, 75); }
</style></head><body><div id="palette" role="toolbar"></div><script>
const DATA = __DATA__;
const host = window.parent;
function field() {
  for (const label of DATA.labels) {
    const name = CSS.escape(label);
    const found = host.document.querySelector(
      `input[aria-label="${name}"], textarea[aria-label="${name}"]`);
    if (found) return found;
  }
  return null;
}
function insert(text) {
  const target = field();
  if (!target) return;
  const start = target.selectionStart ?? target.value.length;
  const end = target.selectionEnd ?? start;
  const value = target.value.slice(0, start) + text + target.value.slice(end);
  const prototype = target.tagName === "TEXTAREA"
    ? host.HTMLTextAreaElement.prototype : host.HTMLInputElement.prototype;
  Object.getOwnPropertyDescriptor(prototype, "value").set.call(target, value);
  target.dispatchEvent(new host.Event("input", { bubbles: true }));
  target.focus();
  target.setSelectionRange(start + text.length, start + text.length);
}
const root = document.getElementById("palette");
for (const entry of DATA.buttons) {
  const button = document.createElement("button");
  button.type = "button";
  button.textContent = entry.label;
  button.title = entry.title;
  button.setAttribute("aria-label", entry.title);
  button.dataset.insert = entry.insert;
  button.addEventListener("mousedown", (event) => event.preventDefault());
  button.addEventListener("click", () => insert(entry.insert));
  root.appendChild(button);
}
</script></body></html>
"""
