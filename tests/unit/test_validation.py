from __future__ import annotations

import pytest

from keycloak_pwreset.results import Result
from keycloak_pwreset.validation import (
    MAX_IDENTIFIER,
    MAX_NAME,
    MAX_PASSWORD,
    check_field,
    check_new_password,
    clean_locale,
    has_control_characters,
)


@pytest.mark.parametrize(
    "value",
    ["alice", "alice@example.org", "Zoë O'Brien-Smith", "李小龍", "🙂 emoji", "a" * MAX_NAME],
)
def test_check_field_accepts_ordinary_values(value: str) -> None:
    assert check_field(value, MAX_NAME) is None


@pytest.mark.parametrize("value", ["", " ", "\t ", "   \u3000"])
def test_check_field_missing(value: str) -> None:
    assert check_field(value, MAX_NAME) is Result.MISSING_VALUE


def test_check_field_too_long() -> None:
    assert check_field("a" * MAX_IDENTIFIER, MAX_IDENTIFIER) is None
    assert check_field("a" * (MAX_IDENTIFIER + 1), MAX_IDENTIFIER) is Result.VALUE_TOO_LONG
    assert check_field("a" * 1_000_000, MAX_IDENTIFIER) is Result.VALUE_TOO_LONG


@pytest.mark.parametrize(
    "value",
    [
        "alice\r\nBcc: victim@example.org",
        "alice\nX-Injected: 1",
        "alice\r",
        "\nalice",
        "ali\x00ce",
        "alice\x1b[31m",
        "alice\x7f",
        "alice\x85",  # NEL: a C1 control, a line break to some parsers
        "alice\tsmith",
    ],
)
def test_check_field_control_characters(value: str) -> None:
    assert has_control_characters(value)
    assert check_field(value, MAX_NAME) is Result.INVALID_CHARACTERS


def test_has_control_characters_ignores_printable_unicode() -> None:
    assert not has_control_characters("Zoë 李 🙂 «»  ")


def test_check_field_reports_length_before_characters() -> None:
    # An over-long value gets the length message whatever it contains.
    assert check_field("\n" + "a" * MAX_NAME, MAX_NAME) is Result.VALUE_TOO_LONG


@pytest.mark.parametrize(
    ("password", "confirmation", "expected"),
    [
        ("Secret123!", "Secret123!", None),
        ("correct horse battery staple", "correct horse battery staple", None),
        ("Pässwörd🙂1", "Pässwörd🙂1", None),
        ("", "", Result.MISSING_VALUE),
        ("Secret123!", "", Result.MISSING_VALUE),
        ("", "Secret123!", Result.MISSING_VALUE),
        ("Secret123!", "Secret123?", Result.MISMATCHED_PASSWORDS),
        ("Secret123!", "secret123!", Result.MISMATCHED_PASSWORDS),
        ("Secret123!", "Secret123! ", Result.MISMATCHED_PASSWORDS),
        ("a" * MAX_PASSWORD, "a" * MAX_PASSWORD, None),
        ("a" * (MAX_PASSWORD + 1), "a" * (MAX_PASSWORD + 1), Result.INVALID_PASSWORD_LENGTH),
        ("short1", "a" * (MAX_PASSWORD + 1), Result.INVALID_PASSWORD_LENGTH),
        ("a" * 1_000_000, "b", Result.INVALID_PASSWORD_LENGTH),
        ("Secret\n123", "Secret\n123", Result.INVALID_CHARACTERS),
        ("Secret\x00123", "Secret\x00123", Result.INVALID_CHARACTERS),
    ],
)
def test_check_new_password(password: str, confirmation: str, expected: Result | None) -> None:
    assert check_new_password(password, confirmation) is expected


def test_check_new_password_does_not_strip_whitespace() -> None:
    # Leading and trailing spaces are part of a passphrase.
    assert check_new_password("  spaced out 1  ", "  spaced out 1  ") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("de", "de"),
        ("en", "en"),
        ("pt-BR", "pt-BR"),
        ("pt_BR", "pt-BR"),
        ("zh-Hans-CN", "zh-Hans-CN"),
        ("zh_Hant_TW", "zh-Hant-TW"),
        ("es-419", "es-419"),
        ("fil", "fil"),
    ],
)
def test_clean_locale_accepts_language_tags(value: str, expected: str) -> None:
    assert clean_locale(value) == expected


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "d",
        "1a",
        "de-",
        "-de",
        "de--DE",
        "de DE",
        "de;q=0.9",
        "en-US,en;q=0.5",
        "de\r\nSet-Cookie: a=b",
        "de\r\n",
        "de\rX",
        "de%0d%0aX",
        "de\x00",
        "../../etc/passwd",
        "<script>",
        "ünï",
        "de-" + "a" * 9,
        "a" * 9,
        "de-DE-x-y-z",
        "de-" + "-".join(["abcdefgh"] * 10),
        "x" * 10_000,
    ],
)
def test_clean_locale_rejects_garbage(value: str | None) -> None:
    assert clean_locale(value) == ""


@pytest.mark.parametrize("value", ["de\n", "pt-BR\n"])
def test_clean_locale_rejects_a_trailing_newline(value: str) -> None:
    assert clean_locale(value) == ""


def test_clean_locale_result_is_short_and_header_safe() -> None:
    for value in ("zh-Hans-CN", "abcdefgh-abcdefgh-abcdefgh-abcdefgh"):
        cleaned = clean_locale(value)
        assert cleaned == value
        assert len(cleaned) <= 35  # the store's locale column
        assert not has_control_characters(cleaned)
