"""The cache of Image API derivatives, under ``<home>/iiif-cache/``.

A derivative is keyed by the page's id, the content hash of its file and the canonical
request (`legajo.server.iiif.image_api.ImageRequest.canonical`), so a re-indexed page never
gets an old picture. Files are written atomically (a temporary file, then a rename), so a
reader never sees half of one; when the cache grows past its bound, the least recently used
files go first (a hit touches its file).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import tempfile
import threading
from pathlib import Path

logger = logging.getLogger(__name__)

CACHE_FOLDER = "iiif-cache"
"""The cache's folder under the legajo home."""
DEFAULT_MAX_BYTES = 512 * 1024 * 1024
"""The cache's default bound: 512 MiB."""
SUFFIX = ".bin"


class DerivativeCache:
    """A bounded folder of rendered images, safe for the threads of one server.

    Args:
        root: The cache's folder (created on first write).
        max_bytes: Its bound; on going past it, the oldest files are removed until it is
            at most nine tenths full.
    """

    def __init__(self, root: Path, max_bytes: int = DEFAULT_MAX_BYTES) -> None:
        self._root = Path(root)
        self._max_bytes = max_bytes
        self._lock = threading.Lock()
        self._total: int | None = None

    @property
    def root(self) -> Path:
        """The cache's folder."""
        return self._root

    def path_of(self, page_id: int, sha256: str, request: str) -> Path:
        """Where the derivative of one request of one page is kept."""
        digest = hashlib.sha256(f"{page_id}\n{sha256}\n{request}".encode()).hexdigest()
        return self._root / digest[:2] / (digest + SUFFIX)

    def get(self, page_id: int, sha256: str, request: str) -> bytes | None:
        """The cached bytes of a request, or None."""
        path = self.path_of(page_id, sha256, request)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        with contextlib.suppress(OSError):
            path.touch()  # recently used: evicted last
        return data

    def put(self, page_id: int, sha256: str, request: str, data: bytes) -> None:
        """Stores the bytes of a request (a failure to write is logged, never raised)."""
        path = self.path_of(page_id, sha256, request)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=path.parent, suffix=".partial")
            try:
                with os.fdopen(handle, "wb") as output:
                    output.write(data)
                os.replace(temporary, path)
            except BaseException:
                with contextlib.suppress(OSError):
                    os.unlink(temporary)
                raise
        except OSError as error:
            logger.warning("could not cache a derivative in %s: %s", self._root, error)
            return
        with self._lock:
            self._total = (self._total if self._total is not None else self._size()) + len(data)
            if self._total > self._max_bytes:
                self._evict()

    def _files(self) -> list[tuple[float, int, Path]]:
        found = []
        for path in self._root.glob(f"*/*{SUFFIX}"):
            with contextlib.suppress(OSError):
                status = path.stat()
                found.append((status.st_mtime, status.st_size, path))
        return found

    def _size(self) -> int:
        return sum(size for _, size, _ in self._files())

    def _evict(self) -> None:
        files = sorted(self._files())
        total = sum(size for _, size, _ in files)
        target = self._max_bytes * 9 // 10
        removed = 0
        for _, size, path in files:
            if total <= target:
                break
            with contextlib.suppress(OSError):
                path.unlink()
                total -= size
                removed += 1
        self._total = total
        logger.info("image cache: removed %d old derivatives, %d bytes left", removed, total)
