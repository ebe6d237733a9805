"""The workbench's only way to write: corrections, confirmations, restores; none when read-only.

Pages never call `Repository.correct_line` or `Repository.confirm_line` themselves; they go
through a `CorrectionDesk`, which checks on the server, for every write, that the app is not
read-only and that an editor is named. A browser that still shows an editing form (a tab
opened before the server was restarted with ``--read-only``, a forged request) gets
`ReadOnlyError`, and nothing is written.

When the database holds accounts, the desk writes as the session's account: its name is the
editor of every correction (whatever name a form sends), and an account that may not edit
(a viewer), or no account at all, gets `PermissionDeniedError`.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass

from htr.errors import LegajoError
from indexer.accounts import Account, Role, role_allows
from indexer.accounts.errors import PermissionDeniedError
from indexer.errors import LineNotFoundError
from indexer.store.repository import Correction, Repository, StoredLine

logger = logging.getLogger(__name__)


class ReadOnlyError(LegajoError):
    """A write was asked of a workbench started with ``--read-only``."""


class MissingEditorError(LegajoError):
    """A correction was submitted without the editor's name."""


@dataclass(frozen=True, slots=True)
class LineVersion:
    """One version of a line's text, as the history shows it.

    Attributes:
        version: 1 for the machine reading, then one more per correction.
        text: The text of that version.
        editor: Who wrote it; None for the machine reading.
        when: When it was saved; None for the machine reading.
        confirmed: True when the editor confirmed the text as it was instead of changing it.
    """

    version: int
    text: str
    editor: str | None
    when: dt.datetime | None
    confirmed: bool = False


class CorrectionDesk:
    """Reads lines with their history and writes corrections, unless read-only.

    Args:
        repository: The database.
        read_only: Refuse every write.
        account: The account writing; its name is recorded as the editor.
        accounts_required: The database holds accounts: writing needs an account that may
            edit (editor or admin), and the editor is always the account.
    """

    def __init__(
        self,
        repository: Repository,
        *,
        read_only: bool,
        account: Account | None = None,
        accounts_required: bool = False,
    ) -> None:
        self._repository = repository
        self._read_only = read_only
        self._account = account
        self._accounts_required = accounts_required or account is not None

    @property
    def read_only(self) -> bool:
        """True when every write is refused (read-only, or an account that may not edit)."""
        return self._read_only or (self._accounts_required and not self._may_edit())

    def _may_edit(self) -> bool:
        return self._account is not None and role_allows(self._account.role, Role.EDITOR)

    def line(self, page_id: int, line_id: int) -> StoredLine:
        """A line of a page, as stored now.

        Raises:
            LineNotFoundError: If the page has no line with that id.
        """
        for stored in self._repository.lines(page_id):
            if stored.id == line_id:
                return stored
        raise LineNotFoundError(f"page {page_id} has no line with id {line_id}")

    def history(self, stored: StoredLine) -> list[LineVersion]:
        """Every version of a line's text, oldest (the machine reading) first.

        Version 1 is the text the first correction started from: a reread (`legajo reread`)
        may have changed the line's machine reading since, and that one is listed by
        `Repository.readings`, not here.
        """
        corrections = self._repository.corrections(stored.id)
        first = corrections[0].old_text if corrections else stored.machine_text
        versions = [LineVersion(1, first, None, None)]
        versions.extend(_version(c) for c in corrections)
        return versions

    def save(self, line_id: int, text: str, editor: str, expected_version: int) -> StoredLine:
        """Stores a correction of a line (a new row; nothing is overwritten).

        Args:
            line_id: The line.
            text: The new text (surrounding whitespace removed).
            editor: Who corrects it; ignored when the desk writes as an account.
            expected_version: The version the editor started from.

        Returns:
            The line after the correction.

        Raises:
            PermissionDeniedError: If accounts are required and the desk has none that may
                edit.
            ReadOnlyError: If the workbench is read-only.
            MissingEditorError: If `editor` is blank (without accounts).
            StaleLineError: If someone saved the line since `expected_version`.
            LineNotFoundError: If the line does not exist.
        """
        name = self._writer(editor)
        saved = self._repository.correct_line(line_id, text.strip(), name, expected_version)
        logger.info("line %d corrected by %s (version %d)", line_id, name, saved.version)
        return saved

    def confirm(self, line_id: int, editor: str, expected_version: int) -> StoredLine:
        """Records that the editor checked the line and found its text right.

        The line's history shows it as confirmed by the editor, and it leaves the review
        queue.

        Raises:
            PermissionDeniedError, ReadOnlyError, MissingEditorError, StaleLineError,
                LineNotFoundError: As for `save`.
        """
        name = self._writer(editor)
        saved = self._repository.confirm_line(line_id, name, expected_version)
        logger.info("line %d confirmed by %s (version %d)", line_id, name, saved.version)
        return saved

    def _writer(self, editor: str) -> str:
        """The editor's name, once it is clear that a write may go ahead."""
        if self._accounts_required:
            if self._account is None:
                raise PermissionDeniedError("saving corrections needs logging in")
            if not self._may_edit():
                raise PermissionDeniedError(
                    f"account {self._account.name} is a {self._account.role}: "
                    "only editors and admins save corrections"
                )
        if self._read_only:
            raise ReadOnlyError("this workbench is read-only: corrections are not accepted")
        if self._account is not None:
            return self._account.name
        name = editor.strip()
        if not name:
            raise MissingEditorError("a correction needs the editor's name")
        return name

    def restore(
        self, stored: StoredLine, version: int, editor: str, expected_version: int
    ) -> StoredLine:
        """Makes an earlier version the current text again, as a new correction.

        Raises:
            LookupError: If the line has no such version.
            PermissionDeniedError, ReadOnlyError, MissingEditorError, StaleLineError: As
                for `save`.
        """
        earlier = {v.version: v for v in self.history(stored)}
        if version not in earlier:
            raise LookupError(f"line {stored.id} has no version {version}")
        return self.save(stored.id, earlier[version].text, editor, expected_version)


def _version(correction: Correction) -> LineVersion:
    return LineVersion(
        correction.version,
        correction.new_text,
        correction.editor,
        correction.created_at,
        confirmed=correction.confirmed,
    )
