"""A throw-away PostgreSQL server for the tests and benchmarks: its own folder, socket and port.

    with temporary_postgres() as url:   # postgresql+psycopg://…
        …

Debian's `postgresql` package (installed by `make test`) provides the
server's programs; this makes a cluster in a temporary folder (`initdb`),
starts it on a Unix socket in that folder and a free port (`pg_ctl`),
creates a database, and removes everything when the block ends. As root
(CI machines), the server runs as the `postgres` user, which the package
creates: PostgreSQL refuses to run as root.

What is missing is a `PostgresUnavailable` with a sentence saying what to
install or why the server did not start.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    """No PostgreSQL server could be started; the message says why and what to do."""


def server_programs() -> Path:
    """The folder of `initdb` and `pg_ctl` (Debian keeps them out of PATH)."""
    for candidate in [os.environ.get("PG_BINDIR", ""), *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]:
        if candidate and (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    found = shutil.which("initdb")
    if found:
        return Path(found).parent
    raise PostgresUnavailable(
        "PostgreSQL's server programs (initdb, pg_ctl) are not installed: `make test` installs Debian's "
        "postgresql package (`sudo apt-get install postgresql`), or set PG_BINDIR to their folder."
    )


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextlib.contextmanager
def temporary_postgres(database: str = "readmydigit") -> Iterator[str]:
    """Start a PostgreSQL server for the duration of the block; yield its SQLAlchemy URL."""
    programs = server_programs()
    home = Path(tempfile.mkdtemp(prefix="pg-"))
    as_user: list[str] = []
    if os.geteuid() == 0:
        if shutil.which("runuser") is None:
            raise PostgresUnavailable("Running as root, the tests need `runuser` to start PostgreSQL as postgres.")
        as_user = ["runuser", "-u", "postgres", "--"]
        home.chmod(0o755)
        shutil.chown(home, "postgres", "postgres")
    data, port = home / "data", _free_port()

    def run(*command: str) -> None:
        result = subprocess.run([*as_user, *command], capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise PostgresUnavailable(
                f"PostgreSQL did not start: `{Path(command[0]).name}` failed: "
                f"{(result.stderr or result.stdout).strip().splitlines()[-1:]}"
            )

    try:
        run(str(programs / "initdb"), "-D", str(data), "-U", "app", "-A", "trust", "-E", "UTF8", "--no-sync")
        options = f"-k {home} -p {port} -c listen_addresses='' -c fsync=on -c max_connections=200"
        run(str(programs / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(home / "server.log"), "-w", "start")
        try:
            run(str(programs / "createdb"), "-h", str(home), "-p", str(port), "-U", "app", database)
            yield f"postgresql+psycopg://app@/{database}?host={home}&port={port}"
        finally:
            subprocess.run(
                [*as_user, str(programs / "pg_ctl"), "-D", str(data), "-m", "fast", "stop"], capture_output=True
            )
    finally:
        shutil.rmtree(home, ignore_errors=True)
