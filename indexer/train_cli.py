"""``legajo train --from-db``: the database as a ground-truth source of `legajo train`.

`TRAIN_FROM_DATABASE` adds ``--from-db``, ``--collection``, ``--home`` and ``--db`` to htr's
``train`` command (through `htr.train.TrainDataOptions`, so that htr never imports the
indexer) and turns them into an `indexer.training_source.DatabaseLineSource`.

Exit codes: 2 when the options are wrong (``--collection``, ``--home`` or ``--db`` without
``--from-db``, a bad database URL, an unknown collection), 1 when the database cannot be
opened, or holds no verified line whose page image can be read (checked once the model to
train is loaded, before any training step).
"""

from __future__ import annotations

import argparse

from htr.errors import LegajoError
from htr.train import TrainDataOptions
from htr.training_data import LineSetReader
from indexer.cli_support import USAGE_ERRORS, add_storage_arguments, open_repository
from indexer.errors import OptionError


def add_database_arguments(parser: argparse.ArgumentParser) -> None:
    """Adds ``--from-db`` and the options that choose the database and collection."""
    parser.add_argument(
        "--from-db",
        action="store_true",
        help="also train on the lines people verified in the database: corrected lines and "
        "imported transcriptions, cut from their page images (which must still be on disk)",
    )
    parser.add_argument(
        "--collection", metavar="NAME", help="with --from-db: only this collection (default: all)"
    )
    add_storage_arguments(parser)


def database_readers(args: argparse.Namespace) -> tuple[LineSetReader, ...]:
    """The database line source that ``--from-db`` asks for (none without it).

    Raises:
        OptionError: If a database option is given without ``--from-db``.
        DatabaseUrlError: If the URL is malformed.
        DatabaseOpenError: If the database cannot be opened.
        UnknownCollectionError: If ``--collection`` names no collection.
    """
    from indexer.training_source import DatabaseLineSource

    if not args.from_db:
        given = [
            option
            for option, value in (
                ("--collection", args.collection),
                ("--home", args.home),
                ("--db", args.db),
            )
            if value is not None
        ]
        if given:
            raise OptionError(f"{', '.join(given)}: only with --from-db")
        return ()
    repository = open_repository(args)
    if args.collection is not None:
        try:
            repository.collection_id(args.collection)
        except LegajoError:
            repository.database.close()
            raise
    return (DatabaseLineSource(repository, args.collection),)


TRAIN_FROM_DATABASE = TrainDataOptions(
    add_arguments=add_database_arguments,
    readers=database_readers,
    usage_errors=(*USAGE_ERRORS, OptionError),
)
"""The database as a ground-truth source of ``legajo train`` (see `htr.cli.build_parser`)."""
