"""Who uses this browser session: the account logged in, and what its role lets it do.

The session keeps the `Account` (name, role, id), never the password. It is read again from
the database on every run, so an account removed, or given another role, takes effect at the
next click.
"""

from __future__ import annotations

import logging

import streamlit as st

from indexer.accounts import Account, AccountStore, Role, role_allows
from ui import state

logger = logging.getLogger(__name__)


def session_account(store: AccountStore) -> Account | None:
    """The account logged in to this session, as the database holds it now.

    A session whose account was removed (or removed and made anew under the same name) is
    logged out.
    """
    saved = st.session_state.get(state.ACCOUNT)
    if not isinstance(saved, Account):
        return None
    current = store.get(saved.name)
    if current is None or current.id != saved.id:
        logger.info("account %s is gone: its session is logged out", saved.name)
        log_out()
        return None
    if current != saved:
        st.session_state[state.ACCOUNT] = current
    return current


def may_edit(account: Account | None) -> bool:
    """Whether an account may correct, review and run adaptation (editors and admins)."""
    return account is not None and role_allows(account.role, Role.EDITOR)


def log_in(store: AccountStore, name: str, password: str) -> Account | None:
    """Checks a name and password and, when they match, logs the session in.

    Returns:
        The account; None for an unknown name or a wrong password.
    """
    account = store.authenticate(name.strip(), password)
    if account is None:
        logger.warning("failed login as %r", name.strip()[:64])
        return None
    st.session_state[state.ACCOUNT] = account
    logger.info("%s logged in", account.name)
    return account


def log_out() -> None:
    """Forgets the session's account and everything it was doing (the language stays)."""
    for key in list(st.session_state.keys()):
        if key != state.LANGUAGE:
            del st.session_state[key]
