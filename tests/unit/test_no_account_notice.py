"""KCPR_UNKNOWN_ACCOUNT_NOTICE: an email to an address with no account, off by default."""

from __future__ import annotations

import pytest

from keycloak_pwreset.results import Result
from keycloak_pwreset.services import Services, build_services
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.store.models import LinkToken, SentEmail
from tests.unit.conftest import PUBLIC_URL, make_settings
from tests.unit.fakes import FakeClock, FakeKeycloak, MemoryTransport


@pytest.fixture
def noticing(
    keycloak: FakeKeycloak, transport: MemoryTransport, db: Database, clock: FakeClock
) -> Services:
    settings = make_settings(unknown_account_notice=True)
    return build_services(settings, gateway=keycloak, transport=transport, db=db, clock=clock)


def ask(services: Services, identifier: str, **kwargs: str) -> None:
    assert services.reset.request(identifier, **kwargs) is Result.SUCCESS
    assert services.worker.run_once() == 1


def text_of(transport: MemoryTransport, index: int = -1) -> str:
    body = transport.sent[index].message.get_body(("plain",))
    assert body is not None
    return str(body.get_content())


def test_off_by_default(services: Services, transport: MemoryTransport) -> None:
    assert services.settings.unknown_account_notice is False
    ask(services, "nobody@example.org")
    assert transport.sent == []


def test_unknown_address_is_told_with_links_to_try_again_and_sign_up(
    noticing: Services, transport: MemoryTransport
) -> None:
    ask(noticing, "Nobody@Example.ORG")
    (mail,) = transport.sent
    assert mail.to == "nobody@example.org"  # the address as Keycloak would store it
    assert mail.message["Subject"] == "Password reset requested for demo"
    text = text_of(transport)
    assert "no account uses it" in text
    assert f"{PUBLIC_URL}/forgot-password" in text
    assert f"{PUBLIC_URL}/signup" in text
    assert "token=" not in text  # nothing to use: no link with a token


def test_no_signup_link_when_signup_is_off(
    keycloak: FakeKeycloak, transport: MemoryTransport, db: Database, clock: FakeClock
) -> None:
    settings = make_settings(unknown_account_notice=True, signup_enabled=False)
    services = build_services(settings, gateway=keycloak, transport=transport, db=db, clock=clock)
    ask(services, "nobody@example.org")
    assert "/signup" not in text_of(transport)


def test_in_the_language_of_the_page(noticing: Services, transport: MemoryTransport) -> None:
    ask(noticing, "nobody@example.org", page_locale="de")
    assert transport.sent[0].message["Content-Language"] == "de"


def test_a_username_has_nowhere_to_write_to(noticing: Services, transport: MemoryTransport) -> None:
    ask(noticing, "nobody-by-that-name")
    assert transport.sent == []


def test_existing_accounts_still_get_their_link_only(
    noticing: Services, transport: MemoryTransport
) -> None:
    ask(noticing, "alice@example.org")
    (mail,) = transport.sent
    assert "/reset-password?token=" in text_of(transport)
    assert mail.message["Subject"] != "Password reset requested for demo"


def test_notices_share_the_per_address_cooldown(
    noticing: Services, transport: MemoryTransport, clock: FakeClock
) -> None:
    for _ in range(10):
        ask(noticing, "nobody@example.org")
    limits = noticing.settings.limits
    assert len(transport.sent) == limits.emails_per_account_per_client_per_hour == 3
    clock.advance(hours=1, seconds=1)
    ask(noticing, "nobody@example.org")
    assert len(transport.sent) == 4


def test_a_failed_send_is_retried_and_not_counted(
    noticing: Services, transport: MemoryTransport, clock: FakeClock
) -> None:
    transport.failing = True
    assert noticing.reset.request("nobody@example.org") is Result.SUCCESS
    noticing.worker.run_once()
    assert noticing.outbox.pending_count() == 1  # kept for a retry
    transport.failing = False
    clock.advance(minutes=10)
    noticing.worker.run_once()
    assert len(transport.sent) == 1
    for _ in range(5):
        ask(noticing, "nobody@example.org")
    assert len(transport.sent) == 3  # the failed attempt did not use up the allowance


def test_a_notice_leaves_no_token_behind(noticing: Services) -> None:
    # Counted in the sent-email log, not by a token born expired: a token row is a link.
    ask(noticing, "nobody@example.org")
    with noticing.db.session() as session:
        assert session.query(LinkToken).count() == 0
        assert [(e.account, e.kind) for e in session.query(SentEmail).all()] == [
            ("nobody@example.org", "no-account")
        ]
