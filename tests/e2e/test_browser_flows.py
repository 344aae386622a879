"""From the realm's real login page, through the emails, to a successful sign-in."""

from __future__ import annotations

import re
import secrets

import pytest

from keycloak_pwreset.i18n import translations
from keycloak_pwreset_demo.realm import RealmInfo
from keycloak_pwreset_demo.smtp_sink import SmtpSink
from keycloak_pwreset_demo.stack import DemoUser, KeycloakHandle, ServiceHandle
from tests.e2e.conftest import Callback, Steps, authorization_url
from tests.integration.test_reset_flow import wait_count

# Also run on Keycloak 24 and 25 by tests/run (keycloak_pwreset/keycloak_versions.py).
pytestmark = pytest.mark.keycloak_core

GERMAN = translations("de")


def link_in(mail_text: str, service: ServiceHandle, path: str) -> str:
    match = re.search(re.escape(service.url + path) + r"\?token=[\w-]+", mail_text)
    assert match, mail_text
    return match.group(0)


def sign_in(steps: Steps, username: str, password: str, callback: Callback) -> None:
    """On Keycloak's login page: sign in and land on the application with a code."""
    page = steps.page
    page.wait_for_selector("#kc-form-login")
    page.fill("#username", username)
    page.fill("#password", password)
    steps.shot("keycloak-login-filled")
    page.click("#kc-login")
    page.wait_for_url(callback.url + "*")
    steps.shot("application-signed-in")
    answer = callback.received[-1]
    assert answer.get("state") == ["e2e-state"]
    assert answer.get("code") and answer["code"][0]


def test_forgot_password_from_the_keycloak_login_page(
    steps: Steps,
    keycloak: KeycloakHandle,
    realm: RealmInfo,
    service: ServiceHandle,
    sink: SmtpSink,
    e2e_client: str,
    callback: Callback,
) -> None:
    name = f"e2e{secrets.token_hex(4)}"
    user = DemoUser(name, f"{name}@example.org", "Original-pass1", "Erika", "Muster", None)
    keycloak.add_user(realm.realm, user)
    page = steps.page
    # The person starts signing in to the application, with the page in German.
    page.goto(authorization_url(realm, e2e_client, callback, ui_locales="de"))
    steps.shot("keycloak-login")
    page.click("#pwreset-forgot-password")
    page.wait_for_url(service.url + "/forgot-password*")
    assert page.get_attribute("html", "lang") == "de"
    steps.shot("companion-forgot-password")
    page.fill("#identifier", user.email)
    page.click("button[type=submit]")
    steps.shot("companion-check-inbox")

    subject = GERMAN.gettext("Reset your password for %(site)s") % {"site": realm.realm}
    mail = wait_count(sink, user.email, subject, 1)[0]
    page.goto(link_in(mail.text_body(), service, "/reset-password"))
    assert page.url == service.url + "/reset-password"  # the token left the address bar
    steps.shot("companion-new-password")

    # The realm's rules, listed before anything is typed, in German.
    listed = page.locator("#password-rules li").evaluate_all("els => els.map(e => e.dataset.rule)")
    assert listed == [
        "length",
        "digits",
        "upperCase",
        "lowerCase",
        "notUsername",
        "passwordHistory",
        "screening",
    ]
    assert GERMAN.gettext("At least %(count)s characters") % {"count": 8} in page.content()
    page.fill("#password", "schwach")
    page.fill("#password_confirmation", "schwach")
    page.click("button[type=submit]")
    # Too short, no digit, no capital: all three marked at once, Keycloak's answer beside.
    broken = page.locator("#password-rules li.broken").evaluate_all(
        "els => els.map(e => e.dataset.rule)"
    )
    assert broken == ["length", "digits", "upperCase"]
    # Keycloak, the judge, names the first it checks (its order, not ours).
    keycloak_says = page.get_attribute("[data-result]", "data-result")
    assert keycloak_says in (
        "invalid_password_length",
        "must_contain_numbers_and_characters",
        "password_missing_character_variety",
    )
    steps.shot("companion-three-rules-marked")

    page.fill("#password", "Neues-Passwort-9")
    page.fill("#password_confirmation", "Neues-Passwort-9")
    page.click("button[type=submit]")
    # A word that it worked, then one button back to the login the person started.
    page.wait_for_selector("#continue")
    assert page.inner_text("#continue") == GERMAN.gettext("Continue to sign in")
    steps.shot("companion-password-changed")
    page.click("#continue")
    page.wait_for_url(f"{realm.server_url}/realms/{realm.realm}/**")
    steps.shot("keycloak-login-again")
    sign_in(steps, user.username, "Neues-Passwort-9", callback)


def test_register_from_the_keycloak_login_page(
    steps: Steps,
    realm: RealmInfo,
    service: ServiceHandle,
    sink: SmtpSink,
    e2e_client: str,
    callback: Callback,
) -> None:
    name = f"new{secrets.token_hex(4)}"
    email = f"{name}@example.org"
    page = steps.page
    page.goto(authorization_url(realm, e2e_client, callback, ui_locales="fr"))
    steps.shot("keycloak-login")
    page.click("#pwreset-register")
    page.wait_for_url(service.url + "/signup*")
    assert page.get_attribute("html", "lang") == "fr"
    steps.shot("companion-signup")
    page.fill("#first_name", "Camille")
    page.fill("#last_name", "Martin")
    page.fill("#email", email)
    if page.locator("#username").count():
        page.fill("#username", name)
    page.click("button[type=submit]")
    steps.shot("companion-check-inbox")

    french = translations("fr")
    subject = french.gettext("Confirm your email to finish signing up for %(site)s")
    mail = wait_count(sink, email, subject % {"site": realm.realm}, 1)[0]
    page.goto(link_in(mail.text_body(), service, "/signup/complete"))
    assert french.gettext("Your password needs:") in page.inner_text("#password-rules")
    steps.shot("companion-choose-password")
    page.fill("#password", "motdepasse")
    page.fill("#password_confirmation", "motdepasse")
    page.click("button[type=submit]")
    broken = page.locator("#password-rules li.broken").evaluate_all(
        "els => els.map(e => e.dataset.rule)"
    )
    assert broken == ["digits", "upperCase"]  # two at once, in French
    assert french.gettext("This password does not meet the rules marked below.") in page.content()
    steps.shot("companion-two-rules-marked")
    page.fill("#password", "Bienvenue-2026")
    page.fill("#password_confirmation", "Bienvenue-2026")
    page.click("button[type=submit]")
    page.wait_for_selector("#continue")
    assert page.inner_text("#continue") == french.gettext("Continue to sign in")
    steps.shot("companion-account-created")
    page.click("#continue")
    page.wait_for_url(f"{realm.server_url}/realms/{realm.realm}/**")
    steps.shot("keycloak-login-again")
    sign_in(steps, name, "Bienvenue-2026", callback)


def test_an_arabic_page_is_mirrored(steps: Steps, service: ServiceHandle) -> None:
    page = steps.page
    page.goto(service.url + "/forgot-password?kc_locale=ar")
    assert page.get_attribute("html", "lang") == "ar"
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.evaluate("getComputedStyle(document.body).direction") == "rtl"
    # Nothing pushes the page sideways (an off-screen offset would, in this direction).
    assert page.evaluate("document.documentElement.scrollWidth") <= 1280
    # Mirrored: the label's text starts at the right edge of the card.
    label = page.locator("label[for=identifier]").bounding_box()
    card = page.locator("main.card").bounding_box()
    assert label and card and card["x"] + card["width"] - (label["x"] + label["width"]) < 80
    steps.shot("companion-forgot-password-arabic")
