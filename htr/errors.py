"""Errors raised by legajo libraries; only the CLI turns them into messages and exit codes."""


class LegajoError(Exception):
    """Base class of every error legajo raises on purpose."""


class ImageLoadError(LegajoError):
    """An input file could not be read as a page image (the message names the file)."""


class LayoutError(LegajoError):
    """A PAGE or ALTO file could not be read (the message names the file)."""


class ModelLoadError(LegajoError):
    """A recognition model could not be loaded by path or hub name."""


class RecognitionError(LegajoError):
    """Recognition failed for a reason that concerns the whole request, not one line."""
