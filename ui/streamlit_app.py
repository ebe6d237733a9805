"""The workbench's entry point: ``streamlit run ui/streamlit_app.py`` (or `legajo ui`).

Draws what every page shares (page settings, sidebar) and runs the page chosen in the menu.
Settings come from the environment (see `ui.config`). When the database holds accounts, a
session sees only the login page until it logs in (`ui.login`); a viewer's session gets no
editing page.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from htr.runtime import configure_cpu_runtime
from ui import components, services
from ui.login import login_page
from ui.navigation import build_pages

# a file of the package: a Material icon here would be fetched from Google's font servers
FAVICON = str(Path(__file__).resolve().parent / "favicon.png")

configure_cpu_runtime()  # before the first model load imports torch (`htr.runtime`)
st.set_page_config(page_title="legajo", page_icon=FAVICON, layout="wide")
config = services.settings()
if config.accounts_required and config.account is None:
    login_page(components.language_switch(config))
    st.stop()
translate = components.sidebar(config)
components.show_flash()  # here, so a message reaches whatever page runs next
st.navigation(build_pages(translate, read_only=config.read_only)).run()
