"""``/api/accounts``: admins list, add and remove accounts (``legajo users`` does the same)."""

from __future__ import annotations

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from indexer.accounts import Role
from legajo.server.api.schemas import AccountOut
from legajo.server.auth import Admin, AdminWriter
from legajo.server.context import Context

router = APIRouter(tags=["accounts"])


class NewAccount(BaseModel):
    """An account to add."""

    name: str = Field(min_length=1, max_length=64, description="letters, digits, . _ - @")
    password: str = Field(min_length=1, max_length=1024, description="at least 8 characters")
    role: Role = Role.VIEWER


@router.get("/accounts", response_model=list[AccountOut], summary="list the accounts")
def list_accounts(
    context: Context,
    _caller: Admin,
) -> list[AccountOut]:
    """Every account, by name (admins only)."""
    return [AccountOut.of(account) for account in context.accounts.accounts()]


@router.post("/accounts", response_model=AccountOut, status_code=201, summary="add an account")
def add_account(
    new: NewAccount,
    context: Context,
    _caller: AdminWriter,
) -> AccountOut:
    """Adds an account (admins only); 409 ``conflict`` if the name is taken."""
    return AccountOut.of(context.accounts.add(new.name, new.password, new.role))


@router.delete("/accounts/{name}", status_code=204, summary="remove an account")
def remove_account(
    name: str,
    context: Context,
    _caller: AdminWriter,
) -> Response:
    """Removes an account and its tokens (admins only); its corrections keep its name."""
    context.accounts.remove(name)
    return Response(status_code=204)
