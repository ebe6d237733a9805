"""The remote code of legajo's line models: what lets plain transformers load them.

A line model folder is an ordinary Hugging Face checkpoint, but transformers knows neither its
encoder (`htr.line_model`) nor its image processor (`htr.line_processor`). `write_remote_code`
copies legajo's code for both into the folder and points the ``auto_map`` of its
``config.json`` and ``processor_config.json`` at the copies, so that::

    AutoModel.from_pretrained(folder, trust_remote_code=True)
    AutoProcessor.from_pretrained(folder, trust_remote_code=True)

load the model in a process that never imports legajo. (``VisionEncoderDecoderModel
.from_pretrained`` ignores ``trust_remote_code``: it needs ``import htr.line_model`` first.)

The copies are generated, never edited by hand: ``modeling_legajo_line.py`` is
`htr.line_model` down to its ``# end of the remote code`` line (torch and transformers only),
``image_processing_legajo_line.py`` is `htr.line_processor` as it is (numpy, Pillow, OpenCV and
transformers). ``make model-code`` refreshes the bundled model's copies, and a test fails when
they fall behind the sources.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

LINE_ENCODER_TYPE = "legajo_line_encoder"
"""`htr.line_model.MODEL_TYPE`, the encoder type of a legajo line model."""

MODELING_FILE = "modeling_legajo_line.py"
IMAGE_PROCESSING_FILE = "image_processing_legajo_line.py"
REMOTE_CODE_END = "# end of the remote code"
"""The line of `htr.line_model` where the copied part ends."""

MODEL_AUTO_MAP: dict[str, str] = {
    "AutoConfig": "modeling_legajo_line.LineVisionEncoderDecoderConfig",
    "AutoModel": "modeling_legajo_line.LineVisionEncoderDecoderModel",
    "AutoModelForImageTextToText": "modeling_legajo_line.LineVisionEncoderDecoderModel",
}
"""The ``auto_map`` of a line model's ``config.json``."""
IMAGE_PROCESSOR_AUTO_MAP: dict[str, str] = {
    "AutoImageProcessor": "image_processing_legajo_line.LineImageProcessor",
}
"""The ``auto_map`` of the ``image_processor`` part of its ``processor_config.json``."""

_HERE = Path(__file__).resolve().parent
_SOURCES = {
    MODELING_FILE: _HERE / "line_model.py",
    IMAGE_PROCESSING_FILE: _HERE / "line_processor.py",
}


def remote_code_files() -> dict[str, str]:
    """The remote-code files of a line model folder, generated from legajo's sources.

    Returns:
        File name -> text, each text starting with a comment naming its source.

    Raises:
        RuntimeError: `htr.line_model` lost its ``# end of the remote code`` line.
    """
    files = {}
    for name, source in _SOURCES.items():
        text = source.read_text(encoding="utf-8")
        if name == MODELING_FILE:
            end = text.find(f"\n{REMOTE_CODE_END}")
            if end < 0:
                raise RuntimeError(f"{source} has no {REMOTE_CODE_END!r} line")
            text = text[:end]
        header = (
            f"# Generated from htr/{source.name} by htr.remote_code (`make model-code`);"
            " do not edit here.\n"
        )
        files[name] = header + text.rstrip() + "\n"
    return files


def write_remote_code(folder: str | Path) -> None:
    """Writes the remote-code files into a line model folder and points its auto_maps at them.

    Args:
        folder: A saved line model (``config.json`` with a ``legajo_line_encoder`` encoder,
            ``processor_config.json`` with a ``LineImageProcessor``).

    Raises:
        ValueError: The folder does not hold a legajo line model.
    """
    folder = Path(folder)
    config_path = folder / "config.json"
    processor_path = folder / "processor_config.json"
    config = _read_json(config_path)
    processor = _read_json(processor_path)
    encoder_type = config.get("encoder", {}).get("model_type")
    image_processor = processor.get("image_processor", {})
    if encoder_type != LINE_ENCODER_TYPE:
        raise ValueError(f"{config_path}: the encoder is {encoder_type!r}, not a line encoder")
    if image_processor.get("image_processor_type") != "LineImageProcessor":
        raise ValueError(f"{processor_path}: the image processor is not a LineImageProcessor")
    for name, text in remote_code_files().items():
        (folder / name).write_text(text, encoding="utf-8")
    config["auto_map"] = MODEL_AUTO_MAP
    image_processor["auto_map"] = IMAGE_PROCESSOR_AUTO_MAP
    _write_json(config_path, config)
    _write_json(processor_path, processor)


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise ValueError(f"{path}: cannot read it as JSON ({error})") from error
    if not isinstance(value, dict):
        raise ValueError(f"{path}: not a JSON object")
    return value


def _write_json(path: Path, value: dict[str, Any]) -> None:
    """Writes JSON the way transformers' ``save_pretrained`` does (sorted, indented by 2)."""
    path.write_text(json.dumps(value, indent=2, sort_keys=True) + "\n", encoding="utf-8")
