"""What differs between the Keycloak versions this product supports, in one place.

Supported: 24.0.x, 25.0.x and 26.x (the CI runs the integration core on 24.0.5, 25.0.6
and the pinned 26). What differs:

- the bootstrap admin of a new server: ``KC_BOOTSTRAP_ADMIN_*`` from 26,
  ``KEYCLOAK_ADMIN``/``KEYCLOAK_ADMIN_PASSWORD`` before (used by the demo and tests);
- ``--cache``: a build option in 24, a runtime option from 25;
- the login theme: 26's ``keycloak.v2`` has the field and button macros our sign-in page
  is written with; 24's and 25's do not, so the theme JAR carries a second theme for them,
  written on their layout alone (themes/keycloak-24/), and `setup-realm` picks the one
  that fits the server it talks to.

- a create-with-credentials refused by the policy: 26 names the rule's error key, 24 and 25
  only say GENERIC_POLICY_ERROR, so the rule is found by checking the password against the
  policy here (password_rules.py);
- ``notUsername``: 26 compares ignoring case, 24 and 25 exactly; a password equal to the
  username in any case is refused by the screening before either is asked.

The user-profile API (declarative user profile is always on from 24) is the same on all three.
"""

from __future__ import annotations

import re

GENERIC_POLICY_ERROR = "Password policy not met"
THEME = "keycloak-pwreset"
THEME_BEFORE_26 = "keycloak-pwreset-24"
OLDEST = 24


def major(version: str) -> int:
    """The major version of "26.7.3" or "Keycloak - Version 24.0.5"; 0 if there is none."""
    match = re.search(r"(\d+)\.\d+", version)
    return int(match.group(1)) if match else 0


def login_theme(version: str) -> str:
    """The login theme of ours that this Keycloak version can render."""
    return THEME_BEFORE_26 if 0 < major(version) < 26 else THEME


def cache_is_built_in(version: str) -> bool:
    """In 24, ``--cache`` is a build option (an optimized start refuses it); later, at run time."""
    return 0 < major(version) < 25


def bootstrap_admin_env(version: str, username: str, password: str) -> dict[str, str]:
    """The environment that makes a new Keycloak create its first admin."""
    if 0 < major(version) < 26:
        return {"KEYCLOAK_ADMIN": username, "KEYCLOAK_ADMIN_PASSWORD": password}
    return {"KC_BOOTSTRAP_ADMIN_USERNAME": username, "KC_BOOTSTRAP_ADMIN_PASSWORD": password}
