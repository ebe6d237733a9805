"""The `legajo` command line: every command, listed here, one module per family.

======================  ==================================================================
module                  commands
======================  ==================================================================
`legajo.cli.transcribe` ``transcribe``
`legajo.cli.training`   ``eval``, ``train``
`legajo.cli.archive`    ``index``, ``import``, ``export``
`legajo.cli.maintenance` ``stats``, ``errors``
`legajo.cli.models`     ``models``, ``adapt``, ``reread``
`legajo.cli.search`     ``search``, ``reindex``, ``check``
`legajo.cli.ui`         ``ui``
`legajo.cli.serve`      ``serve``
`legajo.cli.users`      ``users``
======================  ==================================================================

Shared options, the exit-code table, error messages and the progress bar are in
`legajo.cli.common`.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence

from legajo import __version__
from legajo.cli import (
    archive,
    language_model,
    maintenance,
    models,
    search,
    serve,
    training,
    transcribe,
    ui,
    users,
)
from legajo.cli.common import (
    EXIT_BROKEN_PIPE,
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    configure_logging,
)

DESCRIPTION = "Search handwritten archives: transcribe and index page images."


def build_parser() -> argparse.ArgumentParser:
    """Returns the parser of every `legajo` command, in the order ``--help`` lists them."""
    parser = argparse.ArgumentParser(prog="legajo", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"legajo {__version__}")
    parser.add_argument("-v", "--verbose", action="count", default=0, help="more log output")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")
    transcribe.add_transcribe_command(commands)
    training.add_eval_command(commands)
    training.add_train_command(commands)
    language_model.add_lm_command(commands)
    archive.add_index_command(commands)
    maintenance.add_stats_command(commands)
    maintenance.add_errors_command(commands)
    archive.add_import_command(commands)
    archive.add_export_command(commands)
    models.add_adapt_command(commands)
    models.add_reread_command(commands)
    models.add_models_command(commands)
    search.add_search_command(commands)
    search.add_reindex_command(commands)
    search.add_check_command(commands)
    ui.add_ui_command(commands)
    serve.add_serve_command(commands)
    users.add_users_command(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Runs the `legajo` command line.

    Args:
        argv: Arguments without the program name; defaults to `sys.argv[1:]`.

    Returns:
        The exit code (see `legajo.cli.common`).
    """
    return run_command_line(build_parser(), argv)


def run_command_line(parser: argparse.ArgumentParser, argv: Sequence[str] | None) -> int:
    """Parses `argv` with `parser` and runs the chosen command.

    Args:
        parser: A parser from `build_parser` (or one with some of its commands).
        argv: Arguments without the program name; None means `sys.argv[1:]`.

    Returns:
        The exit code.
    """
    args = parser.parse_args(argv)
    configure_logging(args.verbose)
    if not hasattr(args, "run"):
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return int(args.run(args))
    except KeyboardInterrupt:
        print("legajo: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:  # the reader of stdout went away (`legajo ... | head`)
        # Python flushes stdout again at exit: point it at /dev/null so that flush is silent.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_BROKEN_PIPE


if __name__ == "__main__":
    sys.exit(main())
