"""The app's database: what visitors write (samples, limits) and the owner's defaults, in one place.

SQLite by default, one file (`data/samples.sqlite3`), nothing to set up;
PostgreSQL when `SAMPLES_DATABASE_URL` names one (e.g.
`postgresql+psycopg://user:password@host/readmydigit`), so that replicas
on several machines share it. Everything goes through SQLAlchemy Core with
bound parameters: nothing a visitor sends becomes SQL or a path.

The schema is versioned with Alembic (`model/store/migrations/`): the first
use of a database in a process upgrades it to the newest version, under a
lock, so replicas starting together do it once.

A database that cannot be reached, or a disk that is full, is a
`StoreUnavailable` with a sentence for the page; drawing does not depend on
the database and goes on.
"""

from __future__ import annotations

import contextlib
import functools
import os
import threading
import zlib
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Connection, Engine, create_engine, event, text
from sqlalchemy.exc import DBAPIError, OperationalError, SQLAlchemyError

from model.settings import DATABASE_URL, ROOT

DEFAULT_FILE = ROOT / "data" / "samples.sqlite3"
MIGRATIONS = Path(__file__).resolve().parent / "migrations"
BUSY_TIMEOUT_MS = 10_000  # SQLite: a writer waits this long for another (saves take milliseconds)
CONNECT_TIMEOUT_S = 3
UPGRADE_LOCK = 749_301  # PostgreSQL advisory lock id for schema upgrades (any fixed number)
_upgrade_guard = threading.Lock()


class StoreUnavailable(Exception):
    """The database cannot be used now (unreachable, disk full, locked); the message says so in a sentence."""


def database_url() -> str:
    """`SAMPLES_DATABASE_URL`, or the SQLite file beside the app."""
    return DATABASE_URL.value() or f"sqlite:///{DEFAULT_FILE}"


def describe(url: str) -> str:
    """The database for a person, without its password: "SQLite (data/samples.sqlite3)", "PostgreSQL at host"."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        return f"SQLite ({parsed.database})"
    return f"{parsed.get_backend_name()} at {parsed.host or 'localhost'}"


def engine(url: str | None = None) -> Engine:
    """The engine for `url` (default: `database_url()`), its schema upgraded; one per process and URL."""
    return _engine(url or database_url())


@functools.cache
def _engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        path = url.split("///", 1)[-1]
        if path and path != ":memory:":
            private_file(Path(path))
        made = create_engine(url, connect_args={"timeout": BUSY_TIMEOUT_MS / 1000, "check_same_thread": False})
        event.listen(made, "connect", _sqlite_settings)
        event.listen(made, "begin", _sqlite_begin)
    else:
        # A server that cannot be reached is a sentence after a few seconds, not a page that hangs.
        connect_args = {"connect_timeout": CONNECT_TIMEOUT_S} if url.startswith("postgresql") else {}
        made = create_engine(
            url, pool_pre_ping=True, pool_size=5, max_overflow=10, pool_timeout=10, connect_args=connect_args
        )
    with _upgrade_guard, errors("be opened"):
        upgrade(made)
    return made


def private_file(path: Path) -> None:
    """A SQLite file and its folder readable by this account alone (0600, 0700): visitors' handwriting is in it.

    SQLite gives the write-ahead log and shared-memory files it makes the
    database file's permissions; ones an earlier version left are narrowed too.
    """
    folder = path.parent
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700)
    elif folder == DEFAULT_FILE.parent:
        folder.chmod(0o700)
    if not path.exists():
        os.close(os.open(path, os.O_CREAT | os.O_WRONLY, 0o600))
    for each in (path, path.with_name(path.name + "-wal"), path.with_name(path.name + "-shm")):
        if each.exists():
            each.chmod(0o600)


def one_at_a_time(db: Connection, what: str) -> None:
    """Inside a writing transaction: no other transaction doing `what` runs until this one ends, on any server.

    SQLite's write lock (BEGIN IMMEDIATE) already orders every writer; on
    PostgreSQL an advisory lock held to the end of the transaction does.
    """
    if db.dialect.name == "postgresql":
        db.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": zlib.crc32(what.encode())})


def _sqlite_settings(dbapi_connection, _record) -> None:
    # Python's sqlite3 opens transactions itself; SQLAlchemy's "begin" event below does it instead.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")  # readers never wait for the writer
    cursor.execute("PRAGMA synchronous=FULL")  # a commit is on disk when it returns: a sample is never lost
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    # A writing transaction (`transaction`) takes SQLite's write lock at its start (BEGIN IMMEDIATE), so a
    # quota or a rate limit read inside it cannot change before its own write; reads begin as readers.
    immediate = connection.get_execution_options().get("write", False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


def upgrade(made: Engine) -> None:
    """Bring the schema to Alembic's newest version (one process at a time, whichever replica)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    # On SQLite the upgrade's transaction takes the write lock first (BEGIN IMMEDIATE): two servers opening a
    # new file at once upgrade it one after the other.
    with made.connect().execution_options(write=True) as connection:
        if made.dialect.name == "postgresql":
            connection.execute(text("SELECT pg_advisory_lock(:id)"), {"id": UPGRADE_LOCK})
        try:
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
        finally:
            if made.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_advisory_unlock(:id)"), {"id": UPGRADE_LOCK})
                connection.commit()


@contextlib.contextmanager
def errors(doing: str) -> Iterator[None]:
    """Turn the database's failures into a `StoreUnavailable` sentence (what was being done, and why)."""
    try:
        yield
    except StoreUnavailable:
        raise
    except (OperationalError, DBAPIError) as error:
        raise StoreUnavailable(f"The database could not {doing} ({reason(error)}).") from error
    except SQLAlchemyError as error:
        raise StoreUnavailable(f"The database could not {doing} ({type(error).__name__}).") from error


def reason(error: Exception) -> str:
    """Why, in a few words: the first line of the driver's message, never a query or a path."""
    original = getattr(error, "orig", None) or error
    message = str(original).strip().splitlines()[0] if str(original).strip() else type(original).__name__
    for known, words in (
        ("disk is full", "the disk is full"),
        ("No space left", "the disk is full"),
        ("database is locked", "it is busy"),
        ("Connection refused", "it cannot be reached"),
        ("could not connect", "it cannot be reached"),
        ("connection failed", "it cannot be reached"),
        ("connection to server", "it cannot be reached"),
        ("timeout expired", "it cannot be reached"),
        ("server closed the connection", "the connection was lost"),
        ("terminating connection", "the connection was lost"),
        ("unable to open database", "its file cannot be opened"),
        ("readonly", "it is read-only"),
    ):
        if known.lower() in message.lower():
            return words
    return type(original).__name__


@contextlib.contextmanager
def transaction(doing: str, url: str | None = None) -> Iterator[Connection]:
    """One transaction: committed when the block ends, rolled back (nothing kept) if it raises."""
    with errors(doing), engine(url).connect() as connection:
        connection = connection.execution_options(write=True)
        with connection.begin():
            yield connection


@contextlib.contextmanager
def reading(doing: str, url: str | None = None) -> Iterator[Connection]:
    """A connection for reads only."""
    with errors(doing), engine(url).connect() as connection:
        yield connection
