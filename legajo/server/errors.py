"""Errors of `legajo serve` as JSON with one stable shape.

Every error answer, whatever raised it, has this body::

    {"error": {"status": 409, "code": "stale_version", "message": "...", "details": {...}}}

``status`` repeats the HTTP status, ``code`` is a stable machine-readable name (the table
below), ``message`` is for people and may change, ``details`` is an object with more about
this error, or null.

===========================  ======  =============================================================
code                         status  when
===========================  ======  =============================================================
``bad_query``                400     the search query is malformed (`QuerySyntaxError`);
                                     ``details.position`` is the 0-based character
``bad_request``              400     another request the data cannot satisfy
``unauthorized``             401     no or wrong credentials (``WWW-Authenticate: Basic``)
``forbidden``                403     the account's role may not do this
``not_found``                404     no such route, page, line or collection
``read_only``                405     the server runs with ``--read-only``: every write is refused
``method_not_allowed``       405     the route exists, the method does not
``stale_version``            409     the line changed since the version the editor saw; nothing
                                     was written; ``details`` holds both versions and both texts
``conflict``                 409     the request clashes with what is stored (an account that
                                     exists)
``invalid_request``          422     a parameter or body field is missing, of the wrong type or
                                     out of its limits; ``details.errors`` lists them
``search_timeout``           503     the search ran past its time limit (``Retry-After`` set)
``unavailable``              503     the database or an index or model cannot be used now
``internal_error``           500     anything unexpected (logged; the message tells nothing more)
===========================  ======  =============================================================

A search past its deadline is 503 and not 504: no gateway timed out, this server gave up
on purpose, and a retry later (or a narrower query) may succeed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException as StarletteHTTPException

from htr.errors import LegajoError
from indexer.accounts import AccountError, AccountExistsError, UnknownAccountError
from indexer.accounts.errors import PermissionDeniedError
from indexer.errors import (
    DatabaseAccessError,
    DatabaseOpenError,
    IndexFileError,
    LineNotFoundError,
    SearchTimeoutError,
    SemanticModelError,
    StaleLineError,
    UnknownCollectionError,
    UnknownModelError,
)
from indexer.search.query import QuerySyntaxError
from ui.corrections import ReadOnlyError

logger = logging.getLogger(__name__)

SEARCH_RETRY_AFTER_S = 1
"""The ``Retry-After`` of a search that ran past its time limit."""

_STATUS_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    422: "invalid_request",
    500: "internal_error",
    503: "unavailable",
}
"""The code of an error raised only with its status (`HTTPException`)."""


class ErrorBody(BaseModel):
    """What went wrong (the ``error`` member of every error answer)."""

    status: int
    code: str
    message: str
    details: dict[str, Any] | None = None


class ErrorAnswer(BaseModel):
    """The body of every error answer."""

    error: ErrorBody


class ApiError(Exception):
    """An error the API answers with a chosen status, code and details.

    Args:
        status: The HTTP status.
        code: The stable code (module docstring).
        message: For people.
        details: More about the error, JSON-ready.
        headers: Extra response headers (``WWW-Authenticate``, ``Allow``...).
    """

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        details: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.details = None if details is None else dict(details)
        self.headers = None if headers is None else dict(headers)


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    details: Mapping[str, Any] | None = None,
    headers: Mapping[str, str] | None = None,
) -> JSONResponse:
    """The JSON answer of an error, in the one shape of the module docstring."""
    body = ErrorAnswer(
        error=ErrorBody(
            status=status,
            code=code,
            message=message,
            details=None if details is None else jsonable_encoder(dict(details)),
        )
    )
    return JSONResponse(body.model_dump(), status_code=status, headers=headers)


def api_error_of(error: LegajoError) -> ApiError:
    """The API's answer to an error of the library, by its class.

    Args:
        error: What a service raised.

    Returns:
        The error to answer with; an unknown kind of error becomes a 500 that tells nothing
        of it.
    """
    if isinstance(error, QuerySyntaxError):
        return ApiError(
            400,
            "bad_query",
            str(error),
            details={"query": error.query, "position": error.position, "reason": error.reason},
        )
    if isinstance(error, StaleLineError):
        return ApiError(
            409,
            "stale_version",
            str(error),
            details={
                "line_id": error.line_id,
                "expected_version": error.expected_version,
                "current_version": error.current_version,
            },
        )
    if isinstance(
        error,
        (LineNotFoundError, UnknownCollectionError, UnknownModelError, UnknownAccountError),
    ):
        return ApiError(404, "not_found", str(error))
    if isinstance(error, PermissionDeniedError):
        return ApiError(403, "forbidden", str(error))
    if isinstance(error, ReadOnlyError):
        return ApiError(405, "read_only", str(error))
    if isinstance(error, AccountExistsError):
        return ApiError(409, "conflict", str(error))
    if isinstance(error, AccountError):  # a malformed name, an unknown role, a weak password
        return ApiError(400, "bad_request", str(error))
    if isinstance(error, SearchTimeoutError):
        return ApiError(
            503,
            "search_timeout",
            f"{error}; try again, or narrow the query",
            headers={"Retry-After": str(SEARCH_RETRY_AFTER_S)},
        )
    if isinstance(error, (DatabaseAccessError, DatabaseOpenError)):
        return ApiError(503, "unavailable", "the database cannot be used now; try again later")
    if isinstance(error, (SemanticModelError, IndexFileError)):
        return ApiError(503, "unavailable", str(error))
    return ApiError(500, "internal_error", "internal server error")


def install_error_handlers(app: FastAPI) -> None:
    """Registers the handlers that turn every error into the API's JSON error shape."""

    async def on_api_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, ApiError)
        return error_response(
            error.status,
            error.code,
            error.message,
            details=error.details,
            headers=error.headers,
        )

    async def on_http_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, StarletteHTTPException)
        code = _STATUS_CODES.get(error.status_code, "error")
        return error_response(
            error.status_code,
            code,
            str(error.detail),
            headers=getattr(error, "headers", None),
        )

    async def on_validation_error(_request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, RequestValidationError)
        problems = [
            {
                "location": [str(part) for part in problem.get("loc", ())],
                "message": str(problem.get("msg", "")),
                "type": str(problem.get("type", "")),
            }
            for problem in error.errors()
        ]
        first = problems[0] if problems else None
        message = (
            f"invalid {'.'.join(first['location'])}: {first['message']}"  # type: ignore[arg-type]
            if first
            else "invalid request"
        )
        return error_response(422, "invalid_request", message, details={"errors": problems})

    async def on_legajo_error(request: Request, error: Exception) -> JSONResponse:
        assert isinstance(error, LegajoError)
        answer = api_error_of(error)
        if answer.status >= 500:
            logger.error(
                "%s %s failed: %s: %s",
                request.method,
                request.url.path,
                type(error).__name__,
                error,
            )
        return await on_api_error(request, answer)

    async def on_unexpected_error(request: Request, error: Exception) -> JSONResponse:
        logger.error("%s %s failed unexpectedly", request.method, request.url.path, exc_info=error)
        return error_response(500, "internal_error", "internal server error")

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(LegajoError, on_legajo_error)
    app.add_exception_handler(Exception, on_unexpected_error)
