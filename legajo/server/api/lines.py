"""``/api/lines/{line_id}``: a line with its history; corrections and confirmations.

A correction names the version of the line the editor saw. When someone else saved the line
meanwhile the answer is 409 ``stale_version`` and nothing is written; the error's
``details`` hold the line's version and text now and the text that was sent, so that the
editor can merge and send it again with the new version.
"""

from __future__ import annotations

import logging

from fastapi import APIRouter

from htr.errors import LegajoError
from indexer.errors import StaleLineError
from indexer.store.repository import StoredLine
from legajo.server.api.schemas import (
    LineConfirmation,
    LineCorrection,
    LineDetail,
    LineOut,
    ReadingOut,
    VersionOut,
)
from legajo.server.auth import Editor, Reader, editor_name
from legajo.server.context import Context, ServerContext
from legajo.server.errors import ApiError, api_error_of
from ui.corrections import CorrectionDesk

logger = logging.getLogger(__name__)

router = APIRouter(tags=["lines"])


@router.get("/lines/{line_id}", response_model=LineDetail, summary="read a line and its history")
def read_line(line_id: int, context: Context, _caller: Reader) -> LineDetail:
    """A line with its words, confidences, n-best readings and history.

    ``history`` lists every version of the text (the machine reading, then each correction
    with its editor and time); ``readings`` the earlier machine readings kept by rereads.
    """
    stored = context.repository.line(line_id)
    desk = CorrectionDesk(context.repository, read_only=context.read_only)
    return LineDetail(
        **LineOut.of(stored).model_dump(),
        history=[VersionOut.of(version) for version in desk.history(stored)],
        readings=[ReadingOut.of(reading) for reading in context.repository.readings(line_id)],
    )


@router.put(
    "/lines/{line_id}",
    response_model=LineOut,
    summary="correct a line",
    responses={409: {"description": "the line changed since `version`; nothing was written"}},
)
def correct_line(
    line_id: int,
    correction: LineCorrection,
    context: Context,
    caller: Editor,
) -> LineOut:
    """Stores a correction of the line's text, made on `version`; answers the line after it.

    The correction is recorded under the account's name (on a server without accounts, the
    body's ``editor``, else ``anonymous``). Nothing is overwritten: the line's history keeps
    every version.
    """
    editor = editor_name(caller, correction.editor)
    desk = CorrectionDesk(context.repository, read_only=context.read_only, account=caller.account)
    try:
        saved = desk.save(line_id, correction.text, editor, correction.version)
    except StaleLineError as error:
        raise _stale(context, error, correction.text) from None
    return LineOut.of(saved)


@router.post(
    "/lines/{line_id}/confirm",
    response_model=LineOut,
    summary="confirm a line's text",
    responses={409: {"description": "the line changed since `version`; nothing was written"}},
)
def confirm_line(
    line_id: int,
    confirmation: LineConfirmation,
    context: Context,
    caller: Editor,
) -> LineOut:
    """Records that the editor checked the line (at `version`) and found its text right.

    The line leaves the review queue, its words become verified, and its history shows the
    confirmation.
    """
    editor = editor_name(caller, confirmation.editor)
    desk = CorrectionDesk(context.repository, read_only=context.read_only, account=caller.account)
    try:
        saved = desk.confirm(line_id, editor, confirmation.version)
    except StaleLineError as error:
        raise _stale(context, error, None) from None
    return LineOut.of(saved)


def _stale(context: ServerContext, error: StaleLineError, sent_text: str | None) -> ApiError:
    """The 409 of a stale correction, with the line as it is now and what was sent."""
    answer = api_error_of(error)
    details = dict(answer.details or {})
    current: StoredLine | None
    try:
        current = context.repository.line(error.line_id)
    except LegajoError:  # the line went meanwhile: the 409 still says what happened
        logger.warning("line %d could not be read after a stale write", error.line_id)
        current = None
    details["current_text"] = None if current is None else current.line.text
    details["current_version"] = error.current_version if current is None else current.version
    details["sent_text"] = sent_text
    return ApiError(answer.status, answer.code, answer.message, details=details)
