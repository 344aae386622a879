"""What the choose-password pages and the API say about the rules, before and after a refusal.

Before: the realm's rules (and the screening's), listed in the person's language.
After a refusal: every rule the password breaks, marked at once (password_rules.py),
and for a screening refusal its reason. Computed from the link and the password just
refused; the password itself is never shown back.
"""

from __future__ import annotations

from typing import Any

from keycloak_pwreset.errors import KeycloakRejected, KeycloakUnavailable
from keycloak_pwreset.flows.base import Flow
from keycloak_pwreset.password_rules import Rule
from keycloak_pwreset.password_screening import REASONS
from keycloak_pwreset.results import Result
from keycloak_pwreset.store.link_tokens import TokenInfo

# The refusals that concern the password itself (rather than the link or the input).
PASSWORD_REFUSALS = frozenset(
    {
        Result.INVALID_PASSWORD_LENGTH,
        Result.INVALID_PASSWORD_COMPLEXITY,
        Result.MUST_CONTAIN_NUMBERS_AND_CHARACTERS,
        Result.PASSWORD_MISSING_CHARACTER_VARIETY,
        Result.PASSWORD_NOT_DIFFERENT,
        Result.VIOLATING_REUSE_RULES,
        Result.PASSWORD_CONTAINS_IDENTITY,
        Result.PASSWORD_BLACKLISTED,
        Result.PASSWORD_TOO_COMMON,
    }
)


def rules_of(flow: Flow) -> list[Rule]:
    try:
        return flow.password_rules()
    except (KeycloakUnavailable, KeycloakRejected):
        return []  # the page still works; Keycloak will judge as ever


def page_hints(
    flow: Flow, link: TokenInfo | None, password: str = "", result: Result | None = None
) -> dict[str, Any]:
    """The template's ``rules``, ``broken`` and ``reason``."""
    explained = explain(flow, link, password, result)
    return {"rules": rules_of(flow), **explained}


def explain(
    flow: Flow, link: TokenInfo | None, password: str, result: Result | None
) -> dict[str, Any]:
    """``broken`` (the rules broken) and ``reason`` (a screening refusal's words), if refused."""
    if link is None or not password or result not in PASSWORD_REFUSALS:
        return {"broken": [], "reason": ""}
    reason = flow.too_common(link, password) if result is Result.PASSWORD_TOO_COMMON else None
    return {"broken": flow.broken(link, password, result), "reason": REASONS.get(reason or "", "")}


def api_details(
    flow: Flow, link: TokenInfo | None, password: str, result: Result
) -> dict[str, Any]:
    """The JSON answer's ``broken_rules`` and ``reason`` beside the result code."""
    explained = explain(flow, link, password, result)
    details: dict[str, Any] = {}
    if explained["broken"]:
        details["broken_rules"] = [{"rule": r.kind, "count": r.count} for r in explained["broken"]]
    if result is Result.PASSWORD_TOO_COMMON and link is not None:
        details["reason"] = flow.too_common(link, password) or ""
    return details
