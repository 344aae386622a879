"""The realm's password rules, read from its policy string, said in words and checked locally.

Keycloak's ``passwordPolicy`` is a string such as ``length(12) and digits(1) and
notUsername(undefined) and passwordHistory(3)``. The choose-password pages list each
rule a person must meet, in their language, and after a refusal mark every rule the
password breaks at once, instead of one rule per attempt. Keycloak stays the judge:
it is always asked, its answer decides, and the rules only it can evaluate (history,
age, its blocklist, a regular expression, a site's own provider) are marked only when
its answer names them. The local checks count as Keycloak's providers do (Java's
``String.length()``, ``Character.isDigit``/``isLowerCase``/``isUpperCase``, special =
neither letter nor digit).

Policies that are no rule for a person (hashing, expiry, re-authentication) are not
shown; one this module does not know is "another rule of this site".
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from keycloak_pwreset.i18n import N_
from keycloak_pwreset.results import Result

# Keycloak's documented policy types that a person's password must meet, and their words.
WORDS: dict[str, str] = {
    "length": N_("At least %(count)s characters"),
    "maxLength": N_("At most %(count)s characters"),
    "digits": N_("Digits: at least %(count)s"),
    "lowerCase": N_("Lowercase letters: at least %(count)s"),
    "upperCase": N_("Uppercase letters: at least %(count)s"),
    "specialChars": N_("Special characters (not a letter or digit): at least %(count)s"),
    "notUsername": N_("Not your username"),
    "notContainsUsername": N_("Does not contain your username"),
    "notEmail": N_("Not your email address"),
    "passwordHistory": N_("Not one of your last %(count)s passwords"),
    "passwordAge": N_("Not a password you used in the last %(count)s days"),
    "passwordBlacklist": N_("Not a commonly used password"),
    "screening": N_("Not a common or easily guessed password"),
    "other": N_("Another rule of this site"),
}
# Not a rule for a person choosing a password: never shown.
SILENT = {
    "hashAlgorithm",
    "hashIterations",
    "forceExpiredPasswordChange",
    "maxAuthAge",
    "recoveryCodesWarningThreshold",
}
COUNTED = {"length", "maxLength", "digits", "lowerCase", "upperCase", "specialChars"}
# Keycloak's defaults when a policy is given without a value ("digits" alone).
DEFAULTS = {"length": 8, "maxLength": 64, "digits": 1, "lowerCase": 1, "upperCase": 1}
DEFAULTS |= {"specialChars": 1, "passwordHistory": 3, "passwordAge": 365}
# Which rules a refusal from Keycloak names (password_policy.py maps its error keys).
NAMED_BY: dict[Result, tuple[str, ...]] = {
    Result.VIOLATING_REUSE_RULES: ("passwordHistory", "passwordAge"),
    Result.PASSWORD_BLACKLISTED: ("passwordBlacklist",),
    Result.PASSWORD_CONTAINS_IDENTITY: ("notUsername", "notContainsUsername", "notEmail"),
    Result.INVALID_PASSWORD_COMPLEXITY: ("other",),
    Result.PASSWORD_TOO_COMMON: ("screening",),
}
_POLICY = re.compile(r"\s*([A-Za-z]+)\s*(?:\(([^)]*)\))?\s*")


@dataclass(frozen=True)
class Rule:
    kind: str  # Keycloak's policy type (or "other", or our own "screening")
    count: int = 0

    @property
    def words(self) -> str:
        """The rule in English (a catalog msgid), its count still to fill in (``%(count)s``)."""
        return WORDS[self.kind]


def parse_policy(policy: str) -> list[Rule]:
    """The person-facing rules of a policy string, in its order; unknown ones as one "other"."""
    rules: list[Rule] = []
    for part in re.split(r"\band\b", policy or ""):
        match = _POLICY.fullmatch(part)
        if not part.strip() or match is None:
            continue
        kind, value = match.group(1), (match.group(2) or "").strip()
        if kind in SILENT:
            continue
        if kind == "regexPattern" or kind not in WORDS:
            kind = "other"
        rule = Rule(kind, _count(kind, value))
        if rule not in rules:
            rules.append(rule)
    return rules


def _count(kind: str, value: str) -> int:
    if kind not in DEFAULTS:
        return 0
    return int(value) if value.isdigit() else DEFAULTS[kind]


def _java_length(text: str) -> int:
    # Keycloak counts UTF-16 code units: an emoji is two "characters" to it.
    return len(text.encode("utf-16-le")) // 2


def breaks(rule: Rule, password: str, *, username: str = "", email: str = "") -> bool | None:
    """Does the password break this rule? None when only Keycloak can say."""
    counts = {
        "digits": sum(ch.isdigit() for ch in password),
        "lowerCase": sum(ch.islower() for ch in password),
        "upperCase": sum(ch.isupper() for ch in password),
        "specialChars": sum(not ch.isalnum() for ch in password),
    }
    lowered = password.lower()
    if rule.kind == "length":
        return _java_length(password) < rule.count
    if rule.kind == "maxLength":
        return _java_length(password) > rule.count
    if rule.kind in counts:
        return counts[rule.kind] < rule.count
    if rule.kind == "notUsername" and username:
        return lowered == username.lower()
    if rule.kind == "notContainsUsername" and username:
        return username.lower() in lowered
    if rule.kind == "notEmail" and email:
        return lowered == email.lower()
    return None


# The result code a broken rule stands for, when Keycloak names none (keycloak_versions.py).
RESULT_OF: dict[str, Result] = {
    "length": Result.INVALID_PASSWORD_LENGTH,
    "maxLength": Result.INVALID_PASSWORD_LENGTH,
    "digits": Result.MUST_CONTAIN_NUMBERS_AND_CHARACTERS,
    "lowerCase": Result.PASSWORD_MISSING_CHARACTER_VARIETY,
    "upperCase": Result.PASSWORD_MISSING_CHARACTER_VARIETY,
    "specialChars": Result.PASSWORD_MISSING_CHARACTER_VARIETY,
    "notUsername": Result.PASSWORD_CONTAINS_IDENTITY,
    "notContainsUsername": Result.PASSWORD_CONTAINS_IDENTITY,
    "notEmail": Result.PASSWORD_CONTAINS_IDENTITY,
}


def likely_refusal(policy: str, password: str, *, username: str = "", email: str = "") -> Result:
    """The code for a refusal Keycloak gave without naming the rule: the first rule broken."""
    for rule in broken_rules(parse_policy(policy), password, None, username=username, email=email):
        if rule.kind in RESULT_OF:
            return RESULT_OF[rule.kind]
    return Result.INVALID_PASSWORD_COMPLEXITY


def broken_rules(
    rules: list[Rule], password: str, refusal: Result | None, *, username: str = "", email: str = ""
) -> list[Rule]:
    """Every rule the password breaks: those checked here, and those Keycloak's refusal names."""
    named = NAMED_BY.get(refusal, ()) if refusal else ()
    found = []
    for rule in rules:
        local = breaks(rule, password, username=username, email=email)
        if local or (local is None and rule.kind in named):
            found.append(rule)
    return found
