"""Where legajo keeps its data: the home folder and the database URL, resolved once at the edge.

Precedence, highest first: the command-line option (``--home``, ``--db``), the environment
(``LEGAJO_HOME``, ``LEGAJO_DB``), the default (``./legajo-data`` and SQLite at
``<home>/legajo.db``).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

DEFAULT_HOME = Path("legajo-data")
"""The home folder when neither ``--home`` nor ``LEGAJO_HOME`` is given (relative to the
working directory)."""

DATABASE_FILE = "legajo.db"
"""Name of the default SQLite database inside the home folder."""

HOME_VARIABLE = "LEGAJO_HOME"
DB_VARIABLE = "LEGAJO_DB"


@dataclass(frozen=True, slots=True)
class StorageSettings:
    """Where the database lives.

    Attributes:
        home: legajo's data folder (the default database, later the search indexes).
        database_url: SQLAlchemy URL of the database.
    """

    home: Path
    database_url: str

    @property
    def uses_default_database(self) -> bool:
        """True when the database is the SQLite file inside `home`."""
        return self.database_url == sqlite_url(self.home / DATABASE_FILE)


def sqlite_url(path: Path) -> str:
    """Returns the SQLAlchemy URL of a SQLite database file."""
    return f"sqlite:///{path}"


def resolve_storage(
    home: str | os.PathLike[str] | None = None,
    database_url: str | None = None,
    environ: Mapping[str, str] | None = None,
) -> StorageSettings:
    """Resolves the home folder and the database URL.

    Args:
        home: ``--home``, when given.
        database_url: ``--db``, when given.
        environ: The environment; defaults to `os.environ`.

    Returns:
        The settings; nothing is created on disk.
    """
    env = os.environ if environ is None else environ
    home_path = Path(home) if home else Path(env.get(HOME_VARIABLE) or DEFAULT_HOME)
    url = database_url or env.get(DB_VARIABLE) or sqlite_url(home_path / DATABASE_FILE)
    return StorageSettings(home=home_path, database_url=url)
