"""One real Keycloak, one real SMTP server and the service, started once per test run.

Everything runs as local processes on 127.0.0.1 through the same machinery as
`keycloak-pwreset demo` (keycloak_pwreset.demo.stack).
"""

from __future__ import annotations

import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from keycloak import KeycloakAdmin

from keycloak_pwreset.demo.realm import RealmInfo
from keycloak_pwreset.demo.smtp_sink import ReceivedMail, SmtpSink
from keycloak_pwreset.demo.stack import DemoUser, KeycloakHandle, ServiceHandle

FIGURES: dict[str, str] = {}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if "tests/integration" in str(item.path):
            item.add_marker(pytest.mark.integration)


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if FIGURES:
        terminalreporter.section("integration figures")
        for key, value in FIGURES.items():
            terminalreporter.write_line(f"{key}: {value}")


@pytest.fixture(scope="session")
def keycloak(tmp_path_factory: pytest.TempPathFactory) -> Iterator[KeycloakHandle]:
    started = time.monotonic()
    handle = KeycloakHandle.start(tmp_path_factory.mktemp("keycloak"))
    FIGURES["keycloak start (s)"] = f"{time.monotonic() - started:.1f}"
    yield handle
    handle.stop()


@pytest.fixture(scope="session")
def realm(keycloak: KeycloakHandle) -> RealmInfo:
    return keycloak.new_realm(f"it-{secrets.token_hex(3)}")


@pytest.fixture(scope="session")
def sink() -> Iterator[SmtpSink]:
    server = SmtpSink()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="session")
def service(
    realm: RealmInfo, sink: SmtpSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ServiceHandle]:
    handle = ServiceHandle.start(realm, sink, tmp_path_factory.mktemp("service"))
    yield handle
    handle.stop()


@pytest.fixture(scope="session")
def admin(keycloak: KeycloakHandle, realm: RealmInfo) -> KeycloakAdmin:
    """Keycloak's admin API on the test realm, to look at what the service did."""
    server = keycloak.server
    return KeycloakAdmin(
        server_url=server.url,
        username=server.admin_user,
        password=server.admin_password,
        realm_name=realm.realm,
        user_realm_name="master",
    )


@dataclass(frozen=True)
class Account:
    user: DemoUser
    id: str


@pytest.fixture
def account(keycloak: KeycloakHandle, realm: RealmInfo) -> Account:
    """A fresh user per test, so tests never depend on each other's passwords."""
    name = f"user{secrets.token_hex(4)}"
    user = DemoUser(name, f"{name}@example.org", "Original-pass1", "Test", "Person")
    return Account(user, keycloak.add_user(realm.realm, user))


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


@pytest.fixture
def browser(service: ServiceHandle) -> Browser:
    return Browser(service.url)


def reset_link(mail: ReceivedMail, service: ServiceHandle) -> str:
    match = re.search(re.escape(service.url) + r"/reset-password\?token=[\w-]+", mail.text_body())
    assert match, mail.text_body()
    return match.group(0)


def wait_for_reset_mail(sink: SmtpSink, to: str, timeout: float = 30.0) -> ReceivedMail:
    return sink.wait_for(lambda m: "Reset your password" in m.subject, to=to, timeout=timeout)


def data_result(response: requests.Response) -> str | None:
    match = re.search(r'data-result="([a-z_]+)"', response.text)
    return match.group(1) if match else None


ARTIFACTS = Path("artifacts")
