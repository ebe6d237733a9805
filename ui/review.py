"""The review queue: a collection's unreviewed lines, the most doubtful first.

A line's doubt is the confidence of its weakest word (its line confidence when it has no
words); lines a person already corrected or confirmed are left out. The database orders
them (`indexer.store.repository.Repository.review_queue`).
"""

from __future__ import annotations

from indexer.store.repository import Repository, ReviewItem

QUEUE_LENGTH = 500
"""Most lines in one review session's queue."""


def review_queue(
    repository: Repository, collection: str, limit: int = QUEUE_LENGTH
) -> list[ReviewItem]:
    """The `limit` most doubtful unreviewed lines of a collection, most doubtful first."""
    return repository.review_queue(collection, limit=limit)
