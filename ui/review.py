"""The review queue: a collection's uncorrected lines, the most doubtful first.

A line's doubt is the confidence of its weakest word (a line without words, which the
recogniser could not read, comes first). Lines already corrected by a person are left out.
"""

from __future__ import annotations

from dataclasses import dataclass

from indexer.orm import PAGE_INDEXED
from indexer.repository import Repository


@dataclass(frozen=True, slots=True)
class ReviewItem:
    """A line waiting for review.

    Attributes:
        page_id: Its page.
        line_id: The line.
        weakest: Confidence of its least confident word (0 for a line without words).
        source_path: The page's file, for display.
        frame: The page's frame in that file.
    """

    page_id: int
    line_id: int
    weakest: float
    source_path: str
    frame: int


def review_queue(repository: Repository, collection: str, limit: int = 500) -> list[ReviewItem]:
    """The `limit` most doubtful uncorrected lines of a collection, most doubtful first.

    Ties keep reading order (page, then line).
    """
    items = []
    for page in repository.pages(collection):
        if page.status != PAGE_INDEXED:
            continue
        for stored in repository.lines(page.id):
            if stored.line.text != stored.machine_text or stored.version > 1:
                continue
            words = stored.line.words
            weakest = min((w.confidence for w in words), default=0.0)
            items.append(ReviewItem(page.id, stored.id, weakest, page.source_path, page.frame))
    items.sort(key=lambda item: item.weakest)
    return items[:limit]
