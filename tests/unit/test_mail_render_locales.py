"""Email templates per language: per-locale files, a site's overrides, shipped translations."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from keycloak_pwreset.i18n import SHIPPED_LOCALES, translations
from keycloak_pwreset.mail.render import EmailRenderer
from keycloak_pwreset.paths import themes_dir
from tests.unit.test_mail_render import context_for, make_user

SHIPPED = themes_dir() / "emails"
SUBJECT = "Reset your password for %(site)s"
OPEN_LINK = "Open this link to choose a new password:"


def write(root: Path, relative: str, text: str) -> Path:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site-emails"
    root.mkdir()
    return root


def renderer(site: Path) -> EmailRenderer:
    return EmailRenderer([site, SHIPPED])


def reset_context() -> dict[str, Any]:
    return context_for("reset", make_user())


def german_subject() -> str:
    return translations("de").gettext(SUBJECT) % {"site": "Example"}


def test_candidates_go_from_the_most_specific_tag_to_the_neutral_file() -> None:
    emails = EmailRenderer([SHIPPED])
    assert emails.candidates("reset", "subject.txt", "pt-BR") == [
        "reset/pt-BR/subject.txt",
        "reset/pt/subject.txt",
        "reset/subject.txt",
    ]
    assert emails.candidates("reset", "body.html", "de") == [
        "reset/de/body.html",
        "reset/body.html",
    ]
    assert emails.candidates("reset", "body.txt", "") == ["reset/body.txt"]


def test_per_locale_file_is_used_for_its_language_and_regions(site: Path) -> None:
    write(site, "reset/pt/subject.txt", "Assunto especial de {{ site_name }} ({{ lang }})")
    emails = renderer(site)
    assert emails.render("reset", reset_context(), "pt-BR").subject == (
        "Assunto especial de Example (pt-BR)"
    )
    assert emails.render("reset", reset_context(), "pt").subject == (
        "Assunto especial de Example (pt)"
    )
    german = emails.render("reset", reset_context(), "de")
    assert german.subject == german_subject()
    assert "Assunto" not in emails.render("reset", reset_context(), "").subject


def test_parts_without_a_per_locale_file_use_the_neutral_one_with_the_catalog(site: Path) -> None:
    write(site, "reset/pt/subject.txt", "Assunto")
    rendered = renderer(site).render("reset", reset_context(), "pt-BR")
    assert rendered.subject == "Assunto"
    assert translations("pt-BR").gettext(OPEN_LINK) in rendered.text
    assert OPEN_LINK not in rendered.text


def test_the_most_specific_per_locale_file_wins(site: Path) -> None:
    write(site, "reset/pt/subject.txt", "PT")
    write(site, "reset/pt-BR/subject.txt", "BR")
    emails = renderer(site)
    assert emails.render("reset", reset_context(), "pt-BR").subject == "BR"
    assert emails.render("reset", reset_context(), "pt").subject == "PT"
    assert emails.render("reset", reset_context(), "pt-PT").subject == "PT"


def test_per_locale_file_is_translated_with_its_own_language(site: Path) -> None:
    write(
        site, "reset/de/body.txt", '{{ _("Open this link to choose a new password:") }} {{ link }}'
    )
    text = renderer(site).render("reset", reset_context(), "de").text
    assert text.startswith(translations("de").gettext(OPEN_LINK))
    assert "token=AbC-123_xyz" in text


def test_site_neutral_file_overrides_the_shipped_one_part_by_part(site: Path) -> None:
    write(site, "reset/body.txt", "Site body for {{ user.username }}: {{ link }}")
    emails = renderer(site)
    shipped = EmailRenderer([SHIPPED])
    for locale in ("", "en", "de"):
        rendered = emails.render("reset", reset_context(), locale)
        original = shipped.render("reset", reset_context(), locale)
        assert rendered.text == (
            "Site body for alice: https://help.example.org/reset-password?token=AbC-123_xyz"
        )
        assert rendered.subject == original.subject  # still the shipped subject
        assert rendered.html == original.html  # and the shipped HTML
    assert emails.render("reset", reset_context(), "de").subject == german_subject()


def test_a_per_locale_file_beats_a_neutral_file_of_an_earlier_directory(
    site: Path, tmp_path: Path
) -> None:
    base = tmp_path / "base"
    for part in ("subject.txt", "body.txt", "body.html"):
        write(base, f"notice/{part}", f"base neutral {part}")
    write(base, "notice/de/subject.txt", "base deutsch")
    write(site, "notice/subject.txt", "site neutral")
    emails = EmailRenderer([site, base])
    assert emails.render("notice", {}, "de").subject == "base deutsch"
    assert emails.render("notice", {}, "fr").subject == "site neutral"
    assert emails.render("notice", {}, "fr").text == "base neutral body.txt"


def test_subject_from_a_per_locale_file_is_one_line(site: Path) -> None:
    write(site, "reset/de/subject.txt", "Zeile eins\r\nBcc: eve@example.org\n\tund {{ site_name }}")
    subject = renderer(site).render("reset", reset_context(), "de").subject
    assert subject == "Zeile eins Bcc: eve@example.org und Example"


def test_per_locale_html_is_autoescaped(site: Path) -> None:
    write(site, "reset/fr/body.html", "<p>{{ user.first_name }}</p>")
    user = make_user(first="<script>x</script>")
    html = renderer(site).render("reset", context_for("reset", user), "fr").html
    assert html == "<p>&lt;script&gt;x&lt;/script&gt;</p>"


def test_shipped_german_reset_email_is_german() -> None:
    rendered = EmailRenderer([SHIPPED]).render("reset", reset_context(), "de")
    assert rendered.subject == german_subject()
    assert rendered.subject != SUBJECT % {"site": "Example"}
    assert translations("de").gettext(OPEN_LINK) in rendered.text
    assert translations("de").gettext("Choose a new password") in rendered.html


@pytest.mark.parametrize("locale", [tag for tag in SHIPPED_LOCALES if tag != "en"])
def test_shipped_subjects_differ_from_english(locale: str) -> None:
    emails = EmailRenderer([SHIPPED])
    english = emails.render("reset", reset_context(), "en").subject
    rendered = emails.render("reset", reset_context(), locale)
    assert rendered.subject != english
    assert "Example" in rendered.subject


def test_kinds_lists_site_only_kinds(site: Path) -> None:
    for part in ("subject.txt", "body.txt", "body.html"):
        write(site, f"welcome-back/{part}", "hi")
    write(site, "not-a-kind/body.txt", "no subject: not a kind")
    write(site, "reset/de/subject.txt", "a per-locale override adds no kind")
    kinds = renderer(site).kinds()
    assert "welcome-back" in kinds
    assert "not-a-kind" not in kinds
    assert {"reset", "password-changed", "signup", "account-exists"} <= set(kinds)
    assert kinds == sorted(set(kinds))
    assert renderer(site).render("welcome-back", {}, "de").subject == "hi"


def test_kinds_ignores_a_missing_directory(tmp_path: Path) -> None:
    emails = EmailRenderer([tmp_path / "nope", SHIPPED])
    assert emails.kinds() == EmailRenderer([SHIPPED]).kinds()
