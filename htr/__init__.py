"""legajo's handwriting recognition: page images to lines, words, confidences and boxes."""

__version__ = "0.1.0"
SOFTWARE = f"legajo {__version__}"
