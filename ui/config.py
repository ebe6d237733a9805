"""The workbench's settings, read once per script run from the environment `legajo ui` sets.

See `indexer.ui_command` for the variables; ``streamlit run ui/streamlit_app.py`` started by
hand reads the same ones, with the same defaults as the other `legajo` commands.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from htr.errors import LegajoError
from indexer.settings import StorageSettings, resolve_storage
from indexer.ui_command import LANGUAGE_VARIABLE, READ_ONLY_VARIABLE, UI_LANGUAGES

_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"", "0", "false", "no", "off"})


class UiSettingsError(LegajoError):
    """A workbench setting in the environment has a value it cannot take."""


@dataclass(frozen=True, slots=True)
class UiSettings:
    """How the workbench runs.

    Attributes:
        storage: The home folder and database URL.
        read_only: Refuse every write (and show no editing control).
        language: The interface language a new browser session starts in.
    """

    storage: StorageSettings
    read_only: bool = False
    language: str = UI_LANGUAGES[0]


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
        storage=resolve_storage(environ=env), read_only=flag in _TRUE, language=language
    )
