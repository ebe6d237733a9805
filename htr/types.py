"""Type aliases shared by the htr package.

Coordinates are absolute integer pixels of the stored page image (frame), origin top left.
"""

from typing import TypeAlias

Point: TypeAlias = tuple[int, int]
"""An (x, y) pixel position."""

Polygon: TypeAlias = tuple[Point, ...]
"""A closed outline, as its vertices in order (the last is not repeated)."""

BBox: TypeAlias = tuple[int, int, int, int]
"""A box as (x0, y0, x1, y1), x1 and y1 exclusive."""
