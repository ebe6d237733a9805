"""What the page viewer is given: the image, every line's outline and words, the query's hits.

Pure functions that turn stored lines and search hits into the JSON the viewer's script
draws (`ui/viewer/frontend/viewer.js`). Coordinates stay in the stored page image's pixels;
the script maps them onto the picture it shows, whatever its size. Texts travel as JSON
strings and the script puts them into the page with ``textContent`` only, so nothing a
transcription holds is ever read as HTML.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from PIL import Image

from htr.confidence import word_spans
from htr.types import BBox
from indexer.search.hits import Hit
from indexer.store.repository import StoredLine
from ui.text import DOUBTFUL_BELOW

VIEW_MAX_SIDE = 3000
"""The picture sent to the browser is at most this many pixels on its longer side."""
VIEW_QUALITY = 85
"""Its JPEG quality."""


@dataclass(frozen=True, slots=True)
class PageHit:
    """A place on a page that answers the query: a matched word, or a whole line.

    Attributes:
        line_id: Database id of the line.
        box: The word's box (the line's, for a hit without word boxes), in page pixels.
    """

    line_id: int
    box: BBox


def page_hits(hits: Iterable[Hit], page_id: int) -> list[PageHit]:
    """The boxes to draw on a page for a query's hits: every matched word of the page.

    A hit with no word box (search by meaning matches lines, not words) is boxed whole.
    """
    boxes: list[PageHit] = []
    for hit in hits:
        if hit.page_id != page_id:
            continue
        words = [w.bbox for w in hit.words if w.bbox is not None]
        for box in words or [hit.bbox]:
            found = PageHit(hit.line_id, box)
            if found not in boxes:
                boxes.append(found)
    return boxes


def line_words(stored: StoredLine, threshold: float = DOUBTFUL_BELOW) -> list[dict[str, Any]]:
    """A line's words as the text panel shows them, each with its confidence.

    When the recognizer's words no longer match the text (a correction changed the number of
    words), the text's words are given without confidence: nothing is marked doubtful then.
    """
    text = stored.line.text
    spans = word_spans(text)
    words = stored.line.words
    if len(spans) != len(words):
        return [{"text": text[start:end], "confidence": None} for start, end in spans]
    return [
        {
            "text": text[start:end],
            "confidence": round(word.confidence, 3),
            "doubtful": word.confidence < threshold,
            "box": [int(v) for v in word.bbox],
        }
        for (start, end), word in zip(spans, words, strict=True)
    ]


def viewer_payload(
    *,
    image_url: str,
    size: tuple[int, int],
    lines: Sequence[StoredLine],
    hits: Sequence[PageHit] = (),
    selected: int | None = None,
    labels: Mapping[str, str],
    opens_correction: bool = False,
) -> dict[str, Any]:
    """The viewer's data for one page.

    Args:
        image_url: The page's picture (`image_data_url`).
        size: The stored page's width and height in pixels: the frame of every coordinate.
        lines: The page's lines in reading order.
        hits: The query's boxes on this page (`page_hits`).
        selected: Database id of the chosen line, drawn distinct and brought into view.
        labels: The viewer's texts in the user's language (``text``, ``hits``, ``doubtful``,
            ``click``, ``line``, ``empty``, ``confidence``).
        opens_correction: Whether a click on a line opens it for correction (else it only
            selects it); the hint under the picture says which.

    Returns:
        JSON-ready data.
    """
    return {
        "image": image_url,
        "width": size[0],
        "height": size[1],
        "lines": [
            {
                "id": stored.id,
                "number": number,
                "polygon": [[int(x), int(y)] for x, y in stored.line.polygon],
                "bbox": [int(v) for v in stored.line.bbox],
                "words": line_words(stored),
            }
            for number, stored in enumerate(lines, start=1)
        ],
        "hits": [{"line_id": hit.line_id, "box": [int(v) for v in hit.box]} for hit in hits],
        "selected": selected,
        "labels": dict(labels),
        "opens_correction": opens_correction,
    }


def image_data_url(
    image: Image.Image, max_side: int = VIEW_MAX_SIDE, quality: int = VIEW_QUALITY
) -> str:
    """The page as a JPEG ``data:`` URL, scaled down to `max_side` pixels if larger.

    The viewer builds its zoom levels from this picture in the browser, so nothing but this
    one request-free URL is needed: no tile server, no network.
    """
    view = image.convert("RGB")
    scale = max_side / max(view.size)
    if scale < 1:
        view = view.resize(
            (max(1, round(view.width * scale)), max(1, round(view.height * scale))),
            Image.Resampling.LANCZOS,
        )
    buffer = io.BytesIO()
    view.save(buffer, format="JPEG", quality=quality, optimize=True)
    return "data:image/jpeg;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")
