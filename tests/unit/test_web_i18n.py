"""Localized pages: negotiation, the language cookie and switcher, translated messages, emails."""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Iterator

import httpx
import pytest
from fastapi.testclient import TestClient

from keycloak_pwreset.i18n import SHIPPED_LOCALES, Languages, translations
from keycloak_pwreset.results import MESSAGES, Result
from keycloak_pwreset.services import Services, build_services
from keycloak_pwreset.store.db import Database
from keycloak_pwreset.web.app import create_app
from keycloak_pwreset.web.cookies import cookie_name
from keycloak_pwreset.web.forms import SESSION_EXPIRED
from keycloak_pwreset.web.languages import LOCALE_COOKIE as LOCALE
from tests.unit.conftest import PUBLIC_URL, make_settings
from tests.unit.fakes import FakeClock, FakeKeycloak, MemoryTransport
from tests.unit.test_flows_reset import GOOD, token_from
from tests.unit.test_web_pages import csrf_of, open_link

FORGOT = "Forgot your password?"
LOCALE_COOKIE = cookie_name(LOCALE, secure=True)  # PUBLIC_URL is https: __Host-kcpr_locale
RESET_SUBJECT = "Reset your password for %(site)s"

MakeClient = Callable[..., tuple[TestClient, Services]]


def t(tag: str, message: str) -> str:
    return translations(tag).gettext(message)


def heading(page_html: str) -> str:
    match = re.search(r"<h1>(.*?)</h1>", page_html, re.S)
    assert match, page_html
    return html.unescape(match.group(1))


def html_tag(page_html: str) -> str:
    match = re.search(r"<html[^>]*>", page_html)
    assert match
    return match.group(0)


def locale_cookie_set(response: httpx.Response) -> str | None:
    """The language cookie's value this response sets, if any."""
    for header in response.headers.get_list("set-cookie"):
        if header.startswith(f"{LOCALE_COOKIE}="):
            value: str = header.split(";")[0].split("=", 1)[1]
            return value
    return None


def switcher(page_html: str) -> str:
    match = re.search(r'<nav class="languages".*?</nav>', page_html, re.S)
    assert match, page_html
    return match.group(0)


@pytest.fixture
def make_client(
    keycloak: FakeKeycloak, transport: MemoryTransport, db: Database, clock: FakeClock
) -> Iterator[MakeClient]:
    """A client for a site with its own settings (e.g. fewer languages)."""
    opened: list[TestClient] = []

    def make(**overrides: object) -> tuple[TestClient, Services]:
        services = build_services(
            make_settings(**overrides), gateway=keycloak, transport=transport, db=db, clock=clock
        )
        test_client = TestClient(create_app(services), base_url=PUBLIC_URL)
        test_client.__enter__()
        opened.append(test_client)
        return test_client, services

    yield make
    for test_client in opened:
        test_client.__exit__(None, None, None)


# -- negotiation --------------------------------------------------------------------


def test_default_language_without_any_hint(client: TestClient) -> None:
    page = client.get("/forgot-password")
    assert page.status_code == 200
    assert html_tag(page.text) == '<html lang="en" dir="ltr">'
    assert heading(page.text) == FORGOT
    assert page.headers["content-language"] == "en"


def test_accept_language_german(client: TestClient) -> None:
    page = client.get("/forgot-password", headers={"Accept-Language": "de"})
    assert page.status_code == 200
    assert html_tag(page.text) == '<html lang="de" dir="ltr">'
    assert heading(page.text) == t("de", FORGOT) != FORGOT
    assert page.headers["content-language"] == "de"
    assert locale_cookie_set(page) is None  # the browser's wish is not a choice to remember


def test_accept_language_with_weights(client: TestClient) -> None:
    page = client.get(
        "/forgot-password", headers={"Accept-Language": "sv, de;q=0.2, nl;q=0.7, *;q=0.1"}
    )
    assert page.headers["content-language"] == "nl"
    assert heading(page.text) == t("nl", FORGOT)


@pytest.mark.parametrize("path", ["/forgot-password", "/signup", "/reset-password"])
def test_every_page_is_localized(client: TestClient, path: str) -> None:
    page = client.get(path, headers={"Accept-Language": "ja"})
    assert page.headers["content-language"] == "ja"
    assert '<html lang="ja" dir="ltr">' in page.text


def test_kc_locale_wins_and_is_remembered(client: TestClient) -> None:
    page = client.get("/forgot-password?kc_locale=fr", headers={"Accept-Language": "de"})
    assert page.headers["content-language"] == "fr"
    assert heading(page.text) == t("fr", FORGOT)
    assert locale_cookie_set(page) == "fr"
    assert "HttpOnly" in next(
        h for h in page.headers.get_list("set-cookie") if h.startswith(LOCALE_COOKIE)
    )
    later = client.get("/forgot-password", headers={"Accept-Language": "de"})
    assert later.headers["content-language"] == "fr"
    assert heading(later.text) == t("fr", FORGOT)
    assert locale_cookie_set(later) is None  # already remembered: not set again
    elsewhere = client.get("/signup", headers={"Accept-Language": "de"})
    assert elsewhere.headers["content-language"] == "fr"


def test_a_new_choice_replaces_the_remembered_one(client: TestClient) -> None:
    client.get("/forgot-password?kc_locale=fr")
    page = client.get("/forgot-password?kc_locale=it")
    assert page.headers["content-language"] == "it"
    assert locale_cookie_set(page) == "it"
    assert client.get("/forgot-password").headers["content-language"] == "it"


def test_kc_locale_close_relative_is_stored_as_the_offered_tag(client: TestClient) -> None:
    page = client.get("/forgot-password?kc_locale=pt-pt")
    assert page.headers["content-language"] == "pt-BR"
    assert locale_cookie_set(page) == "pt-BR"


def test_ui_locales(client: TestClient) -> None:
    page = client.get("/forgot-password?ui_locales=ja", headers={"Accept-Language": "de"})
    assert page.headers["content-language"] == "ja"
    assert heading(page.text) == t("ja", FORGOT)
    assert locale_cookie_set(page) == "ja"


def test_ui_locales_list_takes_the_first_offered(client: TestClient) -> None:
    page = client.get("/forgot-password", params={"ui_locales": "sv xx zh-CN es"})
    assert page.headers["content-language"] == "zh-CN"
    assert '<html lang="zh-CN" dir="ltr">' in page.text


@pytest.mark.parametrize("value", ["xx", "<script>alert(1)</script>", "x" * 300, "de-", ";"])
def test_unknown_kc_locale_falls_back_cleanly(client: TestClient, value: str) -> None:
    page = client.get("/forgot-password", params={"kc_locale": value})
    assert page.status_code == 200
    assert page.headers["content-language"] == "en"
    assert heading(page.text) == FORGOT
    assert locale_cookie_set(page) is None
    assert "<script>alert" not in page.text
    assert LOCALE_COOKIE not in client.cookies


def test_kc_locale_with_a_line_break_sets_no_header(client: TestClient) -> None:
    page = client.get("/forgot-password", params={"kc_locale": "xx\r\nSet-Cookie: evil=1 de"})
    assert page.headers["content-language"] == "de"  # a list: its offered tag wins
    assert locale_cookie_set(page) == "de"
    assert "evil" not in page.headers.get("set-cookie", "")


def test_unknown_kc_locale_leaves_accept_language_in_charge(client: TestClient) -> None:
    page = client.get("/forgot-password?kc_locale=xx", headers={"Accept-Language": "es"})
    assert page.headers["content-language"] == "es"
    assert locale_cookie_set(page) is None


def test_junk_locale_cookie_is_ignored(client: TestClient) -> None:
    client.cookies.set(LOCALE_COOKIE, "<b>")
    page = client.get("/forgot-password", headers={"Accept-Language": "pl"})
    assert page.status_code == 200
    assert page.headers["content-language"] == "pl"


def test_right_to_left_language(make_client: MakeClient) -> None:
    rtl_client, _ = make_client(locales=["en", "ar"])
    page = rtl_client.get("/forgot-password", headers={"Accept-Language": "ar"})
    assert '<html lang="ar" dir="rtl">' in page.text
    assert page.headers["content-language"] == "ar"


# -- the language switcher ------------------------------------------------------------


def test_switcher_lists_every_offered_language(client: TestClient) -> None:
    page = client.get("/forgot-password", headers={"Accept-Language": "de"})
    nav = switcher(page.text)
    names = dict(Languages(SHIPPED_LOCALES, "en").names())
    for tag in SHIPPED_LOCALES:
        assert html.escape(names[tag]) in nav, tag
        if tag == "de":
            assert f'<span aria-current="true" lang="de">{names["de"]}</span>' in nav
            assert 'hreflang="de"' not in nav
        else:
            assert f'<a href="?kc_locale={tag}" lang="{tag}" hreflang="{tag}">' in nav, tag
    assert nav.count("hreflang=") == len(SHIPPED_LOCALES) - 1
    assert nav.count('aria-current="true"') == 1


def test_switcher_link_switches(client: TestClient) -> None:
    nav = switcher(client.get("/forgot-password").text)
    href = re.search(r'href="(\?kc_locale=ja)"', nav)
    assert href
    page = client.get("/forgot-password" + href.group(1))
    assert page.headers["content-language"] == "ja"
    assert 'aria-current="true" lang="ja"' in switcher(page.text)


def test_limited_languages(make_client: MakeClient) -> None:
    limited, _ = make_client(locales=["en", "de"])
    page = limited.get("/forgot-password")
    nav = switcher(page.text)
    assert re.findall(r'hreflang="([^"]+)"', nav) == ["de"]
    assert 'aria-current="true" lang="en"' in nav
    assert "fr" not in re.findall(r'lang="([^"]+)"', nav)
    french = limited.get("/forgot-password", headers={"Accept-Language": "fr, de;q=0.5"})
    assert french.headers["content-language"] == "de"
    only_french = limited.get("/forgot-password?kc_locale=fr", headers={"Accept-Language": "fr"})
    assert only_french.headers["content-language"] == "en"
    assert locale_cookie_set(only_french) is None


def test_one_language_has_no_switcher(make_client: MakeClient) -> None:
    single, _ = make_client(locales=["de"], default_locale="de")
    page = single.get("/forgot-password", headers={"Accept-Language": "fr"})
    assert page.headers["content-language"] == "de"
    assert '<nav class="languages"' not in page.text


# -- messages on pages --------------------------------------------------------------


def german_reset_form(client: TestClient, services: Services, transport: MemoryTransport) -> str:
    client.get("/forgot-password")
    assert services.reset.request("alice") is Result.SUCCESS
    services.worker.run_once()
    open_link(client, token_from(transport))
    page = client.get("/reset-password", headers={"Accept-Language": "de"})
    assert page.status_code == 200
    text: str = page.text
    return text


def test_error_message_is_translated(
    client: TestClient, services: Services, transport: MemoryTransport
) -> None:
    form = german_reset_form(client, services, transport)
    response = client.post(
        "/reset-password",
        headers={"Accept-Language": "de"},
        data={"password": GOOD, "password_confirmation": GOOD + "x", "csrf_token": csrf_of(form)},
    )
    assert response.status_code == 200
    assert 'data-result="mismatched_passwords"' in response.text
    german = t("de", MESSAGES[Result.MISMATCHED_PASSWORDS])
    assert german != MESSAGES[Result.MISMATCHED_PASSWORDS]
    assert german in response.text
    assert MESSAGES[Result.MISMATCHED_PASSWORDS] not in response.text
    assert response.headers["content-language"] == "de"


def test_session_expired_message_is_translated(client: TestClient) -> None:
    client.get("/forgot-password")
    response = client.post(
        "/forgot-password", data={"identifier": "alice"}, headers={"Accept-Language": "fr"}
    )
    assert response.status_code == 400
    assert t("fr", SESSION_EXPIRED) in response.text
    assert t("fr", SESSION_EXPIRED) != SESSION_EXPIRED


def test_expired_link_page_is_translated(client: TestClient) -> None:
    page = client.get("/reset-password", headers={"Accept-Language": "es"})
    assert page.status_code == 400
    assert t("es", MESSAGES[Result.LINK_EXPIRED]) in page.text
    assert page.headers["content-language"] == "es"


def test_invalid_name_message_keeps_its_characters(client: TestClient) -> None:
    token = csrf_of(client.get("/signup").text)
    response = client.post(
        "/signup",
        headers={"Accept-Language": "de"},
        data={
            "first_name": "Bad<Name>",
            "last_name": "X",
            "email": "bad@example.org",
            "csrf_token": token,
        },
    )
    assert response.status_code == 200
    assert 'data-result="invalid_name"' in response.text
    assert t("de", MESSAGES[Result.INVALID_NAME]) in response.text  # "%" and all


# -- the reset flow across a language switch -------------------------------------------------


def test_reset_survives_a_language_switch(
    client: TestClient, services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    client.get("/forgot-password")
    services.reset.request("alice")
    services.worker.run_once()
    open_link(client, token_from(transport))
    german = client.get("/reset-password?kc_locale=de")
    assert german.status_code == 200
    assert german.headers["content-language"] == "de"
    assert heading(german.text) == t("de", "Choose a new password")
    done = client.post(
        "/reset-password",
        data={"password": GOOD, "password_confirmation": GOOD, "csrf_token": csrf_of(german.text)},
        follow_redirects=False,
    )
    assert done.status_code == 200 and t("de", "Continue to sign in") in done.text
    assert keycloak.current_password("id-alice") == GOOD


def test_emailed_link_with_a_language_keeps_it(
    client: TestClient, services: Services, transport: MemoryTransport
) -> None:
    services.reset.request("alice")
    services.worker.run_once()
    token = token_from(transport)
    moved = client.get(f"/reset-password?token={token}&kc_locale=it", follow_redirects=False)
    assert moved.status_code == 303
    assert moved.headers["location"] == "/reset-password"
    assert locale_cookie_set(moved) == "it"
    page = client.get("/reset-password")
    assert page.headers["content-language"] == "it"


# -- the email's language ---------------------------------------------------------------


def reset_email_of(transport: MemoryTransport) -> tuple[str, str]:
    message = transport.sent[-1].message
    return str(message["Content-Language"]), str(message["Subject"])


def request_reset_from(client: TestClient, services: Services, url: str, **headers: str) -> None:
    page = client.get(url, headers=headers)
    response = client.post(
        "/forgot-password",
        headers=headers,
        data={"identifier": "hans", "csrf_token": csrf_of(page.text)},
    )
    assert response.status_code == 200
    services.worker.run_once()


def test_saved_account_language_beats_the_browsers(
    client: TestClient, services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    keycloak.add_user("hans", "hans@example.org", locale="de")
    request_reset_from(client, services, "/forgot-password", **{"Accept-Language": "fr"})
    language, subject = reset_email_of(transport)
    assert language == "de"
    assert subject == t("de", RESET_SUBJECT) % {"site": "demo"}


def test_explicit_page_choice_beats_the_saved_language(
    client: TestClient, services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    keycloak.add_user("hans", "hans@example.org", locale="de")
    request_reset_from(client, services, "/forgot-password?kc_locale=fr")
    language, subject = reset_email_of(transport)
    assert language == "fr"
    assert subject == t("fr", RESET_SUBJECT) % {"site": "demo"}


def test_page_language_is_used_when_the_account_has_none(
    client: TestClient, services: Services, transport: MemoryTransport, keycloak: FakeKeycloak
) -> None:
    keycloak.add_user("hans", "hans@example.org")
    request_reset_from(client, services, "/forgot-password", **{"Accept-Language": "nl"})
    language, subject = reset_email_of(transport)
    assert language == "nl"
    assert subject == t("nl", RESET_SUBJECT) % {"site": "demo"}


def test_saved_language_not_offered_falls_to_the_page(
    make_client: MakeClient,
    transport: MemoryTransport,
    keycloak: FakeKeycloak,
) -> None:
    limited, services = make_client(locales=["en", "fr"])
    keycloak.add_user("hans", "hans@example.org", locale="de")
    request_reset_from(limited, services, "/forgot-password", **{"Accept-Language": "fr"})
    assert reset_email_of(transport)[0] == "fr"
