"""The support desk's actions on accounts, for the admin API and the console alike.

Framework-free: each says what happened in this product's terms, and the API
turns that into a status code, the console into a line on its page. The
store-only actions (revoke a link, retry or discard a job) are the store's own
(store/open_requests.py, store/outbox_view.py).
"""

from __future__ import annotations

from enum import StrEnum

from keycloak_pwreset.audit import audit
from keycloak_pwreset.results import Result
from keycloak_pwreset.services import Services


class NoResetLink(StrEnum):
    NO_ACCOUNT = "no such account, or it is disabled"
    PROTECTED = "self-service never resets this account (a protected role)"
    NOT_QUEUED = "the request was not queued"


def send_reset_link(services: Services, account_id: str, *, by: str) -> NoResetLink | None:
    """Email the account a new reset link (superseding its earlier ones), or say why not.

    The link goes out like a self-service one (the worker, the account's language, its
    hourly email budget, counted apart from self-service requests); a disabled account
    (the gateway sees none) or one self-service never resets is refused here, where the
    administrator sees why. KeycloakUnavailable/KeycloakRejected propagate.
    """
    user = services.gateway.get_user(account_id)
    if user is None:
        return NoResetLink.NO_ACCOUNT
    if services.gateway.is_protected(user.id):
        return NoResetLink.PROTECTED
    result = services.reset.request(user.username, user.locale, client=f"console:{by}")
    if result is not Result.SUCCESS:
        return NoResetLink.NOT_QUEUED
    audit("reset_link_requested", by=by, account_id=user.id)
    services.waker.wake()
    return None
