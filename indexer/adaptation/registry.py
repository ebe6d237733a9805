"""Where a home keeps its models, and which model reads a collection.

Checkpoints trained here live in ``<home>/models/<name>/`` (their training runs in
``<home>/models/.runs/<name>/``); the database's model rows
(`indexer.store.model_registry.ModelRegistry`) say what each one is. A model is named in
commands by its registry name, by ``legajo-default`` for the bundled model, or by a path or
Hugging Face hub name.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from htr.default_model import default_model_path
from indexer.store.model_registry import ModelRegistry
from indexer.store.records import ModelRecord

MODELS_FOLDER = "models"
"""The folder of a home that holds its trained models."""
RUNS_FOLDER = ".runs"
"""The folder of `MODELS_FOLDER` that holds their training runs (checkpoints, logs)."""
BUNDLED_MODEL = "legajo-default"
"""The name that stands for the bundled model."""


@dataclass(frozen=True, slots=True)
class ChosenModel:
    """A model a command will load.

    Attributes:
        source: What to load: a checkpoint folder or a hub name.
        name: Its registry name, `BUNDLED_MODEL`, or None for a model given by path or hub name.
        record: Its registry row, for a registered model.
    """

    source: str
    name: str | None
    record: ModelRecord | None = None


def models_folder(home: Path) -> Path:
    """The folder of a home's trained models."""
    return home / MODELS_FOLDER


def runs_folder(home: Path) -> Path:
    """The folder of the training runs of a home's models."""
    return models_folder(home) / RUNS_FOLDER


def choose_model(registry: ModelRegistry, name_or_path: str) -> ChosenModel:
    """Resolves a model named on the command line.

    Args:
        registry: The home's registry.
        name_or_path: A registry name, `BUNDLED_MODEL`, a checkpoint folder or a hub name.

    Returns:
        What to load. A registry name wins over a folder of the same name in the current
        directory; the folder of a registered model or of the bundled one is known by its
        name.
    """
    bundled = default_model_path()
    if name_or_path == BUNDLED_MODEL or _same_folder(name_or_path, bundled):
        return ChosenModel(str(bundled), BUNDLED_MODEL)
    records = registry.models()
    for record in records:
        if record.name == name_or_path:
            return ChosenModel(record.path, record.name, record)
    for record in records:
        if _same_folder(name_or_path, Path(record.path)):
            return ChosenModel(record.path, record.name, record)
    return ChosenModel(name_or_path, None)


def reading_model(
    registry: ModelRegistry, name_or_path: str | None, collection: str
) -> ChosenModel:
    """The model named (`choose_model`), or when none is, the collection's (`collection_model`)."""
    if name_or_path is not None:
        return choose_model(registry, name_or_path)
    return collection_model(registry, collection)


def _same_folder(name_or_path: str, folder: Path) -> bool:
    path = Path(name_or_path).expanduser()
    return path.is_dir() and folder.is_dir() and path.resolve() == folder.resolve()


def collection_model(registry: ModelRegistry, collection: str) -> ChosenModel:
    """The active model of a collection: a registered one, or the bundled one.

    A collection that does not exist yet is read by the bundled model.
    """
    active = registry.active_models().get(collection)
    if active is None:
        return ChosenModel(str(default_model_path()), BUNDLED_MODEL)
    record = registry.model(active)
    return ChosenModel(record.path, record.name, record)
