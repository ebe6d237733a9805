"""The HTTP answers the IIIF routes share: JSON-LD with CORS, and their errors."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import JSONResponse

from legajo.server.errors import ApiError

CORS = {"Access-Control-Allow-Origin": "*"}
"""IIIF resources are read by viewers served from anywhere."""


def wants_json_ld(request: Request) -> bool:
    """True when the client asked for ``application/ld+json`` (IIIF's media type)."""
    return "application/ld+json" in request.headers.get("accept", "")


def iiif_json(request: Request, body: dict[str, Any], context_url: str) -> JSONResponse:
    """A IIIF JSON answer: ``application/ld+json`` with its profile when asked for, with CORS.

    Args:
        request: The request answered.
        body: The resource.
        context_url: The IIIF context of the resource (the media type's ``profile``).
    """
    media_type = (
        f'application/ld+json;profile="{context_url}"'
        if wants_json_ld(request)
        else "application/json"
    )
    return JSONResponse(body, media_type=media_type, headers=CORS)


def not_found(message: str) -> ApiError:
    """A 404 in the API's error shape."""
    return ApiError(404, "not_found", message, headers=CORS)


def bad_request(message: str) -> ApiError:
    """A 400 in the API's error shape."""
    return ApiError(400, "bad_request", message, headers=CORS)
