"""The support desk's commands on the host: `requests list|revoke`, `outbox list|retry|discard`.

They read and change the store only (no Keycloak, no SMTP), so they work while either
is down, which is when they are needed most. Every change is an audit event. Nothing
printed ever contains a token: the store holds only their hashes, and those are not
shown either.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import asdict
from datetime import datetime
from typing import Any

from keycloak_pwreset.audit import audit
from keycloak_pwreset.errors import ConfigError
from keycloak_pwreset.settings import load_settings
from keycloak_pwreset.store.db import Database, open_database
from keycloak_pwreset.store.open_requests import OpenRequests
from keycloak_pwreset.store.outbox_view import STATES, OutboxView


def _store() -> Database:
    return open_database(load_settings().database_url)


def _when(value: object) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if isinstance(value, datetime) else str(value)


def print_rows(rows: Sequence[object], columns: Sequence[str], as_json: bool) -> None:
    """A table for people, or one JSON array for scripts (times in ISO 8601)."""
    records: list[dict[str, Any]] = [asdict(row) for row in rows]  # type: ignore[call-overload]
    if as_json:
        print(json.dumps(records, default=lambda v: v.isoformat(), indent=2))
        return
    cells = [[_when(record[c]) for c in columns] for record in records]
    widths = [max([len(c), *(len(row[i]) for row in cells)]) for i, c in enumerate(columns)]
    for line in [list(columns), *cells]:
        print("  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)))
    if not records:
        print("(none)")


def run_requests_list(purpose: str | None, address: str | None, as_json: bool) -> int:
    db = _store()
    try:
        rows = OpenRequests(db).live(purpose=purpose, address=address)
    finally:
        db.dispose()
    columns = ["id", "purpose", "email", "user_id", "locale", "created_at", "expires_at"]
    print_rows(rows, [*columns, "emails_this_hour"], as_json)
    return 0


def _change(what: str, item_id: int, act: Callable[[Database], bool], event: str) -> int:
    db = _store()
    try:
        changed = act(db)
    finally:
        db.dispose()
    if not changed:
        raise ConfigError(f"{what} {item_id}: no such {what}, or not in a state to change")
    audit(event, by="cli", item=str(item_id))
    print(f"{what} {item_id}: done")
    return 0


def run_requests_revoke(link_id: int) -> int:
    """Kill a live link at once (the emailed link then says "Link expired")."""
    return _change("link", link_id, lambda db: OpenRequests(db).revoke(link_id), "link_revoked")


def run_outbox_list(state: str | None, as_json: bool) -> int:
    if state is not None and state not in STATES:
        raise ConfigError(f"--state {state!r}: one of {', '.join(STATES)}")
    db = _store()
    try:
        rows = OutboxView(db).jobs(state)  # a State: checked above
    finally:
        db.dispose()
    columns = ["id", "kind", "state", "subject", "attempts", "created_at", "next_attempt_at"]
    print_rows(rows, [*columns, "last_error"], as_json)
    return 0


def run_outbox_retry(job_id: int) -> int:
    return _change("job", job_id, lambda db: OutboxView(db).retry_now(job_id), "job_retry_now")


def run_outbox_discard(job_id: int) -> int:
    return _change("job", job_id, lambda db: OutboxView(db).discard(job_id), "job_discarded")
