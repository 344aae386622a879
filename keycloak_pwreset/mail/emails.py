"""One small function per email kind: what each email says is decided here and in its templates."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from babel.dates import format_date

from keycloak_pwreset.accounts import KeycloakUser
from keycloak_pwreset.mail.mailer import Mailer


def send_reset_email(
    mailer: Mailer, *, locale: str, user: KeycloakUser, link: str, ttl_minutes: int, site_name: str
) -> None:
    mailer.send(
        locale=locale,
        kind="reset",
        to=user.email,
        to_name=user.display_name,
        context={
            "user": user,
            "link": link,
            "ttl_minutes": ttl_minutes,
            "site_name": site_name,
        },
    )


def send_password_changed_email(
    mailer: Mailer, *, locale: str, user: KeycloakUser, reset_url: str, site_name: str
) -> None:
    mailer.send(
        locale=locale,
        kind="password-changed",
        to=user.email,
        to_name=user.display_name,
        context={"user": user, "reset_url": reset_url, "site_name": site_name},
    )


def send_signup_email(
    mailer: Mailer, *, locale: str, to: str, link: str, ttl_minutes: int, site_name: str
) -> None:
    # No name, neither in the greeting nor beside the address: the names were
    # typed by whoever asked, and the address is not proven yet.
    mailer.send(
        locale=locale,
        kind="signup",
        to=to,
        to_name="",
        context={"link": link, "ttl_minutes": ttl_minutes, "site_name": site_name},
    )


def send_account_exists_email(
    mailer: Mailer,
    *,
    locale: str,
    to: str,
    name: str,
    link: str,
    ttl_minutes: int,
    site_name: str,
) -> None:
    # ``name`` is the account's own, from Keycloak; never what the requester typed.
    mailer.send(
        locale=locale,
        kind="account-exists",
        to=to,
        to_name=name,
        context={
            "name": name,
            "reset_link": link,
            "ttl_minutes": ttl_minutes,
            "site_name": site_name,
        },
    )


def send_no_account_email(
    mailer: Mailer, *, locale: str, to: str, reset_url: str, signup_url: str, site_name: str
) -> None:
    mailer.send(
        locale=locale,
        kind="no-account",
        to=to,
        to_name="",
        context={
            "email": to,
            "reset_url": reset_url,
            "signup_url": signup_url,
            "site_name": site_name,
        },
    )


def send_invite_email(
    mailer: Mailer,
    *,
    locale: str,
    to: str,
    name: str,
    link: str,
    ttl_minutes: int,
    site_name: str,
) -> None:
    # ``name`` was typed by an administrator, not by a stranger: it may greet.
    until = datetime.now(UTC) + timedelta(minutes=ttl_minutes)
    mailer.send(
        locale=locale,
        kind="invite",
        to=to,
        to_name=name,
        context={
            "name": name,
            "link": link,
            "valid_until": format_date(until, "long", locale=(locale or "en").replace("-", "_")),
            "site_name": site_name,
        },
    )
