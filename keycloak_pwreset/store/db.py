"""Opening the database: engine, sessions, and bringing the schema up to date."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, make_url
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.pool import StaticPool

from keycloak_pwreset.errors import ConfigError
from keycloak_pwreset.store.locks import lock_in_transaction

MIGRATIONS = Path(__file__).with_name("migrations")
WAL_WAIT_SECONDS = 30.0


class Database:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self._sessions = sessionmaker(engine, expire_on_commit=False)
        # SQLite has one writer at a time, and threads that find the file
        # locked back off in sleeps of up to 100 ms: under load the request
        # path's p99 went to 340 ms. Queued on a lock instead, this process's
        # writers take their turn as soon as it comes.
        self._write_turn: AbstractContextManager[object] = (
            threading.Lock() if self.local else nullcontext()
        )
        # On SQLite, the writers' one connection, kept between turns (the lock
        # makes it one user at a time): a pool checkout per write cost more
        # than the write.
        self._writer: Connection | None = None

    @property
    def local(self) -> bool:
        """A file on this machine (SQLite): its calls never wait on a network."""
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def writing(self) -> Iterator[Connection]:
        """One short write transaction (Core), this process's writers in turn on SQLite."""
        if not self.local:
            with self.engine.begin() as connection:
                yield connection
            return
        with self._write_turn, self._kept_writer().begin() as transaction:
            yield transaction.connection

    @contextmanager
    def driver_writing(self) -> Iterator[Any]:
        """SQLite only: ``writing`` on the driver's own connection, committed here.

        For statements prepared once (store/prepared.py): SQLAlchemy's
        transaction around one insert cost more than the insert.
        """
        if self.engine.dialect.name != "sqlite":
            raise RuntimeError("driver_writing is for the SQLite store")
        with self._write_turn:
            driver = self._kept_writer().connection.driver_connection
            if driver is None:  # only for a connection that was closed
                raise RuntimeError("the SQLite writer has no driver connection")
            try:
                yield driver
            except BaseException:
                driver.rollback()
                raise
            driver.commit()

    def _kept_writer(self) -> Connection:
        """The writers' one connection, opened again if it was lost (call in the turn)."""
        writer = self._writer
        if writer is None or writer.closed or writer.invalidated:
            writer = self._writer = self.engine.connect()
        return writer

    @contextmanager
    def session(self) -> Iterator[Session]:
        """One transaction: committed on success, rolled back on any error."""
        with self._sessions.begin() as session:
            yield session

    def ping(self) -> bool:
        try:
            with self.engine.connect() as conn:
                conn.exec_driver_sql("SELECT 1")
        except SQLAlchemyError:
            return False
        return True

    def dispose(self) -> None:
        with self._write_turn:
            if self._writer is not None:
                self._writer.close()
                self._writer = None
        self.engine.dispose()


def make_engine(url: str) -> Engine:
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        # The web threads and the worker thread share one SQLite file; wait for
        # the write lock instead of failing at once.
        kwargs["connect_args"] = {"check_same_thread": False, "timeout": 30}
        if url in ("sqlite://", "sqlite:///:memory:"):
            kwargs["poolclass"] = StaticPool  # one shared in-memory database
    else:
        # A server restarted (an upgrade, a failover) leaves every pooled connection
        # dead; a connection is tested as it is taken, so that the first request after
        # the restart gets a new one instead of an error.
        kwargs["pool_pre_ping"] = True
    try:
        engine = create_engine(url, **kwargs)
    except (SQLAlchemyError, ValueError, ImportError) as exc:
        raise ConfigError(
            f"KCPR_DATABASE_URL: cannot use {_redact(url)}: {first_line(exc)}"
        ) from None
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
    return engine


def first_line(exc: BaseException) -> str:
    """SQLAlchemy appends a second line with a documentation link; one line is enough."""
    text = str(getattr(exc, "orig", None) or exc)
    return text.splitlines()[0] if text else type(exc).__name__


def _redact(url: str) -> str:
    """The URL without its password, for messages."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (SQLAlchemyError, ValueError):
        return "(unparsable URL)"


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=30000")
    _enter_wal(cursor)
    # Durable across a killed process in WAL mode; skips an fsync per commit.
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _enter_wal(cursor: Any) -> None:
    """WAL lets readers proceed while the worker writes.

    Turning a fresh file to WAL takes an exclusive lock and SQLite does not
    wait for it (no busy handler): instances starting together on a new file
    (`serve --workers N` with its worker) got "database is locked". Once the
    file is in WAL mode the pragma is a no-op; until then, try again briefly.
    """
    deadline = time.monotonic() + WAL_WAIT_SECONDS
    while True:
        try:
            cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def migrate(engine: Engine) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        # Instances started together (`serve --workers N`, its worker, several
        # hosts) migrate one after the other, the first upgrading and the others
        # finding it done: on SQLite by taking the write lock first (the driver
        # begins no transaction of its own before DDL), on PostgreSQL, which runs
        # DDL in the transaction, with an advisory lock.
        if engine.dialect.name == "sqlite":
            connection.exec_driver_sql("BEGIN IMMEDIATE")
        lock_in_transaction(connection, "migrations")
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def open_database(url: str) -> Database:
    """Connect and bring the schema to the current version (idempotent)."""
    engine = make_engine(url)
    try:
        migrate(engine)
    except SQLAlchemyError as exc:
        raise ConfigError(
            f"KCPR_DATABASE_URL: cannot open the database: {first_line(exc)}"
        ) from None
    return Database(engine)
