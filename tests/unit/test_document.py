import json

import pytest

from htr.document import Alternative, Line, Page, ProcessingStep, Word


def make_page() -> Page:
    words = (Word("en", 0.9, (10, 5, 30, 25)), Word("q̃", 0.25, (35, 5, 50, 25)))
    line = Line(
        id="l0",
        bbox=(8, 2, 60, 28),
        polygon=((8, 2), (59, 2), (59, 27), (8, 27)),
        baseline=((8, 22), (59, 22)),
        text="en q̃",
        confidence=0.575,
        words=words,
        alternatives=(Alternative("en q̃", 0.7), Alternative("en que", 0.3)),
        zone="MainZone",
    )
    step = ProcessingStep(
        "recognition", "legajo 0.1.0", "some/model", "abc123", {"beams": 5, "device": "cpu"}
    )
    return Page("páginas/folio 1.jpg", 2, 100, 40, (line, Line("l1", (0, 30, 10, 40), ())), (step,))


def test_json_round_trip_keeps_everything() -> None:
    page = make_page()
    text = page.to_json()
    assert Page.from_json(text) == page
    assert "páginas" in text and "q̃" in text  # non-ASCII kept as is


def test_to_dict_has_the_cli_json_shape() -> None:
    data = json.loads(make_page().to_json())
    line = data["lines"][0]
    assert {"image", "frame", "lines"} <= data.keys()
    assert {"text", "confidence", "bbox", "polygon", "words", "alternatives"} <= line.keys()
    assert line["bbox"] == [8, 2, 60, 28]
    assert line["words"][0] == {"text": "en", "confidence": 0.9, "bbox": [10, 5, 30, 25]}
    assert line["alternatives"][1] == {"text": "en que", "prob": 0.3}


def test_objects_are_frozen() -> None:
    page = make_page()
    with pytest.raises(AttributeError):
        page.frame = 3  # type: ignore[misc]


def test_page_text_joins_lines() -> None:
    assert make_page().text == "en q̃\n"
