"""`legajo users`: the accounts that may use the workbench and the HTTP API.

``add``, ``list``, ``passwd``, ``role``, ``remove``, ``token`` and ``revoke``
(`indexer.accounts`). A password is read from stdin when stdin is not a terminal (one line,
without its line ending), so scripts can pipe it in; on a terminal it is asked twice,
without echo. ``token`` prints the new API token, and nothing else, on stdout: it is shown
this once.

Exit codes: 0 when all went well; 1 when the database cannot be used; 2 for usage errors
(a malformed name, an unknown role or account, a name that is taken, a password too short,
no password on stdin, two passwords that differ, a home that does not exist).
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from typing import TYPE_CHECKING

from legajo.cli.common import EXIT_OK, add_storage_arguments, print_table, run_with_repository

if TYPE_CHECKING:
    from htr.errors import LegajoError
    from indexer.accounts import AccountStore
    from indexer.store.repository import Repository

ROLE_CHOICES = ("viewer", "editor", "admin")
"""`indexer.accounts.ROLES` by name, written out so that ``legajo --help`` stays fast (a test
checks that they agree)."""


def add_users_command(commands: argparse._SubParsersAction) -> None:
    """Adds `legajo users` with its actions."""
    parser = commands.add_parser(
        "users",
        help="manage the accounts of the workbench and the HTTP API",
        description="Accounts and roles: viewers search and read; editors also correct, "
        "review and run adaptation; admins also manage accounts and collections. Once an "
        "account exists, the workbench asks for a name and password. Passwords are read from "
        "stdin when it is not a terminal (one line), else asked twice.",
    )
    actions = parser.add_subparsers(title="actions", metavar="ACTION", required=True)

    add = actions.add_parser("add", help="add an account (password from stdin or asked)")
    add.add_argument("name", metavar="NAME", help="1-64 letters, digits, '.', '_', '-', '@'")
    add.add_argument("--role", required=True, choices=ROLE_CHOICES, help="what it may do")
    add_storage_arguments(add)
    add.set_defaults(run=_run_add)

    listing = actions.add_parser("list", help="every account, its role and its tokens")
    listing.add_argument("--json", action="store_true", help="print one JSON document")
    add_storage_arguments(listing)
    listing.set_defaults(run=_run_list)

    passwd = actions.add_parser("passwd", help="set an account's password")
    passwd.add_argument("name", metavar="NAME", help="the account")
    add_storage_arguments(passwd)
    passwd.set_defaults(run=_run_passwd)

    role = actions.add_parser("role", help="give an account another role")
    role.add_argument("name", metavar="NAME", help="the account")
    role.add_argument("role", metavar="ROLE", choices=ROLE_CHOICES, help="viewer|editor|admin")
    add_storage_arguments(role)
    role.set_defaults(run=_run_role)

    remove = actions.add_parser("remove", help="remove an account and its tokens")
    remove.add_argument("name", metavar="NAME", help="the account (its corrections stay)")
    add_storage_arguments(remove)
    remove.set_defaults(run=_run_remove)

    token = actions.add_parser("token", help="make an API token (printed once, on stdout)")
    token.add_argument("name", metavar="NAME", help="the account it acts for")
    token.add_argument("--label", metavar="TEXT", help="what the token is for")
    add_storage_arguments(token)
    token.set_defaults(run=_run_token)

    revoke = actions.add_parser("revoke", help="remove every API token of an account")
    revoke.add_argument("name", metavar="NAME", help="the account")
    add_storage_arguments(revoke)
    revoke.set_defaults(run=_run_revoke)


def read_password() -> str:
    """The new password: one line of stdin when it is not a terminal, else asked twice.

    Raises:
        AccountError: If stdin holds no line, or the two typed passwords differ.
    """
    from indexer.accounts import AccountError

    if not sys.stdin.isatty():
        line = sys.stdin.readline()
        if not line:
            raise AccountError("no password on stdin (give it as one line)")
        return line.removesuffix("\n").removesuffix("\r")
    first = getpass.getpass("Password: ")
    if getpass.getpass("Password again: ") != first:
        raise AccountError("the two passwords differ")
    return first


def _usage() -> tuple[type[LegajoError], ...]:
    from indexer.accounts import AccountError

    return (AccountError,)


def _store(repository: Repository) -> AccountStore:
    from indexer.accounts import AccountStore

    return AccountStore(repository.database)


def _run_add(args: argparse.Namespace) -> int:
    from indexer.accounts import AccountExistsError
    from indexer.accounts.passwords import check_password
    from indexer.accounts.store import check_name

    def add(repository: Repository) -> int:
        store = _store(repository)
        check_name(args.name)
        if store.get(args.name) is not None:
            raise AccountExistsError(f"an account named {args.name!r} exists")
        password = read_password()
        check_password(password)
        account = store.add(args.name, password, args.role)
        print(f"added account {account.name} ({account.role})")
        return EXIT_OK

    return run_with_repository(args, add, _usage())


def _run_list(args: argparse.Namespace) -> int:
    def show(repository: Repository) -> int:
        store = _store(repository)
        accounts = store.accounts()
        tokens = store.token_counts()
        if args.json:
            data = [
                {
                    "name": a.name,
                    "role": a.role.value,
                    "created_at": a.created_at.isoformat(),
                    "tokens": tokens.get(a.name, 0),
                }
                for a in accounts
            ]
            json.dump(data, sys.stdout, ensure_ascii=False, indent=2)
            sys.stdout.write("\n")
            return EXIT_OK
        if not accounts:
            print("no accounts: the workbench and the API are open to whoever reaches them")
            return EXIT_OK
        rows = [
            (
                a.name,
                a.role.value,
                str(tokens.get(a.name, 0)),
                a.created_at.strftime("%Y-%m-%d %H:%M"),
            )
            for a in accounts
        ]
        print_table(("name", "role", "tokens", "created (UTC)"), rows, left=2)
        return EXIT_OK

    return run_with_repository(args, show, _usage(), create=False)


def _run_passwd(args: argparse.Namespace) -> int:
    from indexer.accounts import UnknownAccountError
    from indexer.accounts.passwords import check_password

    def passwd(repository: Repository) -> int:
        store = _store(repository)
        if store.get(args.name) is None:
            raise UnknownAccountError(f"no account named {args.name!r}")
        password = read_password()
        check_password(password)
        store.set_password(args.name, password)
        print(f"password of {args.name} changed")
        return EXIT_OK

    return run_with_repository(args, passwd, _usage(), create=False)


def _run_role(args: argparse.Namespace) -> int:
    def change(repository: Repository) -> int:
        account = _store(repository).set_role(args.name, args.role)
        print(f"{account.name} is now {account.role}")
        return EXIT_OK

    return run_with_repository(args, change, _usage(), create=False)


def _run_remove(args: argparse.Namespace) -> int:
    def remove(repository: Repository) -> int:
        _store(repository).remove(args.name)
        print(f"removed account {args.name}")
        return EXIT_OK

    return run_with_repository(args, remove, _usage(), create=False)


def _run_token(args: argparse.Namespace) -> int:
    def token(repository: Repository) -> int:
        made = _store(repository).new_token(args.name, args.label)
        print(made)
        print(
            f"legajo: API token for {args.name}: keep it now, it is not shown again",
            file=sys.stderr,
        )
        return EXIT_OK

    return run_with_repository(args, token, _usage(), create=False)


def _run_revoke(args: argparse.Namespace) -> int:
    def revoke(repository: Repository) -> int:
        count = _store(repository).revoke_tokens(args.name)
        print(f"revoked {count} API token{'' if count == 1 else 's'} of {args.name}")
        return EXIT_OK

    return run_with_repository(args, revoke, _usage(), create=False)
