"""`htr.remote_code`: the bundled model's remote code stays generated from legajo's sources."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from htr.remote_code import (
    IMAGE_PROCESSING_FILE,
    IMAGE_PROCESSOR_AUTO_MAP,
    MODEL_AUTO_MAP,
    MODELING_FILE,
    REMOTE_CODE_END,
    remote_code_files,
    write_remote_code,
)
from tests.conftest import REPO

BUNDLED = REPO / "data" / "models" / "legajo-default"
SMALL_FILES = ("config.json", "processor_config.json")


def _json(path: Path) -> dict:
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_bundled_model_carries_the_current_remote_code() -> None:
    for name, text in remote_code_files().items():
        assert (BUNDLED / name).read_text(encoding="utf-8") == text, (
            f"{BUNDLED / name} is behind htr/: run `make model-code`"
        )
    assert _json(BUNDLED / "config.json")["auto_map"] == MODEL_AUTO_MAP
    processor = _json(BUNDLED / "processor_config.json")
    assert processor["image_processor"]["auto_map"] == IMAGE_PROCESSOR_AUTO_MAP


def test_the_modeling_file_is_line_model_without_legajo_registration() -> None:
    files = remote_code_files()
    modeling = files[MODELING_FILE]
    source = (REPO / "htr" / "line_model.py").read_text(encoding="utf-8")
    assert f"\n{REMOTE_CODE_END}" not in modeling
    assert "_register_with_auto_classes" not in modeling
    kept = source.split(f"\n{REMOTE_CODE_END}")[0].rstrip()
    assert modeling.splitlines()[1:] == kept.splitlines()
    imports = [
        line.split()[1].split(".")[0]
        for line in modeling.splitlines()
        if line.startswith(("import ", "from "))
    ]
    assert set(imports) <= {"__future__", "math", "collections", "dataclasses", "typing"} | {
        "torch",
        "transformers",
    }
    for text in files.values():
        assert "htr." not in "\n".join(
            line for line in text.splitlines() if line.startswith(("import ", "from "))
        )
    assert "class LineImageProcessor" in files[IMAGE_PROCESSING_FILE]


def test_write_remote_code_adds_files_and_auto_maps_and_keeps_the_rest(tmp_path: Path) -> None:
    for name in SMALL_FILES:
        original = _json(BUNDLED / name)
        original.pop("auto_map", None)
        original.get("image_processor", {}).pop("auto_map", None)
        (tmp_path / name).write_text(json.dumps(original, indent=2, sort_keys=True) + "\n")
    write_remote_code(tmp_path)
    for name in (*SMALL_FILES, MODELING_FILE, IMAGE_PROCESSING_FILE):
        assert (tmp_path / name).read_bytes() == (BUNDLED / name).read_bytes(), name
    write_remote_code(tmp_path)  # a second run changes nothing
    assert (tmp_path / "config.json").read_bytes() == (BUNDLED / "config.json").read_bytes()


def test_write_remote_code_refuses_a_folder_without_a_line_model(tmp_path: Path) -> None:
    for name in SMALL_FILES:
        shutil.copy(BUNDLED / name, tmp_path / name)
    config = _json(tmp_path / "config.json")
    config["encoder"]["model_type"] = "vit"
    (tmp_path / "config.json").write_text(json.dumps(config))
    with pytest.raises(ValueError, match="not a line encoder"):
        write_remote_code(tmp_path)
    assert not (tmp_path / MODELING_FILE).exists()
    with pytest.raises(ValueError, match="cannot read"):
        write_remote_code(tmp_path / "missing")


def test_auto_map_leaves_the_model_revision_as_it_was(tmp_path: Path) -> None:
    """Pages indexed with the model before it carried an auto_map are not indexed again."""
    from htr.trocr import _weights_digest

    folder = tmp_path / "model"
    folder.mkdir()
    (folder / "model.safetensors").write_bytes(b"weights")
    config = _json(BUNDLED / "config.json")
    bare = {k: v for k, v in config.items() if k != "auto_map"}
    (folder / "config.json").write_text(json.dumps(bare, indent=2, sort_keys=True) + "\n")
    before = _weights_digest(folder)
    (folder / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    assert _weights_digest(folder) == before
    (folder / "config.json").write_text(json.dumps({**config, "max_length": 7}, indent=2))
    changed = _weights_digest(folder)
    assert changed != before
    # a language model is part of the revision: the same weights read otherwise with it
    (folder / "char_lm.npz").write_bytes(b"counts")
    assert _weights_digest(folder) != changed
    # the bundled model's revision as databases store it (v4 + its language model; v3 was
    # 436035f96dfb7569, v1 56ef281ba06a5e40): a change of the digest function would make
    # every indexed page look read by another model
    assert _weights_digest(BUNDLED) == "1d5e7133d93477d0"


def test_the_line_encoder_type_is_the_line_models() -> None:
    from htr.line_model import MODEL_TYPE
    from htr.remote_code import LINE_ENCODER_TYPE

    assert MODEL_TYPE == LINE_ENCODER_TYPE
