"""The workbench's pieces without Streamlit: settings, messages, drawing, downloads."""

from __future__ import annotations

import csv
import io
import json
import re
import string
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from PIL import Image

from indexer.search.service import MODES
from indexer.transfer.exporter import ExportFormat
from ui.config import (
    LANGUAGE_VARIABLE,
    READ_ONLY_VARIABLE,
    UI_LANGUAGES,
    UiSettingsError,
    load_settings,
)
from ui.downloads import CSV_COLUMNS, hits_csv, hits_json
from ui.drawing import (
    DOUBT_COLOUR,
    LINE_COLOUR,
    MATCH_COLOUR,
    SELECTED_COLOUR,
    line_crop,
    page_view,
)
from ui.i18n import LANGUAGE_NAMES, MESSAGES, Translator

REPO = Path(__file__).resolve().parents[2]


def test_settings_come_from_the_environment(tmp_path: Any) -> None:
    env = {"LEGAJO_HOME": str(tmp_path), READ_ONLY_VARIABLE: "1", LANGUAGE_VARIABLE: "es"}
    settings = load_settings(env)
    assert settings.read_only and settings.language == "es"
    assert settings.storage.home == tmp_path
    assert settings.storage.database_url == f"sqlite:///{tmp_path}/legajo.db"
    plain = load_settings({})
    assert not plain.read_only and plain.language == "en"


@pytest.mark.parametrize("env", [{READ_ONLY_VARIABLE: "maybe"}, {LANGUAGE_VARIABLE: "fr"}])
def test_unknown_setting_values_are_errors(env: dict[str, str]) -> None:
    with pytest.raises(UiSettingsError):
        load_settings(env)


def test_every_message_exists_in_every_language_with_the_same_fields() -> None:
    assert set(LANGUAGE_NAMES) == set(UI_LANGUAGES)
    formatter = string.Formatter()
    for key, texts in MESSAGES.items():
        assert set(texts) == set(UI_LANGUAGES), key
        fields = {
            language: {name for _, name, _, _ in formatter.parse(text) if name}
            for language, text in texts.items()
        }
        assert len({frozenset(f) for f in fields.values()}) == 1, key
        assert all(text.strip() for text in texts.values()), key


def test_every_message_the_code_asks_for_exists() -> None:
    used: set[str] = set()
    for source in (REPO / "ui").rglob("*.py"):
        text = source.read_text(encoding="utf-8")
        used |= set(re.findall(r"""\b(?:t|translate)\(\s*["']([a-z_]+\.[a-z_.]+)["']""", text))
    assert len(used) > 50
    assert used <= set(MESSAGES), sorted(used - set(MESSAGES))
    for mode in MODES:  # keys built with f-strings
        assert f"search.mode.{mode}" in MESSAGES
    for export_format in ExportFormat:
        assert f"collections.format.{export_format.value}" in MESSAGES


def test_translator_fills_fields_and_falls_back_to_english() -> None:
    assert Translator("es")("search.no_hits", query="x") == "Ningún resultado para x."
    assert Translator("xx")("nav.search") == "Search"


def colours(image: Image.Image) -> set[Any]:
    return {colour for _, colour in image.getcolors(maxcolors=1 << 24) or ()}


def test_line_crop_outlines_matches_and_underlines_doubts() -> None:
    page = Image.new("RGB", (400, 200), "white")
    crop = line_crop(
        page, (50, 50, 350, 90), matched=[(60, 55, 120, 85)], doubtful=[(200, 55, 260, 85)]
    )
    assert crop.size == (300 + 24, 40 + 24)
    pixels = colours(crop)
    assert MATCH_COLOUR in pixels and DOUBT_COLOUR in pixels
    assert page.getpixel((60, 55)) == (255, 255, 255)  # the page itself is untouched


def test_page_view_zooms_on_the_chosen_line() -> None:
    page = Image.new("RGB", (800, 1200), "white")
    lines = [
        ((100, 100), (700, 100), (700, 140), (100, 140)),
        ((100, 900), (700, 900), (700, 950), (100, 950)),
    ]
    whole = page_view(page, lines, selected=None, zoom=1.0)
    assert whole.size == (800, 1200)
    assert LINE_COLOUR in colours(whole)
    zoomed = page_view(page, lines, selected=1, zoom=2.0)
    assert zoomed.size == (800, 1200)  # half the page, drawn twice as large
    shown = colours(zoomed)
    assert SELECTED_COLOUR in shown and LINE_COLOUR not in shown  # line 0 is out of view


@dataclass
class FakeHit:
    data: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return self.data


def test_downloads_keep_the_hits_and_defuse_formulas() -> None:
    hits = [
        FakeHit(
            {
                "page": "scans/folio 1.png",
                "frame": 0,
                "page_id": 3,
                "line_id": 7,
                "text": '=HYPERLINK("http://x") y "comillas", ñ',
                "score": 0.912345678,
                "bbox": [1, 2, 3, 4],
                "words": [{"text": "comillas", "bbox": [1, 2, 3, 4], "confidence": 0.9}],
            }
        )
    ]
    assert json.loads(hits_json(hits)) == [hits[0].data]
    rows = list(csv.reader(io.StringIO(hits_csv(hits).decode("utf-8-sig"))))
    assert tuple(rows[0]) == CSV_COLUMNS
    assert rows[1] == [
        "scans/folio 1.png",
        "0",
        "3",
        "7",
        "0.912346",
        '\'=HYPERLINK("http://x") y "comillas", ñ',
        "comillas",
        "1 2 3 4",
    ]
