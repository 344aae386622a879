"""Links and the account state they were issued for; who may get a link at all.

Security review items: 1 (a link outlives the account state), 2 (sign-up mints
reset links for disabled accounts), 3 (privileged accounts), 4 (cooldown by
case), 5 (a stranger spends the owner's cooldown), 9 (typed names in emails),
17 (usernames with email-as-username).
"""

from __future__ import annotations

import logging
import re
from dataclasses import replace

import pytest

from keycloak_pwreset.flows.signup import SignupRequest
from keycloak_pwreset.gateway import SignupRules
from keycloak_pwreset.results import Result
from keycloak_pwreset.services import Services
from tests.unit.conftest import PUBLIC_URL
from tests.unit.fakes import FakeKeycloak, MemoryTransport

GOOD = "Better2password"


def reset_link(services: Services, transport: MemoryTransport, who: str = "alice") -> str:
    assert services.reset.request(who) is Result.SUCCESS
    services.worker.run_once()
    text = transport.sent[-1].message.get_body(("plain",)).get_content()
    match = re.search(re.escape(PUBLIC_URL) + r"/(?:reset-password)\?token=([\w-]+)", text)
    assert match, text
    return match.group(1)


def sign_up(services: Services, email: str, client: str = "", **names: str) -> None:
    request = SignupRequest(
        email=email,
        first_name=names.get("first_name", "Mallory"),
        last_name=names.get("last_name", "Evil"),
    )
    assert services.signup.request(request, SignupRules(), client=client) is Result.SUCCESS
    services.worker.run_once()


def events(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [str(getattr(r, "event", "")) for r in caplog.records if getattr(r, "event", None)]


# -- 1: the account must still be the one the link was sent for ----------------


def test_account_disabled_after_the_link_was_sent_keeps_its_password(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    token = reset_link(services, transport)
    keycloak.disable("id-alice")
    assert services.reset.complete(token, GOOD, GOOD) is Result.LINK_EXPIRED
    assert keycloak.current_password("id-alice") == "Initial-Orbit-7"
    keycloak.users["id-alice"] = replace(keycloak.users["id-alice"], enabled=True)
    # Dead for good: enabling the account again does not revive the link.
    assert services.reset.complete(token, GOOD, GOOD) is Result.LINK_EXPIRED


def test_email_changed_by_an_administrator_kills_the_link(
    services: Services,
    transport: MemoryTransport,
    keycloak: FakeKeycloak,
    caplog: pytest.LogCaptureFixture,
) -> None:
    token = reset_link(services, transport)
    keycloak.change_email("id-alice", "alice@new-mailbox.example.org")
    with caplog.at_level(logging.INFO):
        assert services.reset.complete(token, GOOD, GOOD) is Result.LINK_EXPIRED
    assert keycloak.current_password("id-alice") == "Initial-Orbit-7"
    assert "link_refused_account_changed" in events(caplog)


def test_an_email_differing_only_in_case_is_the_same_mailbox(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    token = reset_link(services, transport)
    keycloak.change_email("id-alice", "Alice@Example.ORG")
    assert services.reset.complete(token, GOOD, GOOD) is Result.SUCCESS


def test_completion_makes_at_most_three_keycloak_calls(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    token = reset_link(services, transport)
    keycloak.calls.clear()
    assert services.reset.complete(token, GOOD, GOOD) is Result.SUCCESS
    assert keycloak.calls == ["get_user", "is_protected", "set_password"]
    # The sessions are logged out by the worker, right after the answer.
    services.worker.run_once()
    assert keycloak.logouts == ["id-alice"]


# -- 3: privileged accounts ---------------------------------------------------


def test_a_privileged_account_gets_no_reset_email(
    services: Services,
    transport: MemoryTransport,
    keycloak: FakeKeycloak,
    caplog: pytest.LogCaptureFixture,
) -> None:
    keycloak.protected.add("id-alice")
    with caplog.at_level(logging.INFO):
        assert services.reset.request("alice") is Result.SUCCESS  # the same answer
        services.worker.run_once()
    assert transport.sent == []
    assert "reset_refused_privileged" in events(caplog)


def test_an_account_made_privileged_after_the_link_keeps_its_password(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    token = reset_link(services, transport)
    keycloak.protected.add("id-alice")
    assert services.reset.complete(token, GOOD, GOOD) is Result.LINK_EXPIRED
    assert keycloak.current_password("id-alice") == "Initial-Orbit-7"


def test_a_privileged_account_gets_no_account_exists_link(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    keycloak.protected.add("id-alice")
    sign_up(services, "alice@example.org")
    assert transport.sent == []


# -- 2: disabled accounts get no link from any path ---------------------------


def test_sign_up_with_a_disabled_accounts_email_sends_nothing(
    services: Services,
    transport: MemoryTransport,
    keycloak: FakeKeycloak,
    caplog: pytest.LogCaptureFixture,
) -> None:
    keycloak.disable("id-alice")
    with caplog.at_level(logging.INFO):
        sign_up(services, "alice@example.org")
    assert transport.sent == []
    assert "link_refused_disabled" in events(caplog)
    assert keycloak.created == []  # and no second account either


def test_reset_for_a_disabled_account_sends_nothing(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    keycloak.disable("id-alice")
    services.reset.request("alice@example.org")
    services.worker.run_once()
    assert transport.sent == []


# -- 9: what a requester can put in an email -----------------------------------


def test_verification_email_does_not_echo_typed_names(
    services: Services, transport: MemoryTransport
) -> None:
    sign_up(services, "new@example.org", first_name="Click", last_name="evil.example.com now")
    [mail] = transport.sent
    text = mail.message.get_body(("plain",)).get_content()
    html = mail.message.get_body(("html",)).get_content()
    for body in (text, html, str(mail.message["To"])):
        assert "Click" not in body and "evil.example.com" not in body
    assert str(mail.message["To"]) == "new@example.org"
    assert text.startswith("Hello,")


def test_account_exists_email_greets_by_the_accounts_own_name(
    services: Services, transport: MemoryTransport
) -> None:
    sign_up(services, "alice@example.org", first_name="Your bank", last_name="says hi")
    [mail] = transport.sent
    text = mail.message.get_body(("plain",)).get_content()
    assert text.startswith("Hello Alice Tester,")
    assert "Your bank" not in text and "Your bank" not in str(mail.message["To"])


# -- 4: addresses are one key whatever their case -------------------------------


def test_cooldown_is_not_bypassed_by_changing_case(
    services: Services, transport: MemoryTransport
) -> None:
    for address in ["Bob@example.org", "bob@example.org", "BOB@EXAMPLE.ORG", "bOb@Example.Org"] * 3:
        sign_up(services, address)
    assert len(transport.sent) == services.settings.limits.emails_per_account_per_client_per_hour
    assert {m.to for m in transport.sent} == {"bob@example.org"}


def test_one_pending_sign_up_per_address_whatever_its_case(
    services: Services, transport: MemoryTransport
) -> None:
    sign_up(services, "Carol@example.org")
    first = transport.sent[-1].message.get_body(("plain",)).get_content()
    sign_up(services, "carol@EXAMPLE.org")
    token = re.search(r"token=([\w-]+)", first)
    assert token is not None
    # The second request superseded the first link (one live link per address).
    assert services.signup.check(token.group(1)) is None


# -- 5: a stranger cannot spend the owner's budget ---------------------------


def test_a_strangers_requests_spend_only_their_own_share(
    services: Services, transport: MemoryTransport
) -> None:
    for _ in range(10):
        services.reset.request("alice", client="198.51.100.7")
        services.worker.run_once()
    assert len(transport.sent) == 3
    services.reset.request("alice", client="203.0.113.5")  # the owner, elsewhere
    services.worker.run_once()
    assert len(transport.sent) == 4


def test_many_networks_together_meet_the_accounts_ceiling(
    services: Services, transport: MemoryTransport
) -> None:
    ceiling = services.settings.limits.emails_per_account_per_hour
    for n in range(ceiling * 2):
        services.reset.request("alice", client=f"198.51.100.{n}")
        services.worker.run_once()
    assert len(transport.sent) == ceiling


# -- 17: email-as-username ignores a submitted username ------------------------


def test_a_submitted_username_is_ignored_when_emails_are_usernames(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    sign_up(services, "dave@example.org")
    text = transport.sent[-1].message.get_body(("plain",)).get_content()
    token = re.search(r"signup/complete\?token=([\w-]+)", text)
    assert token is not None
    done = services.signup.complete(token.group(1), GOOD, GOOD, username="root")
    assert done.result is Result.SUCCESS
    [created] = keycloak.created
    assert created.username in ("", "dave@example.org")


def test_username_probing_with_one_link_is_bounded(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    from keycloak_pwreset.store.link_tokens import MAX_FAILED_ATTEMPTS

    for n in range(MAX_FAILED_ATTEMPTS + 2):
        keycloak.add_user(f"taken{n}", f"taken{n}@example.org")
    request = SignupRequest(
        email="probe@example.org", first_name="P", last_name="R", username="taken0"
    )
    assert services.signup.request(request, SignupRules(email_as_username=False)) is Result.SUCCESS
    services.worker.run_once()
    text = transport.sent[-1].message.get_body(("plain",)).get_content()
    found = re.search(r"signup/complete\?token=([\w-]+)", text)
    assert found is not None
    token = found.group(1)
    answers = [
        services.signup.complete(token, GOOD, GOOD, username=f"taken{n}").result
        for n in range(MAX_FAILED_ATTEMPTS + 1)
    ]
    assert answers == [Result.USERNAME_TAKEN] * MAX_FAILED_ATTEMPTS + [Result.LINK_EXPIRED]
    assert services.signup.check(token) is None  # the link is dead for good
