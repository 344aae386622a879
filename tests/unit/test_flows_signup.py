"""The sign-up flow against a fake Keycloak, an in-memory mailer and a real SQLite store."""

from __future__ import annotations

import re
import threading
from datetime import timedelta

import pytest
from sqlalchemy import select

from keycloak_pwreset.flows.signup import SignupRequest
from keycloak_pwreset.gateway import ExtraAttribute, SignupRules
from keycloak_pwreset.i18n import translations
from keycloak_pwreset.results import Result
from keycloak_pwreset.services import Services
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.store.models import LinkToken
from tests.unit.conftest import PUBLIC_URL
from tests.unit.fakes import FakeClock, FakeKeycloak, MemoryTransport

GOOD = "Copper-Meadow-31"
EMAIL_RULES = SignupRules()  # email as username, the default of the fake
USERNAME_RULES = SignupRules(email_as_username=False)


def ask(services: Services, rules: SignupRules = EMAIL_RULES, **fields: str) -> Result:
    values = {"email": "new@example.org", "first_name": "Nina", "last_name": "New"}
    values.update(fields)
    return services.signup.request(SignupRequest(**values), rules)  # type: ignore[arg-type]


def link_in(transport: MemoryTransport, path: str) -> str:
    text = transport.sent[-1].message.get_body(("plain",)).get_content()
    match = re.search(re.escape(PUBLIC_URL + path) + r"\?token=([\w-]+)", text)
    assert match, text
    return match.group(1)


def signup_token(services: Services, transport: MemoryTransport, **fields: str) -> str:
    assert ask(services, **fields) is Result.SUCCESS
    services.worker.run_once()
    return link_in(transport, "/signup/complete")


def test_no_account_exists_until_the_link_is_followed(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    token = signup_token(services, transport, locale="de")
    assert keycloak.find_user_by_email("new@example.org") is None
    mail = transport.sent[-1]
    assert mail.to == "new@example.org"
    german = translations("de").gettext("Confirm your email to finish signing up for %(site)s")
    assert mail.message["Subject"] == german % {"site": "demo"}  # the language travels along
    assert mail.message["Content-Language"] == "de"
    outcome = services.signup.complete(token, GOOD, GOOD)
    assert outcome.result is Result.SUCCESS and outcome.email == "new@example.org"
    created = keycloak.created[-1]
    assert (created.first_name, created.last_name, created.locale) == ("Nina", "New", "de")
    assert created.username == ""  # the realm uses the email as username
    assert services.signup.complete(token, GOOD, GOOD).result is Result.LINK_EXPIRED


def test_existing_email_gets_account_exists_mail_with_reset_link(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    assert ask(services, email="Alice@Example.org") is Result.SUCCESS
    services.worker.run_once()
    mail = transport.sent[-1]
    assert "already have" in mail.message["Subject"]
    token = link_in(transport, "/reset-password")
    assert services.reset.complete(token, GOOD, GOOD) is Result.SUCCESS
    assert keycloak.created == []


def test_duplicate_emails_allowed_realm_gets_a_signup_link(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    keycloak.rules = SignupRules(email_as_username=False, duplicate_emails=True)
    rules = keycloak.rules
    assert ask(services, rules, email="alice@example.org", username="alice2") is Result.SUCCESS
    services.worker.run_once()
    token = link_in(transport, "/signup/complete")
    assert services.signup.complete(token, GOOD, GOOD).result is Result.SUCCESS
    assert keycloak.created[-1].username == "alice2"


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"email": ""}, Result.MISSING_VALUE),
        ({"email": "not-an-email"}, Result.INVALID_EMAIL),
        ({"email": "a@b.org\r\nBcc: x@y.org"}, Result.INVALID_CHARACTERS),
        ({"first_name": ""}, Result.MISSING_VALUE),
        ({"last_name": "   "}, Result.MISSING_VALUE),
        ({"first_name": "N" * 101}, Result.VALUE_TOO_LONG),
        ({"first_name": "Nina\r\nX"}, Result.INVALID_CHARACTERS),
        ({"first_name": "<b>Nina</b>"}, Result.INVALID_NAME),
        ({"last_name": "Smith & Sons"}, Result.INVALID_NAME),
    ],
)
def test_bad_sign_up_input_is_refused_before_any_work(
    services: Services, fields: dict[str, str], expected: Result
) -> None:
    assert ask(services, **fields) is expected
    assert services.outbox.pending_count() == 0


def test_realm_without_name_character_rule_accepts_them(services: Services) -> None:
    rules = SignupRules(names_check_characters=False)
    assert ask(services, rules, first_name="<b>Nina</b>") is Result.SUCCESS


def test_username_required_when_realm_does_not_use_email(services: Services) -> None:
    assert ask(services, USERNAME_RULES) is Result.MISSING_VALUE
    assert ask(services, USERNAME_RULES, username="ab") is Result.INVALID_USERNAME
    assert ask(services, USERNAME_RULES, username="has space") is Result.INVALID_USERNAME
    assert ask(services, USERNAME_RULES, username="nina") is Result.SUCCESS


def test_required_profile_attributes_travel_to_keycloak(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    rules = SignupRules(extra_attributes=(ExtraAttribute("department", "Department"),))
    signup = SignupRequest("new@example.org", "Nina", "New", attributes={})
    assert services.signup.request(signup, rules) is Result.MISSING_VALUE
    signup = SignupRequest("new@example.org", "Nina", "New", attributes={"department": "R&D"})
    assert services.signup.request(signup, rules) is Result.SUCCESS
    services.worker.run_once()
    token = link_in(transport, "/signup/complete")
    assert services.signup.complete(token, GOOD, GOOD).result is Result.SUCCESS
    assert keycloak.created[-1].attributes == {"department": "R&D"}


def test_rejected_password_creates_nothing_and_keeps_the_link(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    token = signup_token(services, transport)
    assert services.signup.complete(token, "short1", "short1").result is (
        Result.INVALID_PASSWORD_LENGTH
    )
    assert services.signup.complete(token, "nodigits!", "nodigits!").result is (
        Result.MUST_CONTAIN_NUMBERS_AND_CHARACTERS
    )
    assert services.signup.complete(token, GOOD, GOOD + "x").result is (Result.MISMATCHED_PASSWORDS)
    assert keycloak.created == []
    assert services.signup.complete(token, GOOD, GOOD).result is Result.SUCCESS


def test_keycloak_down_at_completion_creates_nothing(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    token = signup_token(services, transport)
    keycloak.down = True
    assert services.signup.complete(token, GOOD, GOOD).result is Result.SERVICE_UNAVAILABLE
    keycloak.down = False
    assert keycloak.created == []
    assert services.signup.complete(token, GOOD, GOOD).result is Result.SUCCESS


def test_account_created_elsewhere_meanwhile(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    token = signup_token(services, transport)
    keycloak.add_user("someone", "new@example.org")
    assert services.signup.complete(token, GOOD, GOOD).result is Result.ACCOUNT_EXISTS
    assert services.signup.check(token) is None


def test_username_taken_meanwhile_can_choose_another(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    keycloak.rules = USERNAME_RULES
    assert ask(services, USERNAME_RULES, username="nina") is Result.SUCCESS
    services.worker.run_once()
    token = link_in(transport, "/signup/complete")
    keycloak.add_user("nina", "other@example.org")
    assert services.signup.complete(token, GOOD, GOOD).result is Result.USERNAME_TAKEN
    assert services.signup.complete(token, GOOD, GOOD, "n i").result is Result.INVALID_USERNAME
    assert services.signup.complete(token, GOOD, GOOD, "nina2").result is Result.SUCCESS
    assert keycloak.created[-1].username == "nina2"


def test_smtp_down_at_request_delivers_later(
    services: Services, transport: MemoryTransport, clock: FakeClock
) -> None:
    transport.failing = True
    assert ask(services) is Result.SUCCESS
    services.worker.run_once()
    transport.failing = False
    clock.advance(minutes=1)
    services.worker.run_once()
    assert "Confirm your email" in transport.sent[-1].message["Subject"]


def test_concurrent_completions_create_one_account(
    services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    token = signup_token(services, transport)
    results: list[Result] = []
    barrier = threading.Barrier(6)

    def complete() -> None:
        barrier.wait()
        results.append(services.signup.complete(token, GOOD, GOOD).result)

    threads = [threading.Thread(target=complete) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results.count(Result.SUCCESS) == 1
    assert len(keycloak.created) == 1


def test_html_in_names_is_escaped_in_the_email(
    services: Services, transport: MemoryTransport
) -> None:
    rules = SignupRules(names_check_characters=False)
    assert ask(services, rules, first_name="<img src=x>", last_name="O'Brien") is Result.SUCCESS
    services.worker.run_once()
    html = transport.sent[-1].message.get_body(("html",)).get_content()
    assert "<img src=x>" not in html
    # Typed names are not mailed before the address is proven (security review, item 9).
    assert "img src" not in html and "O&#39;Brien" not in html
    assert transport.sent[-1].message["To"].addresses[0].display_name == ""


def test_a_link_minted_before_typed_jobs_still_completes(
    services: Services, keycloak: FakeKeycloak
) -> None:
    keycloak.rules = USERNAME_RULES
    # The token's data exactly as the version before typed jobs wrote it.
    data = {"first_name": "Olga", "last_name": "Old", "username": "olga", "attributes": {"d": "IT"}}
    token = services.tokens.issue(
        purpose="signup", ttl=timedelta(hours=1), email="olga@example.org", locale="fr", data=data
    )
    done = services.signup.complete(token, GOOD, GOOD)
    assert done.result is Result.SUCCESS and done.email == "olga@example.org"
    created = keycloak.created[-1]
    assert (created.email, created.first_name, created.last_name) == (
        "olga@example.org",
        "Olga",
        "Old",
    )
    assert (created.username, created.locale, created.attributes) == ("olga", "fr", {"d": "IT"})


def test_a_link_keeps_its_data_in_the_shape_every_version_reads(
    services: Services, transport: MemoryTransport, db: Database
) -> None:
    signup_token(services, transport, locale="de")
    with db.session() as session:
        row = session.scalars(select(LinkToken).where(LinkToken.purpose == "signup")).one()
        assert (row.email, row.locale) == ("new@example.org", "de")
        assert row.data == {
            "first_name": "Nina",
            "last_name": "New",
            "username": "",
            "attributes": {},
        }
