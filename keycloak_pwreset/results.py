"""Result codes: the outcome of every flow step, shared by pages, the API and tests.

The names follow the seed documents' outcomes in snake_case, plus the Keycloak
password policies the seeds lack. Every Keycloak ``invalidPassword*`` error key
maps onto one of these (see ``keycloak_pwreset.password_policy``).
"""

from enum import StrEnum

from keycloak_pwreset.i18n import N_


class Result(StrEnum):
    SUCCESS = "success"
    MISSING_VALUE = "missing_value"
    MISMATCHED_PASSWORDS = "mismatched_passwords"
    INVALID_PASSWORD_LENGTH = "invalid_password_length"
    INVALID_PASSWORD_COMPLEXITY = "invalid_password_complexity"
    MUST_CONTAIN_NUMBERS_AND_CHARACTERS = "must_contain_numbers_and_characters"
    PASSWORD_MISSING_CHARACTER_VARIETY = "password_missing_character_variety"
    PASSWORD_NOT_DIFFERENT = "password_not_different"
    VIOLATING_REUSE_RULES = "violating_reuse_rules"
    # Expired, used, superseded and unknown links (reset and sign-up alike) share
    # one code on purpose, so that nobody can probe which links exist or once
    # existed. Its wire value predates sign-up and stays as clients know it.
    LINK_EXPIRED = "recovery_token_expired"
    PASSWORD_CONTAINS_IDENTITY = "password_contains_identity"
    PASSWORD_BLACKLISTED = "password_blacklisted"
    # Refused before Keycloak was asked: common, guessable, personal or breached
    # (password_screening.py; the API says which as "reason").
    PASSWORD_TOO_COMMON = "password_too_common"
    # Input validation that does not depend on any account.
    VALUE_TOO_LONG = "value_too_long"
    INVALID_CHARACTERS = "invalid_characters"
    # Keycloak is down: nothing was changed and the link still works.
    SERVICE_UNAVAILABLE = "service_unavailable"
    # Sign-up.
    INVALID_EMAIL = "invalid_email"
    INVALID_NAME = "invalid_name"
    INVALID_USERNAME = "invalid_username"
    USERNAME_TAKEN = "username_taken"
    # Too many attempts from this client address; the same for every account.
    RATE_LIMITED = "rate_limited"
    # The site's CAPTCHA was not solved (or its provider could not confirm it).
    CAPTCHA_FAILED = "captcha_failed"
    # A POST the browser says came from another site (web/same_origin.py).
    CROSS_SITE_REQUEST = "cross_site_request"
    # Only ever said to someone who proved they own the email address.
    ACCOUNT_EXISTS = "account_exists"


MESSAGES: dict[Result, str] = {
    Result.SUCCESS: N_("Your password has been changed. You can now sign in with it."),
    Result.MISSING_VALUE: N_("Please fill in every field."),
    Result.MISMATCHED_PASSWORDS: N_("The two passwords do not match."),
    Result.INVALID_PASSWORD_LENGTH: N_("The password is too short or too long."),
    Result.INVALID_PASSWORD_COMPLEXITY: N_(
        "The password does not meet the complexity requirements."
    ),
    # Neither names a rule the realm may not have: the pages list the realm's own.
    Result.MUST_CONTAIN_NUMBERS_AND_CHARACTERS: N_("The password needs more digits."),
    Result.PASSWORD_MISSING_CHARACTER_VARIETY: N_(
        "The password does not have the kinds of characters this site requires."
    ),
    Result.PASSWORD_NOT_DIFFERENT: N_("The new password must be different from the current one."),
    Result.VIOLATING_REUSE_RULES: N_("This password was used recently. Choose a different one."),
    Result.LINK_EXPIRED: N_(
        "This link has expired or was already used. Please ask for a new email."
    ),
    Result.PASSWORD_CONTAINS_IDENTITY: N_("The password must not contain your username or email."),
    Result.PASSWORD_BLACKLISTED: N_("This password is too common. Choose a different one."),
    Result.PASSWORD_TOO_COMMON: N_("This password is too easy to guess. Choose a different one."),
    Result.VALUE_TOO_LONG: N_("One of the values is too long."),
    Result.INVALID_CHARACTERS: N_("One of the values contains characters that are not allowed."),
    Result.SERVICE_UNAVAILABLE: N_(
        "The service is temporarily unavailable. Nothing was changed; please try again later."
    ),
    Result.INVALID_EMAIL: N_("Please enter a valid email address."),
    Result.INVALID_NAME: N_(
        'Names may not contain any of these characters: < > & " $ % ! # ? § ; * ~ / \\ | ^ = '
        "[ ] { } ( )"
    ),
    Result.INVALID_USERNAME: N_(
        "Usernames need 3 to 255 characters, without spaces or any of < > & \" ' $ % ! # ? ; * "
        "~ / \\ | ^ = [ ] { } ( ) ` ,"
    ),
    Result.USERNAME_TAKEN: N_("This username is already taken. Please choose another one."),
    Result.RATE_LIMITED: N_("Too many attempts. Please wait a little and try again."),
    Result.CAPTCHA_FAILED: N_(
        "Please complete the check that you are not a robot, then try again."
    ),
    Result.CROSS_SITE_REQUEST: N_(
        "This request came from another site and was refused. Open the page again and try "
        "once more."
    ),
    Result.ACCOUNT_EXISTS: N_(
        "An account with this email address already exists. Sign in, or reset your password "
        "if you forgot it."
    ),
}


def message_for(result: Result) -> str:
    """The English message (a catalog msgid: pages translate it where they show it)."""
    return MESSAGES[result]
