"""What a realm's user profile asks of a person signing up, read from Keycloak's JSON.

Pure functions over the admin API's realm and user-profile representations;
the gateway fetches them, the sign-up flow and its pages use the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

BUILT_IN_ATTRIBUTES = {"username", "email", "firstName", "lastName"}
# The role Keycloak's user profile gives a person acting on their own account.
PERSON = "user"


@dataclass(frozen=True)
class ExtraAttribute:
    """A user-profile attribute the realm requires beyond username, email and names."""

    name: str
    display_name: str


@dataclass(frozen=True)
class SignupRules:
    """What the realm demands of a new account."""

    email_as_username: bool = True
    duplicate_emails: bool = False
    names_check_characters: bool = True
    extra_attributes: tuple[ExtraAttribute, ...] = ()


def required_of_person(attribute: dict[str, Any]) -> bool:
    """Does the profile require this attribute of a person signing up?

    ``required`` absent or null: optional. ``required: {}`` names no roles and
    no scopes: required of everyone. Limited to roles, it applies when they
    include the user role; limited to scopes, it does not apply at sign-up,
    where no extra scope is requested.
    """
    required = attribute.get("required")
    if not isinstance(required, dict):
        return False
    roles = required.get("roles") or [PERSON]
    return PERSON in roles and not required.get("scopes")


def editable_by_person(attribute: dict[str, Any]) -> bool:
    """May a person set this attribute on their own account?

    The companion writes attributes through the admin API, which may write
    anything; offering only what the profile lets the user role edit keeps a
    person from setting what only administrators may (a tenant, a clearance).
    """
    permissions = attribute.get("permissions")
    edit = permissions.get("edit") if isinstance(permissions, dict) else None
    return isinstance(edit, list) and PERSON in edit


def rules_from(realm: dict[str, Any], profile: dict[str, Any]) -> SignupRules:
    extra: list[ExtraAttribute] = []
    names_check = False
    for attribute in profile.get("attributes") or []:
        if not isinstance(attribute, dict):
            continue
        name = str(attribute.get("name", ""))
        validations = attribute.get("validations") or {}
        if name in ("firstName", "lastName") and "person-name-prohibited-characters" in validations:
            names_check = True
        if name in BUILT_IN_ATTRIBUTES or not name:
            continue
        if required_of_person(attribute) and editable_by_person(attribute):
            display = str(attribute.get("displayName") or name)
            if display.startswith("${"):
                display = name
            extra.append(ExtraAttribute(name, display))
    return SignupRules(
        email_as_username=bool(realm.get("registrationEmailAsUsername")),
        duplicate_emails=bool(realm.get("duplicateEmailsAllowed")),
        names_check_characters=names_check,
        extra_attributes=tuple(extra),
    )
