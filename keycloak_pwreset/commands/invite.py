"""`keycloak-pwreset invite EMAIL`: the operator's way to invite someone from the host.

The invitation is checked here (the address, the groups, an existing account:
Keycloak is asked) and queued; the running worker sends it, as it does the
console's and the API's (flows/invite.py).
"""

from __future__ import annotations

from keycloak_pwreset.errors import ConfigError
from keycloak_pwreset.flows.invite import Invitation
from keycloak_pwreset.services import build_services
from keycloak_pwreset.settings import load_settings

WHY = {
    "invalid_email": "is not a valid email address",
    "invalid_name": "has a name with characters names may not contain",
    "unknown_group": "names a group the realm does not have",
    "invalid_validity": "asks for a validity outside 1 to 30 days",
    "account_exists": "already has an account (send a reset link instead)",
}


def run_invite(invitation: Invitation) -> int:
    settings = load_settings()
    services = build_services(settings)
    try:
        refusal = services.invite.invite(invitation, by="cli")
    finally:
        services.close()
    if refusal is not None:
        raise ConfigError(f"not invited: {invitation.email} {WHY[refusal]}")
    print(
        f"invitation for {invitation.email} queued: the worker emails it "
        f"(`keycloak-pwreset outbox list` shows it until then)"
    )
    return 0
