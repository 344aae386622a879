"""Rate limits, the per-account email cooldown, the honeypot and audit lines."""

from __future__ import annotations

import json
import logging

import pytest
from fastapi.testclient import TestClient
from starlette.requests import Request

from keycloak_pwreset.audit import JsonFormatter, audit
from keycloak_pwreset.results import Result
from keycloak_pwreset.services import Services
from keycloak_pwreset.settings import LimitSettings
from keycloak_pwreset.web.client import client_address
from keycloak_pwreset.web.limit_counts import ClientLimiter
from tests.unit.fakes import FakeClock, MemoryTransport, run_async
from tests.unit.test_web_pages import csrf_of


def test_disabled_limiter_never_refuses() -> None:
    limiter = ClientLimiter(LimitSettings(enabled=False, requests_per_client="1/hour"))
    assert all(run_async(limiter.hit("request", "a")) is None for _ in range(5))


def test_bad_rate_is_a_clear_setting_error() -> None:
    with pytest.raises(ValueError, match="must be a rate like"):
        LimitSettings(requests_per_client="lots")


def fake_request(peer: str, forwarded: str | None = None) -> Request:
    headers = [(b"x-forwarded-for", forwarded.encode())] if forwarded else []
    return Request({"type": "http", "client": (peer, 1234), "headers": headers})


def test_forwarded_for_is_believed_only_from_trusted_proxies() -> None:
    trusted = frozenset({"10.0.0.1"})
    assert client_address(fake_request("203.0.113.9", "1.1.1.1"), trusted) == "203.0.113.9"
    assert client_address(fake_request("10.0.0.1", "1.1.1.1, 10.0.0.1"), trusted) == "1.1.1.1"
    # A client cannot pick its identity by prepending addresses.
    assert client_address(fake_request("10.0.0.1", "6.6.6.6, 2.2.2.2"), trusted) == "2.2.2.2"


def test_posts_over_the_limit_get_429_with_retry_after(client: TestClient) -> None:
    answers = [
        client.post("/api/v1/password-resets", json={"identifier": f"user{n}"}) for n in range(21)
    ]
    assert [a.status_code for a in answers[:20]] == [202] * 20
    assert answers[20].status_code == 429
    assert int(answers[20].headers["retry-after"]) > 0
    assert answers[20].json()["result"] == "rate_limited"
    assert answers[20].headers["x-frame-options"] == "DENY"  # security headers on 429s too
    page = client.post("/forgot-password", data={"identifier": "x"})
    assert page.status_code == 429 and 'data-result="rate_limited"' in page.text


def test_token_guesses_are_limited(client: TestClient) -> None:
    for n in range(30):
        client.get(f"/reset-password?token={'A' * 40}{n:03d}", follow_redirects=False)
    assert client.get("/reset-password?token=" + "B" * 43).status_code == 429


def test_the_fourth_email_in_an_hour_is_dropped(
    services: Services, transport: MemoryTransport, clock: FakeClock
) -> None:
    for _ in range(5):
        assert services.reset.request("alice") is Result.SUCCESS
        services.worker.run_once()
    assert len(transport.sent) == 3
    clock.advance(hours=1, seconds=1)
    services.reset.request("alice")
    services.worker.run_once()
    assert len(transport.sent) == 4


def test_failed_sends_do_not_count_against_the_cooldown(
    services: Services, transport: MemoryTransport, clock: FakeClock
) -> None:
    transport.failing = True
    services.reset.request("alice")
    for _ in range(5):  # five failed attempts, each minting and discarding a token
        services.worker.run_once()
        clock.advance(minutes=10)
    transport.failing = False
    services.worker.run_once()
    assert len(transport.sent) == 1


def test_honeypot_answers_as_usual_and_does_nothing(client: TestClient, services: Services) -> None:
    csrf = csrf_of(client.get("/forgot-password").text)
    trapped = client.post(
        "/forgot-password",
        data={"identifier": "alice", "website": "http://spam.example", "csrf_token": csrf},
    )
    human = client.post("/forgot-password", data={"identifier": "nobody", "csrf_token": csrf})
    assert trapped.status_code == human.status_code == 200
    assert trapped.content == human.content
    assert services.outbox.pending_count() == 1  # only the human's request


def test_json_audit_lines_carry_only_known_fields(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="keycloak_pwreset.audit")
    audit("password_changed", account_id="id-1", client="192.0.2.1")
    record = caplog.records[-1]
    record.token = "SECRET-TOKEN"  # a stray attribute must not reach the output
    line = json.loads(JsonFormatter().format(record))
    assert line["event"] == "password_changed"
    assert line["account_id"] == "id-1" and line["client"] == "192.0.2.1"
    assert "SECRET-TOKEN" not in json.dumps(line)
