"""The workbench's settings, read once per script run from the environment `legajo ui` sets.

==========================  =============================================================
variable                    meaning
==========================  =============================================================
``LEGAJO_HOME``             the home folder (``--home``, resolved as for every command)
``LEGAJO_DB``               the database URL (``--db``, resolved likewise)
``LEGAJO_UI_READ_ONLY``     ``1`` with ``--read-only``: every write is refused, ``0`` else
``LEGAJO_UI_LANGUAGE``      ``en`` or ``es``: the language a new browser session starts in
==========================  =============================================================

``streamlit run ui/streamlit_app.py`` started by hand reads the same variables, with the same
defaults as the `legajo` commands. `ui_environment` writes them for a child process.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from htr.errors import LegajoError
from indexer.settings import DB_VARIABLE, HOME_VARIABLE, StorageSettings, resolve_storage

if TYPE_CHECKING:
    from indexer.accounts import Account

READ_ONLY_VARIABLE = "LEGAJO_UI_READ_ONLY"
LANGUAGE_VARIABLE = "LEGAJO_UI_LANGUAGE"
UI_LANGUAGES = ("en", "es")
"""Interface languages; the first is the default."""

APP_SCRIPT = Path(__file__).resolve().with_name("streamlit_app.py")
"""The Streamlit entry script of the workbench."""

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


class UiSettingsError(LegajoError):
    """A workbench setting in the environment has a value it cannot take."""


@dataclass(frozen=True, slots=True)
class UiSettings:
    """How the workbench runs, and for whom (`ui.services.settings` fills in the session).

    Attributes:
        storage: The home folder and database URL.
        read_only: Refuse every write in this session (and show no editing control): the
            server was started with ``--read-only``, or the database holds accounts and the
            session's account may not edit (a viewer), or nobody logged in.
        language: The interface language a new browser session starts in.
        server_read_only: The server was started with ``--read-only`` (the database is
            opened without migrating it).
        accounts_required: The database holds accounts: every session logs in, and
            corrections are recorded under the account's name.
        account: The account logged in to this session; None without one.
    """

    storage: StorageSettings
    read_only: bool = False
    language: str = UI_LANGUAGES[0]
    server_read_only: bool = False
    accounts_required: bool = False
    account: Account | None = None


def load_settings(environ: Mapping[str, str] | None = None) -> UiSettings:
    """Reads the settings from the environment (default `os.environ`).

    Raises:
        UiSettingsError: If the read-only flag or the language has an unknown value.
    """
    env = os.environ if environ is None else environ
    flag = env.get(READ_ONLY_VARIABLE, "").strip().lower()
    if flag not in _TRUE | _FALSE:
        raise UiSettingsError(f"{READ_ONLY_VARIABLE}={flag!r}: expected 1 or 0")
    language = env.get(LANGUAGE_VARIABLE, "").strip().lower() or UI_LANGUAGES[0]
    if language not in UI_LANGUAGES:
        raise UiSettingsError(
            f"{LANGUAGE_VARIABLE}={language!r}: expected one of {', '.join(UI_LANGUAGES)}"
        )
    return UiSettings(
        storage=resolve_storage(environ=env),
        read_only=flag in _TRUE,
        language=language,
        server_read_only=flag in _TRUE,
    )


def ui_environment(
    storage: StorageSettings,
    *,
    read_only: bool,
    language: str,
    base: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of the app's process: `base` (default `os.environ`) plus its settings."""
    environment = dict(os.environ if base is None else base)
    environment[HOME_VARIABLE] = str(storage.home)
    environment[DB_VARIABLE] = storage.database_url
    environment[READ_ONLY_VARIABLE] = "1" if read_only else "0"
    environment[LANGUAGE_VARIABLE] = language
    return environment
