"""The JSON API's router: every resource module's routes under ``/api``.

==================================  ======  ===========================================
route                               role    module
==================================  ======  ===========================================
``GET /api/health``                 none    `legajo.server.api.status`
``GET /api/me``, ``/api/stats``     viewer  `legajo.server.api.status`
``GET /api/search``                 viewer  `legajo.server.api.search`
``GET /api/collections``,           viewer  `legajo.server.api.collections`
``/api/collections/{name}/pages``
``GET /api/pages/{page_id}``        viewer  `legajo.server.api.pages`
``GET /api/lines/{line_id}``        viewer  `legajo.server.api.lines`
``PUT /api/lines/{line_id}``,       editor  `legajo.server.api.lines`
``POST .../{line_id}/confirm``
``GET .../export``                  viewer  `legajo.server.api.exports`
``/api/accounts``                   admin   `legajo.server.api.accounts`
==================================  ======  ===========================================
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from legajo.server.api import accounts, collections, exports, lines, pages, search, status
from legajo.server.errors import ErrorAnswer

_ERRORS: dict[int | str, dict[str, Any]] = {
    status_code: {"model": ErrorAnswer, "description": description}
    for status_code, description in (
        (400, "a malformed query or request"),
        (401, "an account is needed, or the credentials are wrong"),
        (403, "the account's role may not do this"),
        (404, "no such collection, page or line"),
        (422, "a parameter or field is missing or out of its limits"),
        (503, "the search ran past its time limit, or the database is unavailable"),
    )
}

router = APIRouter(prefix="/api", responses=_ERRORS)
for module in (status, search, collections, pages, lines, exports, accounts):
    router.include_router(module.router)
