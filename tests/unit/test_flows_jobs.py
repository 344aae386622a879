"""The typed outbox jobs: their JSON is the one every version wrote, and a bad row fails at once."""

from __future__ import annotations

import json
import logging
import re
from typing import Any

import pytest
from sqlalchemy import select

from keycloak_pwreset.errors import UnreadablePayload
from keycloak_pwreset.flows.jobs import (
    Job,
    LogoutSessionsJob,
    PasswordChangedJob,
    ResetRequestJob,
    SignupRequestJob,
    link_data,
)
from keycloak_pwreset.gateway import NewAccount, SignupRequest
from keycloak_pwreset.results import Result
from keycloak_pwreset.services import Services
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.store.models import OutboxItem
from tests.unit.conftest import PUBLIC_URL
from tests.unit.fakes import FakeClock, FakeKeycloak, MemoryTransport

NINA = SignupRequest(
    "nina@example.org", "Nina", "New", username="nina", locale="de", attributes={"dept": "R&D"}
)

# Every kind, beside the payload the version before typed jobs wrote for it.
JOBS_AND_THEIR_JSON: list[tuple[Job, dict[str, Any]]] = [
    (
        ResetRequestJob("alice", locale="de", page_locale="fr", client="net-a"),
        {"identifier": "alice", "locale": "de", "page_locale": "fr", "client": "net-a"},
    ),
    (PasswordChangedJob("id-alice", "de"), {"user_id": "id-alice", "locale": "de"}),
    (LogoutSessionsJob("id-alice"), {"user_id": "id-alice"}),
    (
        SignupRequestJob(NINA, client="net-a"),
        {
            "email": "nina@example.org",
            "first_name": "Nina",
            "last_name": "New",
            "username": "nina",
            "attributes": {"dept": "R&D"},
            "locale": "de",
            "client": "net-a",
        },
    ),
]
KINDS = {
    "reset_request": ResetRequestJob,
    "password_changed": PasswordChangedJob,
    "logout_sessions": LogoutSessionsJob,
    "signup_request": SignupRequestJob,
}


def test_the_kinds_are_those_of_the_rows_already_queued() -> None:
    assert {kind: cls.KIND for kind, cls in KINDS.items()} == {kind: kind for kind in KINDS}


@pytest.mark.parametrize(("job", "old_json"), JOBS_AND_THEIR_JSON, ids=lambda v: type(v).__name__)
def test_every_kind_round_trips_through_the_json_it_always_had(
    job: Job, old_json: dict[str, Any]
) -> None:
    payload = job.to_payload()
    # The same JSON: the previous version still reads the rows of this one during a rollout.
    assert json.loads(json.dumps(payload)) == payload == old_json
    assert type(job).from_payload(old_json) == job


@pytest.mark.parametrize(
    ("job_type", "old_json", "expected"),
    [
        # Older rows: no page language, no client network yet.
        (ResetRequestJob, {"identifier": "bob", "locale": "de"}, ResetRequestJob("bob", "de")),
        (PasswordChangedJob, {"user_id": "id-bob"}, PasswordChangedJob("id-bob")),
        (
            SignupRequestJob,
            {"email": "nina@example.org", "first_name": "Nina", "last_name": "New"},
            SignupRequestJob(SignupRequest("nina@example.org", "Nina", "New")),
        ),
        # A newer version's extra keys are ignored.
        (LogoutSessionsJob, {"user_id": "id-bob", "reason": "reset"}, LogoutSessionsJob("id-bob")),
    ],
)
def test_rows_missing_optional_fields_or_with_unknown_ones_decode(
    job_type: type[Job], old_json: dict[str, Any], expected: Job
) -> None:
    assert job_type.from_payload(old_json) == expected


@pytest.mark.parametrize(
    ("job_type", "payload"),
    [
        (ResetRequestJob, {"locale": "alice@example.org"}),
        (ResetRequestJob, {"identifier": ["alice@example.org"]}),
        (PasswordChangedJob, {"user_id": "id-alice", "locale": None}),
        (SignupRequestJob, {"email": "alice@example.org", "attributes": ["alice@example.org"]}),
        (SignupRequestJob, {"email": "alice@example.org", "attributes": {"dept": 1}}),
        (LogoutSessionsJob, ["alice@example.org"]),
    ],
)
def test_an_unreadable_payload_names_no_value(job_type: type[Job], payload: Any) -> None:
    with pytest.raises(UnreadablePayload) as caught:
        job_type.from_payload(payload)
    assert "alice" not in str(caught.value) and job_type.KIND in str(caught.value)


def test_a_new_accounts_password_never_reaches_the_links_data() -> None:
    account = NewAccount("nina@example.org", "Nina", "New", password="Secret1pass")
    assert "Secret1pass" not in json.dumps(link_data(account))
    assert "Secret1pass" not in json.dumps(SignupRequestJob(account).to_payload())


# -- through the worker: rows queued by the previous version ------------------


def test_a_reset_row_of_the_previous_version_is_done_after_an_upgrade(
    services: Services, transport: MemoryTransport
) -> None:
    old_row = {"identifier": "alice", "locale": "", "page_locale": "de", "client": "net-a"}
    services.outbox.add("reset_request", old_row, client="net-a")
    assert services.worker.run_once() == 1
    [mail] = transport.sent
    assert mail.to == "alice@example.org" and mail.message["Content-Language"] == "de"


def test_a_signup_row_of_the_previous_version_is_done_after_an_upgrade(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    old_row = {
        "email": "nina@example.org",
        "first_name": "Nina",
        "last_name": "New",
        "username": "",
        "attributes": {},
        "locale": "en",
        "client": "net-a",
    }
    services.outbox.add("signup_request", old_row, client="net-a")
    assert services.worker.run_once() == 1
    text = transport.sent[-1].message.get_body(("plain",)).get_content()
    token = re.search(re.escape(PUBLIC_URL) + r"/signup/complete\?token=([\w-]+)", text)
    assert token is not None
    done = services.signup.complete(token.group(1), "Copper-Meadow-31", "Copper-Meadow-31")
    assert done.result is Result.SUCCESS
    created = keycloak.created[-1]
    assert (created.email, created.first_name, created.last_name) == (
        "nina@example.org",
        "Nina",
        "New",
    )


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("reset_request", {"locale": "alice@example.org"}),
        ("signup_request", {"email": "alice@example.org", "attributes": "alice@example.org"}),
        ("logout_sessions", ["alice@example.org"]),
    ],
)
def test_an_unreadable_row_fails_at_once_without_logging_its_contents(
    services: Services,
    db: Database,
    clock: FakeClock,
    caplog: pytest.LogCaptureFixture,
    kind: str,
    payload: Any,
) -> None:
    item_id = services.outbox.add(kind, {})
    with db.session() as session:  # as stored by hand, or by a bug: whatever the JSON
        session.get_one(OutboxItem, item_id).payload = payload
    with caplog.at_level(logging.DEBUG):
        assert services.worker.run_once() == 0
    with db.session() as session:
        row = session.scalars(select(OutboxItem)).one()
        assert (row.failed_at, row.attempts) == (clock.now, 1)
        assert kind in row.last_error and "alice" not in row.last_error
    [event] = [r for r in caplog.records if getattr(r, "event", "") == "job_failed"]
    assert (event.kind, event.reason) == (kind, row.last_error)  # type: ignore[attr-defined]
    logged = [r.getMessage() for r in caplog.records] + [str(r.__dict__) for r in caplog.records]
    assert logged and not [line for line in logged if "alice" in line]
    clock.advance(hours=3)
    assert services.worker.run_once() == 0  # never tried again
    assert services.outbox.pending_count() == 0
