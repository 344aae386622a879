"""What differs between Keycloak 24, 25 and 26, handled in keycloak_versions.py."""

from __future__ import annotations

import pytest

from keycloak_pwreset.keycloak_versions import (
    THEME,
    THEME_BEFORE_26,
    bootstrap_admin_env,
    cache_is_built_in,
    login_theme,
    major,
)
from keycloak_pwreset.operator.realm_setup import RealmState, plan_setup
from keycloak_pwreset.operator.theme_jar import build_theme_jar
from keycloak_pwreset.password_rules import likely_refusal
from keycloak_pwreset.results import Result


@pytest.mark.parametrize(
    ("version", "number", "theme", "built_in"),
    [
        ("24.0.5", 24, THEME_BEFORE_26, True),
        ("Keycloak - Version 25.0.6", 25, THEME_BEFORE_26, False),
        ("26.7.3", 26, THEME, False),
        ("27.0.0", 27, THEME, False),
        ("", 0, THEME, False),  # unknown: the current one
    ],
)
def test_the_differences_by_version(version: str, number: int, theme: str, built_in: bool) -> None:
    assert major(version) == number
    assert login_theme(version) == theme
    assert cache_is_built_in(version) is built_in


def test_the_bootstrap_admin_by_version() -> None:
    assert bootstrap_admin_env("25.0.6", "a", "p") == {
        "KEYCLOAK_ADMIN": "a",
        "KEYCLOAK_ADMIN_PASSWORD": "p",
    }
    assert set(bootstrap_admin_env("26.7.3", "a", "p")) == {
        "KC_BOOTSTRAP_ADMIN_USERNAME",
        "KC_BOOTSTRAP_ADMIN_PASSWORD",
    }


def test_setup_realm_picks_the_theme_the_server_can_render() -> None:
    themes = frozenset({"keycloak", THEME, THEME_BEFORE_26})
    old = RealmState("demo", {}, None, frozenset(), themes, "24.0.5")
    new = RealmState("demo", {}, None, frozenset(), themes, "26.7.3")
    assert plan_setup(old, login_theme=THEME).realm_changes["loginTheme"][1] == THEME_BEFORE_26
    assert plan_setup(new, login_theme=THEME).realm_changes["loginTheme"][1] == THEME
    # Another theme the operator names is theirs to choose, whatever the version.
    assert plan_setup(old, login_theme="keycloak").realm_changes["loginTheme"][1] == "keycloak"


def test_the_jar_carries_both_themes(tmp_path: object) -> None:
    import zipfile
    from pathlib import Path

    jar = zipfile.ZipFile(build_theme_jar(Path(str(tmp_path))))
    names = set(jar.namelist())
    for theme in (THEME, THEME_BEFORE_26):
        assert f"theme/{theme}/login/login.ftl" in names
        assert f"theme/{theme}/login/messages/messages_ar.properties" in names
    assert b"field.ftl" not in jar.read(f"theme/{THEME_BEFORE_26}/login/login.ftl")


def test_a_nameless_policy_refusal_is_named_by_the_rule_broken() -> None:
    policy = "length(8) and digits(1) and upperCase(1) and notUsername"
    assert likely_refusal(policy, "Ab1") is Result.INVALID_PASSWORD_LENGTH
    assert likely_refusal(policy, "Abcdefgh") is Result.MUST_CONTAIN_NUMBERS_AND_CHARACTERS
    assert likely_refusal(policy, "abcdefg1") is Result.PASSWORD_MISSING_CHARACTER_VARIETY
    assert (
        likely_refusal(policy, "Bob12345", username="bob12345") is Result.PASSWORD_CONTAINS_IDENTITY
    )
    assert likely_refusal(policy, "Fine-pass-1") is Result.INVALID_PASSWORD_COMPLEXITY
