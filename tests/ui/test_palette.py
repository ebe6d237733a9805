"""The correcting palette's entries and its page (`ui.palette`)."""

from __future__ import annotations

import json
import re
from collections import Counter

from ui.palette import COMMON_SIGNS, entry_label, is_unusual, palette_entries, palette_html

Q_TILDE = "q\u0303"
TILDE, MACRON = "\u0303", "\u0304"


def test_unusual_characters_are_those_no_keyboard_has() -> None:
    assert is_unusual(Q_TILDE) and is_unusual("ſ") and is_unusual("⁊") and is_unusual(TILDE)
    assert not is_unusual("a") and not is_unusual(";")
    assert not is_unusual("n\u0303")  # ñ, NFD
    assert not is_unusual("e\u0301")  # é, NFD


def test_entries_found_first_then_their_marks_then_common_signs() -> None:
    counts = Counter({"ꝗ": 5, Q_TILDE: 9, "a\u0304": 5, "n\u0303": 50, "e": 400})
    entries = palette_entries(counts)
    assert entries[:5] == [Q_TILDE, "a\u0304", "ꝗ", TILDE, MACRON]
    assert "n\u0303" not in entries and "e" not in entries
    assert entries[5:] == [s for s in COMMON_SIGNS if s not in entries[:5]]
    assert palette_entries(Counter()) == list(COMMON_SIGNS)
    assert len(palette_entries(Counter({chr(0xA750 + i): 1 for i in range(40)}), size=12)) == 12


def test_a_lone_mark_shows_on_a_dotted_circle() -> None:
    assert entry_label(TILDE) == "\u25cc" + TILDE
    assert entry_label(Q_TILDE) == Q_TILDE


def test_the_page_carries_entries_as_json_only() -> None:
    html = palette_html(["</script><b>x", Q_TILDE], ["Text of the line"], "Insert {name}")
    assert "</script><b>" not in html
    data = json.loads(re.search(r"const DATA = (.*);\n", html).group(1))
    assert [b["insert"] for b in data["buttons"]] == ["</script><b>x", Q_TILDE]
    assert data["buttons"][1]["title"] == "Insert LATIN SMALL LETTER Q + COMBINING TILDE"
    assert data["labels"] == ["Text of the line"]
    assert "http" not in html  # nothing fetched
