"""The site's name: KCPR_SITE_NAME, else the realm's display name, else its name."""

from __future__ import annotations

import threading
import time

import pytest

from keycloak_pwreset.commands.templates import run_check_templates
from keycloak_pwreset.errors import KeycloakUnavailable
from keycloak_pwreset.services import Services, build_services
from keycloak_pwreset.site_name import REFRESH_SECONDS, SiteName
from keycloak_pwreset.store.db import Database
from tests.unit.conftest import make_settings
from tests.unit.fakes import FakeClock, FakeKeycloak, MemoryTransport
from tests.unit.test_flows_reset import request_link


def test_override_display_name_and_fallbacks() -> None:
    now = [0.0]
    names = ["Acme  Staff\nPortal"]

    def display_name() -> str:
        if not names:
            raise KeycloakUnavailable("down")
        return names[0]

    site = SiteName("acme-prod", None, display_name, clock=lambda: now[0])
    assert site() == "Acme Staff Portal"  # folded to one line: it goes into subjects
    names.clear()
    now[0] += REFRESH_SECONDS
    assert site() == "Acme Staff Portal"  # Keycloak down: the last name known
    assert SiteName("acme-prod", "Acme Help", display_name)() == "Acme Help"
    assert SiteName("acme-prod", None, lambda: "")() == "acme-prod"
    assert SiteName("acme-prod", None, display_name)() == "acme-prod"  # never known


def test_pages_never_wait_for_keycloak() -> None:
    release = threading.Event()

    def slow() -> str:
        release.wait(5)
        return "Acme Staff Portal"

    site = SiteName("acme-prod", None, slow)
    started = time.monotonic()
    assert site.now() == "acme-prod"  # not known yet: the realm's name, at once
    assert time.monotonic() - started < 1
    release.set()
    deadline = time.monotonic() + 5
    while site.now() != "Acme Staff Portal" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert site.now() == "Acme Staff Portal"


def test_emails_and_pages_name_the_realm_as_people_know_it(
    keycloak: FakeKeycloak, db: Database, clock: FakeClock, transport: MemoryTransport
) -> None:
    keycloak.display_name = "Acme Staff Portal"
    services: Services = build_services(
        make_settings(), gateway=keycloak, transport=transport, db=db, clock=clock
    )
    request_link(services, transport)
    mail = transport.sent[-1]
    assert "Acme Staff Portal" in mail.message["Subject"]
    text = mail.message.get_body(("plain",)).get_content()
    assert "Acme Staff Portal" in text and "your demo account" not in text
    services.close()


def test_template_tools_need_no_keycloak_and_no_secrets(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    for name in [n for n in __import__("os").environ if n.startswith("KCPR_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("KCPR_MAIL__FROM_ADDRESS", "designer@example.org")
    monkeypatch.setenv("KCPR_LOCALES", '["en","ar"]')
    assert run_check_templates() == 0
    assert "render in 2 languages" in capsys.readouterr().out
