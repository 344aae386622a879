"""Languages, senders and SMTP profiles with the real SMTP server and the real Keycloak."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests

from keycloak_pwreset.i18n import translations
from keycloak_pwreset_demo.realm import RealmInfo
from keycloak_pwreset_demo.smtp_sink import SmtpSink
from keycloak_pwreset_demo.stack import DemoUser, KeycloakHandle, ServiceHandle
from tests.conftest import TEST_LIMITS
from tests.helpers import Browser, reset_link
from tests.integration.test_reset_flow import mails, wait_count

SUBJECT = "Reset your password for %(site)s"
CHANGED = "Your %(site)s password was changed"


@pytest.fixture(scope="module")
def second_sink() -> Iterator[SmtpSink]:
    server = SmtpSink()
    server.start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def localized(
    realm: RealmInfo,
    sink: SmtpSink,
    second_sink: SmtpSink,
    tmp_path_factory: pytest.TempPathFactory,
    new_store: Callable[[Path], str],
) -> Iterator[ServiceHandle]:
    """A service with German senders, a site template for Portuguese, and a second SMTP profile."""
    site = tmp_path_factory.mktemp("site-templates")
    (site / "emails" / "reset" / "pt").mkdir(parents=True)
    (site / "emails" / "reset" / "pt" / "subject.txt").write_text(
        "Redefinir a senha ({{ site_name }}) [site pt]\n", encoding="utf-8"
    )
    work_dir = tmp_path_factory.mktemp("localized")
    service = ServiceHandle.start(
        realm,
        sink,
        work_dir,
        database_url=new_store(work_dir),
        templates_dir=str(site),
        limits=TEST_LIMITS,
        smtp_profiles={"second": {"host": "127.0.0.1", "port": second_sink.port}},
        mail={
            "from_address": "account-help@demo.example",
            "from_name": "Demo Account Help",
            "envelope_from": "bounces@demo.example",
            "kinds": {
                "reset": {
                    "locales": {
                        "de": {
                            "from_address": "kontohilfe@demo.example",
                            "from_name": "Demo Kontohilfe",
                            "reply_to": "support-de@demo.example",
                        }
                    }
                },
                "password-changed": {"smtp_profile": "second"},
            },
        },
    )
    yield service
    service.stop()


def new_user(keycloak: KeycloakHandle, realm: RealmInfo, locale: str | None) -> DemoUser:
    name = f"l10n{secrets.token_hex(4)}"
    user = DemoUser(name, f"{name}@example.org", "Original-pass1", "Lena", "Sprache", locale)
    keycloak.add_user(realm.realm, user)
    return user


def test_german_user_gets_german_mail_with_german_sender(
    localized: ServiceHandle, sink: SmtpSink, keycloak: KeycloakHandle, realm: RealmInfo
) -> None:
    user = new_user(keycloak, realm, "de")
    # No language chosen on the request: the account's saved language decides.
    response = requests.post(
        localized.url + "/api/v1/password-resets", json={"identifier": user.email}, timeout=10
    )
    assert response.status_code == 202
    german = translations("de").gettext(SUBJECT) % {"site": realm.realm}
    mail = wait_count(sink, user.email, german, 1)[0]
    assert mail.subject == german != SUBJECT % {"site": realm.realm}
    assert mail.message["Content-Language"] == "de"
    sender = mail.message["From"].addresses[0]
    assert (sender.addr_spec, sender.display_name) == ("kontohilfe@demo.example", "Demo Kontohilfe")
    assert mail.message["Reply-To"] == "support-de@demo.example"
    # The envelope sender the SMTP server saw is the configured one, not the alias.
    assert mail.mail_from == "bounces@demo.example"
    assert translations("de").gettext("Choose a new password") in mail.html_body()


def test_language_chosen_on_the_page_beats_the_saved_one(
    localized: ServiceHandle, sink: SmtpSink, keycloak: KeycloakHandle, realm: RealmInfo
) -> None:
    user = new_user(keycloak, realm, "de")
    browser = Browser(localized.url)
    page = browser.http.get(localized.url + "/forgot-password?kc_locale=fr", timeout=10)
    assert '<html lang="fr"' in page.text
    assert browser.ask_for_link(user.email).status_code == 200  # the cookie keeps French
    french = translations("fr").gettext(SUBJECT) % {"site": realm.realm}
    mail = wait_count(sink, user.email, french, 1)[0]
    assert mail.message["From"].addresses[0].addr_spec == "account-help@demo.example"


def test_locale_without_its_own_template_falls_back_along_the_chain(
    localized: ServiceHandle, sink: SmtpSink, keycloak: KeycloakHandle, realm: RealmInfo
) -> None:
    user = new_user(keycloak, realm, None)
    response = requests.post(
        localized.url + "/api/v1/password-resets",
        json={"identifier": user.email, "locale": "pt-BR"},
        timeout=10,
    )
    assert response.status_code == 202
    # pt-BR has no site file: the site's pt/ subject is used; the bodies come
    # from the shipped neutral templates with the pt-BR catalog.
    mail = wait_count(sink, user.email, "[site pt]", 1)[0]
    assert mail.subject == f"Redefinir a senha ({realm.realm}) [site pt]"
    assert translations("pt-BR").gettext("Choose a new password") in mail.html_body()


def test_two_smtp_profiles_deliver_the_kinds_routed_to_them(
    localized: ServiceHandle,
    sink: SmtpSink,
    second_sink: SmtpSink,
    keycloak: KeycloakHandle,
    realm: RealmInfo,
) -> None:
    user = new_user(keycloak, realm, None)
    browser = Browser(localized.url)
    browser.ask_for_link(user.email)
    subject = SUBJECT % {"site": realm.realm}
    link = reset_link(wait_count(sink, user.email, subject, 1)[0], localized)
    browser.open_link(link)
    assert browser.set_password("Routed-pass-7").status_code == 200
    changed = CHANGED % {"site": realm.realm}
    wait_count(second_sink, user.email, changed, 1)
    assert mails(sink, user.email, changed) == []  # only the second profile sent it
    assert mails(second_sink, user.email, subject) == []


def test_send_test_email_uses_the_route(
    localized: ServiceHandle,
    second_sink: SmtpSink,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
) -> None:
    from keycloak_pwreset.cli import main

    settings = localized.settings
    env = {
        "KCPR_KEYCLOAK_URL": settings.keycloak_url,
        "KCPR_REALM": settings.realm,
        "KCPR_CLIENT_ID": settings.client_id,
        "KCPR_CLIENT_SECRET": settings.client_secret.get_secret_value(),
        "KCPR_PUBLIC_URL": settings.public_url,
        "KCPR_SECRET_KEY": settings.secret_key.get_secret_value(),
        "KCPR_DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite'}",
        "KCPR_MAIL__FROM_ADDRESS": "account-help@demo.example",
        "KCPR_SMTP_PROFILES__SECOND__HOST": "127.0.0.1",
        "KCPR_SMTP_PROFILES__SECOND__PORT": str(second_sink.port),
        "KCPR_MAIL__KINDS__SIGNUP__SMTP_PROFILE": "second",
    }
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    assert (
        main(["send-test-email", "--to", "probe@example.org", "--kind", "signup", "--locale", "ja"])
        == 0
    )
    assert "via SMTP profile 'second'" in capsys.readouterr().out
    expected = translations("ja").gettext(
        "Confirm your email to finish signing up for %(site)s"
    ) % {"site": settings.realm}
    wait_count(second_sink, "probe@example.org", expected, 1)
