"""The breached-password check: Have I Been Pwned's k-anonymity range API, off by default.

Only the first five hex characters of the password's SHA-1 leave this service; the
API answers every suffix it knows with that prefix (padded with decoys, so the
answer's size says nothing), and the match is made here. When the API cannot be
asked in time, the site's choice decides (KCPR_PASSWORDS__PWNED_FAIL_OPEN): accept
the password, or refuse it for now as if breached. Either way the operator is told.
"""

from __future__ import annotations

import hashlib
import logging

import requests

from keycloak_pwreset.settings.passwords import PasswordSettings

log = logging.getLogger(__name__)
PREFIX = 5


class PwnedRange:
    def __init__(self, settings: PasswordSettings, session: requests.Session | None = None) -> None:
        self._url = settings.pwned_url.rstrip("/") + "/range/"
        self._timeout = settings.pwned_timeout_seconds
        self._fail_open = settings.pwned_fail_open
        self._session = session or requests.Session()

    def __call__(self, password: str) -> bool:
        """Is the password known from a breach? (When the API is down: the site's choice.)"""
        digest = hashlib.sha1(password.encode("utf-8"), usedforsecurity=False).hexdigest().upper()
        prefix, suffix = digest[:PREFIX], digest[PREFIX:]
        try:
            answer = self._session.get(
                self._url + prefix, headers={"Add-Padding": "true"}, timeout=self._timeout
            )
            answer.raise_for_status()
        except requests.RequestException as exc:
            log.warning("the breached-password check could not be asked (%s)", type(exc).__name__)
            return not self._fail_open
        for line in answer.text.splitlines():
            candidate, _, count = line.strip().partition(":")
            if candidate.upper() == suffix and count.strip() not in ("", "0"):
                return True  # a padding entry has count 0
        return False
