from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Column, Integer, MetaData, Table, inspect, select, text

from keycloak_pwreset.errors import ConfigError
from keycloak_pwreset.store.db import Database, open_database
from keycloak_pwreset.store.models import Base, LinkToken, OutboxItem, UTCDateTime

TABLES = {"recovery_tokens", "outbox", "sent_emails", "forwarding_peers"}
HEAD = "0002"


def test_migrations_create_the_tables(db: Database) -> None:
    inspector = inspect(db.engine)
    assert set(inspector.get_table_names()) >= TABLES
    assert "alembic_version" in inspector.get_table_names()
    with db.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == HEAD


def test_indexes_and_unique_token_hash(db: Database) -> None:
    inspector = inspect(db.engine)
    token_indexes = {
        ix["name"]: ix["column_names"] for ix in inspector.get_indexes("recovery_tokens")
    }
    assert token_indexes["ix_recovery_tokens_user_purpose"] == ["user_id", "purpose"]
    assert token_indexes["ix_recovery_tokens_email_purpose"] == ["email", "purpose"]
    outbox_indexes = {ix["name"]: ix["column_names"] for ix in inspector.get_indexes("outbox")}
    assert outbox_indexes["ix_outbox_due"] == ["failed_at", "next_attempt_at"]
    assert outbox_indexes["ix_outbox_coalesce_key"] == ["coalesce_key"]
    unique = [uc["column_names"] for uc in inspector.get_unique_constraints("recovery_tokens")]
    assert ["token_hash"] in unique


def test_models_match_the_migrated_schema(db: Database) -> None:
    inspector = inspect(db.engine)
    for table in Base.metadata.sorted_tables:
        migrated = {col["name"]: col for col in inspector.get_columns(table.name)}
        assert set(migrated) == {col.name for col in table.columns}, table.name
        for column in table.columns:
            assert migrated[column.name]["nullable"] == column.nullable, (
                table.name,
                column.name,
            )
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_schema_comparison_does_notice_a_drift(db: Database) -> None:
    # Guards the test above: a model the migrations do not know is reported.
    drifted = MetaData()
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    Table("not_migrated", drifted, Column("id", Integer, primary_key=True))
    with db.engine.connect() as conn:
        context = MigrationContext.configure(conn)
        diffs = compare_metadata(context, drifted)
    assert [d[0] for d in diffs] == ["add_table"]


def test_open_database_twice_on_one_file_is_idempotent(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'twice.db'}"
    first = open_database(url)
    with first.session() as session:
        session.add(
            OutboxItem(
                kind="k",
                payload={"a": 1},
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
                attempts=0,
                next_attempt_at=datetime(2026, 1, 1, tzinfo=UTC),
                last_error="",
            )
        )
    first.dispose()
    second = open_database(url)
    try:
        with second.session() as session:
            payloads = session.scalars(select(OutboxItem.payload)).all()
        assert payloads == [{"a": 1}]
        with second.engine.connect() as conn:
            versions = conn.execute(text("SELECT version_num FROM alembic_version")).all()
        assert versions == [(HEAD,)]
    finally:
        second.dispose()


def test_sqlite_file_uses_wal(tmp_path: Path) -> None:
    database = open_database(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        with database.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30000
    finally:
        database.dispose()


def test_in_memory_database_is_shared_between_sessions(db: Database) -> None:
    # StaticPool: a second connection must see the same migrated schema.
    with db.session() as session:
        assert session.scalars(select(LinkToken)).all() == []
    assert db.ping()


def test_ping_is_false_when_the_database_is_gone(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "gone.db"
    path.parent.mkdir()
    database = open_database(f"sqlite:///{path}")
    assert database.ping()
    database.dispose()
    path.unlink()
    path.parent.rmdir()
    assert not database.ping()


def test_session_rolls_back_on_error(db: Database) -> None:
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(RuntimeError), db.session() as session:
        session.add(
            OutboxItem(
                kind="k",
                payload={},
                created_at=now,
                attempts=0,
                next_attempt_at=now,
                last_error="",
            )
        )
        session.flush()
        raise RuntimeError("boom")
    with db.session() as session:
        assert session.scalars(select(OutboxItem)).all() == []


def test_utc_datetime_rejects_naive_datetimes() -> None:
    with pytest.raises(ValueError, match="naive"):
        UTCDateTime().process_bind_param(datetime(2026, 1, 1, 12, 0), dialect=None)  # type: ignore[arg-type]


def test_utc_datetime_converts_to_utc_and_back() -> None:
    column_type = UTCDateTime()
    plus_two = timezone(timedelta(hours=2))
    stored = column_type.process_bind_param(
        datetime(2026, 1, 1, 14, 0, tzinfo=plus_two),
        dialect=None,  # type: ignore[arg-type]
    )
    assert stored == datetime(2026, 1, 1, 12, 0)
    assert stored is not None and stored.tzinfo is None
    loaded = column_type.process_result_value(stored, dialect=None)  # type: ignore[arg-type]
    assert loaded == datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
    assert loaded is not None and loaded.utcoffset() == timedelta(0)
    assert column_type.process_bind_param(None, dialect=None) is None  # type: ignore[arg-type]
    assert column_type.process_result_value(None, dialect=None) is None  # type: ignore[arg-type]


def test_utc_datetime_round_trips_through_the_database(db: Database) -> None:
    plus_five = timezone(timedelta(hours=5, minutes=30))
    created = datetime(2026, 3, 1, 17, 30, 15, 123456, tzinfo=plus_five)
    with db.session() as session:
        row = OutboxItem(
            kind="k",
            payload={},
            created_at=created,
            attempts=0,
            next_attempt_at=created,
            last_error="",
        )
        session.add(row)
        session.flush()
        row_id = row.id
    with db.session() as session:
        loaded = session.get_one(OutboxItem, row_id)
        assert loaded.created_at == created
        assert loaded.created_at.tzinfo is UTC
        assert loaded.created_at.hour == 12
    with db.engine.connect() as conn:
        raw = conn.execute(text("SELECT created_at FROM outbox")).scalar()
    assert str(raw).startswith("2026-03-01 12:00:15")


def test_naive_datetime_cannot_be_stored(db: Database) -> None:
    naive = datetime(2026, 1, 1, 12, 0)
    with pytest.raises(Exception, match="naive"), db.session() as session:
        session.add(
            OutboxItem(
                kind="k",
                payload={},
                created_at=naive,
                attempts=0,
                next_attempt_at=naive,
                last_error="",
            )
        )
        session.flush()


@pytest.mark.parametrize(
    "url",
    [
        "not a url",
        "nosuchdialect://user@host/db",
        "postgresql+nosuchdriver://user@host/db",
    ],
)
def test_bad_url_raises_a_one_line_config_error(url: str) -> None:
    with pytest.raises(ConfigError) as info:
        open_database(url)
    message = str(info.value)
    assert message.startswith("KCPR_DATABASE_URL: ")
    assert "\n" not in message
    assert "Traceback" not in message


def test_unopenable_sqlite_file_raises_a_one_line_config_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.db'}"
    with pytest.raises(ConfigError) as info:
        open_database(url)
    message = str(info.value)
    assert message.startswith("KCPR_DATABASE_URL: cannot open the database")
    assert "\n" not in message


def test_unopenable_sqlite_file_raises_config_error(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'x.db'}"
    with pytest.raises(ConfigError, match=r"^KCPR_DATABASE_URL: cannot open the database"):
        open_database(url)


def test_url_for_a_driver_that_is_not_installed_raises_config_error() -> None:
    # Port 1 on loopback: refused at once should the driver be installed.
    with pytest.raises(ConfigError, match=r"^KCPR_DATABASE_URL: "):
        open_database("mysql://user@127.0.0.1:1/db")


def test_upgrade_from_0001_lowercases_stored_addresses(tmp_path: Path) -> None:
    # A database made by the previous version: its addresses become case-free keys.
    from alembic import command
    from alembic.config import Config

    from keycloak_pwreset.store.db import MIGRATIONS, make_engine

    engine = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0001")
        connection.execute(
            text(
                "INSERT INTO recovery_tokens (token_hash, purpose, user_id, email, locale, data,"
                " created_at, expires_at) VALUES ('h', 'signup', '', 'Bob@Example.ORG', '', '{}',"
                " '2026-01-01 00:00:00', '2026-01-01 01:00:00')"
            )
        )
    engine.dispose()
    db = open_database(f"sqlite:///{tmp_path / 'old.db'}")
    try:
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT email FROM recovery_tokens")).scalar() == (
                "bob@example.org"
            )
    finally:
        db.dispose()
