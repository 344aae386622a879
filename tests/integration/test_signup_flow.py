"""Email-verified sign-up end to end: real Keycloak, real SMTP server, the service over HTTP."""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable
from pathlib import Path

import pytest
import requests
from keycloak import KeycloakAdmin

from keycloak_pwreset.i18n import translations
from keycloak_pwreset_demo.realm import RealmInfo, password_grant
from keycloak_pwreset_demo.smtp_sink import ReceivedMail, SmtpSink
from keycloak_pwreset_demo.stack import ServiceHandle
from tests.helpers import Account, Browser, data_result, way_back
from tests.integration.test_reset_flow import wait_count

# Also run on Keycloak 24 and 25 by tests/run (keycloak_pwreset/keycloak_versions.py).
pytestmark = pytest.mark.keycloak_core

PASSWORD = "Signed-up-9"


def users_with_email(admin: KeycloakAdmin, email: str) -> list[dict[str, object]]:
    return list(admin.get_users({"email": email, "exact": "true"}))


def sign_up(browser: Browser, **fields: str) -> requests.Response:
    token = browser.csrf("/signup")
    return browser.http.post(
        browser.base + "/signup", data={**fields, "csrf_token": token}, timeout=10
    )


def complete_link(mail: ReceivedMail, service: ServiceHandle) -> str:
    match = re.search(re.escape(service.url) + r"/signup/complete\?token=[\w-]+", mail.text_body())
    assert match, mail.text_body()
    return match.group(0)


def choose_password(browser: Browser, password: str, **extra: str) -> requests.Response:
    token = browser.csrf("/signup/complete")
    return browser.http.post(
        browser.base + "/signup/complete",
        data={
            "password": password,
            "password_confirmation": password,
            "csrf_token": token,
            **extra,
        },
        timeout=30,
        allow_redirects=False,
    )


def test_signup_creates_a_verified_account_only_after_the_link(
    browser: Browser,
    sink: SmtpSink,
    service: ServiceHandle,
    realm: RealmInfo,
    admin: KeycloakAdmin,
) -> None:
    name = f"new{secrets.token_hex(4)}z9"  # a digit, so "Name" passes every rule but notUsername
    email = f"{name}@example.org"
    form = browser.http.get(service.url + "/signup?kc_locale=de", timeout=10)
    assert 'name="username"' in form.text  # Keycloak's default: usernames separate from emails
    response = sign_up(
        browser, first_name="Zoë", last_name="O'Neil", email=email, username=name, locale="de"
    )
    assert response.status_code == 200 and data_result(response) == "success"
    # The page was German, so is the mail.
    german = translations("de").gettext("Confirm your email to finish signing up for %(site)s")
    mail = wait_count(sink, email, german % {"site": realm.realm}, 1)[0]
    assert users_with_email(admin, email) == []  # nothing before the link is followed

    page = browser.open_link(complete_link(mail, service))
    assert page.url == service.url + "/signup/complete"
    welcome = translations("de").gettext(
        "Welcome, %(name)s! One last step to create the account for %(email)s."
    )
    assert welcome % {"name": "Zoë", "email": email} in page.text

    weak = choose_password(browser, "weakpass1")
    assert weak.status_code == 200
    assert data_result(weak) == "password_missing_character_variety"
    assert users_with_email(admin, email) == []  # a refused password leaves nothing behind
    same_as_name = choose_password(browser, name.capitalize())
    # Refused by the screening (personal) before Keycloak is asked, on every version.
    assert data_result(same_as_name) == "password_too_common"

    done = choose_password(browser, PASSWORD)
    back = way_back(done)
    assert "kcpr_status=account_created" in back
    assert f"login_hint={email.replace('@', '%40')}" in back

    [user] = users_with_email(admin, email)
    assert user["enabled"] and user["emailVerified"]
    assert (user["username"], user["firstName"], user["lastName"]) == (name, "Zoë", "O'Neil")
    assert user["attributes"]["locale"] == ["de"]  # type: ignore[index]
    assert password_grant(realm.server_url, realm.realm, realm.login_client_id, name, PASSWORD)
    assert data_result(browser.open_link(complete_link(mail, service))) == (
        "recovery_token_expired"
    )


def test_second_signup_with_same_email_sends_account_exists_mail(
    browser: Browser,
    sink: SmtpSink,
    service: ServiceHandle,
    account: Account,
    admin: KeycloakAdmin,
) -> None:
    email = account.user.email
    response = sign_up(
        browser,
        first_name="Again",
        last_name="Me",
        email=email,
        username=f"other{secrets.token_hex(3)}",
    )
    assert response.status_code == 200 and data_result(response) == "success"
    mail = wait_count(sink, email, "already have", 1)[0]
    assert "/reset-password?token=" in mail.text_body()
    assert len(users_with_email(admin, email)) == 1


def test_existing_and_new_emails_get_identical_answers(
    service: ServiceHandle, account: Account
) -> None:
    def answer(email: str) -> requests.Response:
        return sign_up(
            Browser(service.url),
            first_name="Same",
            last_name="Answer",
            email=email,
            username=f"u{secrets.token_hex(4)}",
        )

    existing, new = answer(account.user.email), answer(f"fresh{secrets.token_hex(4)}@example.org")
    assert existing.status_code == new.status_code == 200
    assert existing.content == new.content
    skip = {"date"}
    assert {k: v for k, v in existing.headers.items() if k.lower() not in skip} == {
        k: v for k, v in new.headers.items() if k.lower() not in skip
    }


def test_default_groups_and_disabled_signup(
    realm: RealmInfo,
    sink: SmtpSink,
    tmp_path: Path,
    admin: KeycloakAdmin,
    new_store: Callable[[Path], str],
) -> None:
    admin.create_group({"name": "customers"}, skip_exists=True)
    grouped = ServiceHandle.start(
        realm,
        sink,
        tmp_path / "grouped",
        database_url=new_store(tmp_path / "grouped"),
        signup_default_groups=["/customers"],
    )
    try:
        name = f"grp{secrets.token_hex(4)}"
        response = requests.post(
            grouped.url + "/api/v1/signups",
            json={
                "email": f"{name}@example.org",
                "first_name": "Group",
                "last_name": "Member",
                "username": name,
            },
            timeout=10,
        )
        assert response.status_code == 202
        mail = wait_count(sink, f"{name}@example.org", "Confirm your email", 1)[0]
        token = complete_link(mail, grouped).split("token=")[1]
        created = requests.post(
            grouped.url + "/api/v1/signups/complete",
            json={"token": token, "password": PASSWORD, "password_confirmation": PASSWORD},
            timeout=30,
        )
        assert created.status_code == 201, created.text
        [user] = users_with_email(admin, f"{name}@example.org")
        assert [g["path"] for g in admin.get_user_groups(str(user["id"]))] == ["/customers"]
    finally:
        grouped.stop()

    disabled = ServiceHandle.start(
        realm,
        sink,
        tmp_path / "off",
        database_url=new_store(tmp_path / "off"),
        signup_enabled=False,
    )
    try:
        assert requests.get(disabled.url + "/signup", timeout=10).status_code == 404
        assert (
            requests.post(disabled.url + "/api/v1/signups", json={}, timeout=10).status_code == 404
        )
        assert requests.get(disabled.url + "/forgot-password", timeout=10).status_code == 200
    finally:
        disabled.stop()
