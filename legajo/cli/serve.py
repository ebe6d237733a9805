"""`legajo serve`: the JSON API and IIIF over HTTP (`legajo.server`), on uvicorn.

The database must exist (``legajo index`` or ``legajo import`` made it). Where the server
may listen follows `indexer.accounts.binding.check_binding`: without accounts only on this
machine (127.0.0.1) unless ``--no-auth`` is given, and then with a loud warning.
"""

from __future__ import annotations

import argparse
import logging
import sys

from htr.errors import LegajoError
from indexer.errors import DatabaseMissingError, DatabaseOpenError, DatabaseUrlError
from indexer.settings import StorageSettings, resolve_storage
from legajo.cli.common import EXIT_FAILED, EXIT_OK, EXIT_USAGE, add_storage_arguments, print_error

logger = logging.getLogger(__name__)

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8000
_UVICORN_LOG_LEVELS = ("warning", "info", "debug")
"""uvicorn's log level for no ``-v``, ``-v`` and ``-vv``."""


def add_serve_command(commands: argparse._SubParsersAction) -> None:
    """Adds `legajo serve`."""
    parser = commands.add_parser(
        "serve",
        help="serve the archive over HTTP: JSON API (docs at /docs) and IIIF",
        description="Serve the indexed archive over HTTP for scripts and IIIF viewers: a JSON "
        "API to search, read, correct and export (documented at /docs), and IIIF manifests, "
        "content search and images. Without accounts (legajo users add) the server listens "
        "on this machine only. Stop it with Ctrl-C.",
    )
    add_storage_arguments(parser)
    parser.add_argument(
        "--host",
        default=DEFAULT_HOST,
        help=f"address to listen on (default: {DEFAULT_HOST}, this computer only; another "
        "address needs accounts, or --no-auth)",
    )
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help=f"port (default: {DEFAULT_PORT})"
    )
    parser.add_argument(
        "--read-only", action="store_true", help="refuse every write (corrections, accounts)"
    )
    parser.add_argument(
        "--public-read",
        action="store_true",
        help="let requests without an account search and read (writes still need one)",
    )
    parser.add_argument(
        "--base-url",
        metavar="URL",
        help="the server's public address, for IIIF ids behind a proxy "
        "(default: each request's own)",
    )
    parser.add_argument(
        "--no-auth",
        action="store_true",
        help="without accounts, listen on --host anyway: anyone who reaches it can read and "
        "edit everything",
    )
    parser.set_defaults(run=_run_serve)


def check_database(storage: StorageSettings, *, read_only: bool) -> tuple[str, bool]:
    """Opens the database once before serving, so that problems stop the command.

    A writable start brings the schema up to date; a read-only start writes nothing.

    Returns:
        The database's URL (password hidden), and whether it has accounts.

    Raises:
        DatabaseUrlError: If the URL is malformed.
        DatabaseMissingError: If there is no database, or it holds no legajo tables.
        DatabaseOpenError: If it cannot be opened or, read-only, is out of date.
    """
    from indexer.accounts import AccountStore
    from indexer.store.db import open_existing_database

    if storage.uses_default_database and not storage.home.is_dir():
        raise DatabaseMissingError(f"there is no legajo home folder at {storage.home}")
    database = open_existing_database(storage.database_url, upgrade=not read_only)
    try:
        return database.url, AccountStore(database).has_accounts()
    finally:
        database.close()


def warn_loudly(message: str) -> None:
    """Prints a warning framed so that it is not missed."""
    rule = "!" * min(100, len(message) + 4)
    print(f"{rule}\n! {message}\n{rule}", file=sys.stderr)


def _run_serve(args: argparse.Namespace) -> int:
    from indexer.accounts.binding import check_binding
    from indexer.accounts.errors import UnsafeBindingError

    storage = resolve_storage(args.home, args.db)
    try:
        shown_url, has_accounts = check_database(storage, read_only=args.read_only)
        warning = check_binding(args.host, has_accounts, args.no_auth)
    except (DatabaseUrlError, DatabaseMissingError, UnsafeBindingError) as error:
        print_error(error)
        return EXIT_USAGE
    except (DatabaseOpenError, LegajoError) as error:
        print_error(error)
        return EXIT_FAILED
    if warning is not None:
        warn_loudly(warning)
    elif args.no_auth and has_accounts:
        print(
            "legajo: note: the database has accounts, so --no-auth changes nothing: "
            "requests still need an account",
            file=sys.stderr,
        )
    import uvicorn

    from legajo.server.app import create_app

    app = create_app(
        storage,
        read_only=args.read_only,
        public_read=args.public_read,
        base_url=args.base_url,
        no_auth=args.no_auth,
    )
    shown_host = f"[{args.host}]" if ":" in args.host else args.host
    print(
        f"legajo: serving {shown_url} on http://{shown_host}:{args.port} "
        f"(API docs at /docs{', read-only' if args.read_only else ''})",
        file=sys.stderr,
    )
    level = _UVICORN_LOG_LEVELS[min(args.verbose, len(_UVICORN_LOG_LEVELS) - 1)]
    uvicorn.run(app, host=args.host, port=args.port, log_level=level)
    return EXIT_OK
