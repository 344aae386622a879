"""`templates check` and `templates preview`: broken templates and missing translations named."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po

from keycloak_pwreset import i18n
from keycloak_pwreset.commands.templates import run_check_templates, run_preview
from keycloak_pwreset.errors import ConfigError
from keycloak_pwreset.i18n import LOCALES_DIR, SHIPPED_LOCALES, catalog_path, translations
from keycloak_pwreset.mail.render import EmailRenderer
from keycloak_pwreset.operator import templates_check
from keycloak_pwreset.operator.templates_check import (
    KINDS,
    catalog_ids,
    missing_translations,
    template_problems,
)
from keycloak_pwreset.services import template_dirs
from keycloak_pwreset.settings import Settings
from tests.unit.conftest import make_settings
from tests.unit.test_settings import REQUIRED

POT_IDS = sorted(catalog_ids(LOCALES_DIR / "messages.pot"))
FORGOT = "Forgot your password?"


def write(root: Path, relative: str, text: str) -> None:
    path = root / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")


def problems_for(settings: Settings) -> list[str]:
    return template_problems(settings, EmailRenderer(template_dirs(settings, "emails")))


@pytest.fixture
def site(tmp_path: Path) -> Path:
    root = tmp_path / "site"
    (root / "emails").mkdir(parents=True)
    return root


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """Only the required KCPR_ settings, in an empty working directory."""
    for name in list(os.environ):
        if name.upper().startswith("KCPR_"):
            monkeypatch.delenv(name)
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    work = tmp_path / "work"
    work.mkdir()
    monkeypatch.chdir(work)
    return monkeypatch


# -- template_problems ---------------------------------------------------------------


def test_all_shipped_kinds_render_in_all_shipped_languages() -> None:
    settings = make_settings()
    assert settings.locales == list(SHIPPED_LOCALES)
    assert problems_for(settings) == []
    emails = EmailRenderer(template_dirs(settings, "emails"))
    assert set(KINDS) <= set(emails.kinds())


def test_syntax_error_in_a_site_template_is_one_line_naming_kind_and_locale(site: Path) -> None:
    write(site, "emails/reset/de/subject.txt", "{% if %}Betreff")
    problems = problems_for(make_settings(locales=["en", "de", "fr"], templates_dir=site))
    assert len(problems) == 1, problems
    [line] = problems
    assert line.startswith("email 'reset' in de: TemplateSyntaxError")
    assert "\n" not in line


def test_undefined_variable_in_a_site_template_is_named(site: Path) -> None:
    write(site, "emails/signup/fr/body.txt", "Bonjour {{ no_such_variable }}")
    problems = problems_for(make_settings(locales=["en", "fr"], templates_dir=site))
    assert problems == [
        "email 'signup' in fr: UndefinedError: 'no_such_variable' is undefined",
    ]


def test_a_neutral_site_template_breaks_every_language(site: Path) -> None:
    write(site, "emails/password-changed/body.html", "{{ user.nope.deeper }}")
    problems = problems_for(make_settings(locales=["en", "de"], templates_dir=site))
    assert len(problems) == 2
    assert problems[0].startswith("email 'password-changed' in en: UndefinedError")
    assert problems[1].startswith("email 'password-changed' in de: UndefinedError")


def test_a_site_only_kind_is_checked_too(site: Path) -> None:
    write(site, "emails/welcome/subject.txt", "Welcome {{ user.username }}")
    write(site, "emails/welcome/body.txt", "{{ link }}")
    write(site, "emails/welcome/body.html", "{{ missing }}")
    problems = problems_for(make_settings(locales=["en"], templates_dir=site))
    assert problems == ["email 'welcome' in en: UndefinedError: 'missing' is undefined"]


def test_a_site_only_kind_missing_a_part_is_named(site: Path) -> None:
    write(site, "emails/welcome/subject.txt", "Welcome")
    problems = problems_for(make_settings(locales=["en"], templates_dir=site))
    assert len(problems) == 1
    assert problems[0].startswith("email 'welcome' in en: TemplatesNotFound")


def test_a_language_without_catalog_is_reported_once() -> None:
    problems = problems_for(make_settings(locales=["en", "sv"]))
    assert problems == [
        f"language sv: {len(POT_IDS)} untranslated messages, e.g. {POT_IDS[0]!r}",
    ]


# -- missing_translations -------------------------------------------------------------


@pytest.mark.parametrize("locale", ["en", "en-GB", *SHIPPED_LOCALES, "de-AT", "de-DE"])
def test_shipped_languages_miss_nothing(locale: str) -> None:
    assert missing_translations(locale) == []


@pytest.mark.parametrize("locale", ["sv", "pt", "ko-KR"])
def test_a_language_without_catalog_misses_every_message(locale: str) -> None:
    assert missing_translations(locale) == POT_IDS


@pytest.fixture
def locales_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A copy of the shipped catalogs that the checks (and translations()) read instead."""
    copy = tmp_path / "locales"
    shutil.copytree(LOCALES_DIR, copy)
    monkeypatch.setattr(i18n, "LOCALES_DIR", copy)
    monkeypatch.setattr(templates_check, "LOCALES_DIR", copy)
    translations.cache_clear()
    yield copy
    translations.cache_clear()


def edit_catalog(tag: str, *, drop: str = "", blank: str = "") -> None:
    path = catalog_path(tag)
    with path.open("rb") as source:
        catalog = read_po(source)
    if drop:
        catalog.delete(drop)
    if blank:
        catalog[blank].string = ""
    with path.open("wb") as target:
        write_po(target, catalog)


def test_a_catalog_lacking_an_entry_is_reported(locales_copy: Path) -> None:
    assert catalog_path("de").is_relative_to(locales_copy)
    edit_catalog("de", drop=FORGOT)
    assert missing_translations("de") == [FORGOT]
    assert missing_translations("de-CH") == [FORGOT]
    assert missing_translations("fr") == []


def test_an_empty_translation_is_reported(locales_copy: Path) -> None:
    edit_catalog("pt-BR", blank="Account help")
    assert missing_translations("pt-BR") == ["Account help"]


def test_template_problems_reports_the_incomplete_catalog(locales_copy: Path) -> None:
    edit_catalog("de", drop=FORGOT)
    edit_catalog("de", blank="Account help")
    problems = problems_for(make_settings(locales=["en", "de", "fr"]))
    assert problems == ["language de: 2 untranslated messages, e.g. 'Account help'"]


# -- the commands --------------------------------------------------------------------


def test_run_check_templates_ok(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("KCPR_LOCALES", '["en","de"]')
    assert run_check_templates() == 0
    assert capsys.readouterr().out.splitlines() == ["ok: 6 email kinds render in 2 languages"]


def test_run_check_templates_names_the_broken_template(
    env: pytest.MonkeyPatch, site: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(site, "emails/reset/de/subject.txt", "{{ unclosed")
    env.setenv("KCPR_TEMPLATES_DIR", str(site))
    env.setenv("KCPR_LOCALES", '["en","de"]')
    assert run_check_templates() == 1
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("problem: email 'reset' in de: TemplateSyntaxError")


def test_run_check_templates_names_a_missing_catalog(
    env: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    env.setenv("KCPR_LOCALES", '["en","sv"]')
    assert run_check_templates() == 1
    [line] = capsys.readouterr().out.splitlines()
    assert line.startswith(f"problem: language sv: {len(POT_IDS)} untranslated messages")


def test_run_check_templates_with_a_bad_setting_raises(env: pytest.MonkeyPatch) -> None:
    env.setenv("KCPR_LOCALES", '["en","xx"]')
    with pytest.raises(ConfigError, match="KCPR_LOCALES"):
        run_check_templates()


def preview_files(out: Path) -> dict[str, str]:
    return {p.name: p.read_text(encoding="utf-8") for p in sorted(out.iterdir())}


def test_run_preview_writes_the_rendered_email(
    env: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "out" / "nested"
    assert run_preview("reset", "de", out) == 0
    files = preview_files(out)
    [html] = [text for name, text in files.items() if name.endswith(".html")]
    [text] = [text for name, text in files.items() if name.endswith(".txt")]
    subject = translations("de").gettext("Reset your password for %(site)s") % {"site": "demo"}
    assert text.startswith(f"Subject: {subject}\n\n")
    assert "EXAMPLE-TOKEN-NOT-VALID" in text
    assert translations("de").gettext("Choose a new password") in html
    assert "reset.de" in capsys.readouterr().out


def test_run_preview_names_files_by_kind_and_locale(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    out = tmp_path / "out"
    run_preview("reset", "de", out)
    run_preview("reset", "pt-BR", out)
    files = preview_files(out)
    assert set(files) == {"reset.de.html", "reset.de.txt", "reset.pt-BR.html", "reset.pt-BR.txt"}
    assert files["reset.de.txt"].startswith("Subject: ")
    assert files["reset.pt-BR.txt"].startswith("Subject: ")


def test_run_preview_of_a_site_only_kind(
    env: pytest.MonkeyPatch, site: Path, tmp_path: Path
) -> None:
    write(site, "emails/welcome/subject.txt", "Welcome {{ user.username }}")
    write(site, "emails/welcome/body.txt", "{{ link }}")
    write(site, "emails/welcome/body.html", "<p>{{ name }}</p>")
    env.setenv("KCPR_TEMPLATES_DIR", str(site))
    out = tmp_path / "out"
    assert run_preview("welcome", "en", out) == 0
    texts = preview_files(out).values()
    assert "Subject: Welcome jdoe\n\nhttps://help.example.org/reset-password?token=" in "".join(
        texts
    )
    assert "<p>Jane Doe</p>" in texts


def test_run_preview_of_an_unknown_kind(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--kind 'nope': no such email kind") as info:
        run_preview("nope", "en", tmp_path / "out")
    assert "reset" in str(info.value)  # says which kinds there are
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("locale", ["sv", "xx", "DE", ""])
def test_run_preview_of_a_language_not_offered(
    env: pytest.MonkeyPatch, tmp_path: Path, locale: str
) -> None:
    with pytest.raises(ConfigError, match="is not one of KCPR_LOCALES"):
        run_preview("reset", locale, tmp_path / "out")
    assert not (tmp_path / "out").exists()


def test_run_preview_respects_a_limited_language_list(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    env.setenv("KCPR_LOCALES", '["en","de"]')
    with pytest.raises(ConfigError, match="'fr'"):
        run_preview("reset", "fr", tmp_path / "out")
