"""Password reset end to end: real Keycloak, real SMTP server, the service over HTTP."""

from __future__ import annotations

import re
import threading
import time

import pytest
import requests

from keycloak_pwreset_demo.realm import RealmInfo, password_grant
from keycloak_pwreset_demo.smtp_sink import ReceivedMail, SmtpSink
from keycloak_pwreset_demo.stack import ServiceHandle
from tests.helpers import (
    FIGURES,
    Account,
    Browser,
    data_result,
    reset_link,
    way_back,
)

# Also run on Keycloak 24 and 25 by tests/run (keycloak_pwreset/keycloak_versions.py).
pytestmark = pytest.mark.keycloak_core

NEW_PASSWORD = "Fresh-start9"


def mails(sink: SmtpSink, to: str, subject: str) -> list[ReceivedMail]:
    return [m for m in sink.messages if to in m.rcpt_tos and subject in m.subject]


def wait_count(
    sink: SmtpSink, to: str, subject: str, count: int, timeout: float = 30.0
) -> list[ReceivedMail]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = mails(sink, to, subject)
        if len(found) >= count:
            return found
        time.sleep(0.1)
    others = [m.subject for m in sink.messages if to in m.rcpt_tos]
    raise AssertionError(
        f"expected {count} mail(s) {subject!r} to {to}, got {len(found)}; "
        f"all mails to {to}: {others}"
    )


def failed_attempts(service: ServiceHandle) -> int:
    with service.services.db.engine.connect() as conn:
        rows = conn.exec_driver_sql("SELECT attempts FROM outbox WHERE last_error != ''")
        return max((int(r[0]) for r in rows), default=0)


def can_log_in(realm: RealmInfo, username: str, password: str) -> bool:
    return password_grant(realm.server_url, realm.realm, realm.login_client_id, username, password)


def request_link(
    browser: Browser, sink: SmtpSink, service: ServiceHandle, who: str, to: str
) -> str:
    before = len(mails(sink, to, "Reset your password"))
    response = browser.ask_for_link(who)
    assert response.status_code == 200
    found = wait_count(sink, to, "Reset your password", before + 1)
    return reset_link(found[-1], service)


def test_reset_end_to_end(
    browser: Browser, sink: SmtpSink, service: ServiceHandle, realm: RealmInfo, account: Account
) -> None:
    user = account.user
    started = time.monotonic()
    response = browser.ask_for_link(user.email)
    assert response.status_code == 200
    assert 'data-result="success"' in response.text
    mail = wait_count(sink, user.email, "Reset your password", 1)[0]
    FIGURES["request → email received (s)"] = f"{time.monotonic() - started:.2f}"

    # The real message: alias From, configured Reply-To and envelope sender.
    assert mail.mail_from == "bounces@demo.example"
    assert mail.message["From"].addresses[0].addr_spec == "account-help@demo.example"
    assert mail.message["From"].addresses[0].display_name == "Demo Account Help"
    assert mail.message["Reply-To"] == "support@demo.example"
    assert mail.html_body() and mail.text_body()
    link = reset_link(mail, service)

    page = browser.open_link(link)
    assert page.status_code == 200
    assert page.url == service.url + "/reset-password"  # the token left the URL
    assert page.headers["Referrer-Policy"] == "no-referrer"

    # Keycloak's own policy decides, and its specific rule is shown.
    for weak, code in [
        ("Sh0rt", "invalid_password_length"),
        ("no-digits-Here", "must_contain_numbers_and_characters"),
        ("alllower-case1", "password_missing_character_variety"),
        (user.username, "invalid_password_length" if len(user.username) < 8 else None),
        ("Original-pass1", "violating_reuse_rules"),
    ]:
        if code is None:
            continue
        rejected = browser.set_password(weak)
        assert rejected.status_code == 200, weak
        assert data_result(rejected) == code, (weak, rejected.text[:500])

    mismatch = browser.set_password(NEW_PASSWORD, NEW_PASSWORD + "x")
    assert data_result(mismatch) == "mismatched_passwords"

    done = browser.set_password(NEW_PASSWORD)
    assert way_back(done) == (
        f"{realm.server_url}/realms/{realm.realm}/account?kcpr_status=password_changed"
    )

    assert can_log_in(realm, user.username, NEW_PASSWORD)
    assert not can_log_in(realm, user.username, user.password)

    # The link is spent: the same one message as for any dead link.
    again = browser.open_link(link)
    assert data_result(again) == "recovery_token_expired"
    reused = requests.post(
        service.url + "/api/v1/password-resets/complete",
        json={
            "token": link.split("token=")[1],
            "password": "Other-pass42",
            "password_confirmation": "Other-pass42",
        },
        timeout=10,
    )
    assert reused.status_code == 410
    assert reused.json()["result"] == "recovery_token_expired"

    notice = wait_count(sink, user.email, "password was changed", 1)[0]
    assert "/forgot-password" in notice.text_body()


def test_password_equal_to_username_is_refused_with_identity_code(
    browser: Browser, sink: SmtpSink, service: ServiceHandle, keycloak: object, realm: RealmInfo
) -> None:
    from keycloak_pwreset_demo.stack import DemoUser, KeycloakHandle

    assert isinstance(keycloak, KeycloakHandle)
    user = DemoUser("Longname9User", "longname@example.org", "Original-pass1", "Long", "Name")
    keycloak.add_user(realm.realm, user)
    browser.open_link(request_link(browser, sink, service, user.email, user.email))
    rejected = browser.set_password("Longname9User")
    # The screening refuses it first (as personal), on every Keycloak version; without it,
    # Keycloak 26 would answer password_contains_identity (24 and 25 compare exactly).
    assert data_result(rejected) == "password_too_common"
    assert 'data-rule="notUsername" class="broken"' in rejected.text


def test_known_and_unknown_accounts_get_identical_responses(
    service: ServiceHandle, account: Account
) -> None:
    def exchange(identifier: str) -> tuple[str, requests.Response]:
        browser = Browser(service.url)
        page = browser.http.get(service.url + "/forgot-password", timeout=10)
        token = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
        assert token
        posted = browser.http.post(
            service.url + "/forgot-password",
            data={"identifier": identifier, "csrf_token": token.group(1)},
            timeout=10,
        )
        return page.text.replace(token.group(1), "CSRF"), posted

    known_form, known = exchange(account.user.email)
    unknown_form, unknown = exchange("nobody-" + account.user.email)
    assert known_form == unknown_form
    assert known.status_code == unknown.status_code == 200
    assert known.content == unknown.content
    skip = {"date"}
    assert {k: v for k, v in known.headers.items() if k.lower() not in skip} == {
        k: v for k, v in unknown.headers.items() if k.lower() not in skip
    }
    api_known = requests.post(
        service.url + "/api/v1/password-resets",
        json={"identifier": account.user.username},
        timeout=10,
    )
    api_unknown = requests.post(
        service.url + "/api/v1/password-resets", json={"identifier": "ghost-user-x"}, timeout=10
    )
    assert api_known.status_code == api_unknown.status_code == 202
    assert api_known.content == api_unknown.content


def test_superseded_link_no_longer_works(
    browser: Browser, sink: SmtpSink, service: ServiceHandle, account: Account
) -> None:
    user = account.user
    first = request_link(browser, sink, service, user.username, user.email)
    second = request_link(browser, sink, service, user.username, user.email)
    assert first != second
    assert data_result(browser.open_link(first)) == "recovery_token_expired"
    browser.open_link(second)
    assert browser.set_password(NEW_PASSWORD).status_code == 200


def test_simultaneous_submissions_change_the_password_once(
    browser: Browser, sink: SmtpSink, service: ServiceHandle, realm: RealmInfo, account: Account
) -> None:
    user = account.user
    token = request_link(browser, sink, service, user.email, user.email).split("token=")[1]
    results: list[tuple[int, str]] = []
    barrier = threading.Barrier(10)

    def submit(n: int) -> None:
        password = f"Parallel-{n}-pass"
        barrier.wait()
        response = requests.post(
            service.url + "/api/v1/password-resets/complete",
            json={"token": token, "password": password, "password_confirmation": password},
            timeout=30,
        )
        results.append((response.status_code, password))

    threads = [threading.Thread(target=submit, args=(n,)) for n in range(10)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [password for status, password in results if status == 200]
    assert len(winners) == 1, results
    assert sorted(status for status, _ in results) == [200] + [410] * 9
    assert can_log_in(realm, user.username, winners[0])
    losers = [p for _, p in results if p != winners[0]]
    assert not any(can_log_in(realm, user.username, p) for p in losers[:3])


def test_reset_logs_out_existing_sessions(
    browser: Browser, sink: SmtpSink, service: ServiceHandle, realm: RealmInfo, account: Account
) -> None:
    user = account.user
    token_url = f"{realm.server_url}/realms/{realm.realm}/protocol/openid-connect/token"
    session = requests.post(
        token_url,
        data={
            "grant_type": "password",
            "client_id": realm.login_client_id,
            "username": user.username,
            "password": user.password,
        },
        timeout=10,
    ).json()
    assert "refresh_token" in session
    browser.open_link(request_link(browser, sink, service, user.email, user.email))
    assert browser.set_password(NEW_PASSWORD).status_code == 200
    # The worker ends the sessions right after the answer, before it sends the notice.
    wait_count(sink, user.email, "password was changed", 1)
    refreshed = requests.post(
        token_url,
        data={
            "grant_type": "refresh_token",
            "client_id": realm.login_client_id,
            "refresh_token": session["refresh_token"],
        },
        timeout=10,
    )
    assert refreshed.status_code == 400  # the old session is gone


def test_smtp_down_then_the_email_arrives_when_it_is_back(
    browser: Browser, sink: SmtpSink, service: ServiceHandle, account: Account
) -> None:
    user = account.user
    sink.stop()
    try:
        assert browser.ask_for_link(user.email).status_code == 200  # no error shows
        deadline = time.monotonic() + 20
        while service.services.outbox.pending_count() and time.monotonic() < deadline:
            row_failed = (
                service.services.db.engine.connect()
                .exec_driver_sql("SELECT attempts FROM outbox")
                .scalars()
                .all()
            )
            if row_failed and max(row_failed) >= 1:
                break
            time.sleep(0.2)
        assert service.services.outbox.pending_count() == 1
    finally:
        sink.start()
    mail = wait_count(sink, user.email, "Reset your password", 1, timeout=60)[0]
    browser.open_link(reset_link(mail, service))
    assert browser.set_password(NEW_PASSWORD).status_code == 200


def test_common_and_personal_passwords_are_refused_before_keycloak(
    browser: Browser, sink: SmtpSink, service: ServiceHandle, keycloak: object, realm: RealmInfo
) -> None:
    from keycloak_pwreset_demo.stack import DemoUser, KeycloakHandle

    assert isinstance(keycloak, KeycloakHandle)
    user = DemoUser("Marguerite", "marguerite@example.org", "Original-pass1", "Mar", "Guerite")
    keycloak.add_user(realm.realm, user)
    browser.open_link(request_link(browser, sink, service, user.email, user.email))
    # Each meets the realm's own rules (length, digit, both cases): only the screening refuses.
    for password in ("Password123!", "Summer2026!", "Marguerite2024"):
        refused = browser.set_password(password)
        assert data_result(refused) == "password_too_common", password
        assert 'data-rule="screening" class="broken"' in refused.text
    assert not can_log_in(realm, "marguerite", "Password123!")
    # A four-word passphrase (with the capital and digit this realm asks for) passes.
    assert browser.set_password("Lamp orbit velvet cactus 7").status_code == 200
    assert can_log_in(realm, "marguerite", "Lamp orbit velvet cactus 7")
