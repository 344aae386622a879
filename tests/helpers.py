"""Helpers the integration and end-to-end tests share (the fixtures live in tests/conftest.py)."""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any

import requests

from keycloak_pwreset_demo.smtp_sink import ReceivedMail, SmtpSink
from keycloak_pwreset_demo.stack import DemoUser, ServiceHandle

FIGURES: dict[str, str] = {}


@dataclass(frozen=True)
class Account:
    user: DemoUser
    id: str


class Browser:
    """A requests session that behaves like a browser with the service's forms."""

    def __init__(self, base_url: str) -> None:
        self.base = base_url
        self.http = requests.Session()

    def csrf(self, path: str) -> str:
        page = self.http.get(self.base + path, timeout=10)
        match = re.search(r'name="csrf_token" value="([0-9a-f]+)"', page.text)
        assert match, page.text
        return match.group(1)

    def ask_for_link(self, identifier: str) -> requests.Response:
        token = self.csrf("/forgot-password")
        return self.http.post(
            self.base + "/forgot-password",
            data={"identifier": identifier, "csrf_token": token},
            timeout=10,
        )

    def open_link(self, link: str) -> requests.Response:
        return self.http.get(link, timeout=10, allow_redirects=True)

    def set_password(self, password: str, confirmation: str | None = None) -> requests.Response:
        token = self.csrf("/reset-password")
        return self.http.post(
            self.base + "/reset-password",
            data={
                "password": password,
                "password_confirmation": password if confirmation is None else confirmation,
                "csrf_token": token,
            },
            timeout=30,
            allow_redirects=False,
        )


def reset_link(mail: ReceivedMail, service: ServiceHandle) -> str:
    match = re.search(re.escape(service.url) + r"/reset-password\?token=[\w-]+", mail.text_body())
    assert match, mail.text_body()
    return match.group(0)


def wait_for_reset_mail(sink: SmtpSink, to: str, timeout: float = 30.0) -> ReceivedMail:
    return sink.wait_for(lambda m: "Reset your password" in m.subject, to=to, timeout=timeout)


def data_result(response: requests.Response) -> str | None:
    match = re.search(r'data-result="([a-z_]+)"', response.text)
    return match.group(1) if match else None


def way_back(done: Any) -> str:
    """Where a success page's one button, "Continue to sign in", leads (any HTTP client)."""
    text = str(done.text)
    assert done.status_code in (200, 201), text[:500]
    match = re.search(r'<a class="button" id="continue" href="([^"]+)"', text)
    assert match, text[:2000]
    return html.unescape(match.group(1))
