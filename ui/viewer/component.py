"""The deep-zoom page viewer as a Streamlit component.

The viewer (``frontend/``: OpenSeadragon, bundled at build time by `ui.viewer.bundle`) is
served by the Streamlit server itself from the package's folder and runs in a sandboxed
iframe: wheel zoom, pan, full screen, the page's line outlines and the query's hits drawn on
the picture, and the page's text beside it. A click on a line sends the line's id back.
"""

from __future__ import annotations

import logging
from typing import Any

import streamlit as st
import streamlit.components.v1 as components

from ui.viewer.bundle import VENDOR, is_bundled

logger = logging.getLogger(__name__)

FRONTEND = VENDOR.parent
VIEWER_HEIGHT = 760
"""Pixels of the viewer's frame: picture and text panel."""

_viewer = components.declare_component("page_viewer", path=str(FRONTEND))


def viewer_available() -> bool:
    """True when the viewer's JavaScript was bundled (``python -m ui.viewer.bundle``)."""
    return is_bundled()


def page_viewer(data: dict[str, Any], *, key: str, height: int = VIEWER_HEIGHT) -> int | None:
    """Draws the viewer; returns the id of a line the reader has just clicked, once.

    Args:
        data: The page (`ui.viewer.payload.viewer_payload`).
        key: The widget's key: one per page, so that each page starts unselected.
        height: The frame's height in pixels.

    Returns:
        The database id of the line clicked since the last run, or None. A click is reported
        in the run it causes only, not again in later runs.
    """
    value = _viewer(data=data, height=height, key=key, default=None)
    if not isinstance(value, dict):
        return None
    nonce, line_id = value.get("nonce"), value.get("line_id")
    seen_key = f"{key}.seen"
    if nonce is None or st.session_state.get(seen_key) == nonce:
        return None
    st.session_state[seen_key] = nonce
    if not isinstance(line_id, int) or isinstance(line_id, bool):
        logger.warning("the page viewer sent a line id that is not one: %r", line_id)
        return None
    return line_id
