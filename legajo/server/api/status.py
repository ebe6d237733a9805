"""``/api/health``, ``/api/me`` and ``/api/stats``: is the server up, who am I, what is stored."""

from __future__ import annotations

from fastapi import APIRouter

from legajo import __version__
from legajo.server.api.schemas import (
    CallerOut,
    CollectionOut,
    HealthAnswer,
    StatsAnswer,
    StatsTotals,
)
from legajo.server.auth import Reader
from legajo.server.context import Context

router = APIRouter(tags=["status"])


@router.get("/health", response_model=HealthAnswer, summary="is the server up")
def health(context: Context) -> HealthAnswer:
    """Answers once the database is open; needs no account (for monitors and scripts)."""
    context.accounts.has_accounts()  # one read: the database answers
    return HealthAnswer(status="ok", version=__version__)


@router.get("/me", response_model=CallerOut, summary="who the server takes me for")
def who_am_i(caller: Reader, context: Context) -> CallerOut:
    """The caller's account and role (an anonymous editor on a server without accounts)."""
    return CallerOut(
        name=caller.name,
        role=caller.role.value,
        accounts=context.accounts.has_accounts(),
        read_only=context.read_only,
    )


@router.get("/stats", response_model=StatsAnswer, summary="what the archive holds")
def archive_stats(context: Context, _caller: Reader) -> StatsAnswer:
    """Counts per collection and in all: pages, lines, words, failed files, corrections."""
    collections = [CollectionOut.of(stats) for stats in context.repository.stats()]
    tables = context.repository.table_counts()
    return StatsAnswer(
        totals=StatsTotals(
            collections=len(collections),
            pages=sum(c.pages for c in collections),
            lines=sum(c.lines for c in collections),
            words=sum(c.words for c in collections),
            errors=sum(c.errors for c in collections),
            corrections=int(tables.get("corrections", 0)),
        ),
        collections=collections,
    )
