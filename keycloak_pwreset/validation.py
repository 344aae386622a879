"""Input checks shared by every flow. They never depend on whether an account exists."""

from __future__ import annotations

import re
import unicodedata

from email_validator import EmailNotValidError, validate_email

from keycloak_pwreset.results import Result

MAX_IDENTIFIER = 255  # Keycloak's username column; longer than any valid email (254)
MAX_NAME = 100
MAX_PASSWORD = 256  # long passphrases welcome; megabytes of "password" are not
_LOCALE = re.compile(r"^[A-Za-z]{2,8}([-_][A-Za-z0-9]{1,8}){0,3}$")


def has_control_characters(value: str) -> bool:
    """CR, LF, NUL, other control characters and lone surrogates: never legitimate here."""
    return any(unicodedata.category(ch) in ("Cc", "Cs") for ch in value)


def check_field(value: str, max_length: int) -> Result | None:
    """missing_value, value_too_long or invalid_characters; None when the value is fine."""
    if not value.strip():
        return Result.MISSING_VALUE
    if len(value) > max_length:
        return Result.VALUE_TOO_LONG
    if has_control_characters(value):
        return Result.INVALID_CHARACTERS
    return None


def check_new_password(password: str, confirmation: str) -> Result | None:
    """The checks that need no Keycloak: presence, sane length, match."""
    if not password or not confirmation:
        return Result.MISSING_VALUE
    if len(password) > MAX_PASSWORD or len(confirmation) > MAX_PASSWORD:
        return Result.INVALID_PASSWORD_LENGTH
    if has_control_characters(password):
        return Result.INVALID_CHARACTERS
    if password != confirmation:
        return Result.MISMATCHED_PASSWORDS
    return None


def clean_locale(value: str | None) -> str:
    """A syntactically valid language tag, or '' (which means: use the default)."""
    if not value or not _LOCALE.fullmatch(value):
        return ""
    return value.replace("_", "-")


# Keycloak's default user profile validators (person-name-prohibited-characters
# and username-prohibited-characters), mirrored so that the person hears about
# a character the realm would refuse when they type it, not after the email.
PERSON_NAME_PROHIBITED = frozenset('<>&"$%!#?§;*~/\\|^=[]{}()')
USERNAME_PROHIBITED = frozenset("<>&\"'$%!#?§;*~/\\|^=[]{}()`,") | frozenset(" \t")


def check_person_name(value: str, *, realm_checks_characters: bool = True) -> Result | None:
    problem = check_field(value, MAX_NAME)
    if problem:
        return problem
    if realm_checks_characters and any(ch in PERSON_NAME_PROHIBITED for ch in value):
        return Result.INVALID_NAME
    if "=?" in value:
        # An RFC 2047 encoded word: some Python versions decode it into raw CR/LF
        # in an email header (CVE-2024-6923). No real name contains one.
        return Result.INVALID_NAME
    return None


def check_username(value: str) -> Result | None:
    problem = check_field(value, MAX_IDENTIFIER)
    if problem:
        return problem
    if len(value) < 3 or any(ch in USERNAME_PROHIBITED or ch.isspace() for ch in value):
        return Result.INVALID_USERNAME
    return None


def normalize_email(value: str) -> str | None:
    """The address as a key: lower-cased (as Keycloak stores it), ASCII, or None if invalid.

    Lower-cased whole: ``Bob@…`` and ``bob@…`` are one mailbox for every
    purpose here (cooldowns, pending sign-ups), and Keycloak keeps emails in
    lower case anyway. An internationalised domain becomes its ASCII (IDNA)
    form, which every SMTP server can deliver to without SMTPUTF8.
    """
    if not value or len(value) > 254 or has_control_characters(value):
        return None
    try:
        # ASCII local parts only: a non-ASCII one needs SMTPUTF8 end to end,
        # which few servers offer; refusing it now beats failing in the worker.
        checked = validate_email(value, check_deliverability=False, allow_smtputf8=False)
    except EmailNotValidError:
        return None
    return str(checked.ascii_email or checked.normalized).lower()
