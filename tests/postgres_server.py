"""A throwaway PostgreSQL server in a temporary folder, for the tests and the benchmarks.

`start_server` runs initdb into a new temporary folder and starts the machine's PostgreSQL on
a Unix socket there (as the ``postgres`` user when run as root, since PostgreSQL refuses to
run as root), without fsync: the data is thrown away. `PostgresServer.stop` stops it and
deletes its files. `tests/integration/test_postgres.py` shares one per test process;
`bench/search_latency.py --backend postgresql` starts its own.
"""

from __future__ import annotations

import itertools
import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.legajo_serve import free_port

_database_numbers = itertools.count()


class PostgresStartError(RuntimeError):
    """The server did not start; the message holds its log."""


def postgres_bin_dir() -> Path | None:
    """The folder holding initdb and pg_ctl, None when PostgreSQL is not installed."""
    on_path = shutil.which("initdb")
    if on_path and shutil.which("pg_ctl"):
        return Path(on_path).resolve().parent
    candidates = sorted(
        Path("/usr/lib/postgresql").glob("*/bin/initdb"),
        key=lambda p: int(p.parent.parent.name) if p.parent.parent.name.isdigit() else 0,
    )
    return candidates[-1].parent if candidates else None


@dataclass
class PostgresServer:
    """A running throwaway server reachable through a Unix socket in `base`."""

    bin_dir: Path
    base: Path
    port: int
    run_as: str | None

    @property
    def data_dir(self) -> Path:
        return self.base / "data"

    def command(self, tool: str, *args: str) -> list[str]:
        argv = [str(self.bin_dir / tool), *args]
        return ["runuser", "-u", self.run_as, "--", *argv] if self.run_as else argv

    def run(self, tool: str, *args: str) -> None:
        subprocess.run(self.command(tool, *args), check=True, capture_output=True, timeout=120)

    def url(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@/{database}?host={self.base}&port={self.port}"

    def create_database(self, prefix: str = "legajo_test") -> str:
        """A new empty database; returns its URL."""
        name = f"{prefix}_{os.getpid()}_{next(_database_numbers)}"
        self.run("createdb", "-h", str(self.base), "-p", str(self.port), "-U", "postgres", name)
        return self.url(name)

    def start(self, *settings: str) -> None:
        """Runs initdb and starts the server; `settings` are extra ``name=value`` options."""
        self.run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        options = f"-k {self.base} -p {self.port} -c listen_addresses='' -c fsync=off"
        options += "".join(f" -c {setting}" for setting in settings)
        self.run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-l",
            str(self.base / "server.log"),
            "-o",
            options,
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self) -> None:
        """Stops the server (immediately) and deletes its files."""
        subprocess.run(
            self.command("pg_ctl", "-D", str(self.data_dir), "-m", "immediate", "-w", "stop"),
            capture_output=True,
            timeout=60,
            check=False,
        )
        shutil.rmtree(self.base, ignore_errors=True)


def start_server(bin_dir: Path, *settings: str) -> PostgresServer:
    """Starts a server from `bin_dir` in a new temporary folder.

    Raises:
        PostgresStartError: If it does not start (the folder is deleted).
    """
    run_as = None
    base = Path(tempfile.mkdtemp(prefix="legajo-pg-"))
    if os.geteuid() == 0:  # PostgreSQL refuses to run as root
        run_as = "postgres"
        user = pwd.getpwnam(run_as)
        os.chown(base, user.pw_uid, user.pw_gid)
    server = PostgresServer(bin_dir, base, free_port(), run_as)
    try:
        server.start(*settings)
    except subprocess.CalledProcessError as error:
        log = base / "server.log"
        details = log.read_text() if log.exists() else error.stderr.decode(errors="replace")
        server.stop()
        raise PostgresStartError(f"could not start PostgreSQL: {error}\n{details}") from error
    return server
