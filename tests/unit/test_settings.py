from __future__ import annotations

import os
from pathlib import Path

import pytest

from keycloak_pwreset.errors import ConfigError
from keycloak_pwreset.settings import (
    CONFIG_FILE_VAR,
    Settings,
    SmtpSecurity,
    env_name,
    load_settings,
)

REQUIRED = {
    "KCPR_KEYCLOAK_URL": "http://keycloak.test:8080",
    "KCPR_REALM": "demo",
    "KCPR_CLIENT_ID": "keycloak-pwreset",
    "KCPR_CLIENT_SECRET": "client-s3cret",
    "KCPR_PUBLIC_URL": "https://help.example.org",
    "KCPR_SECRET_KEY": "k" * 40,
    "KCPR_MAIL__FROM_ADDRESS": "help@example.org",
}


@pytest.fixture
def clean_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> pytest.MonkeyPatch:
    """No KCPR_ variable from the outside world; run in an empty directory."""
    for name in list(os.environ):
        if name.upper().startswith("KCPR_"):
            monkeypatch.delenv(name)
    monkeypatch.chdir(tmp_path)
    return monkeypatch


@pytest.fixture
def env(clean_env: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The required settings, present and valid."""
    for name, value in REQUIRED.items():
        clean_env.setenv(name, value)
    return clean_env


def config_error(**overrides: object) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(**overrides)
    return str(info.value)


def problem_lines(message: str) -> list[str]:
    first, *rest = message.splitlines()
    assert first == "invalid configuration:"
    return [line.strip() for line in rest]


def test_minimal_environment_loads_with_defaults(env: pytest.MonkeyPatch) -> None:
    settings = load_settings()
    assert settings.keycloak_url == "http://keycloak.test:8080"
    assert settings.realm == "demo"
    assert settings.client_secret.get_secret_value() == "client-s3cret"
    assert settings.database_url == "sqlite:///keycloak-pwreset.db"
    assert settings.token_ttl_minutes == 60
    assert settings.signup_enabled is True
    assert settings.smtp.host == "localhost"
    assert settings.smtp.port == 25
    assert settings.smtp.security is SmtpSecurity.NONE
    assert settings.mail.reply_to is None


def test_secrets_are_hidden_in_repr(env: pytest.MonkeyPatch) -> None:
    env.setenv("KCPR_SMTP__PASSWORD", "smtp-pa55")
    settings = load_settings()
    shown = repr(settings) + str(settings.model_dump())
    assert "client-s3cret" not in shown
    assert "k" * 40 not in shown
    assert "smtp-pa55" not in shown
    assert settings.smtp.password is not None
    assert settings.smtp.password.get_secret_value() == "smtp-pa55"


def test_missing_required_settings_are_named_one_per_line(clean_env: pytest.MonkeyPatch) -> None:
    message = config_error()
    assert problem_lines(message) == [f"{name}: is required" for name in REQUIRED]
    assert "Traceback" not in message
    assert "pydantic" not in message.lower()
    assert "https://errors" not in message


def test_only_the_missing_ones_are_named(env: pytest.MonkeyPatch) -> None:
    env.delenv("KCPR_CLIENT_SECRET")
    env.delenv("KCPR_PUBLIC_URL")
    assert problem_lines(config_error()) == [
        "KCPR_CLIENT_SECRET: is required",
        "KCPR_PUBLIC_URL: is required",
    ]


def test_config_error_has_no_traceback_when_raised() -> None:
    # `from None`: nothing chained for a traceback printer to show.
    with pytest.raises(ConfigError) as info:
        load_settings(keycloak_url="ftp://x")
    assert info.value.__cause__ is None
    assert info.value.__suppress_context__


def test_nested_environment_variables(env: pytest.MonkeyPatch) -> None:
    env.setenv("KCPR_SMTP__HOST", "mail.example.org")
    env.setenv("KCPR_SMTP__PORT", "2525")
    env.setenv("KCPR_SMTP__SECURITY", "starttls")
    env.setenv("KCPR_SMTP__USERNAME", "mailer")
    env.setenv("KCPR_MAIL__FROM_ADDRESS", "help@example.org")
    env.setenv("KCPR_MAIL__FROM_NAME", "Example Help")
    env.setenv("KCPR_MAIL__REPLY_TO", "support@example.org")
    env.setenv("KCPR_MAIL__ENVELOPE_FROM", "bounces@example.org")
    env.setenv("KCPR_TOKEN_TTL_MINUTES", "15")
    env.setenv("KCPR_SIGNUP_ENABLED", "false")
    settings = load_settings()
    assert settings.smtp.host == "mail.example.org"
    assert settings.smtp.port == 2525
    assert settings.smtp.security is SmtpSecurity.STARTTLS
    assert settings.smtp.username == "mailer"
    assert settings.mail.from_address == "help@example.org"
    assert settings.mail.from_name == "Example Help"
    assert settings.mail.reply_to == "support@example.org"
    assert settings.mail.envelope_from == "bounces@example.org"
    assert settings.token_ttl_minutes == 15
    assert settings.signup_enabled is False


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        ("KCPR_KEYCLOAK_URL", "keycloak.test", "KCPR_KEYCLOAK_URL: must be an http:// or https://"),
        ("KCPR_KEYCLOAK_URL", "ftp://keycloak.test", "KCPR_KEYCLOAK_URL: must be an http://"),
        ("KCPR_PUBLIC_URL", "javascript:alert(1)", "KCPR_PUBLIC_URL: must be an http://"),
        ("KCPR_PUBLIC_URL", "https://", "KCPR_PUBLIC_URL: must be an http://"),
        ("KCPR_PUBLIC_URL", "https://h.org/?a=1", "KCPR_PUBLIC_URL: must not have a query"),
        ("KCPR_PUBLIC_URL", "https://h.org/#x", "KCPR_PUBLIC_URL: must not have a query"),
        ("KCPR_LOGIN_URL", "file:///etc/passwd", "KCPR_LOGIN_URL: must be an http://"),
        ("KCPR_SECRET_KEY", "short", "KCPR_SECRET_KEY: must be at least 32 characters"),
        ("KCPR_SECRET_KEY", "k" * 31, "KCPR_SECRET_KEY: must be at least 32 characters"),
        ("KCPR_REALM", "   ", "KCPR_REALM: must not be empty"),
        ("KCPR_CLIENT_ID", "", "KCPR_CLIENT_ID: must not be empty"),
        ("KCPR_SMTP__SECURITY", "tls", "KCPR_SMTP__SECURITY: "),
        ("KCPR_SMTP__PORT", "0", "KCPR_SMTP__PORT: "),
        ("KCPR_SMTP__PORT", "70000", "KCPR_SMTP__PORT: "),
        ("KCPR_SMTP__PORT", "smtp", "KCPR_SMTP__PORT: "),
        ("KCPR_TOKEN_TTL_MINUTES", "0", "KCPR_TOKEN_TTL_MINUTES: "),
        ("KCPR_MAIL__FROM_ADDRESS", "not-an-address", "KCPR_MAIL__FROM_ADDRESS: must be a plain"),
        ("KCPR_MAIL__FROM_ADDRESS", "Help <h@x.org>", "KCPR_MAIL__FROM_ADDRESS: must be a plain"),
        ("KCPR_MAIL__FROM_ADDRESS", "a@b.org, c@d.org", "KCPR_MAIL__FROM_ADDRESS: must be a plain"),
        ("KCPR_MAIL__FROM_ADDRESS", "h@localhost", "KCPR_MAIL__FROM_ADDRESS: must be a plain"),
        ("KCPR_MAIL__REPLY_TO", "support", "KCPR_MAIL__REPLY_TO: must be a plain"),
        ("KCPR_MAIL__ENVELOPE_FROM", "b@x.org\r\nBcc: e@x.org", "KCPR_MAIL__ENVELOPE_FROM: "),
        ("KCPR_MAIL__FROM_NAME", "Help\r\nBcc: e@x.org", "KCPR_MAIL__FROM_NAME: must be a single"),
        ("KCPR_MAIL__FROM_NAME", "Help\nDesk", "KCPR_MAIL__FROM_NAME: must be a single line"),
    ],
)
def test_invalid_values_give_clear_messages(
    env: pytest.MonkeyPatch, variable: str, value: str, expected: str
) -> None:
    env.setenv(variable, value)
    lines = problem_lines(config_error())
    assert len(lines) == 1, lines
    assert lines[0].startswith(expected), lines[0]


def test_smtp_security_message_lists_the_choices(env: pytest.MonkeyPatch) -> None:
    env.setenv("KCPR_SMTP__SECURITY", "tls")
    [line] = problem_lines(config_error())
    assert all(choice in line for choice in ("none", "starttls", "ssl"))


def test_error_messages_do_not_echo_secrets(env: pytest.MonkeyPatch) -> None:
    env.setenv("KCPR_SECRET_KEY", "tooShortButSecret")
    env.setenv("KCPR_SMTP__PORT", "not-a-port")
    message = config_error()
    assert "tooShortButSecret" not in message
    assert len(problem_lines(message)) == 2


def test_several_problems_are_all_reported(clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("KCPR_KEYCLOAK_URL", "keycloak")
    clean_env.setenv("KCPR_SMTP__SECURITY", "bogus")
    lines = problem_lines(config_error())
    names = [line.split(":")[0] for line in lines]
    assert "KCPR_KEYCLOAK_URL" in names
    assert "KCPR_SMTP__SECURITY" in names
    assert "KCPR_REALM" in names


def test_public_url_trailing_slash_is_stripped(env: pytest.MonkeyPatch) -> None:
    env.setenv("KCPR_PUBLIC_URL", "https://help.example.org/pwreset/")
    env.setenv("KCPR_KEYCLOAK_URL", "https://sso.example.org/")
    settings = load_settings()
    assert settings.public_url == "https://help.example.org/pwreset"
    assert settings.keycloak_url == "https://sso.example.org"


def test_effective_login_url_defaults_to_the_account_console(env: pytest.MonkeyPatch) -> None:
    env.setenv("KCPR_KEYCLOAK_URL", "https://sso.example.org/")
    assert load_settings().effective_login_url == "https://sso.example.org/realms/demo/account"


def test_empty_login_url_means_our_own_success_page(env: pytest.MonkeyPatch) -> None:
    env.setenv("KCPR_LOGIN_URL", "")
    settings = load_settings()
    assert settings.login_url == ""
    assert settings.effective_login_url == ""


def test_explicit_login_url(env: pytest.MonkeyPatch) -> None:
    env.setenv("KCPR_LOGIN_URL", "https://app.example.org/login/")
    assert load_settings().effective_login_url == "https://app.example.org/login"


@pytest.mark.parametrize(
    ("public_url", "secure"),
    [
        ("https://help.example.org", True),
        ("http://localhost:8000", False),
        ("http://https.example.org", False),
    ],
)
def test_secure_cookies_follow_the_public_url(
    env: pytest.MonkeyPatch, public_url: str, secure: bool
) -> None:
    env.setenv("KCPR_PUBLIC_URL", public_url)
    assert load_settings().secure_cookies is secure


TOML = """
keycloak_url = "http://file-keycloak.test"
realm = "from-file"
client_id = "file-client"
client_secret = "file-secret"
public_url = "https://file.example.org/"
secret_key = "{key}"
token_ttl_minutes = 30

[smtp]
host = "smtp.file.example.org"
port = 587
security = "starttls"

[mail]
from_address = "file@example.org"
from_name = "From The File"
"""


@pytest.fixture
def config_file(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    path = tmp_path / "kcpr.toml"
    path.write_text(TOML.format(key="f" * 40), encoding="utf-8")
    clean_env.setenv(CONFIG_FILE_VAR, str(path))
    return path


def test_toml_config_file(config_file: Path) -> None:
    settings = load_settings()
    assert settings.keycloak_url == "http://file-keycloak.test"
    assert settings.realm == "from-file"
    assert settings.client_secret.get_secret_value() == "file-secret"
    assert settings.public_url == "https://file.example.org"
    assert settings.token_ttl_minutes == 30
    assert settings.smtp.host == "smtp.file.example.org"
    assert settings.smtp.port == 587
    assert settings.smtp.security is SmtpSecurity.STARTTLS
    assert settings.mail.from_name == "From The File"


def test_environment_overrides_the_file(config_file: Path, clean_env: pytest.MonkeyPatch) -> None:
    clean_env.setenv("KCPR_REALM", "from-env")
    clean_env.setenv("KCPR_SMTP__PORT", "2525")
    settings = load_settings()
    assert settings.realm == "from-env"
    assert settings.smtp.port == 2525
    assert settings.client_id == "file-client"  # untouched values still come from the file


def test_nested_environment_merges_with_the_file_section(
    config_file: Path, clean_env: pytest.MonkeyPatch
) -> None:
    clean_env.setenv("KCPR_SMTP__PORT", "2525")
    settings = load_settings()
    assert settings.smtp.port == 2525
    assert settings.smtp.host == "smtp.file.example.org"
    assert settings.smtp.security is SmtpSecurity.STARTTLS


def test_invalid_value_in_the_file_is_reported(config_file: Path) -> None:
    config_file.write_text(TOML.format(key="short"), encoding="utf-8")
    lines = problem_lines(config_error())
    assert lines == ["KCPR_SECRET_KEY: must be at least 32 characters (try: openssl rand -hex 32)"]


def test_missing_config_file(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    clean_env.setenv(CONFIG_FILE_VAR, str(missing))
    message = config_error()
    assert message == f"{CONFIG_FILE_VAR}: no such file: {missing}"


def test_config_file_that_is_a_directory(clean_env: pytest.MonkeyPatch, tmp_path: Path) -> None:
    clean_env.setenv(CONFIG_FILE_VAR, str(tmp_path))
    assert config_error().startswith(f"{CONFIG_FILE_VAR}: no such file")


def test_malformed_toml(config_file: Path) -> None:
    config_file.write_text("realm = [unclosed\n", encoding="utf-8")
    message = config_error()
    assert message.startswith("invalid configuration: ")
    assert "Traceback" not in message


def test_overrides_win_over_the_environment(env: pytest.MonkeyPatch) -> None:
    assert load_settings(realm="override").realm == "override"


def test_env_name() -> None:
    assert env_name(("keycloak_url",)) == "KCPR_KEYCLOAK_URL"
    assert env_name(("smtp", "port")) == "KCPR_SMTP__PORT"
    assert env_name(("mail", "from_name")) == "KCPR_MAIL__FROM_NAME"


def test_settings_ignore_unrelated_variables(env: pytest.MonkeyPatch) -> None:
    env.setenv("KCPR_NOT_A_SETTING", "whatever")
    env.setenv("REALM", "not-prefixed")
    assert load_settings().realm == "demo"
    assert Settings().realm == "demo"  # type: ignore[call-arg]
