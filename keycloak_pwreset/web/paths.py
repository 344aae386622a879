"""Every path the service answers, named once (the emailed links' own come from the flows)."""

from __future__ import annotations

from keycloak_pwreset.flows.links import INVITE_LINK_PATH, RESET_LINK_PATH, SIGNUP_LINK_PATH
from keycloak_pwreset.web.link_cookies import LinkPage

FORGOT_PATH = "/forgot-password"
SIGNUP_PATH = "/signup"
API_PREFIX = "/api/v1"
RESET_API = "/password-resets"
SIGNUP_API = "/signups"
COMPLETE = "/complete"  # an API resource's completion: the token from the email, and a password

RESET_LINK = LinkPage(RESET_LINK_PATH, "kcpr_reset", "reset_password.html", restart=FORGOT_PATH)
SIGNUP_LINK = LinkPage(SIGNUP_LINK_PATH, "kcpr_signup", "signup_complete.html", restart=SIGNUP_PATH)
# A dead invitation: its account may exist already (sign in, or reset); else ask again.
INVITE_LINK = LinkPage(INVITE_LINK_PATH, "kcpr_invite", "signup_complete.html", restart=FORGOT_PATH)

# Where a link's token is used: limited separately (web/limits.py), so that
# guessing tokens is bounded even below the general POST limit.
TOKEN_PATHS = (
    RESET_LINK_PATH,
    SIGNUP_LINK_PATH,
    INVITE_LINK_PATH,
    f"{API_PREFIX}{RESET_API}{COMPLETE}",
    f"{API_PREFIX}{SIGNUP_API}{COMPLETE}",
)
