"""Settings for languages, templates, per-kind / per-language senders and SMTP profiles."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from keycloak_pwreset.errors import ConfigError
from keycloak_pwreset.i18n import SHIPPED_LOCALES
from keycloak_pwreset.mail.routing import MailRouting
from keycloak_pwreset.settings import CONFIG_FILE_VAR, SmtpSecurity, load_settings
from tests.unit.conftest import make_settings
from tests.unit.test_settings import REQUIRED

TOML = """
[smtp_profiles.bulk]
host = "bulk.example.org"
port = 2525
security = "starttls"
username = "bulk-login"

[smtp_profiles.asia]
host = "smtp.example.jp"

[mail]
from_address = "file@example.org"
from_name = "From The File"

[mail.kinds.reset]
from_address = "reset@example.org"
from_name = "Password Reset"
smtp_profile = "bulk"

[mail.kinds.reset.locales.de]
from_name = "Passwort-Hilfe"
reply_to = "hilfe@example.de"

[mail.kinds.reset.locales."pt-BR"]
from_name = "Ajuda"

[mail.kinds.signup.locales.ja]
smtp_profile = "asia"
"""


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """Only the required KCPR_ settings (see test_settings), in an empty directory."""
    for name in list(os.environ):
        if name.upper().startswith("KCPR_"):
            monkeypatch.delenv(name)
    for name, value in REQUIRED.items():
        monkeypatch.setenv(name, value)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


def with_file(env: pytest.MonkeyPatch, tmp_path: Path, text: str) -> None:
    path = tmp_path / "kcpr.toml"
    path.write_text(text, encoding="utf-8")
    env.setenv(CONFIG_FILE_VAR, str(path))
    env.delenv("KCPR_MAIL__FROM_ADDRESS")  # the file's [mail] says it


def problems() -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_settings()
    first, *rest = str(info.value).splitlines()
    assert first == "invalid configuration:"
    assert "Traceback" not in str(info.value)
    return [line.strip() for line in rest]


# -- languages --------------------------------------------------------------------


def test_language_defaults(env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.locales == list(SHIPPED_LOCALES)
    assert settings.default_locale == "en"
    assert settings.templates_dir is None
    assert settings.smtp_profiles == {}
    assert settings.mail.kinds == {}
    assert settings.mail.smtp_profile == "default"


def test_locales_as_a_json_list(env: pytest.MonkeyPatch) -> None:
    env.setenv("KCPR_LOCALES", '["en","de"]')
    assert load_settings().locales == ["en", "de"]


def test_default_locale_from_the_environment(env: pytest.MonkeyPatch) -> None:
    env.setenv("KCPR_LOCALES", '["de", "fr", "pt-BR"]')
    env.setenv("KCPR_DEFAULT_LOCALE", "pt-BR")
    settings = load_settings()
    assert settings.default_locale == "pt-BR"
    assert settings.locales == ["de", "fr", "pt-BR"]


@pytest.mark.parametrize(
    ("value", "named"), [('["en","xx"]', "xx"), ('["en","<script>"]', "<script>")]
)
def test_unknown_language_tag_is_rejected_with_one_line(
    env: pytest.MonkeyPatch, value: str, named: str
) -> None:
    env.setenv("KCPR_LOCALES", value)
    assert problems() == [f"KCPR_LOCALES: unknown language tags: {named}"]


def test_unknown_tag_with_a_line_break_stays_one_line(env: pytest.MonkeyPatch) -> None:
    env.setenv("KCPR_LOCALES", '["en", "de\\nKCPR_OTHER: forged"]')
    lines = problems()
    assert len(lines) == 1, lines
    assert lines[0].startswith("KCPR_LOCALES: unknown language tags: ")


def test_all_unknown_tags_are_named(env: pytest.MonkeyPatch) -> None:
    env.setenv("KCPR_LOCALES", '["xx","en","yy"]')
    assert problems() == ["KCPR_LOCALES: unknown language tags: xx, yy"]


def test_empty_language_list_is_rejected(env: pytest.MonkeyPatch) -> None:
    env.setenv("KCPR_LOCALES", "[]")
    assert problems() == ["KCPR_LOCALES: must list at least one language"]


def test_a_language_list_that_is_not_json_is_rejected(env: pytest.MonkeyPatch) -> None:
    env.setenv("KCPR_LOCALES", "en,de")
    with pytest.raises(ConfigError, match="locales"):
        load_settings()


def test_default_not_among_the_languages_is_rejected(env: pytest.MonkeyPatch) -> None:
    env.setenv("KCPR_LOCALES", '["en","de"]')
    env.setenv("KCPR_DEFAULT_LOCALE", "fr")
    [line] = problems()
    assert "KCPR_DEFAULT_LOCALE 'fr' is not in KCPR_LOCALES" in line


def test_default_english_must_be_offered_too(env: pytest.MonkeyPatch) -> None:
    env.setenv("KCPR_LOCALES", '["de","fr"]')
    [line] = problems()
    assert "KCPR_DEFAULT_LOCALE 'en'" in line


# -- templates directory ---------------------------------------------------------------


def test_templates_dir(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    site = tmp_path / "site"
    site.mkdir()
    env.setenv("KCPR_TEMPLATES_DIR", str(site))
    assert load_settings().templates_dir == site


@pytest.mark.parametrize("kind", ["missing", "file"])
def test_templates_dir_that_is_not_a_directory_is_rejected(
    env: pytest.MonkeyPatch, tmp_path: Path, kind: str
) -> None:
    target = tmp_path / "templates"
    if kind == "file":
        target.write_text("not a directory", encoding="utf-8")
    env.setenv("KCPR_TEMPLATES_DIR", str(target))
    [line] = problems()
    assert f"KCPR_TEMPLATES_DIR {target} is not a directory" in line


# -- SMTP profiles and per-kind senders from the file ----------------------------------------


def test_profiles_and_kind_overrides_from_the_file(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with_file(env, tmp_path, TOML)
    settings = load_settings()
    bulk = settings.smtp_profiles["bulk"]
    assert (bulk.host, bulk.port, bulk.security, bulk.username) == (
        "bulk.example.org",
        2525,
        SmtpSecurity.STARTTLS,
        "bulk-login",
    )
    assert settings.smtp_profile("bulk") is bulk
    assert settings.smtp_profile("asia").port == 25  # a profile's own defaults
    assert settings.smtp_profile("default") is settings.smtp
    reset = settings.mail.kinds["reset"]
    assert reset.from_address == "reset@example.org"
    assert reset.smtp_profile == "bulk"
    assert reset.reply_to is None
    german = reset.locales["de"]
    assert german.from_name == "Passwort-Hilfe"
    assert german.reply_to == "hilfe@example.de"
    assert german.from_address is None
    assert reset.locales["pt-BR"].from_name == "Ajuda"
    assert settings.mail.kinds["signup"].locales["ja"].smtp_profile == "asia"


def test_file_settings_route_the_mail(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with_file(env, tmp_path, TOML)
    routing = MailRouting(load_settings().mail)
    german = routing.route("reset", "de")
    assert german.sender.from_address == "reset@example.org"
    assert german.sender.from_name == "Passwort-Hilfe"
    assert german.sender.reply_to == "hilfe@example.de"
    assert german.profile == "bulk"
    assert routing.route("reset", "pt-BR").sender.from_name == "Ajuda"
    assert routing.route("signup", "ja").profile == "asia"
    assert routing.route("signup", "en").sender.from_address == "file@example.org"
    assert routing.route("signup", "en").profile == "default"


def test_environment_adds_to_the_files_kind_settings(
    env: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    with_file(env, tmp_path, TOML)
    env.setenv("KCPR_MAIL__KINDS__RESET__REPLY_TO", "resets@example.org")
    reset = load_settings().mail.kinds["reset"]
    assert reset.reply_to == "resets@example.org"
    assert reset.from_address == "reset@example.org"  # still from the file
    assert reset.locales["de"].from_name == "Passwort-Hilfe"


def test_language_override_from_the_environment(env: pytest.MonkeyPatch) -> None:
    env.setenv("KCPR_MAIL__KINDS__RESET__LOCALES__DE__FROM_NAME", "Passwort-Hilfe")
    routing = MailRouting(load_settings().mail)
    assert routing.route("reset", "de").sender.from_name == "Passwort-Hilfe"
    assert routing.route("reset", "fr").sender.from_name == ""


def test_profile_from_the_environment(env: pytest.MonkeyPatch) -> None:
    env.setenv("KCPR_SMTP_PROFILES__BULK__HOST", "bulk.example.org")
    env.setenv("KCPR_SMTP_PROFILES__BULK__PORT", "465")
    env.setenv("KCPR_MAIL__KINDS__RESET__SMTP_PROFILE", "bulk")
    settings = load_settings()
    assert settings.smtp_profile("bulk").port == 465
    assert settings.mail.kinds["reset"].smtp_profile == "bulk"


@pytest.mark.parametrize(
    "section",
    [
        '[mail.kinds.reset]\nsmtp_profile = "nowhere"\n',
        '[mail.kinds.reset.locales.de]\nsmtp_profile = "nowhere"\n',
        '[mail]\nfrom_address = "file@example.org"\nsmtp_profile = "nowhere"\n',
    ],
)
def test_undefined_profile_is_rejected_naming_it(
    env: pytest.MonkeyPatch, tmp_path: Path, section: str
) -> None:
    header = "" if section.startswith("[mail]") else '[mail]\nfrom_address = "file@example.org"\n'
    with_file(env, tmp_path, header + section)
    [line] = problems()
    assert "SMTP profile(s) nowhere are used but not defined under smtp_profiles" in line


def test_all_undefined_profiles_are_named(env: pytest.MonkeyPatch) -> None:
    env.setenv("KCPR_MAIL__KINDS__RESET__SMTP_PROFILE", "zeta")
    env.setenv("KCPR_MAIL__KINDS__SIGNUP__SMTP_PROFILE", "alpha")
    env.setenv("KCPR_SMTP_PROFILES__BULK__HOST", "bulk.example.org")
    [line] = problems()
    assert "SMTP profile(s) alpha, zeta are used" in line


def test_default_profile_needs_no_definition(env: pytest.MonkeyPatch) -> None:
    env.setenv("KCPR_MAIL__KINDS__RESET__SMTP_PROFILE", "default")
    assert load_settings().mail.kinds["reset"].smtp_profile == "default"


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "KCPR_MAIL__KINDS__RESET__FROM_ADDRESS",
            "not-an-address",
            "KCPR_MAIL__KINDS__RESET__FROM_ADDRESS: must be a plain email address",
        ),
        (
            "KCPR_MAIL__KINDS__RESET__FROM_ADDRESS",
            "Reset <reset@example.org>",
            "KCPR_MAIL__KINDS__RESET__FROM_ADDRESS: must be a plain email address",
        ),
        (
            "KCPR_MAIL__KINDS__SIGNUP__ENVELOPE_FROM",
            "b@x.org\r\nBcc: e@x.org",
            "KCPR_MAIL__KINDS__SIGNUP__ENVELOPE_FROM: must be a plain email address",
        ),
        (
            "KCPR_MAIL__KINDS__RESET__FROM_NAME",
            "Reset\r\nBcc: e@x.org",
            "KCPR_MAIL__KINDS__RESET__FROM_NAME: must be a single line",
        ),
        (
            "KCPR_MAIL__KINDS__RESET__LOCALES__DE__REPLY_TO",
            "hilfe",
            "KCPR_MAIL__KINDS__RESET__LOCALES__DE__REPLY_TO: must be a plain email address",
        ),
        (
            "KCPR_MAIL__KINDS__RESET__LOCALES__DE__FROM_NAME",
            "Hilfe\nBcc: e@x.org",
            "KCPR_MAIL__KINDS__RESET__LOCALES__DE__FROM_NAME: must be a single line",
        ),
        ("KCPR_SMTP_PROFILES__BULK__PORT", "0", "KCPR_SMTP_PROFILES__BULK__PORT: "),
        ("KCPR_SMTP_PROFILES__BULK__SECURITY", "tls", "KCPR_SMTP_PROFILES__BULK__SECURITY: "),
    ],
)
def test_bad_override_is_rejected_naming_the_variable(
    env: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    env.setenv(variable, value)
    [line] = problems()
    assert line.startswith(expected), line


def test_bad_from_address_in_a_files_kind_section(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with_file(
        env,
        tmp_path,
        '[mail]\nfrom_address = "file@example.org"\n'
        '[mail.kinds.reset.locales.de]\nfrom_address = "hilfe at example.de"\n',
    )
    assert problems() == [
        "KCPR_MAIL__KINDS__RESET__LOCALES__DE__FROM_ADDRESS: "
        "must be a plain email address like name@example.org"
    ]


def test_settings_built_directly_validate_the_same_way() -> None:
    with pytest.raises(ValueError, match="nowhere"):
        make_settings(
            mail={"from_address": "h@example.org", "kinds": {"reset": {"smtp_profile": "nowhere"}}}
        )


@pytest.mark.parametrize(
    ("variable", "kind", "locale"),
    [
        ("KCPR_MAIL__KINDS__PASSWORD_CHANGED__FROM_NAME", "password-changed", "en"),
        ("KCPR_MAIL__KINDS__ACCOUNT_EXISTS__FROM_NAME", "account-exists", "en"),
        ("KCPR_MAIL__KINDS__RESET__LOCALES__PT_BR__FROM_NAME", "reset", "pt-BR"),
        ("KCPR_MAIL__KINDS__RESET__LOCALES__ZH_CN__FROM_NAME", "reset", "zh-CN"),
    ],
)
def test_environment_overrides_for_hyphenated_names_apply_or_are_refused(
    env: pytest.MonkeyPatch, variable: str, kind: str, locale: str
) -> None:
    env.setenv(variable, "Overridden")
    try:
        settings = load_settings()
    except ConfigError:
        return  # refusing it with a clear line would be fine too
    assert MailRouting(settings.mail).route(kind, locale).sender.from_name == "Overridden"


WORKED_EXAMPLE = """
[smtp]
host = "smtp.example.org"
port = 587
security = "starttls"
username = "mailer@example.org"
password = "pw"

[smtp_profiles.transactional]
host = "smtp-tx.example.org"
port = 465
security = "ssl"
username = "notices@example.org"
password = "pw"

[mail]
from_address = "account-help@example.org"
from_name = "Example Account Help"
envelope_from = "bounces@example.org"

[mail.kinds.password-changed]
from_address = "security@example.org"
from_name = "Example Security"
smtp_profile = "transactional"

[mail.kinds.reset.locales.de]
from_name = "Example Kontohilfe"
reply_to = "support-de@example.org"
"""


def test_the_readmes_worked_example(env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    with_file(env, tmp_path, WORKED_EXAMPLE)
    settings = load_settings()
    routing = MailRouting(settings.mail)
    german_reset = routing.route("reset", "de")
    assert german_reset.sender.from_name == "Example Kontohilfe"
    assert german_reset.sender.from_address == "account-help@example.org"
    assert german_reset.sender.reply_to == "support-de@example.org"
    assert german_reset.profile == "default"
    for locale in ("en", "de"):
        notice = routing.route("password-changed", locale)
        assert notice.sender.from_address == "security@example.org"
        assert settings.smtp_profile(notice.profile).host == "smtp-tx.example.org"
        assert notice.sender.envelope == "bounces@example.org"
    assert routing.route("reset", "fr").sender.from_name == "Example Account Help"
    assert routing.route("signup", "de").sender.envelope == "bounces@example.org"
