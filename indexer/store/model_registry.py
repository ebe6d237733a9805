"""The models of a home: rows of the models `legajo adapt` trained, and each collection's choice.

The checkpoint folders live under ``<home>/models/`` (`indexer.adaptation.registry`); the
database keeps what each is (`indexer.store.orm.ModelRow`) and which one reads each
collection (``collections.active_model``; none means the bundled model).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select, update

from indexer.errors import UnknownCollectionError, UnknownModelError
from indexer.store.db import Database
from indexer.store.orm import CollectionRow, ModelRow
from indexer.store.records import ModelKey, ModelRecord

_NAME_CHARACTERS = re.compile(r"[^a-z0-9]+")


class ModelRegistry:
    """Reads and writes the model rows of a database.

    Args:
        database: An open database.
    """

    def __init__(self, database: Database) -> None:
        self._db = database

    def register(
        self,
        name: str,
        path: str,
        model: ModelKey,
        *,
        parent: ModelKey | None,
        collection: str | None,
        minutes: float,
        training: Mapping[str, Any],
        cer_before: float | None,
        cer_after: float | None,
    ) -> ModelRecord:
        """Records a trained model.

        Raises:
            UnknownCollectionError: If `collection` does not exist.
        """
        with self._db.write() as session:
            collection_id = None
            if collection is not None:
                collection_id = session.scalar(
                    select(CollectionRow.id).where(CollectionRow.name == collection)
                )
                if collection_id is None:
                    raise UnknownCollectionError(f"no collection named {collection!r}")
            row = ModelRow(
                name=name,
                path=path,
                model_id=model.model_id,
                model_revision=model.revision,
                parent_id=parent.model_id if parent else None,
                parent_revision=parent.revision if parent else None,
                collection_id=collection_id,
                minutes=minutes,
                training=dict(training),
                cer_before=cer_before,
                cer_after=cer_after,
            )
            session.add(row)
            session.flush()
            return _record(row, collection)

    def models(self) -> list[ModelRecord]:
        """Every registered model, oldest first."""
        query = (
            select(ModelRow, CollectionRow.name)
            .outerjoin(CollectionRow, CollectionRow.id == ModelRow.collection_id)
            .order_by(ModelRow.id)
        )
        with self._db.read() as session:
            return [_record(row, name) for row, name in session.execute(query)]

    def model(self, name: str) -> ModelRecord:
        """One registered model.

        Raises:
            UnknownModelError: If no model has that name.
        """
        for record in self.models():
            if record.name == name:
                return record
        known = ", ".join(r.name for r in self.models()) or "none yet"
        raise UnknownModelError(f"no model named {name!r} in this home (models: {known})")

    def activate(self, collection: str, name: str | None) -> None:
        """Makes a registered model (None: the bundled one) read a collection from now on.

        Raises:
            UnknownCollectionError: If the collection does not exist.
            UnknownModelError: If no model has that name.
        """
        if name is not None:
            self.model(name)
        with self._db.write() as session:
            done = session.execute(
                update(CollectionRow)
                .where(CollectionRow.name == collection)
                .values(active_model=name)
                .execution_options(synchronize_session=False)
            )
            if getattr(done, "rowcount", 1) != 1:
                raise UnknownCollectionError(f"no collection named {collection!r}")

    def active(self, collection: str) -> ModelRecord | None:
        """The model that reads a collection; None for the bundled one.

        Raises:
            UnknownCollectionError: If the collection does not exist.
        """
        with self._db.read() as session:
            found = session.execute(
                select(CollectionRow.id, CollectionRow.active_model).where(
                    CollectionRow.name == collection
                )
            ).first()
        if found is None:
            raise UnknownCollectionError(f"no collection named {collection!r}")
        return None if found.active_model is None else self.model(found.active_model)

    def active_models(self) -> dict[str, str | None]:
        """Collection name -> the name of its active model (None: the bundled one)."""
        with self._db.read() as session:
            return {
                name: active
                for name, active in session.execute(
                    select(CollectionRow.name, CollectionRow.active_model).order_by(
                        CollectionRow.name
                    )
                )
            }

    def new_name(self, collection: str) -> str:
        """A free model name for the next model adapted to a collection (``<collection>-<n>``)."""
        stem = _NAME_CHARACTERS.sub("-", collection.lower()).strip("-")[:60] or "collection"
        taken = {record.name for record in self.models()}
        number = 1
        while f"{stem}-{number}" in taken:
            number += 1
        return f"{stem}-{number}"


def _record(row: ModelRow, collection: str | None) -> ModelRecord:
    return ModelRecord(
        name=row.name,
        path=row.path,
        model=ModelKey(row.model_id, row.model_revision),
        parent=None
        if row.parent_id is None
        else ModelKey(row.parent_id, row.parent_revision or ""),
        collection=collection,
        created_at=row.created_at,
        minutes=row.minutes,
        training=dict(row.training),
        cer_before=row.cer_before,
        cer_after=row.cer_after,
    )
