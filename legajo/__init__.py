"""legajo: search historical handwritten archives.

The front door of the project: the `legajo` command line (`legajo.cli`) and a small Python
API (`legajo.api`, re-exported here). Nothing in `htr`, `indexer` or `ui` imports it.
"""

from htr import __version__
from htr.runtime import configure_cpu_runtime
from legajo.api import Archive, open, transcribe

# Before anything imports torch: every way in (``import legajo``, the `legajo` command,
# ``python -m legajo``) passes here first. See `htr.runtime`.
configure_cpu_runtime()

__all__ = ["Archive", "__version__", "open", "transcribe"]
