"""legajo: search historical handwritten archives.

The front door of the project: the `legajo` command line (`legajo.cli`) and a small Python
API (`legajo.api`, re-exported here). Nothing in `htr`, `indexer` or `ui` imports it.
"""

from htr import __version__
from legajo.api import Archive, open, transcribe

__all__ = ["Archive", "__version__", "open", "transcribe"]
