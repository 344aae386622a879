"""Invitations against a fake Keycloak, an in-memory mailer and a real SQLite store."""

from __future__ import annotations

from datetime import timedelta

from keycloak_pwreset.flows.invite import Invitation, Refusal
from keycloak_pwreset.gateway import SignupRules
from keycloak_pwreset.i18n import translations
from keycloak_pwreset.results import Result
from keycloak_pwreset.services import Services
from keycloak_pwreset.store.invitations import Invitations
from tests.unit.fakes import FakeClock, FakeKeycloak, MemoryTransport
from tests.unit.test_flows_signup import GOOD, link_in


def invited(services: Services, transport: MemoryTransport, **fields: object) -> str:
    values: dict[str, object] = {"email": "Ines@Example.org", "first_name": "Ines"}
    values.update(fields)
    assert services.invite.invite(Invitation(**values), by="admin-1") is None  # type: ignore[arg-type]
    services.worker.run_once()
    return link_in(transport, "/invitation")


def test_an_invitation_creates_the_account_in_its_groups(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    token = invited(services, transport, groups=("/staff/support",), locale="de")
    mail = transport.sent[-1]
    assert mail.to == "ines@example.org"
    german = translations("de").gettext("You are invited to %(site)s")
    assert mail.message["Subject"] == german % {"site": "demo"}
    assert keycloak.find_user_by_email("ines@example.org") is None  # not before the link
    outcome = services.invite.complete(token, GOOD, GOOD)
    assert outcome.result is Result.SUCCESS
    created = keycloak.created[-1]
    assert (created.email, created.first_name, created.groups) == (
        "ines@example.org",
        "Ines",
        ("/staff/support",),
    )
    assert created.locale == "de"
    assert services.invite.complete(token, GOOD, GOOD).result is Result.LINK_EXPIRED
    [row] = Invitations(services.db, services.tokens.clock).sent()
    assert (row.state, row.invited_by, row.groups) == ("accepted", "admin-1", ("/staff/support",))


def test_groups_default_to_the_sign_up_defaults(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    services.invite.default_groups = ("/customers",)
    token = invited(services, transport)
    assert services.invite.complete(token, GOOD, GOOD).result is Result.SUCCESS
    assert keycloak.created[-1].groups == ("/customers",)


def test_refusals_are_said_to_the_administrator_and_nothing_is_queued(
    services: Services, keycloak: FakeKeycloak
) -> None:
    invite = services.invite.invite
    assert invite(Invitation("not-an-address"), by="a") is Refusal.INVALID_EMAIL
    assert invite(Invitation("x@example.org", first_name="<b>"), by="a") is Refusal.INVALID_NAME
    assert invite(Invitation("x@example.org", groups=("/nope",)), by="a") is Refusal.UNKNOWN_GROUP
    assert invite(Invitation("x@example.org", valid_days=0), by="a") is Refusal.INVALID_VALIDITY
    assert invite(Invitation("x@example.org", valid_days=31), by="a") is Refusal.INVALID_VALIDITY
    assert invite(Invitation("ALICE@example.org"), by="a") is Refusal.ACCOUNT_EXISTS
    assert services.outbox.depth().due == 0


def test_a_username_is_chosen_when_the_realm_wants_one(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    keycloak.rules = SignupRules(email_as_username=False)
    token = invited(services, transport)
    link = services.invite.check(token)
    assert link is not None and services.invite.username_field_first(link)
    assert services.invite.complete(token, GOOD, GOOD, "").result is Result.MISSING_VALUE
    assert services.invite.complete(token, GOOD, GOOD, "alice").result is Result.USERNAME_TAKEN
    assert services.invite.complete(token, GOOD, GOOD, "ines").result is Result.SUCCESS
    assert keycloak.created[-1].username == "ines"


def test_an_invitation_lasts_its_days_then_lists_as_expired(
    services: Services, transport: MemoryTransport, clock: FakeClock
) -> None:
    token = invited(services, transport, valid_days=2)
    view = Invitations(services.db, services.tokens.clock)
    [row] = view.sent()
    assert row.state == "pending"
    assert row.expires_at - row.created_at == timedelta(days=2)
    clock.advance(days=1, hours=23)
    assert services.invite.check(token) is not None
    clock.advance(hours=2)
    assert services.invite.check(token) is None
    assert [i.state for i in view.sent()] == ["expired"]
    assert view.sent(state="pending") == []


def test_an_account_made_meanwhile_gets_no_invitation(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    assert services.invite.invite(Invitation("late@example.org"), by="a") is None
    keycloak.add_user("late", "late@example.org")
    services.worker.run_once()
    assert transport.sent == []
    assert Invitations(services.db).sent() == []


def test_a_sign_up_link_is_no_invitation_and_the_reverse(
    services: Services, transport: MemoryTransport
) -> None:
    token = invited(services, transport)
    assert services.signup.check(token) is None
    assert services.signup.complete(token, GOOD, GOOD).result is Result.LINK_EXPIRED
    assert services.invite.check(token) is not None
