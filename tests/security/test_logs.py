"""No secret in the service's logs, across a whole reset and a whole sign-up; real stack.

A real Keycloak, a real SMTP server and the service over HTTP (tests/conftest.py's session
fixtures). The test runs both flows end to end, with a refused password each and a second use
of each spent link, then reads everything logged in this process (the service, its worker,
its Keycloak client) except the test's own SMTP server and the test's own HTTP client, which
of course see the links. No token, password, CSRF value, client secret or secret key may
appear; and the audit lines must be there, so that the check is not vacuous.
"""

from __future__ import annotations

import logging
import re
import secrets

import pytest
import requests

from keycloak_pwreset_demo.smtp_sink import SmtpSink
from keycloak_pwreset_demo.stack import ServiceHandle
from tests.helpers import Account, Browser, data_result, reset_link
from tests.integration.test_reset_flow import wait_count
from tests.integration.test_signup_flow import complete_link


class RecordingBrowser(Browser):
    """A browser that remembers every CSRF value it was given."""

    def __init__(self, base_url: str) -> None:
        super().__init__(base_url)
        self.csrf_values: set[str] = set()

    def csrf(self, path: str) -> str:
        token = super().csrf(path)
        self.csrf_values.add(token)
        cookie = self.http.cookies.get("kcpr_csrf")
        if cookie:
            self.csrf_values.add(cookie)
        return token

    def post_form(self, path: str, csrf_from: str = "", **fields: str) -> requests.Response:
        """Post like the page's form; a dead link's page has no form, any other page's
        CSRF value does as well (one per browser)."""
        return self.http.post(
            self.base + path,
            data={**fields, "csrf_token": self.csrf(csrf_from or path)},
            timeout=30,
            allow_redirects=False,
        )


def service_records(caplog: pytest.LogCaptureFixture, service: ServiceHandle) -> list[str]:
    """Every record of this process as text (message, extra fields, traceback), except the
    test's SMTP server (mail.log) and the test's HTTP client (urllib3 lines to the service)."""
    port = service.url.rsplit(":", 1)[1]
    texts = []
    for record in caplog.records:
        message = record.getMessage()
        if record.name.startswith("mail.log"):
            continue
        if record.name.startswith("urllib3") and f":{port} " in message:
            continue
        fields = " ".join(str(value) for value in vars(record).values())
        texts.append(f"{record.name} {message} {fields} {record.exc_text or ''}")
    return texts


def test_no_secret_in_the_logs_of_a_reset_and_a_signup(
    caplog: pytest.LogCaptureFixture, service: ServiceHandle, sink: SmtpSink, account: Account
) -> None:
    caplog.set_level(logging.DEBUG)
    browser = RecordingBrowser(service.url)
    unique = secrets.token_hex(4)
    passwords = {
        "reset_weak": "Sh0rtx",
        "reset": f"Reset-{unique}-Log9",
        "signup_weak": f"weakpass{unique}1",
        "signup": f"Signup-{unique}-Log9",
    }

    # -- the reset: ask, a refused password, the new one, the spent link twice more
    email = account.user.email
    asked = browser.post_form("/forgot-password", identifier=email)
    assert asked.status_code == 200
    reset_url = reset_link(wait_count(sink, email, "Reset your password", 1)[0], service)
    reset_token = reset_url.split("token=", 1)[1]
    browser.open_link(reset_url)
    weak = browser.post_form(
        "/reset-password",
        password=passwords["reset_weak"],
        password_confirmation=passwords["reset_weak"],
    )
    assert data_result(weak) not in (None, "success"), weak.text
    done = browser.post_form(
        "/reset-password",
        password=passwords["reset"],
        password_confirmation=passwords["reset"],
    )
    assert done.status_code == 200, done.text
    wait_count(sink, email, "password was changed", 1)
    browser.open_link(reset_url)
    again = browser.post_form(
        "/reset-password",
        csrf_from="/forgot-password",
        password=passwords["reset"],
        password_confirmation=passwords["reset"],
    )
    assert data_result(again) == "recovery_token_expired"
    api_again = requests.post(
        service.url + "/api/v1/password-resets/complete",
        json={
            "token": reset_token,
            "password": passwords["reset"],
            "password_confirmation": passwords["reset"],
        },
        timeout=30,
    )
    assert api_again.status_code == 410

    # -- the sign-up: ask, a refused password, the account, the spent link again
    name = f"log{unique}z9"
    new_email = f"{name}@example.org"
    form = browser.http.get(service.url + "/signup", timeout=10).text
    fields = {"first_name": "Log", "last_name": "Tester", "email": new_email}
    if 'name="username"' in form:
        fields["username"] = name
    asked = browser.post_form("/signup", **fields)
    assert asked.status_code == 200 and data_result(asked) == "success", asked.text
    signup_url = complete_link(wait_count(sink, new_email, "Confirm your email", 1)[0], service)
    signup_token = signup_url.split("token=", 1)[1]
    browser.open_link(signup_url)
    weak = browser.post_form(
        "/signup/complete",
        password=passwords["signup_weak"],
        password_confirmation=passwords["signup_weak"],
    )
    assert data_result(weak) not in (None, "success"), weak.text
    done = browser.post_form(
        "/signup/complete",
        password=passwords["signup"],
        password_confirmation=passwords["signup"],
    )
    assert done.status_code == 201, done.text
    browser.open_link(signup_url)
    again = browser.post_form(
        "/signup/complete",
        csrf_from="/signup",
        password=passwords["signup"],
        password_confirmation=passwords["signup"],
    )
    assert data_result(again) == "recovery_token_expired"

    # -- what the service logged
    logged = service_records(caplog, service)
    everything = "\n".join(logged)
    # The audit trail is there, so the checks below read something real.
    assert re.search(r"sent reset email", everything), everything[-3000:]
    assert re.search(r"password[ _]changed", everything), everything[-3000:]
    assert re.search(r"sent signup email", everything), everything[-3000:]
    assert re.search(r"sign-?up[ _]completed", everything), everything[-3000:]
    assert browser.csrf_values
    settings = service.settings
    secrets_used = {
        "reset token": reset_token,
        "sign-up token": signup_token,
        **{f"password ({what})": value for what, value in passwords.items()},
        **{f"CSRF value {i}": value for i, value in enumerate(sorted(browser.csrf_values))},
        "client secret": settings.client_secret.get_secret_value(),
        "secret key": settings.secret_key.get_secret_value(),
    }
    for what, value in secrets_used.items():
        leaks = [line for line in logged if value in line]
        assert not leaks, f"the {what} is in the logs:\n" + "\n".join(leaks)[:3000]
