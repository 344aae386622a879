"""The admin console in a real Chromium, signed in through the real Keycloak's login page.

The console's client and role are made as `setup-realm --public-url` makes them
(operator/console_setup.py). The administrator's browser runs with JavaScript
switched off: the console and Keycloak's login form work without it. Screenshots
of every console page go to artifacts/e2e/<test>/.
"""

from __future__ import annotations

import re
import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from keycloak import KeycloakAdmin
from playwright.sync_api import Browser, Page

from keycloak_pwreset.operator.console_setup import (
    apply_console_plan,
    plan_console,
    read_console_state,
)
from keycloak_pwreset_demo.ports import free_port
from keycloak_pwreset_demo.realm import RealmInfo
from keycloak_pwreset_demo.smtp_sink import SmtpSink
from keycloak_pwreset_demo.stack import KeycloakHandle, ServiceHandle
from tests.conftest import TEST_LIMITS
from tests.e2e.conftest import ARTIFACTS, Steps
from tests.e2e.test_browser_flows import link_in
from tests.helpers import Account, reset_link
from tests.integration.test_admin_api import PASSWORD, ROLE, access_token, person
from tests.integration.test_reset_flow import wait_count

CONSOLE_CLIENT = "keycloak-pwreset-admin"
GROUP = "e2e-staff"
INVITE_SUBJECT = "You are invited to "


@pytest.fixture(scope="module")
def console_service(
    realm: RealmInfo,
    sink: SmtpSink,
    admin: KeycloakAdmin,
    tmp_path_factory: pytest.TempPathFactory,
    new_store: Callable[[Path], str],
) -> Iterator[ServiceHandle]:
    port = free_port()
    public = f"http://127.0.0.1:{port}"
    state = read_console_state(admin, CONSOLE_CLIENT, ROLE)
    apply_console_plan(
        admin, plan_console(state, client_id=CONSOLE_CLIENT, role=ROLE, public_url=public)
    )
    secret = admin.get_client_secrets(admin.get_client_id(CONSOLE_CLIENT))["value"]
    admin.create_group({"name": GROUP}, skip_exists=True)
    work = tmp_path_factory.mktemp("console-e2e")
    handle = ServiceHandle.start(
        realm,
        sink,
        work,
        port=port,
        database_url=new_store(work),
        limits=TEST_LIMITS,
        console={"client_id": CONSOLE_CLIENT, "client_secret": secret},
    )
    yield handle
    handle.stop()


def browser_steps(
    chromium: Browser, name: str, expected: str = "^$"
) -> tuple[Steps, Callable[[], None]]:
    """A browser without JavaScript, its screenshots under artifacts/e2e/<name>/.

    ``expected``: the console errors the test expects (the 403 it asserts), as a regex.
    """
    folder = ARTIFACTS / name
    for old in folder.glob("*.png") if folder.exists() else []:
        old.unlink()
    folder.mkdir(parents=True, exist_ok=True)
    context = chromium.new_context(locale="en-US", java_script_enabled=False)
    recorder = Steps(context.new_page(), folder)

    def close() -> None:
        context.close()
        recorder.errors = [e for e in recorder.errors if not re.search(expected, e)]
        assert recorder.errors == [], "the browser logged errors:\n" + "\n".join(recorder.errors)

    return recorder, close


def keycloak_sign_in(steps: Steps, service: ServiceHandle, username: str) -> None:
    page = steps.page
    page.goto(service.url + "/admin")
    steps.shot("console-signed-out")
    page.click("a.button")  # "Sign in with <realm>"
    page.wait_for_selector("#kc-form-login")
    page.fill("#username", username)
    page.fill("#password", PASSWORD)
    steps.shot("keycloak-login")
    page.click("#kc-login")


def submit(page: Page, form: str) -> None:
    page.click(f"{form} button[type=submit]")


def accept_invitation(page: Page, link: str, password: str) -> None:
    page.goto(link)
    page.wait_for_selector("#password")
    if page.locator("#username").count():
        page.fill("#username", f"inv{secrets.token_hex(3)}")
    page.fill("#password", password)
    page.fill("#password_confirmation", password)
    page.click("button[type=submit]")


def test_the_console_signed_in_through_keycloak(
    chromium: Browser,
    console_service: ServiceHandle,
    keycloak: KeycloakHandle,
    realm: RealmInfo,
    admin: KeycloakAdmin,
    sink: SmtpSink,
    account: Account,
) -> None:
    service = console_service
    email = account.user.email
    assert (
        requests.post(
            service.url + "/api/v1/password-resets", json={"identifier": email}, timeout=30
        ).status_code
        == 202
    )
    [mail] = wait_count(sink, email, "Reset your password", 1)
    emailed_link = reset_link(mail, service)

    steps, close = browser_steps(chromium, "test_console_pages")
    page = steps.page
    keycloak_sign_in(steps, service, person(keycloak, realm, admin))
    page.wait_for_url(service.url + "/admin")
    assert page.inner_text("h1") == "Open requests"

    # The pending reset, found by its address; revoking it kills the emailed link.
    page.fill("#address", email)
    submit(page, "form.filter")
    assert email in page.inner_text("table")
    steps.shot("console-open-requests")
    page.click("tr[data-link] form[action$='/revoke'] button")
    assert "done" in page.inner_text("p.alert.success")
    steps.shot("console-revoked")
    dead = requests.get(emailed_link, timeout=30)
    assert dead.status_code == 400 and "This link no longer works" in dead.text

    page.click("nav.sections a[href='/admin/outbox']")
    assert page.inner_text("h1") == "Outbox"
    steps.shot("console-outbox")

    # An invitation from the console: it arrives, is accepted, the account is in its group.
    page.click("nav.sections a[href='/admin/invitations']")
    invitee = f"inv{secrets.token_hex(4)}@example.org"
    page.fill("#email", invitee)
    page.fill("#first_name", "Ines")
    # Names are optional; a realm whose profile requires them (Keycloak's default) then
    # asks for them at the first sign-in, which a direct grant cannot answer.
    page.fill("#last_name", "Invited")
    page.check(f"input[name=groups][value='/{GROUP}']")
    steps.shot("console-invitations")
    submit(page, "form[action$='/admin/invitations']")
    assert "queued" in page.inner_text("p.alert.success")
    [invitation] = wait_count(sink, invitee, INVITE_SUBJECT, 1)
    accept_invitation(page, link_in(invitation.text_body(), service, "/invitation"), PASSWORD)
    page.wait_for_selector("#continue")  # "Welcome", and the way to sign in
    steps.shot("invitation-accepted")
    [user] = admin.get_users({"email": invitee, "exact": True})
    assert user["enabled"] and user["emailVerified"]
    assert [g["path"] for g in admin.get_user_groups(user["id"])] == [f"/{GROUP}"]
    assert access_token(realm, user["username"])  # the new account signs in
    page.goto(service.url + "/admin/invitations")
    assert "accepted" in page.inner_text("table")
    steps.shot("console-invitation-accepted")

    page.click("nav.sections a[href='/admin/accounts']")
    page.fill("#q", account.user.username)
    submit(page, "form.filter")
    assert account.id in page.inner_text("table")
    steps.shot("console-accounts")
    page.click("nav.sections a[href='/admin/emails']")
    page.select_option("#kind", "invite")
    page.select_option("#locale", "de")
    submit(page, "form.filter")
    assert "Sie wurden" in page.inner_text("pre")
    steps.shot("console-email-previews")
    page.goto(service.url + "/admin/settings?check=1")
    assert "ok" in page.inner_text("td.state-ok")
    assert realm.client_secret not in page.content()
    steps.shot("console-settings")

    page.click("nav.sections button[type=submit]")  # sign out, through Keycloak
    page.wait_for_url(service.url + "/admin")
    assert page.inner_text("a.button").startswith("Sign in")
    steps.shot("console-signed-out-again")
    close()


def test_an_account_without_the_role_gets_403(
    chromium: Browser, console_service: ServiceHandle, keycloak: KeycloakHandle, realm: RealmInfo
) -> None:
    refused = r"status of 403 \(Forbidden\) \(http://127\.0\.0\.1:\d+/admin/callback\?"
    steps, close = browser_steps(chromium, "test_console_no_role", refused)
    keycloak_sign_in(steps, console_service, person(keycloak, realm, None))
    steps.page.wait_for_selector("h1")
    assert steps.page.inner_text("h1") == "No access"
    steps.shot("console-no-access")
    steps.page.goto(console_service.url + "/admin")
    assert steps.page.inner_text("a.button").startswith("Sign in")  # no session was made
    close()


def test_an_invitation_from_the_api_is_accepted(
    console_service: ServiceHandle,
    keycloak: KeycloakHandle,
    realm: RealmInfo,
    admin: KeycloakAdmin,
    sink: SmtpSink,
) -> None:
    service = console_service
    headers = {"authorization": f"Bearer {access_token(realm, person(keycloak, realm, admin))}"}
    invitee = f"api{secrets.token_hex(4)}@example.org"
    body = {
        "email": invitee,
        "first_name": "Ana",
        "last_name": "Api",
        "groups": [f"/{GROUP}"],
        "locale": "fr",
    }
    sent = requests.post(
        service.url + "/admin/api/v1/invitations", json=body, headers=headers, timeout=30
    )
    assert sent.status_code == 202, sent.text
    [mail] = wait_count(sink, invitee, "", 1)
    link = link_in(mail.text_body(), service, "/invitation")
    browser = requests.Session()
    page = browser.get(link, timeout=30)  # moves the token into its cookie
    csrf = re.search(r'name="csrf_token" value="([0-9a-f]{64})"', page.text)
    assert csrf, page.text
    form = {"password": PASSWORD, "password_confirmation": PASSWORD, "csrf_token": csrf.group(1)}
    if 'name="username"' in page.text:
        form["username"] = f"api{secrets.token_hex(3)}"
    done = browser.post(service.url + "/invitation", data=form, allow_redirects=False, timeout=30)
    assert done.status_code == 201 and "kcpr_status=account_created" in done.text, done.text
    [user] = admin.get_users({"email": invitee, "exact": True})
    assert [g["path"] for g in admin.get_user_groups(user["id"])] == [f"/{GROUP}"]
    assert access_token(realm, user["username"])
    listed = requests.get(
        service.url + "/admin/api/v1/invitations",
        params={"state": "accepted"},
        headers=headers,
        timeout=30,
    )
    assert invitee in [row["email"] for row in listed.json()]
