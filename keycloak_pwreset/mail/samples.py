"""Sample data for every email kind: previews, `templates check` and test emails."""

from __future__ import annotations

from datetime import date
from typing import Any

from babel.dates import format_date

from keycloak_pwreset.gateway import KeycloakUser

SAMPLE_DAY = date(2026, 12, 31)
SAMPLE_USER = KeycloakUser(
    id="00000000-0000-0000-0000-000000000000",
    username="jdoe",
    email="jane.doe@example.org",
    first_name="Jane",
    last_name="Doe",
    locale="",
)


def sample_date(locale: str) -> str:
    """An invitation's last day as its sender writes it (mail/emails.py), in ``locale``."""
    return format_date(SAMPLE_DAY, "long", locale=(locale or "en").replace("-", "_"))


def sample_context(
    kind: str, *, public_url: str, site_name: str, locale: str = ""
) -> dict[str, Any]:
    """What the flows pass to ``kind``'s templates, with harmless example values."""
    link = f"{public_url}/reset-password?token=EXAMPLE-TOKEN-NOT-VALID"
    common: dict[str, Any] = {"site_name": site_name, "ttl_minutes": 60}
    if kind == "reset":
        return {**common, "user": SAMPLE_USER, "link": link}
    if kind == "password-changed":
        return {**common, "user": SAMPLE_USER, "reset_url": f"{public_url}/forgot-password"}
    if kind == "signup":
        signup_link = f"{public_url}/signup/complete?token=EXAMPLE-TOKEN-NOT-VALID"
        return {**common, "link": signup_link}
    if kind == "invite":
        invite_link = f"{public_url}/invitation?token=EXAMPLE-TOKEN-NOT-VALID"
        valid_until = sample_date(locale)
        return {
            **common,
            "name": SAMPLE_USER.first_name,
            "link": invite_link,
            "valid_until": valid_until,
        }
    if kind == "account-exists":
        return {**common, "name": SAMPLE_USER.own_name, "reset_link": link}
    if kind == "no-account":
        return {
            **common,
            "email": SAMPLE_USER.email,
            "reset_url": f"{public_url}/forgot-password",
            "signup_url": f"{public_url}/signup",
        }
    # A site's own extra kind: give it everything we have.
    return {
        **common,
        "user": SAMPLE_USER,
        "name": SAMPLE_USER.display_name,
        "link": link,
        "valid_until": sample_date(locale),
    }
