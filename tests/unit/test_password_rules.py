"""The realm's policy string as rules: parsed over Keycloak's documented policy types, checked."""

from __future__ import annotations

import pytest

from keycloak_pwreset.password_rules import Rule, breaks, broken_rules, parse_policy
from keycloak_pwreset.results import Result

EVERY_TYPE = (
    "length(12) and maxLength(64) and digits(2) and lowerCase(1) and upperCase(1) and "
    "specialChars(1) and notUsername(undefined) and notContainsUsername and notEmail(undefined) "
    "and passwordHistory(5) and passwordAge(30) and passwordBlacklist(rockyou.txt) and "
    "regexPattern(^[^0]*$) and forceExpiredPasswordChange(90) and hashAlgorithm(pbkdf2-sha512) "
    "and hashIterations(210000) and maxAuthAge(300) and recoveryCodesWarningThreshold(4)"
)


def test_every_documented_type_becomes_a_rule_or_is_left_out() -> None:
    assert parse_policy(EVERY_TYPE) == [
        Rule("length", 12),
        Rule("maxLength", 64),
        Rule("digits", 2),
        Rule("lowerCase", 1),
        Rule("upperCase", 1),
        Rule("specialChars", 1),
        Rule("notUsername"),
        Rule("notContainsUsername"),
        Rule("notEmail"),
        Rule("passwordHistory", 5),
        Rule("passwordAge", 30),
        Rule("passwordBlacklist"),
        Rule("other"),  # the regular expression: only Keycloak can say what it wants
    ]


@pytest.mark.parametrize(
    ("policy", "rules"),
    [
        ("", []),
        ("length", [Rule("length", 8)]),  # Keycloak's default when given no value
        ("digits and upperCase", [Rule("digits", 1), Rule("upperCase", 1)]),
        ("  length( 10 )  and   notEmail ", [Rule("length", 10), Rule("notEmail")]),
        ("myCompanyRule(3) and regexPattern(x)", [Rule("other")]),  # one "other" for both
        ("hashIterations(27500)", []),
        ("garbage((", []),
    ],
)
def test_odd_and_partial_policies(policy: str, rules: list[Rule]) -> None:
    assert parse_policy(policy) == rules


def test_local_checks_count_as_keycloak_does() -> None:
    assert breaks(Rule("length", 8), "Abcdefg") and not breaks(Rule("length", 8), "Abcdefgh")
    assert breaks(Rule("length", 4), "😀") and not breaks(Rule("length", 2), "😀")  # UTF-16
    assert breaks(Rule("maxLength", 5), "abcdef")
    assert breaks(Rule("digits", 2), "abc1") and not breaks(Rule("digits", 2), "a1b2")
    assert breaks(Rule("upperCase", 1), "abc") and not breaks(Rule("lowerCase", 1), "Ab")
    assert not breaks(Rule("specialChars", 1), "a b")  # a space is neither letter nor digit
    assert breaks(Rule("notUsername"), "Alice", username="alice")
    assert breaks(Rule("notContainsUsername"), "xxALICE99", username="alice")
    assert breaks(Rule("notEmail"), "A@Example.org", email="a@example.org")
    assert breaks(Rule("notUsername"), "alice") is None  # whose? only Keycloak knows
    assert breaks(Rule("passwordHistory", 3), "anything") is None


def test_two_broken_rules_at_once_and_those_only_keycloak_names() -> None:
    rules = parse_policy("length(8) and digits(1) and upperCase(1) and passwordHistory(3)")
    assert broken_rules(rules, "weak", None) == [
        Rule("length", 8),
        Rule("digits", 1),
        Rule("upperCase", 1),
    ]
    reused = broken_rules(rules, "Reused-Pass-1", Result.VIOLATING_REUSE_RULES)
    assert reused == [Rule("passwordHistory", 3)]
    assert broken_rules(rules, "Fine-Pass-1", Result.PASSWORD_BLACKLISTED) == []  # not the realm's
