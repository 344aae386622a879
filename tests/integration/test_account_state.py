"""Links, account state and who may get a link, against the real Keycloak.

Security review items 1 (a link outlives the account state), 2 (disabled
accounts), 3 (privileged accounts, through groups and composite roles), 4
(addresses by case), 9 (typed names in emails) and 10 (attributes only
administrators may edit).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator

import pytest
import requests
from keycloak import KeycloakAdmin

from keycloak_pwreset.gateway import KeycloakGateway
from keycloak_pwreset_demo.realm import RealmInfo
from keycloak_pwreset_demo.smtp_sink import SmtpSink
from keycloak_pwreset_demo.stack import DemoUser, KeycloakHandle, ServiceHandle
from tests.helpers import Account, Browser, data_result
from tests.integration.test_reset_flow import (
    NEW_PASSWORD,
    can_log_in,
    mails,
    request_link,
    wait_count,
)

RESET_SUBJECT = "Reset your password"


def fresh_account(keycloak: KeycloakHandle, realm: RealmInfo, first: str = "Test") -> Account:
    name = f"user{secrets.token_hex(4)}"
    user = DemoUser(name, f"{name}@example.org", "Original-pass1", first, "Person")
    return Account(user, keycloak.add_user(realm.realm, user))


def drained(service: ServiceHandle, timeout: float = 30.0) -> None:
    """Wait until the worker has done every queued job (its effects are then visible)."""
    deadline = time.monotonic() + timeout
    while service.services.outbox.pending_count() and time.monotonic() < deadline:
        time.sleep(0.1)
    assert service.services.outbox.pending_count() == 0
    time.sleep(0.2)  # the last job's own email may still be on the wire


def api_reset(service: ServiceHandle, identifier: str) -> None:
    answer = requests.post(
        service.url + "/api/v1/password-resets", json={"identifier": identifier}, timeout=10
    )
    assert answer.status_code == 202


# -- 1: the link is dead once the account is not what it was -------------------


def test_disabled_after_the_link_was_sent(
    browser: Browser,
    sink: SmtpSink,
    service: ServiceHandle,
    realm: RealmInfo,
    account: Account,
    admin: KeycloakAdmin,
) -> None:
    user = account.user
    link = request_link(browser, sink, service, user.email, user.email)
    admin.update_user(account.id, {"enabled": False})
    browser.open_link(link)
    response = browser.set_password(NEW_PASSWORD)
    assert data_result(response) == "recovery_token_expired"
    admin.update_user(account.id, {"enabled": True})
    assert can_log_in(realm, user.username, user.password)
    assert not can_log_in(realm, user.username, NEW_PASSWORD)
    # Enabling the account again does not bring the link back.
    again = browser.http.get(service.url + "/reset-password", timeout=10)
    assert data_result(again) == "recovery_token_expired"


def test_email_moved_by_an_administrator(
    browser: Browser,
    sink: SmtpSink,
    service: ServiceHandle,
    realm: RealmInfo,
    account: Account,
    admin: KeycloakAdmin,
) -> None:
    user = account.user
    link = request_link(browser, sink, service, user.email, user.email)
    admin.update_user(account.id, {"email": f"moved-{user.email}"})
    browser.open_link(link)
    assert data_result(browser.set_password(NEW_PASSWORD)) == "recovery_token_expired"
    assert can_log_in(realm, user.username, user.password)


# -- 2 and 3: no link at all -----------------------------------------------------


def test_disabled_account_gets_no_account_exists_link(
    keycloak: KeycloakHandle,
    sink: SmtpSink,
    service: ServiceHandle,
    realm: RealmInfo,
    admin: KeycloakAdmin,
) -> None:
    disabled = fresh_account(keycloak, realm)
    admin.update_user(disabled.id, {"enabled": False})
    email = disabled.user.email
    answer = requests.post(
        service.url + "/api/v1/signups",
        json={"email": email, "first_name": "A", "last_name": "B", "username": f"x{email[:8]}"},
        timeout=10,
    )
    assert answer.status_code == 202
    drained(service)
    assert [m.subject for m in sink.messages if email in m.rcpt_tos] == []
    assert len(admin.get_users({"email": email, "exact": "true"})) == 1  # no second account


@pytest.fixture
def privileged(
    keycloak: KeycloakHandle, realm: RealmInfo, admin: KeycloakAdmin
) -> Iterator[list[Account]]:
    """Three administrators: a direct role, one through a group, one inside a composite."""
    rm = admin.get_client_id("realm-management")
    view_users = admin.get_client_role(rm, "view-users")
    direct, grouped, composite = (fresh_account(keycloak, realm) for _ in range(3))
    admin.assign_client_role(direct.id, rm, [view_users])
    group = f"helpdesk-{secrets.token_hex(3)}"
    group_id = admin.create_group({"name": group})
    admin.assign_group_client_roles(group_id, rm, [view_users])
    admin.group_user_add(grouped.id, group_id)
    role = f"ops-{secrets.token_hex(3)}"
    admin.create_realm_role({"name": role})
    admin.add_composite_realm_roles_to_role(role, [view_users])
    admin.assign_realm_roles(composite.id, [admin.get_realm_role(role)])
    yield [direct, grouped, composite]
    admin.delete_group(group_id)
    admin.delete_realm_role(role)


def test_administrators_get_no_reset_email(
    sink: SmtpSink, service: ServiceHandle, account: Account, privileged: list[Account]
) -> None:
    for admin_account in privileged:
        api_reset(service, admin_account.user.email)
        api_reset(service, admin_account.user.username)
    api_reset(service, account.user.email)  # the control: an ordinary account
    wait_count(sink, account.user.email, RESET_SUBJECT, 1)
    drained(service)
    for admin_account in privileged:
        assert mails(sink, admin_account.user.email, "") == [], admin_account.user.username


def test_administrators_get_no_account_exists_link(
    sink: SmtpSink, service: ServiceHandle, privileged: list[Account]
) -> None:
    for admin_account in privileged:
        email = admin_account.user.email
        answer = requests.post(
            service.url + "/api/v1/signups",
            json={"email": email, "first_name": "A", "last_name": "B", "username": "zz" + email},
            timeout=10,
        )
        assert answer.status_code == 202
    drained(service)
    for admin_account in privileged:
        assert mails(sink, admin_account.user.email, "") == []


def test_made_an_administrator_after_the_link_was_sent(
    browser: Browser,
    sink: SmtpSink,
    service: ServiceHandle,
    realm: RealmInfo,
    account: Account,
    admin: KeycloakAdmin,
) -> None:
    user = account.user
    link = request_link(browser, sink, service, user.email, user.email)
    rm = admin.get_client_id("realm-management")
    admin.assign_client_role(account.id, rm, [admin.get_client_role(rm, "view-users")])
    browser.open_link(link)
    assert data_result(browser.set_password(NEW_PASSWORD)) == "recovery_token_expired"
    assert can_log_in(realm, user.username, user.password)


# -- 4: addresses are keys whatever their case ---------------------------------


def test_sign_up_cooldown_is_not_bypassed_by_case(sink: SmtpSink, service: ServiceHandle) -> None:
    local = f"case{secrets.token_hex(4)}"
    variants = [
        f"{local}@example.org",
        f"{local.upper()}@example.org",
        f"{local.title()}@Example.ORG",
    ]
    for n in range(12):
        answer = requests.post(
            service.url + "/api/v1/signups",
            json={
                "email": variants[n % 3],
                "first_name": "Bob",
                "last_name": "Case",
                "username": f"{local}{n}",
            },
            timeout=10,
        )
        assert answer.status_code == 202
        drained(service)  # one at a time: waiting requests would be coalesced otherwise
    delivered = [m for m in sink.messages if f"{local}@example.org" in m.rcpt_tos]
    assert len(delivered) == service.settings.limits.emails_per_account_per_client_per_hour == 3


# -- 9: what a requester can put in an email -----------------------------------


def test_typed_names_never_reach_an_inbox_unproven(
    sink: SmtpSink, service: ServiceHandle, account: Account
) -> None:
    bait = "Call 555-0100 now"
    new = f"fresh{secrets.token_hex(4)}@example.org"
    for email in (new, account.user.email):
        answer = requests.post(
            service.url + "/api/v1/signups",
            json={
                "email": email,
                "first_name": bait,
                "last_name": "X",
                "username": "u" + email[:9],
            },
            timeout=10,
        )
        assert answer.status_code == 202
    [verification] = wait_count(sink, new, "finish signing up", 1)
    [exists] = wait_count(sink, account.user.email, "already have", 1)
    for mail in (verification, exists):
        assert bait not in mail.text_body() and bait not in mail.html_body()
        assert bait not in str(mail.message["To"])
    assert verification.text_body().startswith("Hello,")
    # The owner is greeted by the account's own name, from Keycloak.
    assert exists.text_body().startswith(f"Hello {account.user.first_name} Person,")


# -- 10: attributes a person may not edit are neither offered nor written --------


@pytest.fixture
def admin_only_attribute(admin: KeycloakAdmin) -> Iterator[str]:
    original = admin.get_realm_users_profile()
    name = f"tenant{secrets.token_hex(2)}"
    changed = dict(original)
    changed["attributes"] = [
        *original["attributes"],
        {
            "name": name,
            "displayName": "Tenant",
            "required": {"roles": ["user"]},
            "permissions": {"view": ["admin", "user"], "edit": ["admin"]},
            "multivalued": False,
        },
        {
            "name": f"{name}phone",
            "displayName": "Phone",
            "required": {},
            "permissions": {"view": ["admin", "user"], "edit": ["admin", "user"]},
            "multivalued": False,
        },
    ]
    admin.update_realm_users_profile(changed)
    yield name
    admin.update_realm_users_profile(original)


def test_only_attributes_a_person_may_edit_are_offered_and_written(
    realm: RealmInfo,
    sink: SmtpSink,
    service: ServiceHandle,
    admin: KeycloakAdmin,
    admin_only_attribute: str,
) -> None:
    gateway = KeycloakGateway(realm.server_url, realm.realm, realm.client_id, realm.client_secret)
    offered = [a.name for a in gateway.signup_rules().extra_attributes]
    # Required of users but editable only by administrators: not offered.
    # Required of everyone ("required: {}") and editable by users: offered.
    assert offered == [f"{admin_only_attribute}phone"]

    email = f"attr{secrets.token_hex(4)}@example.org"
    # The service sees the changed profile at once (its own copy is cached for minutes).
    cached = service.services.signup.gateway
    service.services.signup.gateway = gateway
    try:
        finish_signup_with_attributes(service, sink, email, admin_only_attribute)
    finally:
        service.services.signup.gateway = cached
    [created] = admin.get_users({"email": email, "exact": "true"})
    attributes = created.get("attributes") or {}
    assert attributes.get(f"{admin_only_attribute}phone") == ["5550100"]
    assert admin_only_attribute not in attributes


def finish_signup_with_attributes(
    service: ServiceHandle, sink: SmtpSink, email: str, admin_only: str
) -> None:
    username = email.split("@")[0]
    answer = requests.post(
        service.url + "/api/v1/signups",
        json={
            "email": email,
            "first_name": "Ann",
            "last_name": "Tribute",
            "username": username,
            "attributes": {admin_only: "acme", f"{admin_only}phone": "5550100"},
        },
        timeout=10,
    )
    assert answer.status_code == 202
    [mail] = wait_count(sink, email, "finish signing up", 1)
    token = mail.text_body().split("token=")[1].split()[0]
    done = requests.post(
        service.url + "/api/v1/signups/complete",
        json={
            "token": token,
            "password": "Attr-ibute-9x",
            "password_confirmation": "Attr-ibute-9x",
        },
        timeout=30,
    )
    assert done.status_code == 201, done.text
