"""Which profile attributes sign-up offers, on user-profile JSON shaped like Keycloak 24-26's."""

from __future__ import annotations

from typing import Any

from keycloak_pwreset.user_profile import ExtraAttribute, rules_from

REALM: dict[str, Any] = {"realm": "demo", "registrationEmailAsUsername": True}

BUILT_INS: list[dict[str, Any]] = [
    {
        "name": "username",
        "displayName": "${username}",
        "validations": {"length": {"min": 3, "max": 255}},
        "permissions": {"view": ["admin", "user"], "edit": ["admin", "user"]},
        "multivalued": False,
    },
    {
        "name": "email",
        "displayName": "${email}",
        "validations": {"email": {}, "length": {"max": 255}},
        "required": {"roles": ["user"]},
        "permissions": {"view": ["admin", "user"], "edit": ["admin", "user"]},
        "multivalued": False,
    },
    {
        "name": "firstName",
        "displayName": "${firstName}",
        "validations": {"length": {"max": 255}, "person-name-prohibited-characters": {}},
        "required": {"roles": ["user"]},
        "permissions": {"view": ["admin", "user"], "edit": ["admin", "user"]},
        "multivalued": False,
    },
]


def profile(*extra: dict[str, Any]) -> dict[str, Any]:
    return {"attributes": [*BUILT_INS, *extra], "groups": [{"name": "user-metadata"}]}


def attribute(name: str, **fields: Any) -> dict[str, Any]:
    return {"name": name, "displayName": name.title(), "multivalued": False, **fields}


PERSON_EDITS = {"view": ["admin", "user"], "edit": ["admin", "user"]}
ADMIN_EDITS = {"view": ["admin", "user"], "edit": ["admin"]}


def names(rules_profile: dict[str, Any]) -> list[str]:
    return [a.name for a in rules_from(REALM, rules_profile).extra_attributes]


def test_required_for_users_and_editable_by_them_is_offered() -> None:
    rules = rules_from(
        REALM, profile(attribute("phone", required={"roles": ["user"]}, permissions=PERSON_EDITS))
    )
    assert rules.extra_attributes == (ExtraAttribute("phone", "Phone"),)
    assert rules.names_check_characters is True


def test_required_but_only_admins_may_edit_is_not_offered() -> None:
    # The admin API could write it; a person signing up must not be able to.
    tenant = attribute("tenant", required={"roles": ["user"]}, permissions=ADMIN_EDITS)
    assert names(profile(tenant)) == []


def test_no_permissions_at_all_is_not_offered() -> None:
    assert names(profile(attribute("clearance", required={"roles": ["user"]}))) == []


def test_empty_required_means_required_of_everyone() -> None:
    # Keycloak's "required: {}" (no roles, no scopes) is always required.
    assert names(profile(attribute("phone", required={}, permissions=PERSON_EDITS))) == ["phone"]


def test_required_only_for_admins_or_only_in_a_scope_is_not_asked() -> None:
    for required in ({"roles": ["admin"]}, {"roles": ["user"], "scopes": ["phone"]}):
        assert names(profile(attribute("phone", required=required, permissions=PERSON_EDITS))) == []


def test_optional_attributes_are_not_asked() -> None:
    for optional in (attribute("nick", permissions=PERSON_EDITS), attribute("nick", required=None)):
        assert names(profile(optional)) == []


def test_odd_shapes_are_ignored_not_fatal() -> None:
    odd: list[Any] = ["not-a-dict", {"displayName": "no name"}, attribute("x", permissions=[])]
    assert rules_from(REALM, {"attributes": odd}).extra_attributes == ()
    assert rules_from({}, {}).email_as_username is False


def test_translated_display_names_fall_back_to_the_attribute_name() -> None:
    phone = attribute("phone", required={}, permissions=PERSON_EDITS, displayName="${phone}")
    assert rules_from(REALM, profile(phone)).extra_attributes == (ExtraAttribute("phone", "phone"),)
