"""Start-up refuses broken templates; hostile names stay harmless in every language."""

from __future__ import annotations

import email
import email.policy
from pathlib import Path

import pytest

from keycloak_pwreset.commands.serve import start_services
from keycloak_pwreset.errors import ConfigError
from keycloak_pwreset.gateway import KeycloakUser
from keycloak_pwreset.i18n import SHIPPED_LOCALES
from keycloak_pwreset.mail.emails import send_reset_email
from keycloak_pwreset.services import build_services
from tests.unit.conftest import make_settings
from tests.unit.fakes import MemoryTransport


def test_a_broken_site_template_stops_start_up_with_a_clear_line(tmp_path: Path) -> None:
    site = tmp_path / "site"
    (site / "emails" / "reset" / "de").mkdir(parents=True)
    (site / "emails" / "reset" / "de" / "subject.txt").write_text("{{ oops(", encoding="utf-8")
    settings = make_settings(
        templates_dir=str(site), database_url=f"sqlite:///{tmp_path / 'db.sqlite'}"
    )
    with pytest.raises(ConfigError) as info:
        start_services(settings)
    message = str(info.value)
    assert message.startswith("email templates are broken:")
    assert "email 'reset' in de: TemplateSyntaxError" in message
    assert "Traceback" not in message


HOSTILE = [
    "مريم \u202eevil.exe",  # Arabic with a right-to-left override
    "Zoë 😀 <script>alert(1)</script>",
    "Bob\r\nBcc: victim@example.net",
    '"Quoted, Name" <x@y.z>',
]


@pytest.mark.parametrize("locale", SHIPPED_LOCALES)
@pytest.mark.parametrize("first_name", HOSTILE)
def test_hostile_names_render_safely_in_every_language(
    tmp_path: Path, locale: str, first_name: str
) -> None:
    transport = MemoryTransport()
    services = build_services(
        make_settings(database_url=f"sqlite:///{tmp_path / 'db.sqlite'}"), transport=transport
    )
    user = KeycloakUser("id", "user", "user@example.org", first_name, "Tester", locale)
    send_reset_email(
        services.mailer,
        locale=locale,
        user=user,
        link="https://h.example/r?token=t",
        ttl_minutes=60,
        site_name="demo",
    )
    raw = transport.sent[0].message.as_bytes(policy=email.policy.SMTP)
    parsed = email.message_from_bytes(raw, policy=email.policy.default)
    assert parsed["Bcc"] is None and len(parsed.get_all("To")) == 1
    assert parsed["To"].addresses[0].addr_spec == "user@example.org"
    assert "\n" not in parsed["Subject"]
    html = parsed.get_body(("html",)).get_content()
    assert "<script>" not in html
    assert f'lang="{locale}"' in html
