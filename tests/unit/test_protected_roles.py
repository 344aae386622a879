from __future__ import annotations

from keycloak_pwreset.protected_roles import ANY_ROLE, REALM_MANAGEMENT, ProtectedRoles


def test_default_protects_every_realm_management_role() -> None:
    roles = ProtectedRoles.from_settings([], include_default=True)
    assert roles.client_roles == {REALM_MANAGEMENT: frozenset({ANY_ROLE})}
    assert roles.protects_client_roles(REALM_MANAGEMENT, {"view-users"})
    assert not roles.protects_client_roles(REALM_MANAGEMENT, set())


def test_names_add_realm_and_client_roles() -> None:
    roles = ProtectedRoles.from_settings(["auditor", "billing/admin"], include_default=True)
    assert roles.realm_roles == {"auditor"}
    assert roles.protects_client_roles("billing", {"admin", "viewer"})
    assert not roles.protects_client_roles("billing", {"viewer"})


def test_the_default_can_be_turned_off() -> None:
    assert ProtectedRoles.from_settings([], include_default=False).empty
    only = ProtectedRoles.from_settings(["billing/admin"], include_default=False)
    assert REALM_MANAGEMENT not in only.client_roles
