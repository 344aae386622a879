"""Accounts self-service must never touch: holders of administrative roles.

The companion's service account holds ``manage-users``, so without this a
self-service reset could set the password of a realm administrator, and the
"you already have an account" email would hand one a reset link. By default
every role of the ``realm-management`` client protects its holder (directly,
through a group, or inside a composite role: Keycloak's effective roles);
``KCPR_PROTECTED_ROLES`` adds realm roles (``auditor``) or client roles
(``billing/admin``), and ``KCPR_PROTECTED_ROLES_DEFAULT=false`` drops the default.

Keycloak shows a user's client roles only to an account that may view the
client, hence the service account's ``view-clients`` role (gateway.REQUIRED_ROLES).
"""

from __future__ import annotations

from dataclasses import dataclass, field

REALM_MANAGEMENT = "realm-management"
ANY_ROLE = "*"


@dataclass(frozen=True)
class ProtectedRoles:
    realm_roles: frozenset[str] = frozenset()
    # client id (as in the admin console) -> role names; ANY_ROLE for every role.
    client_roles: dict[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_settings(cls, names: list[str], *, include_default: bool) -> ProtectedRoles:
        realm: set[str] = set()
        clients: dict[str, set[str]] = {REALM_MANAGEMENT: {ANY_ROLE}} if include_default else {}
        for name in names:
            client, sep, role = name.partition("/")
            if sep:
                clients.setdefault(client, set()).add(role or ANY_ROLE)
            else:
                realm.add(name)
        return cls(frozenset(realm), {c: frozenset(r) for c, r in clients.items()})

    def protects_client_roles(self, client: str, held: set[str]) -> bool:
        wanted = self.client_roles.get(client, frozenset())
        return bool(held) and (ANY_ROLE in wanted or bool(held & wanted))

    @property
    def empty(self) -> bool:
        return not self.realm_roles and not self.client_roles
