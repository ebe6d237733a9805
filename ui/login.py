"""The login page: what a session sees until it logs in, when the database holds accounts.

The form sends a name and password; `ui.access.log_in` checks them (argon2) and keeps the
account in the session. The password leaves the session state as soon as it is checked.
"""

from __future__ import annotations

import streamlit as st

from ui.access import log_in
from ui.config import load_settings
from ui.i18n import Translator
from ui.services import account_store

NAME_KEY = "login.name"
PASSWORD_KEY = "login.password"
"""Session keys of the form's fields."""
FAILED_KEY = "login.failed"
"""Set when the last attempt failed, so that the next run says so."""


def login_page(t: Translator) -> None:
    """Draws the login form; a good name and password log the session in and rerun the app."""
    st.title(t("login.title"))
    st.write(t("login.intro"))
    if st.session_state.pop(FAILED_KEY, False):
        st.error(t("login.failed"), icon=":material/error:")
    with st.form("login", enter_to_submit=True):
        st.text_input(t("login.name"), key=NAME_KEY, max_chars=64, autocomplete="username")
        st.text_input(
            t("login.password"),
            key=PASSWORD_KEY,
            type="password",
            max_chars=1024,
            autocomplete="current-password",
        )
        st.form_submit_button(
            t("login.submit"), type="primary", icon=":material/login:", on_click=_submit
        )


def _submit() -> None:
    name = str(st.session_state.get(NAME_KEY) or "")
    password = str(st.session_state.pop(PASSWORD_KEY, None) or "")
    if log_in(account_store(load_settings()), name, password) is None:
        st.session_state[FAILED_KEY] = True
