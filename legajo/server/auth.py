"""Who makes a request, and what they may do: HTTP Basic or bearer tokens over the accounts.

Credentials come in the ``Authorization`` header, either ``Basic`` (the account's name and
password; UTF-8) or ``Bearer`` (an API token from ``legajo users token``). Every request is
checked on its own. A bearer token costs one indexed read; a password one argon2
verification, after which the pair is remembered for a minute (`legajo.server.passwords`),
so that a script sending it with every request pays the check once.

=====================================  =============================================
request                                taken for
=====================================  =============================================
the database has no accounts           every request acts as an anonymous **editor**
                                       (the server is local-only: see
                                       `indexer.accounts.binding`); a request from
                                       another machine is refused (403) unless the
                                       server runs with ``--no-auth``
accounts, no credentials               401, unless the server runs with
                                       ``--public-read``: then a **viewer**, and a
                                       write gets 401 (an account may do it)
credentials that do not match          401 (also without accounts)
an account                             its role: viewer < editor < admin
=====================================  =============================================

Every 401 carries ``WWW-Authenticate: Basic realm="legajo"``; a role too low for the route
gets 403. A server started with ``--read-only`` answers every write with 405 (``read_only``,
with the ``Allow`` header of the path), whoever asks: the resource exists, but this server
does not accept that method on it.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBasic, HTTPBasicCredentials
from fastapi.security import HTTPBearer as _HTTPBearer
from starlette.routing import BaseRoute, Match

from indexer.accounts import Account, Role, role_allows
from indexer.accounts.binding import is_loopback
from legajo.server.context import Context, ServerContext
from legajo.server.errors import ApiError

REALM = "legajo"
CHALLENGE = {"WWW-Authenticate": f'Basic realm="{REALM}"'}
"""The header of every 401 answer."""

_SAFE_METHODS = ("GET", "HEAD")
_MAX_HEADER_CHARS = 1024


@dataclass(frozen=True, slots=True)
class Credentials:
    """What an ``Authorization`` header holds.

    Attributes:
        scheme: ``basic`` or ``bearer``.
        name: The account name (Basic only).
        secret: The password (Basic) or the token (Bearer).
    """

    scheme: Literal["basic", "bearer"]
    name: str | None
    secret: str


@dataclass(frozen=True, slots=True)
class Caller:
    """Who makes a request.

    Attributes:
        role: What they may do.
        account: Their account; None for an anonymous request (no accounts in the
            database, or ``--public-read``).
    """

    role: Role
    account: Account | None = None

    @property
    def name(self) -> str | None:
        """The account's name; None when anonymous."""
        return None if self.account is None else self.account.name


class _DocumentedBasic(HTTPBasic):
    """HTTP Basic as ``/docs`` shows it; the header itself is read by `credentials_of`."""

    async def __call__(self, request: Request) -> HTTPBasicCredentials | None:  # type: ignore[override]
        return None


class _DocumentedBearer(_HTTPBearer):
    """Bearer tokens as ``/docs`` shows them; the header itself is read by `credentials_of`."""

    async def __call__(self, request: Request) -> HTTPAuthorizationCredentials | None:  # type: ignore[override]
        return None


_BASIC = _DocumentedBasic(
    scheme_name="basic", realm=REALM, auto_error=False, description="account name and password"
)
_BEARER = _DocumentedBearer(
    scheme_name="token", auto_error=False, description="an API token (legajo users token NAME)"
)


def unauthorized(message: str) -> ApiError:
    """A 401 answer with the Basic challenge."""
    return ApiError(401, "unauthorized", message, headers=CHALLENGE)


def credentials_of(header: str | None) -> Credentials | None:
    """Parses an ``Authorization`` header.

    Args:
        header: The header's value; None when the request has none.

    Returns:
        The credentials; None without a header.

    Raises:
        ApiError: 401 if the header is malformed or of another scheme.
    """
    if header is None or not header.strip():
        return None
    if len(header) > _MAX_HEADER_CHARS:
        raise unauthorized("the Authorization header is too long")
    scheme, _, value = header.strip().partition(" ")
    value = value.strip()
    if scheme.lower() == "bearer" and value:
        return Credentials("bearer", None, value)
    if scheme.lower() != "basic" or not value:
        raise unauthorized("use HTTP Basic (name and password) or a bearer token")
    try:
        decoded = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        raise unauthorized("malformed Basic credentials") from None
    name, separator, password = decoded.partition(":")
    if not separator:
        raise unauthorized("malformed Basic credentials")
    return Credentials("basic", name, password)


def identify(
    context: ServerContext, credentials: Credentials | None, client_host: str | None
) -> Caller | None:
    """Who a request comes from (module docstring).

    Args:
        context: The server.
        credentials: The request's credentials, if any.
        client_host: The address the request came from.

    Returns:
        The caller; None for an anonymous request that may do nothing.

    Raises:
        ApiError: 401 if the credentials match no account; 403 if a server without
            accounts is reached from another machine without ``--no-auth``.
    """
    if credentials is not None:
        if credentials.scheme == "bearer":
            account = context.accounts.authenticate_token(credentials.secret)
            if account is None:
                raise unauthorized("unknown or revoked token")
        else:
            account = _password_account(context, credentials.name or "", credentials.secret)
        return Caller(account.role, account)
    if not context.accounts.has_accounts():
        if not context.no_auth and not (client_host and is_loopback(client_host)):
            raise ApiError(
                403, "forbidden", "this server has no accounts and answers this machine only"
            )
        return Caller(Role.EDITOR)
    if context.public_read:
        return Caller(Role.VIEWER)
    return None


def _password_account(context: ServerContext, name: str, password: str) -> Account:
    """The account of a name and password, verified lately or now.

    Raises:
        ApiError: 401 if they match no account.
    """
    remembered = context.verified_passwords
    account = context.accounts.get(name)  # removed, another role or password, since?
    if account is not None and remembered.recall(name, password, account.password_changed_at):
        return account
    verified = context.accounts.authenticate(name, password)
    if verified is None:
        raise unauthorized("wrong account name or password")
    remembered.remember(name, password, verified.password_changed_at)
    return verified


def current_caller(
    request: Request,
    context: Context,
    _basic: Annotated[HTTPBasicCredentials | None, Security(_BASIC)],
    _bearer: Annotated[HTTPAuthorizationCredentials | None, Security(_BEARER)],
) -> Caller | None:
    """The caller of a request (a FastAPI dependency); None when anonymous without rights.

    Raises:
        ApiError: 401 for wrong or malformed credentials.
    """
    credentials = credentials_of(request.headers.get("Authorization"))
    client = request.client.host if request.client is not None else None
    return identify(context, credentials, client)


def _require(caller: Caller | None, needed: Role) -> Caller:
    if caller is None:
        raise unauthorized("this server needs an account: HTTP Basic or a bearer token")
    if not role_allows(caller.role, needed):
        if caller.account is None and caller.role is Role.VIEWER:  # --public-read: log in
            raise unauthorized(f"this needs an account with the {needed.value} role")
        raise ApiError(
            403,
            "forbidden",
            f"the {caller.role.value} role may not do this; it needs the {needed.value} role",
            details={"role": caller.role.value, "needed": needed.value},
        )
    return caller


def require_reader(caller: Annotated[Caller | None, Depends(current_caller)]) -> Caller:
    """Search and read: any account, or anonymous where the server lets them read.

    Raises:
        ApiError: 401 without an account where one is needed.
    """
    return _require(caller, Role.VIEWER)


def require_editor(caller: Annotated[Caller | None, Depends(current_caller)]) -> Caller:
    """Correct, confirm, review: an editor or admin (anonymous editor without accounts).

    Raises:
        ApiError: 401 without an account, 403 for a viewer.
    """
    return _require(caller, Role.EDITOR)


def require_admin(caller: Annotated[Caller | None, Depends(current_caller)]) -> Caller:
    """Manage accounts and collections: an admin.

    Raises:
        ApiError: 401 without an account, 403 for a lower role.
    """
    return _require(caller, Role.ADMIN)


def require_writable(request: Request, context: Context) -> None:
    """Refuses every write on a read-only server (405, before anything else is checked).

    Raises:
        ApiError: 405 ``read_only`` with the path's safe methods in ``Allow``.
    """
    if context.read_only:
        raise ApiError(
            405,
            "read_only",
            "this server is read-only (--read-only): it accepts no writes",
            headers={"Allow": ", ".join(_safe_methods_of(request))},
        )


def require_write_editor(
    _writable: Annotated[None, Depends(require_writable)],
    caller: Annotated[Caller, Depends(require_editor)],
) -> Caller:
    """An editor's write on a server that accepts writes (405, then 401, then 403)."""
    return caller


def require_write_admin(
    _writable: Annotated[None, Depends(require_writable)],
    caller: Annotated[Caller, Depends(require_admin)],
) -> Caller:
    """An admin's write on a server that accepts writes (405, then 401, then 403)."""
    return caller


def editor_name(caller: Caller, typed: str | None) -> str:
    """Who a correction is recorded as: the account's name, else the typed name.

    Args:
        caller: The request's caller.
        typed: The body's ``editor`` field, used only for anonymous editors (no accounts).

    Returns:
        The name to record; ``"anonymous"`` when none is given.
    """
    if caller.account is not None:
        return caller.account.name
    name = (typed or "").strip()
    return name or "anonymous"


def _safe_methods_of(request: Request) -> list[str]:
    """The read methods the app serves on the path of `request`."""
    routes: list[BaseRoute] = request.app.router.routes
    return [
        method
        for method in _SAFE_METHODS
        if any(
            route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes
        )
    ]


Reader = Annotated[Caller, Depends(require_reader)]
"""A route parameter of this type lets readers in (`require_reader`)."""
Editor = Annotated[Caller, Depends(require_write_editor)]
"""A route parameter of this type lets editors write (`require_write_editor`)."""
Admin = Annotated[Caller, Depends(require_admin)]
"""A route parameter of this type lets admins in (`require_admin`)."""
AdminWriter = Annotated[Caller, Depends(require_write_admin)]
"""A route parameter of this type lets admins write (`require_write_admin`)."""
