"""Type aliases shared by the htr package.

Coordinates are absolute integer pixels of the stored page image (frame), origin top left.
"""

from typing import TypeAlias

import numpy as np
import numpy.typing as npt

Point: TypeAlias = tuple[int, int]
"""An (x, y) pixel position."""

Polygon: TypeAlias = tuple[Point, ...]
"""A closed outline, as its vertices in order (the last is not repeated)."""

BBox: TypeAlias = tuple[int, int, int, int]
"""A box as (x0, y0, x1, y1), x1 and y1 exclusive."""

UInt8Image: TypeAlias = npt.NDArray[np.uint8]
"""An 8-bit image: grey levels, or a 0/1 mask (1 = ink, or = the marked region)."""

FloatImage: TypeAlias = npt.NDArray[np.float32]
"""A 32-bit float image, e.g. grey levels divided by the background (1 = paper)."""
