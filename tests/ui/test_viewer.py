"""The page viewer's data (payload), its bundled JavaScript, and searches carried to a page."""

from __future__ import annotations

import base64
import io
import json
from pathlib import Path

import pytest
from PIL import Image

from htr.document import Line, Word
from indexer.search.hits import Hit, MatchedWord
from indexer.store.repository import StoredLine
from ui.search_url import parse_request, request_params
from ui.state import SearchRequest
from ui.viewer import bundle
from ui.viewer.payload import PageHit, image_data_url, line_words, page_hits, viewer_payload

MODES = ("auto", "exact", "prob", "fuzzy", "semantic")
LABELS = {"text": "Text", "click": "Click"}


def stored_line(line_id: int, text: str, confidences: list[float], y: int = 10) -> StoredLine:
    words = tuple(
        Word(word, confidence, (10 + 60 * i, y, 60 + 60 * i, y + 30))
        for i, (word, confidence) in enumerate(zip(text.split(), confidences, strict=True))
    )
    box = (10, y, 60 * max(1, len(words)), y + 30)
    polygon = ((box[0], box[1]), (box[2], box[1]), (box[2], box[3]), (box[0], box[3]))
    line = Line(id=f"l{line_id}", bbox=box, polygon=polygon, text=text, words=words)
    return StoredLine(id=line_id, page_id=7, version=1, machine_text=text, line=line)


def hit(line: StoredLine, *word_indexes: int, page_id: int = 7) -> Hit:
    words = tuple(
        MatchedWord(line.line.words[i].text, line.line.words[i].bbox, 0.9) for i in word_indexes
    )
    return Hit("p.png", 0, page_id, line.id, line.line.text, 1.0, line.line.bbox, words)


def test_every_matched_word_of_the_page_is_a_box_once() -> None:
    first = stored_line(1, "el rey don alfonso", [0.9, 0.6, 0.9, 0.8])
    second = stored_line(2, "rey de aragon", [0.9, 0.9, 0.2], y=60)
    hits = [hit(first, 1), hit(second, 0), hit(first, 1), hit(second, 0, page_id=8)]
    assert page_hits(hits, 7) == [
        PageHit(1, first.line.words[1].bbox),
        PageHit(2, second.line.words[0].bbox),
    ]
    assert page_hits(hits, 9) == []


def test_a_hit_without_word_boxes_boxes_its_line() -> None:
    line = stored_line(3, "una carta", [0.9, 0.9])
    assert page_hits([hit(line)], 7) == [PageHit(3, line.line.bbox)]


def test_doubtful_words_are_marked_and_a_changed_text_marks_nothing() -> None:
    line = stored_line(1, "el rey", [0.9, 0.3])
    assert [(w["text"], w["doubtful"]) for w in line_words(line)] == [
        ("el", False),
        ("rey", True),
    ]
    assert line_words(line)[1]["box"] == list(line.line.words[1].bbox)
    corrected = StoredLine(1, 7, 2, "el rey", Line(**{**_fields(line.line), "text": "el buen rey"}))
    assert line_words(corrected) == [
        {"text": "el", "confidence": None},
        {"text": "buen", "confidence": None},
        {"text": "rey", "confidence": None},
    ]


def test_the_payload_is_json_and_keeps_hostile_text_as_data() -> None:
    hostile = '<img src=x onerror="alert(1)">'
    line = stored_line(5, hostile, [0.9, 0.9, 0.9])
    data = viewer_payload(
        image_url="data:image/jpeg;base64,AAAA",
        size=(640, 480),
        lines=[line],
        hits=[PageHit(5, line.line.words[0].bbox)],
        selected=5,
        labels=LABELS,
        opens_correction=True,
    )
    decoded = json.loads(json.dumps(data))
    assert decoded["width"] == 640 and decoded["height"] == 480
    (drawn,) = decoded["lines"]
    assert drawn["id"] == 5 and drawn["number"] == 1
    assert " ".join(w["text"] for w in drawn["words"]) == hostile  # as text, for textContent
    assert drawn["polygon"] == [list(p) for p in line.line.polygon]
    assert decoded["hits"] == [{"line_id": 5, "box": list(line.line.words[0].bbox)}]
    assert decoded["selected"] == 5 and decoded["opens_correction"] is True


def test_a_large_page_is_scaled_down_for_the_browser() -> None:
    url = image_data_url(Image.new("L", (4000, 1000), 200), max_side=1000)
    prefix = "data:image/jpeg;base64,"
    assert url.startswith(prefix)
    with Image.open(io.BytesIO(base64.b64decode(url[len(prefix) :]))) as picture:
        assert picture.format == "JPEG" and picture.size == (1000, 250)
    small = image_data_url(Image.new("RGB", (300, 200), "white"), max_side=1000)
    with Image.open(io.BytesIO(base64.b64decode(small[len(prefix) :]))) as picture:
        assert picture.size == (300, 200)


def test_a_search_travels_to_a_page_and_back() -> None:
    request = SearchRequest("rey don", "fuzzy", "cartas", 0.5)
    params = request_params(request, MODES[0])
    expected = {"q": "rey don", "mode": "fuzzy", "collection": "cartas", "min_confidence": "0.5"}
    assert params == expected
    address = {k: [v] for k, v in params.items()} | {"page_id": ["3"], "hit": ["9"]}
    assert parse_request(address, MODES) == request
    assert request_params(SearchRequest("rey"), MODES[0]) == {"q": "rey"}
    assert parse_request({"page_id": ["3"]}, MODES) is None
    assert parse_request({"q": ["rey"], "mode": ["nonsense"]}, MODES) == SearchRequest("rey")


def test_the_viewer_javascript_is_bundled_and_current() -> None:
    if not bundle.is_bundled():
        pytest.skip("the viewer is not bundled here: python -m ui.viewer.bundle")
    assert bundle.is_current()
    script = (bundle.VENDOR / "openseadragon" / "openseadragon.min.js").read_text("utf-8")
    locked = json.loads(bundle.LOCK_FILE.read_text("utf-8"))
    version = locked["packages"]["node_modules/openseadragon"]["version"]
    assert script.startswith(f"//! openseadragon {version}\n")


def test_a_vendor_folder_from_another_lock_file_is_not_current(tmp_path: Path) -> None:
    vendor = tmp_path / "vendor"
    for path in bundle.REQUIRED:
        (vendor / path).parent.mkdir(parents=True, exist_ok=True)
        (vendor / path).write_bytes(b"x")
    lock = tmp_path / "package-lock.json"
    lock.write_text('{"lockfileVersion": 3}', encoding="utf-8")
    assert bundle.is_bundled(vendor)
    assert not bundle.is_current(vendor, lock)  # no stamp
    (vendor / bundle.STAMP.name).write_text(bundle.lock_digest(lock), encoding="ascii")
    assert bundle.is_current(vendor, lock)
    lock.write_text('{"lockfileVersion": 3, "packages": {}}', encoding="utf-8")
    assert not bundle.is_current(vendor, lock)
    (vendor / bundle.REQUIRED[0]).unlink()
    assert not bundle.is_bundled(vendor)


def test_without_npm_the_bundle_error_says_what_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(bundle, "is_current", lambda *args: False)
    with pytest.raises(bundle.BundleError, match="apt-get install npm"):
        bundle.bundle(npm="no-such-npm-here")


def _fields(line: Line) -> dict[str, object]:
    return {name: getattr(line, name) for name in Line.__dataclass_fields__}
